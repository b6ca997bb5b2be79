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

// TestMyappConfined proves the harness end to end on each kernel with
// apparmor_parser alone: myapp's profile in complain mode logs ALLOWED
// events while the app works; in enforce mode the app still works with zero
// DENIED events and none lost, /proc/PID/attr/current reads
// "myapp (enforce)", and every probe of the compromised mode is blocked and
// logged DENIED. With -update-fixtures it saves the complain-mode log to
// test/e2e/testdata/myapp-complain-<kernel>.log.
func TestMyappConfined(t *testing.T) {
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel() // one qemu per kernel: TCG uses one core each
			a := vmtest.Need(t, k)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			img := MyappFiles(ctx, t, "1")
			img.Add(vmtest.Text("/etc/apparmor.d/myapp", myappProfile(k.ABI, "complain")),
				vmtest.Text("/root/myapp.enforce", myappProfile(k.ABI, "enforce")))
			enforceExercise := strings.NewReplacer("step requests", "step enforce-requests", "step attr", "step enforce-attr", "step selftest", "step enforce-selftest").Replace(MyappExercise)
			script := `
step load 60 apparmor_parser -a /etc/apparmor.d/myapp
step loaded 5 cat /sys/kernel/security/apparmor/profiles
dmesg -c >/dev/null
` + MyappExercise + `
step complain-log 10 dmesg -c
cp /root/myapp.enforce /etc/apparmor.d/myapp
step enforce 60 apparmor_parser -r /etc/apparmor.d/myapp
` + enforceExercise + `
step enforce-log 10 dmesg -c
step compromised 30 /opt/myapp/bin/myapp compromised
step compromised-log 10 dmesg -c
`
			start := time.Now()
			res, err := a.Run(ctx, img, script, vmtest.Options{Timeout: 4 * time.Minute, Console: consoleFor(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: build+boot+scenario %v (VM boot %v, VM wall %v)", k.Name, time.Since(start).Round(time.Millisecond), res.Boot.Round(time.Millisecond), res.Wall.Round(time.Millisecond))
			for _, s := range []string{"load", "requests", "selftest", "enforce", "enforce-requests", "enforce-selftest"} {
				if st, ok := res.Step(s); !ok || st.RC != 0 {
					t.Errorf("step %s: rc %d (ran: %v): %s", s, st.RC, ok, st.Output)
				}
			}
			if !strings.Contains(res.Output("loaded"), "myapp (complain)") {
				t.Errorf("loaded profiles = %q, want myapp (complain)", res.Output("loaded"))
			}
			for step, want := range map[string]string{"attr": "myapp (complain)", "enforce-attr": "myapp (enforce)"} {
				if got := strings.TrimSpace(res.Output(step)); got != want {
					t.Errorf("/proc/PID/attr/current (%s) = %q, want %q", step, got, want)
				}
			}
			for _, s := range []string{"requests", "enforce-requests"} {
				if out := res.Output(s); !strings.Contains(out, "hello from myapp version 1") || !strings.Contains(out, "stored") || !strings.Contains(out, "helper: 2 lines") {
					t.Errorf("%s: the app did not answer as expected:\n%s", s, out)
				}
			}

			complain := auditLines(res.Output("complain-log"))
			if n := count(complain, `apparmor="ALLOWED"`); n < 20 {
				t.Errorf("complain mode: %d ALLOWED events, want many:\n%s", n, strings.Join(complain, "\n"))
			}
			for _, want := range []string{`name="/opt/myapp/config"`, `name="/opt/myapp/data/k1"`, `name="/var/log/myapp/myapp.log"`, `name="/etc/hosts"`, `operation="listen"`, `target="myapp//null-/opt/myapp/bin/myapp-helper"`} {
				if !containsAny(complain, want) {
					t.Errorf("complain mode: no ALLOWED event with %s", want)
				}
			}
			enforceLog := res.Output("enforce-log")
			if d := auditLines(enforceLog); count(d, `apparmor="DENIED"`) != 0 {
				t.Errorf("enforce mode, normal use: DENIED events:\n%s", strings.Join(d, "\n"))
			}
			for _, lost := range []string{"callbacks suppressed", "audit_lost", "rate limit exceeded", "backlog limit exceeded"} {
				for _, l := range []string{res.Output("complain-log"), enforceLog} {
					if strings.Contains(l, lost) {
						t.Errorf("kernel reports lost events (%q): zero denials would prove nothing", lost)
					}
				}
			}

			if st, _ := res.Step("compromised"); st.RC != 0 {
				t.Errorf("compromised mode: a probe was allowed (rc %d):\n%s", st.RC, st.Output)
			}
			denied := auditLines(res.Output("compromised-log"))
			for probe, want := range map[string]string{
				"read-shadow": `name="/etc/shadow"`,
				"write-etc":   `name="/etc/myapp-pwned"`,
				"exec-shell":  `operation="exec"`,
				"raw-socket":  `sock_type="raw"`,
			} {
				found := false
				for _, l := range denied {
					if strings.Contains(l, `apparmor="DENIED"`) && strings.Contains(l, `profile="myapp"`) && strings.Contains(l, want) {
						found = true
					}
				}
				if !found {
					t.Errorf("compromised probe %s: no DENIED event with %s in:\n%s", probe, want, strings.Join(denied, "\n"))
				}
			}

			if *updateFixtures && !t.Failed() {
				name := filepath.Join("testdata", "myapp-complain-"+k.Name+"-"+k.Series+".log")
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				write(t, name, complain)
			}
		})
	}
}
