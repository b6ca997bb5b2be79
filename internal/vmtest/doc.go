// Package vmtest boots Debian's stock kernels under qemu (TCG) with a
// throw-away initramfs, so that end-to-end tests run against a real AppArmor
// kernel on machines whose own kernel has none.
//
// A test picks a Kernel (Debian12, Debian13), prepares its Assets once (the
// kernel image and that release's apparmor_parser, downloaded through
// internal/debfetch and cached), describes an Image (extra files and
// programs), and runs a shell scenario in the VM:
//
//	a := vmtest.Need(t, vmtest.Debian13)
//	res, err := a.Run(ctx, &vmtest.Image{Files: files}, `
//		step load 30 apparmor_parser -a /etc/apparmor.d/myapp
//		step run 30 /opt/myapp/bin/myapp --selftest
//	`, vmtest.Options{Timeout: 2 * time.Minute})
//	out := res.Output("run")
//
// The scenario is a busybox sh script. /lib/vmtest.sh (sourced before it)
// provides step, which bounds a command with timeout and prints its output
// between marker lines that Run turns into Result.Steps. The parser
// comes from the kernel's own Debian release (apparmor and libc6 of that
// suite), with its parser.conf, features file and /etc/apparmor.d abi,
// tunables and abstractions. test/e2e/README.md describes the VM and how to
// write scenarios.
package vmtest
