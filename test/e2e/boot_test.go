//go:build e2e

package e2e

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

// TestBoot proves the harness on each kernel: the VM boots, AppArmor is
// enabled (Debian's kernels list apparmor in CONFIG_LSM, so security=apparmor
// needs no lsm=), the suite's parser runs, the kernel accepts a profile, the
// armorer binary built from this module runs, and a step is bounded by its
// timeout.
func TestBoot(t *testing.T) {
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel() // one qemu per kernel: TCG uses one core each
			a := vmtest.Need(t, k)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			armorer, err := vmtest.BuildArmorer(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Run(ctx, &vmtest.Image{Files: []vmtest.File{
				armorer,
				vmtest.Text("/etc/apparmor.d/boottest", "abi <abi/"+k.ABI+">,\ninclude <tunables/global>\nprofile boottest /opt/boottest flags=(complain) {\n  include <abstractions/base>\n}\n"),
			}}, `
step uname 10 cat /proc/version
step enabled 10 cat /sys/module/apparmor/parameters/enabled
step lsm 10 cat /sys/kernel/security/lsm
step parser 10 apparmor_parser --version
step load 60 apparmor_parser -a /etc/apparmor.d/boottest
step profiles 10 cat /sys/kernel/security/apparmor/profiles
step armorer 10 armorer --version
step timeout 1 sleep 5
`, vmtest.Options{Timeout: 2 * time.Minute, Console: consoleFor(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: boot %v, wall %v", k.Name, res.Boot.Round(time.Millisecond), res.Wall.Round(time.Millisecond))
			t.Logf("kernel: %s; parser: %s", strings.TrimSpace(res.Output("uname")), firstLine(res.Output("parser")))
			if got := strings.TrimSpace(res.Output("enabled")); got != "Y" {
				t.Errorf("/sys/module/apparmor/parameters/enabled = %q, want Y", got)
			}
			if !strings.Contains(res.Output("lsm"), "apparmor") {
				t.Errorf("lsm = %q, want apparmor in it", res.Output("lsm"))
			}
			if s, _ := res.Step("load"); s.RC != 0 {
				t.Errorf("apparmor_parser -a: rc %d: %s", s.RC, s.Output)
			}
			if s, _ := res.Step("armorer"); s.RC != 0 || !strings.Contains(s.Output, "armorer") {
				t.Errorf("armorer --version in the VM: rc %d: %q", s.RC, s.Output)
			}
			if s, _ := res.Step("timeout"); s.RC != vmtest.TimedOut {
				t.Errorf("a step over its time limit: rc %d, want %d (timeout)", s.RC, vmtest.TimedOut)
			}
			if !strings.Contains(res.Output("profiles"), "boottest (complain)") {
				t.Errorf("profiles = %q, want boottest (complain)", res.Output("profiles"))
			}
		})
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// consoleFor streams the serial console to stderr when VMTEST_CONSOLE is set.
// It returns an untyped nil otherwise: a nil *os.File in the io.Writer
// would still count as a console.
func consoleFor(t *testing.T) io.Writer {
	if os.Getenv("VMTEST_CONSOLE") != "" {
		return os.Stderr
	}
	return nil
}

// TestDeadlines checks both bounds of a run: the scenario's own time limit
// inside the VM, and the host-side deadline that kills qemu.
func TestDeadlines(t *testing.T) {
	a := vmtest.Need(t, vmtest.Debian13)
	res, err := a.Run(context.Background(), nil, "step ok 5 true\nsleep 600\n", vmtest.Options{Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "time limit") {
		t.Errorf("scenario over its time limit: err = %v, want a time limit error", err)
	}
	if res == nil || !res.Completed || res.ScenarioRC != vmtest.TimedOut {
		t.Errorf("scenario over its time limit: result %+v, want completed with rc %d", res, vmtest.TimedOut)
	} else if s, ok := res.Step("ok"); !ok || s.RC != 0 {
		t.Errorf("step before the hang: %+v, %v", s, ok)
	}

	initrd := filepath.Join(t.TempDir(), "initrd")
	if err := a.BuildInitrd(context.Background(), &vmtest.Image{}, "sleep 600\n", vmtest.Options{}, initrd); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = a.Boot(ctx, initrd, vmtest.Options{})
	if err == nil || !strings.Contains(err.Error(), "host deadline") {
		t.Errorf("host deadline: err = %v, want the VM killed", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("host deadline of 2s: Run returned after %v", d)
	}
}
