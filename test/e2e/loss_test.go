//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

// lossScenario puts back the kernel's default printk rate limit (5 s, burst
// 10), makes a burst of complain-mode events, waits out the interval and
// makes one more, so the kernel reports what it suppressed.
const lossScenario = `
D=/opt/probe/data
mkdir -p $D; echo r > $D/r; echo w > $D/w
echo 5 > /proc/sys/kernel/printk_ratelimit
step load 60 apparmor_parser -a /etc/apparmor.d/probe-complain
step burst 60 sh -c 'for i in 1 2 3 4 5; do /opt/probe/bin/probe read write tcp udp unix; done'
sleep 6
step after 20 /opt/probe/bin/probe read
step dmesg 20 dmesg
`

// TestKernelLossFixtures captures the kernel's own loss notices for audit
// events ("kauditd_printk_skb: N callbacks suppressed", audit_lost=) with
// the default printk rate limit, with audit off (Debian's default without
// auditd) and with audit=1 but no auditd (then SYSCALL and PROCTITLE
// records accompany the AVCs). With -update-fixtures it writes
// ratelimit.log and ratelimit-audit1.log next to the other fixtures.
func TestKernelLossFixtures(t *testing.T) {
	for _, k := range vmtest.Kernels {
		for _, variant := range []struct {
			name   string
			append []string
		}{{"ratelimit", nil}, {"ratelimit-audit1", []string{"audit=1"}}} {
			t.Run(k.Name+"/"+variant.name, func(t *testing.T) {
				t.Parallel()
				a := vmtest.Need(t, k)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				probe := filepath.Join(t.TempDir(), "probe")
				if err := vmtest.GoBuild(ctx, "./test/e2e/probe", probe); err != nil {
					t.Fatal(err)
				}
				img := &vmtest.Image{Files: []vmtest.File{
					vmtest.Program(probe, "/opt/probe/bin/probe"),
					vmtest.Text("/etc/apparmor.d/probe-complain", probeProfiles(k.ABI, "complain")),
				}}
				res, err := a.Run(ctx, img, lossScenario, vmtest.Options{Timeout: 3 * time.Minute, Append: variant.append, Console: consoleFor(t)})
				if err != nil {
					t.Fatal(err)
				}
				var lines []string
				for _, l := range strings.Split(res.Output("dmesg"), "\n") {
					if strings.Contains(l, "audit") || strings.Contains(l, "suppressed") {
						lines = append(lines, l)
					}
				}
				if !containsAny(lines, "callbacks suppressed") && !containsAny(lines, "audit_lost=") {
					t.Errorf("no loss notice in:\n%s", strings.Join(lines, "\n"))
				}
				if *updateFixtures && !t.Failed() {
					dir := filepath.Join("..", "..", "auditlog", "testdata", "kernel", k.Name+"-"+k.Series)
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					write(t, filepath.Join(dir, variant.name+".log"), lines)
				}
			})
		}
	}
}
