//go:build e2e

package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

// TestBoot proves the harness on each kernel: the VM boots, AppArmor is
// enabled, the suite's parser runs and the kernel accepts a profile.
func TestBoot(t *testing.T) {
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			a := vmtest.Need(t, k)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := a.Run(ctx, &vmtest.Image{Files: []vmtest.File{
				vmtest.Text("/etc/apparmor.d/boottest", "abi <abi/"+k.ABI+">,\ninclude <tunables/global>\nprofile boottest /opt/boottest flags=(complain) {\n  include <abstractions/base>\n}\n"),
			}}, `
step uname 10 cat /proc/version
step enabled 10 cat /sys/module/apparmor/parameters/enabled
step lsm 10 cat /sys/kernel/security/lsm
step parser 10 apparmor_parser --version
step load 60 apparmor_parser -a /etc/apparmor.d/boottest
step profiles 10 cat /sys/kernel/security/apparmor/profiles
step dmesg 10 dmesg
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
			if !strings.Contains(res.Output("profiles"), "boottest (complain)") {
				t.Errorf("profiles = %q, want boottest (complain)", res.Output("profiles"))
			}
		})
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// consoleFor streams the serial console to stderr when VMTEST_CONSOLE is set.
func consoleFor(t *testing.T) *os.File {
	if os.Getenv("VMTEST_CONSOLE") != "" {
		return os.Stderr
	}
	return nil
}
