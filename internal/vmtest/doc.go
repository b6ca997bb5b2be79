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
//
// # A Debian userland: Machine
//
// For real services (nginx, PostgreSQL, Redis, Node.js, Python) a test boots
// a Machine instead: a Debian 12 tree made by debootstrap --variant=minbase
// with the packages of a Userland (Services by default), cached in
// $ARMORER_TEST_CACHE/rootfs-<key> (internal/debfetch.Rootfs: keyed on
// suite, packages and archive) and archived once beside it as an
// uncompressed cpio (rootfs-<key>.v1.cpio, ~510 MB; documentation, locales
// and /dev left out). The kernel unpacks it into a tmpfs, so the VM needs no
// virtio-blk, ext4 or kmod. A second, small cpio unpacked over it holds
// /init (debian-init.sh), vmtest-agent (./vmagent, built once per test
// process) and MachineOptions.Files. The agent serves the host over the
// second serial port (ttyS1, a unix socket on the host; protocol in
// ./vmproto); the console stays on ttyS0. /init mounts cgroup v2 as a
// systemd host does and moves itself, so the agent and everything it
// starts, into /sys/fs/cgroup/vmtest, with the cpu, memory and pids
// controllers (a service's cgroup: its cpu.max exists).
//
//	m := vmtest.BootMachine(t, vmtest.Debian13, vmtest.MachineOptions{Files: []vmtest.File{armorer}})
//	out, err := m.Run(ctx, 30*time.Second, "nginx", "-v")         // unconfined, as root
//	out, err = m.Exec(ctx, vmtest.Cmd{Argv: argv, User: "postgres", Timeout: time.Minute})
//	s := m.MustSh(t, 10*time.Second, "dmesg | grep apparmor=")    // fails t unless rc 0
//	err = m.WriteFile(ctx, "/etc/apparmor.d/nginx", profile, 0o644) // or CopyIn(ctx, File)
//	b, err := m.ReadFile(ctx, "/var/log/vmtest/nginx.log")          // or CopyOut(ctx, vm, host)
//	pid, err := m.Start(ctx, vmtest.Daemon{Name: "nginx", Argv: []string{"nginx"}, PIDFile: "/run/nginx.pid"})
//	st, err := m.Stop(ctx, "nginx", 20*time.Second)                // SIGTERM, SIGKILL after 20 s
//	st.Clean()                                                      // exited on SIGTERM, status 0 (or unknown)
//
// BootMachine registers Close (power off) as test cleanup; StartMachine is
// the same without a testing.TB. Commands run from the agent, unconfined, in
// their own process group, killed (the group) after Cmd.Timeout: Output
// has Stdout, Stderr, RC (128+N for signal N), TimedOut; Exec's error is
// only about the VM, Output.Err about the command. Daemons run in their own
// session with output appended to /var/log/vmtest/NAME.log; one that forks
// away (nginx) is named by its PIDFile, and its exit status is unknown
// (RC -1). There is no init system: create the runtime directories a
// daemon's unit would (install -d -o redis /run/redis, /run/postgresql).
//
// On Debian 13's kernel the parser is Debian 13's (4.1, run with its own
// libc under /opt/vmtest/apparmor through a wrapper at
// /usr/sbin/apparmor_parser) with Debian 13's parser.conf, features file,
// abi, tunables and abstractions; MachineOptions.UserlandParser keeps
// Debian 12's 3.0.8 instead. The services are Debian 12's on both kernels.
//
// Costs (2 shared cores, TCG): the first debootstrap about 1.5 min, its cpio
// about 10 s; a boot 50–90 s (the kernel unpacks the archive in ~17 s of
// guest time); 3 GiB of memory by default (MemoryMB). The serial line is an
// emulated UART, far slower than the boot archive (a 1 MB log comes out in
// seconds): put big files in MachineOptions.Files. Booted with
// audit_backlog_limit=8192: without auditd the default 64 drops
// complain-mode events of a busy service.
package vmtest
