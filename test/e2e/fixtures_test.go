//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

var updateFixtures = flag.Bool("update-fixtures", false, "rewrite auditlog/testdata/kernel/* from the VM runs")

// probeProfiles is the policy the probe runs under: empty profiles in
// complain mode (every access is logged ALLOWED), and in enforce mode only
// what lets the probe start and print (everything else is DENIED).
func probeProfiles(abi, mode string) string {
	flags := ""
	if mode == "complain" {
		flags = " flags=(complain)"
	}
	rules := ""
	if mode == "enforce" {
		rules = `  /opt/probe/bin/probe mr,
  /dev/null rw,
  /sys/kernel/mm/transparent_hugepage/hpage_pmd_size r,
  audit /opt/probe/data/a r,
  /opt/probe/data/r r,
`
	}
	return fmt.Sprintf(`abi <abi/%s>,
include <tunables/global>

profile probe "/opt/probe/bin/{probe,odd name}"%s {
%s
  ^hat%s {
  }
}

profile probe_target%s {
}
`, abi, flags, rules, flags, flags)
}

const probeScenario = `
D=/opt/probe/data
P=/opt/probe/bin/probe
reset() { rm -rf $D; mkdir -p $D/emptydir $D/mnt; echo r > $D/r; echo s > "$D/with space"; echo a > $D/a; echo w > $D/w; touch $D/from $D/gone $D/secret; chmod 000 $D/secret; }
reset
sleep 1000 &
PEER=$!
step versions 10 sh -c 'cat /proc/version; apparmor_parser --version | head -1'
step load 60 apparmor_parser -a /etc/apparmor.d/probe-complain
step replace 60 apparmor_parser -r /etc/apparmor.d/probe-complain
step complain 60 $P -peer $PEER all
step complain-changeprofile 20 $P changeprofile
step complain-changehat 20 $P changehat
step complain-hex 20 "/opt/probe/bin/odd name" spacepath
reset
step enforce-load 60 apparmor_parser -r /etc/apparmor.d/probe-enforce
step enforce 60 $P -peer $PEER all
step enforce-changeprofile 20 $P changeprofile
step enforce-changehat 20 $P changehat
step enforce-hex 20 "/opt/probe/bin/odd name" spacepath
step remove 30 apparmor_parser -R /etc/apparmor.d/probe-enforce
kill $PEER
step dmesg 20 dmesg
step kmsg 3 cat /dev/kmsg
`

// captureProbe runs the probe scenario on k and returns the result.
func captureProbe(t *testing.T, k vmtest.Kernel) (*vmtest.Assets, *vmtest.Result) {
	a := vmtest.Need(t, k)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := t.TempDir()
	probe := filepath.Join(bin, "probe")
	if err := vmtest.GoBuild(ctx, "./test/e2e/probe", probe); err != nil {
		t.Fatal(err)
	}
	img := &vmtest.Image{Files: []vmtest.File{
		vmtest.Program(probe, "/opt/probe/bin/probe"),
		vmtest.Program(probe, "/opt/probe/bin/child"),
		vmtest.Program(probe, "/opt/probe/bin/odd name"), // comm and path are hex-encoded in audit lines
		vmtest.Text("/etc/apparmor.d/probe-complain", probeProfiles(k.ABI, "complain")),
		vmtest.Text("/etc/apparmor.d/probe-enforce", probeProfiles(k.ABI, "enforce")),
	}}
	res, err := a.Run(ctx, img, probeScenario, vmtest.Options{Timeout: 4 * time.Minute, Console: consoleFor(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: boot %v, wall %v", k.Name, res.Boot.Round(time.Millisecond), res.Wall.Round(time.Millisecond))
	for _, s := range []string{"load", "replace", "enforce-load", "remove"} {
		if st, _ := res.Step(s); st.RC != 0 {
			t.Fatalf("step %s: rc %d: %s", s, st.RC, st.Output)
		}
	}
	return a, res
}

var (
	opRE     = regexp.MustCompile(`\boperation="([^"]*)"`)
	familyRE = regexp.MustCompile(`\bfamily="([^"]*)"`)
)

// classify names the fixture file an AppArmor audit line belongs in.
func classify(line string) string {
	if strings.Contains(line, `apparmor="STATUS"`) {
		return "status"
	}
	op := ""
	if m := opRE.FindStringSubmatch(line); m != nil {
		op = m[1]
	}
	switch op {
	case "capable":
		return "capability"
	case "signal":
		return "signal"
	case "ptrace":
		return "ptrace"
	case "userns_create":
		return "userns"
	case "mount", "umount", "remount", "pivotroot":
		return "mount"
	case "exec", "change_profile", "change_onexec", "change_hat":
		return "exec"
	}
	if m := familyRE.FindStringSubmatch(line); m != nil {
		if m[1] == "unix" {
			return "unix"
		}
		return "network"
	}
	return "file"
}

// auditLines returns the AppArmor audit lines of a dmesg or /dev/kmsg dump.
func auditLines(dump string) []string {
	var out []string
	for _, l := range strings.Split(dump, "\n") {
		if strings.Contains(l, `apparmor="`) { // not the command line's apparmor=1
			out = append(out, l)
		}
	}
	return out
}

// TestKernelFixtures captures real audit lines on both kernels, checks that
// every event class the probe exercises shows up ALLOWED (complain) and
// DENIED (enforce), and with -update-fixtures writes them to
// auditlog/testdata/kernel/<kernel>-<series>/.
func TestKernelFixtures(t *testing.T) {
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel() // one qemu per kernel: TCG uses one core each
			a, res := captureProbe(t, k)
			t.Logf("complain:\n%s\nenforce:\n%s", res.Output("complain"), res.Output("enforce"))
			t.Logf("change_hat: complain %q, enforce %q", res.Output("complain-changehat"), res.Output("enforce-changehat"))
			dmesg := auditLines(res.Output("dmesg"))
			byClass := map[string][]string{}
			for _, l := range dmesg {
				c := classify(l)
				byClass[c] = append(byClass[c], l)
			}
			want := []string{"file", "capability", "network", "unix", "signal", "ptrace", "mount", "exec"}
			if k.Series != "6.1" {
				want = append(want, "userns")
			}
			for _, c := range want {
				for _, outcome := range []string{`apparmor="ALLOWED"`, `apparmor="DENIED"`} {
					if !containsAny(byClass[c], outcome) {
						t.Errorf("%s: no %s %s line", k.Name, c, outcome)
					}
				}
			}
			for _, op := range []string{"exec", "change_profile", "change_onexec", "change_hat"} {
				if !containsAny(byClass["exec"], `operation="`+op+`"`) {
					t.Errorf("%s: no %s line among:\n%s", k.Name, op, strings.Join(byClass["exec"], "\n"))
				}
			}
			if !containsAny(byClass["exec"], `target="probe//null-/opt/probe/bin/child"`) {
				t.Errorf("%s: no exec into a null child profile (target=)", k.Name)
			}
			for _, op := range []string{"profile_load", "profile_replace", "profile_remove"} {
				if !containsAny(byClass["status"], `operation="`+op+`"`) {
					t.Errorf("%s: no STATUS %s line", k.Name, op)
				}
			}
			kmsg := auditLines(res.Output("kmsg"))
			if len(kmsg) < len(dmesg) {
				t.Errorf("/dev/kmsg has %d audit records, dmesg %d", len(kmsg), len(dmesg))
			}
			if *updateFixtures {
				writeFixtures(t, a, res, byClass, kmsg)
			}
		})
	}
}

func containsAny(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func writeFixtures(t *testing.T, a *vmtest.Assets, res *vmtest.Result, byClass map[string][]string, kmsg []string) {
	k := a.Kernel
	dir := filepath.Join("..", "..", "auditlog", "testdata", "kernel", k.Name+"-"+k.Series)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range old {
		if !strings.HasPrefix(filepath.Base(f), "ratelimit") { // TestKernelLossFixtures writes those
			os.Remove(f)
		}
	}
	var classes []string
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	var counts []string
	for _, c := range classes {
		write(t, filepath.Join(dir, c+".log"), byClass[c])
		counts = append(counts, fmt.Sprintf("| %s.log | %d | %d | %d |", c, len(byClass[c]), count(byClass[c], `apparmor="ALLOWED"`), count(byClass[c], `apparmor="DENIED"`)))
	}
	write(t, filepath.Join(dir, "kmsg.log"), kmsg)
	write(t, filepath.Join(dir, "dmesg-full.log"), strings.Split(strings.TrimRight(res.Output("dmesg"), "\n"), "\n"))
	versions := strings.TrimSpace(res.Output("versions"))
	readme := fmt.Sprintf(`# Audit lines from a real kernel: %s

Captured in a VM (internal/vmtest, qemu TCG) booting Debian's stock kernel
with that release's apparmor_parser; nothing here is hand-written or edited.

    %s

Packages: %s (kernel), %s (apparmor_parser, /etc/apparmor.d, features file).

Regenerate (boots each kernel three times, under a minute each):

    go test -tags e2e -run 'TestKernel(Loss)?Fixtures' -v ./test/e2e/ -args -update-fixtures

Every run prints new PIDs, times and serials: after regenerating, rewrite the
auditlog golden files too (go test ./auditlog -update).

The program behind the lines is test/e2e/probe (one access per operation),
run as profile "probe" (attached to /opt/probe/bin/probe and to a copy named
"/opt/probe/bin/odd name", whose comm and whose read of "/opt/probe/data/with
space" the kernel writes hex-encoded: comm=6F6464206E616D65) under the policy in
test/e2e/fixtures_test.go: first an empty profile in complain mode (every
access logged apparmor="ALLOWED"; exec'd children run as the null profile
"probe//null-/opt/probe/bin/child"), then in enforce mode with only the rules
the probe needs to start (apparmor="DENIED", and one apparmor="AUDIT" from an
"audit" rule). Each *.log holds the dmesg lines of one class, in the order the
kernel printed them (complain first, then enforce):

| file | lines | ALLOWED | DENIED |
|---|---|---|---|
%s

- kmsg.log: the same events as /dev/kmsg records (`+"`PRI,SEQ,USEC,FLAGS;audit: …`"+`), read with cat.
- dmesg-full.log: the whole dmesg of the run (boot messages mixed with audit lines), as busybox dmesg prints it.
- ratelimit.log, ratelimit-audit1.log (from TestKernelLossFixtures, test/e2e/loss_test.go: `+"`-run TestKernelLossFixtures`"+`
  with the same -update-fixtures): the audit-related dmesg lines of a burst of complain-mode events under the
  kernel's default printk rate limit (5 s, burst 10), so they carry the kernel's own loss notices:
  `+"`kauditd_printk_skb: N callbacks suppressed`"+` (audit off, Debian's default without auditd) and, booted with
  audit=1 and no auditd, also `+"`audit: audit_lost=N audit_rate_limit=0 audit_backlog_limit=64`"+`,
  `+"`audit: kauditd hold queue overflow`"+` and the type=1300 SYSCALL / type=1327 PROCTITLE records that then
  accompany each AVC (same serial). audit_lost is cumulative.
- exec.log: operation exec, change_profile, change_onexec (with target=); status.log: apparmor="STATUS"
  profile_load, profile_replace, profile_remove from apparmor_parser -a/-r/-R.
`, k.Name+" "+k.Series, strings.ReplaceAll(versions, "\n", "\n    "), a.KernelPackage, a.AppArmorPackage, strings.Join(counts, "\n"))
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
}

func count(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func write(t *testing.T, name string, lines []string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
