//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

// hostStatus is the part of `armorer status --json` the scenario checks.
type hostStatus struct {
	Support struct {
		Enabled      bool   `json:"enabled"`
		PolicyLocked bool   `json:"policy_locked"`
		ABI          string `json:"abi"`
	} `json:"support"`
	ByMode    map[string][]string `json:"by_mode"`
	Processes []struct {
		PID     int    `json:"pid"`
		Profile string `json:"profile"`
		Mode    string `json:"mode"`
	} `json:"processes"`
	Unconfined []struct {
		PID      int    `json:"pid"`
		Exe      string `json:"exe"`
		ShouldBe string `json:"should_be"`
	} `json:"unconfined"`
}

// TestHostLifecycle drives armorer's host verbs on a real AppArmor kernel:
// load --complain installs the profile with flags=(complain) and the
// kernel reports complain; a process started before the load is listed as
// unconfined-but-should-be; enforce refuses without the simulate gate,
// then --force switches the running app to enforce; unload refuses while
// it confines the app; complain switches back; and after lock_policy every
// load is rejected by the kernel: enforce exits 3 and the file and kernel
// state stay complain.
func TestHostLifecycle(t *testing.T) {
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			a := vmtest.Need(t, k)
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
			defer cancel()
			img := MyappFiles(ctx, t, "1")
			armorer, err := vmtest.BuildArmorer(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			// The profile is myapp's full enforce-mode profile without flags:
			// load --complain must add them.
			img.Add(armorer, vmtest.Text("/root/myapp", myappProfile(k.ABI, "enforce")),
				vmtest.Text("/root/other", "abi <abi/"+k.ABI+">,\nprofile other /opt/other/bin/other {\n  /opt/other/** r,\n}\n"))
			script := `
/opt/myapp/bin/myapp serve >/dev/null 2>&1 &
EARLY=$!
wait_for 20 /opt/myapp/bin/myapp client http://127.0.0.1:8080/
step status-empty 20 armorer status --json
step load 60 armorer load --complain /root/myapp
step status-complain 20 armorer status --json
step early 5 echo $EARLY
kill $EARLY
wait $EARLY
step file-complain 5 cat /etc/apparmor.d/myapp
/opt/myapp/bin/myapp serve >/dev/null 2>&1 &
APP=$!
wait_for 20 /opt/myapp/bin/myapp client http://127.0.0.1:8080/
step attr-complain 5 cat /proc/$APP/attr/current
step enforce-nogate 60 armorer enforce myapp
step enforce 60 armorer enforce --force myapp
step attr-enforce 5 cat /proc/$APP/attr/current
step requests 30 /opt/myapp/bin/myapp client http://127.0.0.1:8080/ 'http://127.0.0.1:8080/store?key=k1&value=v1'
step status-enforce 20 armorer status --json
step status-text 20 armorer status
step unload-inuse 60 armorer unload myapp
step complain 60 armorer complain myapp
step attr-complain2 5 cat /proc/$APP/attr/current
step other-load 30 armorer load /root/other
step other-disable 30 armorer disable other
step other-after-disable 5 sh -c 'grep -c "^other " /sys/kernel/security/apparmor/profiles; readlink /etc/apparmor.d/disable/other'
step other-enforce 30 armorer enforce --force other
step other-after-enforce 5 sh -c 'grep "^other " /sys/kernel/security/apparmor/profiles; ls /etc/apparmor.d/disable'
step other-unload 30 armorer unload other
step other-after-unload 5 sh -c 'grep -c "^other " /sys/kernel/security/apparmor/profiles; ls /etc/apparmor.d/other'
sh_step lock 5 'echo 1 > /sys/module/apparmor/parameters/lock_policy'
step enforce-locked 60 armorer enforce --force myapp
step file-locked 5 cat /etc/apparmor.d/myapp
step attr-locked 5 cat /proc/$APP/attr/current
step status-locked 20 armorer status --json
step backups 5 find /var/lib/armorer/backup -type f
kill $APP
wait $APP
`
			start := time.Now()
			res, err := a.Run(ctx, img, script, vmtest.Options{Timeout: 5 * time.Minute, Console: consoleFor(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: build+boot+scenario %v (VM wall %v)", k.Name, time.Since(start).Round(time.Millisecond), res.Wall.Round(time.Millisecond))

			wantRC := map[string]int{
				"status-empty": 0, "load": 0, "status-complain": 0, "attr-complain": 0,
				"enforce-nogate": 1, "enforce": 0, "requests": 0, "status-enforce": 0, "status-text": 0,
				"unload-inuse": 1, "complain": 0, "lock": 0, "enforce-locked": 3, "status-locked": 0,
				"other-load": 0, "other-disable": 0, "other-enforce": 0, "other-unload": 0,
			}
			for name, want := range wantRC {
				st, ok := res.Step(name)
				if !ok || st.RC != want {
					t.Errorf("step %s: rc %d (ran: %v), want %d:\n%s", name, st.RC, ok, want, st.Output)
				}
			}
			status := func(step string) hostStatus {
				var s hostStatus
				if err := json.Unmarshal([]byte(res.Output(step)), &s); err != nil {
					t.Errorf("%s: not JSON: %v\n%s", step, err, res.Output(step))
				}
				return s
			}
			if s := status("status-empty"); !s.Support.Enabled || len(s.ByMode["enforce"])+len(s.ByMode["complain"]) != 0 {
				t.Errorf("status before load: %+v", s)
			}
			sc := status("status-complain")
			if strings.Join(sc.ByMode["complain"], " ") != "myapp" {
				t.Errorf("after load --complain, complain profiles = %q, want [myapp]", sc.ByMode["complain"])
			}
			early := strings.TrimSpace(res.Output("early"))
			found := false
			for _, u := range sc.Unconfined {
				if u.ShouldBe == "myapp" && u.Exe == "/opt/myapp/bin/myapp" && strconv.Itoa(u.PID) == early {
					found = true
				}
			}
			if !found {
				t.Errorf("the app started before the load (PID %s) is not listed as unconfined-but-should-be: %+v", early, sc.Unconfined)
			}
			if !strings.Contains(res.Output("load"), "warning: process "+early+" (myapp) runs /opt/myapp/bin/myapp unconfined") {
				t.Errorf("load did not warn about the process started before it:\n%s", res.Output("load"))
			}
			if f := res.Output("file-complain"); !strings.Contains(f, "profile myapp /opt/myapp/bin/myapp flags=(complain) {") ||
				!strings.Contains(f, "  /opt/myapp/data/* rw,\n") {
				t.Errorf("installed file:\n%s", f)
			}
			for step, want := range map[string]string{
				"attr-complain": "myapp (complain)", "attr-enforce": "myapp (enforce)",
				"attr-complain2": "myapp (complain)", "attr-locked": "myapp (complain)",
			} {
				if got := strings.TrimSpace(res.Output(step)); got != want {
					t.Errorf("%s: /proc/APP/attr/current = %q, want %q", step, got, want)
				}
			}
			if !strings.Contains(res.Output("enforce-nogate"), "no recorded events for myapp: an empty check proves nothing") {
				t.Errorf("enforce without the gate:\n%s", res.Output("enforce-nogate"))
			}
			if out := res.Output("requests"); !strings.Contains(out, "hello from myapp version 1") || !strings.Contains(out, "stored") {
				t.Errorf("the enforced app did not answer:\n%s", out)
			}
			se := status("status-enforce")
			if strings.Join(se.ByMode["enforce"], " ") != "myapp" {
				t.Errorf("after enforce, enforce profiles = %q", se.ByMode["enforce"])
			}
			confined := false
			for _, p := range se.Processes {
				if p.Profile == "myapp" && p.Mode == "enforce" {
					confined = true
				}
			}
			if !confined {
				t.Errorf("status --json lists no process confined by myapp in enforce mode: %+v", se.Processes)
			}
			if !strings.Contains(res.Output("status-text"), "1 processes are in enforce mode.") {
				t.Errorf("status text:\n%s", res.Output("status-text"))
			}
			if !strings.Contains(res.Output("unload-inuse"), "profile myapp still confines 1 process(es)") {
				t.Errorf("unload while in use:\n%s", res.Output("unload-inuse"))
			}
			// disable, re-enable and unload a profile that confines nothing.
			if got := res.Output("other-after-disable"); got != "0\n../other\n" {
				t.Errorf("after disable: %q, want not loaded and disable/other -> ../other", got)
			}
			if got := res.Output("other-after-enforce"); got != "other (enforce)\n" {
				t.Errorf("after enforce of a disabled profile: %q, want it loaded and disable/ empty\nload: %s\ndisable: %s\nenforce: %s", got,
					res.Output("other-load"), res.Output("other-disable"), res.Output("other-enforce"))
			}
			if got := res.Output("other-after-unload"); got != "0\n/etc/apparmor.d/other\n" {
				t.Errorf("after unload: %q, want not loaded, file kept", got)
			}
			// The real kernel's rejection, and the rollback.
			locked := res.Output("enforce-locked")
			if !strings.Contains(locked, "kernel: unchanged") || !strings.Contains(locked, "restored the previous /etc/apparmor.d/myapp") ||
				!strings.Contains(locked, "the policy is locked") {
				t.Errorf("enforce under lock_policy:\n%s", locked)
			}
			if f := res.Output("file-locked"); !strings.Contains(f, "flags=(complain)") {
				t.Errorf("file after the rejected enforce is not the previous (complain) one:\n%s", f)
			}
			sl := status("status-locked")
			if !sl.Support.PolicyLocked || strings.Join(sl.ByMode["complain"], " ") != "myapp" || len(sl.ByMode["enforce"]) != 0 {
				t.Errorf("status after the rejected enforce: %+v", sl)
			}
			if n := len(strings.Fields(res.Output("backups"))); n < 3 {
				t.Errorf("backups in /var/lib/armorer/backup: %d, want one per change:\n%s", n, res.Output("backups"))
			}
		})
	}
}
