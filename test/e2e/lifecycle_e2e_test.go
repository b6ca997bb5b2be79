//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// lifecycleScript is issue 5's scenario, steps 1–7, in the VM. myapp's
// profile is armorer's own from start to end: nothing is hand-written.
const lifecycleScript = `
PROFILE=/etc/apparmor.d/opt.myapp.bin.myapp
# 1. a first profile, loaded in complain mode.
step new 30 armorer new --write /opt/myapp/bin/myapp
step load 60 armorer load --complain myapp
step status-complain 20 armorer status --json

# 2. exercise the app, learn from the kernel log, check and simulate.
dmesg -c >/dev/null
` + MyappExercise + `
sh_step dump-complain 10 'dmesg > /root/complain.log; dmesg -c'
step learn 60 armorer learn --write /root/complain.log
step profile-learned 5 cat $PROFILE
step check 60 armorer check --target $TARGET $PROFILE
step simulate 60 armorer simulate $PROFILE /root/complain.log

# 3. enforce (the gate replays the recorded events); the app works, zero DENIED, none lost.
step enforce 60 armorer enforce myapp
dmesg -c >/dev/null
/opt/myapp/bin/myapp serve >/dev/null 2>&1 &
APP=$!
wait_for 20 /opt/myapp/bin/myapp client http://127.0.0.1:8080/
step enforce-attr 5 cat /proc/$APP/attr/current
step enforce-status 20 armorer status --json
step enforce-requests 30 /opt/myapp/bin/myapp client http://127.0.0.1:8080/ 'http://127.0.0.1:8080/store?key=k1&value=v2' http://127.0.0.1:8080/helper http://myapp.internal:8080/
step enforce-selftest 30 /opt/myapp/bin/myapp --selftest --addr 127.0.0.1:8081
step enforce-log 10 dmesg -c

# 4. compromised: every probe blocked and logged; the monitor counts them.
armorer monitor --source kmsg: --listen 127.0.0.1:9917 >/root/monitor.log 2>&1 &
MON=$!
wait_for 20 /opt/myapp/bin/myapp client http://127.0.0.1:9917/healthz
step compromised 30 /opt/myapp/bin/myapp compromised
step compromised2 30 /opt/myapp/bin/myapp compromised
sleep 1
step scrape 10 /opt/myapp/bin/myapp client http://127.0.0.1:9917/metrics
kill $MON
sh_step dump-compromised 10 'dmesg > /root/compromised.log; dmesg -c'
step events-denied 30 armorer events --denied --json --profile myapp /root/compromised.log
kill $APP
wait $APP

# 5. an update writes a new path: denied; learn proposes exactly that rule; applying fixes it.
cp /opt/myapp/bin/myapp.v2 /opt/myapp/bin/myapp
/opt/myapp/bin/myapp serve >/dev/null 2>&1 &
APP=$!
wait_for 20 /opt/myapp/bin/myapp client http://127.0.0.1:8080/
step update-denied 30 /opt/myapp/bin/myapp client 'http://127.0.0.1:8080/store?key=k1&value=v3'
sh_step dump-update 10 'dmesg > /root/update.log; dmesg -c'
step update-diff 60 armorer learn /root/update.log
step update-write 60 armorer learn --write /root/update.log
step update-reload 60 armorer enforce myapp
step update-fixed 30 /opt/myapp/bin/myapp client 'http://127.0.0.1:8080/store?key=k1&value=v4'
step update-log 10 dmesg -c
kill $APP
wait $APP

# 6. record does it all in one command, from nothing.
step unload 30 armorer unload myapp
mv $PROFILE /root/learned.profile
rm /var/lib/armorer/events/myapp.jsonl
sh_step ratelimit 5 'echo 5 > /proc/sys/kernel/printk_ratelimit'
dmesg -c >/dev/null
step record-kmsg 120 armorer record --source kmsg: -- /opt/myapp/bin/myapp --selftest
step record 120 armorer record --write -- /opt/myapp/bin/myapp --selftest
step ratelimit-after 5 cat /proc/sys/kernel/printk_ratelimit
sh_step ratelimit0 5 'echo 0 > /proc/sys/kernel/printk_ratelimit'
step profile-recorded 5 cat $PROFILE
step record-enforce 60 armorer enforce myapp
dmesg -c >/dev/null
step record-selftest 30 /opt/myapp/bin/myapp --selftest
step record-log 10 dmesg -c

# 7. last: the kernel refuses every load; enforce and load exit 3 and change nothing.
step complain-before-lock 60 armorer complain myapp
sh_step before-lock 5 'md5sum $PROFILE; cat /sys/kernel/security/apparmor/profiles'
sh_step lock 5 'echo 1 > /sys/module/apparmor/parameters/lock_policy'
step enforce-locked 60 armorer enforce --force myapp
step load-locked 60 armorer load myapp
sh_step after-lock 5 'md5sum $PROFILE; cat /sys/kernel/security/apparmor/profiles'
`

// TestLifecycle is issue 5's proof on each real kernel: armorer takes
// myapp from no profile to an enforced one it learned, the enforced app
// works with zero denials, an attack is blocked and counted, an update is
// learned, record does the same in one command, and a kernel that refuses
// loads leaves file and kernel unchanged.
func TestLifecycle(t *testing.T) {
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel() // one qemu per kernel: TCG uses one core each
			a := vmtest.Need(t, k)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			start := time.Now()
			img := MyappFiles(ctx, t, "1")
			v2 := filepath.Join(t.TempDir(), "myapp.v2")
			if err := vmtest.GoBuild(ctx, "./test/e2e/myapp", v2, "-ldflags", "-X main.version=2"); err != nil {
				t.Fatal(err)
			}
			armorer, err := vmtest.BuildArmorer(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			img.Add(armorer, vmtest.Program(v2, "/opt/myapp/bin/myapp.v2"))
			// check's target is the release's AppArmor (its abstractions
			// carry abi <abi/4.0> on Debian 13).
			target := map[string]string{"3.0": "3.0", "4.0": "4.1"}[k.ABI]
			res, err := a.Run(ctx, img, "TARGET="+target+"\n"+lifecycleScript, vmtest.Options{Timeout: 6 * time.Minute, Console: consoleFor(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: lifecycle scenario wall time %v (build+boot+scenario; VM boot %v, VM wall %v)",
				k.Name, time.Since(start).Round(time.Millisecond), res.Boot.Round(time.Millisecond), res.Wall.Round(time.Millisecond))
			checkLifecycle(t, res)
		})
	}
}

func checkLifecycle(t *testing.T, res *vmtest.Result) {
	rc := func(step string, want int) bool {
		t.Helper()
		st, ok := res.Step(step)
		if !ok || st.RC != want {
			t.Errorf("step %s: rc %d (ran: %v), want %d:\n%s", step, st.RC, ok, want, st.Output)
			return false
		}
		return true
	}
	status := func(step string) hostStatus {
		t.Helper()
		var s hostStatus
		if err := json.Unmarshal([]byte(res.Output(step)), &s); err != nil {
			t.Errorf("%s: not JSON: %v\n%s", step, err, res.Output(step))
		}
		return s
	}
	noLoss := func(step string) {
		t.Helper()
		for _, lost := range []string{"callbacks suppressed", "audit_lost", "rate limit exceeded", "backlog limit exceeded"} {
			if strings.Contains(res.Output(step), lost) {
				t.Errorf("%s: the kernel reports lost events (%q): zero denials would prove nothing", step, lost)
			}
		}
	}

	// 1.
	rc("new", 0)
	rc("load", 0)
	if sc := status("status-complain"); strings.Join(sc.ByMode["complain"], " ") != "myapp" {
		t.Errorf("1: after load --complain, complain profiles = %q, want [myapp]", sc.ByMode["complain"])
	}

	// 2.
	rc("requests", 0)
	rc("selftest", 0)
	if got := strings.TrimSpace(res.Output("attr")); got != "myapp (complain)" {
		t.Errorf("2: attr = %q, want myapp (complain)", got)
	}
	if n := count(auditLines(res.Output("dump-complain")), `apparmor="ALLOWED"`); n < 20 {
		t.Errorf("2: only %d ALLOWED events in complain mode", n)
	}
	noLoss("dump-complain")
	rc("learn", 0)
	if !strings.Contains(res.Output("learn"), "kept ") {
		t.Errorf("2: learn --write did not keep its events:\n%s", res.Output("learn"))
	}
	learned := res.Output("profile-learned")
	// Network stays an explicit rule; two name-service reads do not make
	// learn include abstractions/nameservice.
	for _, want := range []string{"/opt/myapp/config r,", "/opt/myapp/data/* rw,", "/var/log/myapp/myapp.log w,", "/etc/hosts r,", "network inet stream,", "/opt/myapp/bin/myapp-helper rix,"} {
		if !strings.Contains(learned, want) {
			t.Errorf("2: learned profile lacks %q:\n%s", want, learned)
		}
	}
	rc("check", 0)
	if rc("simulate", 0) && !strings.Contains(res.Output("simulate"), "no denials") {
		t.Errorf("2: simulate:\n%s", res.Output("simulate"))
	}

	// 3.
	rc("enforce", 0)
	if got := strings.TrimSpace(res.Output("enforce-attr")); got != "myapp (enforce)" {
		t.Errorf("3: /proc/APP/attr/current = %q, want myapp (enforce)", got)
	}
	if se := status("enforce-status"); strings.Join(se.ByMode["enforce"], " ") != "myapp" {
		t.Errorf("3: enforce profiles = %q", se.ByMode["enforce"])
	}
	if rc("enforce-requests", 0) {
		if out := res.Output("enforce-requests"); !strings.Contains(out, "hello from myapp version 1") || !strings.Contains(out, "stored") || !strings.Contains(out, "helper: 2 lines") {
			t.Errorf("3: the enforced app did not answer:\n%s", out)
		}
	}
	rc("enforce-selftest", 0)
	if d := count(auditLines(res.Output("enforce-log")), `apparmor="DENIED"`); d != 0 {
		t.Errorf("3: %d DENIED events in normal use:\n%s", d, res.Output("enforce-log"))
	}
	noLoss("enforce-log")

	// 4.
	rc("compromised", 0)
	rc("compromised2", 0)
	dump := auditLines(res.Output("dump-compromised"))
	noLoss("dump-compromised")
	var reported []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(res.Output("events-denied")), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(l), &ev) == nil {
			reported = append(reported, ev)
		}
	}
	if n := count(dump, `apparmor="DENIED"`); n == 0 || n != len(reported) {
		t.Errorf("4: %d DENIED lines in the kernel log, armorer events --denied reports %d:\n%s", n, len(reported), res.Output("events-denied"))
	}
	for probe, want := range map[string]func(ev map[string]any) bool{
		"read-shadow": func(ev map[string]any) bool { return ev["name"] == "/etc/shadow" },
		"write-etc":   func(ev map[string]any) bool { return ev["name"] == "/etc/myapp-pwned" },
		"exec-shell":  func(ev map[string]any) bool { return ev["operation"] == "exec" },
		"raw-socket":  func(ev map[string]any) bool { return ev["sock_type"] == "raw" },
	} {
		n := 0
		for _, ev := range reported {
			if ev["apparmor"] == "DENIED" && ev["profile"] == "myapp" && want(ev) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("4: probe %s: %d DENIED events reported, want 2 (two runs)", probe, n)
		}
	}
	// The monitor saw exactly the kernel's denials: the shadow read is
	// the only open denial of a run, and myapp ran compromised twice.
	wantOpen := count(dump, `operation="open"`)
	if wantOpen != 2 {
		t.Errorf("4: %d DENIED open events in the kernel log, want 2", wantOpen)
	}
	if got, ok := scrapeDenials(t, res.Output("scrape"), "myapp", "open"); !ok || got != float64(wantOpen) {
		t.Errorf("4: monitor: armorer_apparmor_denials_total{profile=myapp,operation=open} = %v (found %v), want %d\n%s", got, ok, wantOpen, res.Output("scrape"))
	}

	// 5.
	if st, _ := res.Step("update-denied"); st.RC == 0 {
		t.Errorf("5: version 2 stored into /opt/myapp/cache under the old profile:\n%s", st.Output)
	}
	upd := auditLines(res.Output("dump-update"))
	if !containsAny(upd, `name="/opt/myapp/cache/k1"`) || count(upd, `apparmor="DENIED"`) == 0 {
		t.Errorf("5: no DENIED event for the new path:\n%s", strings.Join(upd, "\n"))
	}
	rc("update-diff", 0)
	var added []string
	for _, l := range strings.Split(res.Output("update-diff"), "\n") {
		if strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++") && strings.TrimSpace(l[1:]) != "" {
			added = append(added, strings.TrimSpace(l[1:]))
		}
	}
	if len(added) != 1 || !regexp.MustCompile(`^/opt/myapp/cache/\S+ w,$`).MatchString(added[0]) {
		t.Errorf("5: learn proposes %q, want exactly one write rule for /opt/myapp/cache:\n%s", added, res.Output("update-diff"))
	}
	rc("update-write", 0)
	rc("update-reload", 0)
	if rc("update-fixed", 0) && !strings.Contains(res.Output("update-fixed"), "stored") {
		t.Errorf("5: after the update was learned:\n%s", res.Output("update-fixed"))
	}
	if d := count(auditLines(res.Output("update-log")), `apparmor="DENIED"`); d != 0 {
		t.Errorf("5: %d DENIED after learning the update:\n%s", d, res.Output("update-log"))
	}

	// 6.
	rc("unload", 0)
	if rc("record", 0) {
		out := res.Output("record")
		for _, want := range []string{"wrote /etc/apparmor.d/opt.myapp.bin.myapp", "selftest: ok", "printk_ratelimit to 0 (was 5)", "restored /proc/sys/kernel/printk_ratelimit to 5", "kept "} {
			if !strings.Contains(out, want) {
				t.Errorf("6: record output lacks %q:\n%s", want, out)
			}
		}
		if m := regexp.MustCompile(`recording the events of myapp from (\S+)`).FindStringSubmatch(out); m != nil {
			t.Logf("6: record read %s", m[1])
		}
		if strings.Contains(out, "lost") {
			t.Errorf("6: record lost events:\n%s", out)
		}
	}
	// The same from kmsg: (printk, under the raised rate limit): the diff
	// alone, nothing written.
	if rc("record-kmsg", 0) {
		out := res.Output("record-kmsg")
		for _, want := range []string{"recording the events of myapp from kmsg:", "+  /opt/myapp/config r,", "+  /opt/myapp/data/selftest rw,", "printk_ratelimit to 0 (was 5)", "restored /proc/sys/kernel/printk_ratelimit to 5"} {
			if !strings.Contains(out, want) {
				t.Errorf("6: record --source kmsg: output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "lost") {
			t.Errorf("6: record --source kmsg: lost events:\n%s", out)
		}
	}
	if got := strings.TrimSpace(res.Output("ratelimit-after")); got != "5" {
		t.Errorf("6: printk_ratelimit after record = %q, want 5 (restored)", got)
	}
	recorded := res.Output("profile-recorded")
	for _, want := range []string{"profile myapp /opt/myapp/bin/myapp flags=(complain)", "/opt/myapp/config r,", "/opt/myapp/data/selftest rw,", "/opt/myapp/cache/selftest w,", "/var/log/myapp/myapp.log w,", "/etc/hosts r,", "/opt/myapp/bin/myapp-helper rix,"} {
		if !strings.Contains(recorded, want) {
			t.Errorf("6: recorded profile lacks %q:\n%s", want, recorded)
		}
	}
	rc("record-enforce", 0)
	rc("record-selftest", 0)
	if d := count(auditLines(res.Output("record-log")), `apparmor="DENIED"`); d != 0 {
		t.Errorf("6: %d DENIED running the self-test under the recorded profile:\n%s", d, res.Output("record-log"))
	}

	// 7.
	rc("complain-before-lock", 0)
	rc("lock", 0)
	rc("enforce-locked", 3)
	rc("load-locked", 3)
	if before, after := res.Output("before-lock"), res.Output("after-lock"); before == "" || before != after {
		t.Errorf("7: file or kernel changed by the rejected loads:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if !strings.Contains(res.Output("before-lock"), "myapp (complain)") {
		t.Errorf("7: before the lock:\n%s", res.Output("before-lock"))
	}
}

// scrapeDenials reads armorer_apparmor_denials_total for profile and
// operation (summed over class) from a /metrics body.
func scrapeDenials(t *testing.T, body, profile, operation string) (float64, bool) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Errorf("metrics do not parse: %v", err)
		return 0, false
	}
	fam := fams["armorer_apparmor_denials_total"]
	if fam == nil {
		return 0, false
	}
	sum, found := 0.0, false
	for _, m := range fam.Metric {
		labels := model.LabelSet{}
		for _, l := range m.Label {
			labels[model.LabelName(l.GetName())] = model.LabelValue(l.GetValue())
		}
		if labels["profile"] == model.LabelValue(profile) && labels["operation"] == model.LabelValue(operation) {
			sum += m.GetCounter().GetValue()
			found = true
		}
	}
	return sum, found
}
