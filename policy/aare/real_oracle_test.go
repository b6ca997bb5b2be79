package aare

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// tunables reads the variable definitions of /etc/apparmor.d/tunables
// (`@{X}=a b`, `@{X}+=c`), enough for the abstractions used below.
func tunables(t *testing.T, dir string) map[string][]string {
	t.Helper()
	vars := map[string][]string{}
	def := regexp.MustCompile(`^\s*@\{(\w+)\}\s*(\+?=)\s*(.*?)\s*(#.*)?$`)
	err := filepath.WalkDir(filepath.Join(dir, "tunables"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			m := def.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			var vals []string
			for _, v := range strings.Fields(m[3]) {
				vals = append(vals, strings.Trim(v, `"`))
			}
			if m[2] == "=" {
				vars[m[1]] = vals
			} else {
				vars[m[1]] = append(vars[m[1]], vals...)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return vars
}

var simpleFileRule = regexp.MustCompile(`^\s*(audit\s+)?(deny\s+)?(owner\s+)?((?:/|@\{)\S+)\s+([rwalkmixPUC]+)\s*(->\s*\S+\s*)?,\s*(#.*)?$`)

// abstractionRules returns the plain file rules of an abstraction.
func abstractionRules(t *testing.T, path string) []Rule {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rules []Rule
	for _, line := range strings.Split(string(b), "\n") {
		m := simpleFileRule.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		perms, mode, err := ParsePerms(m[5])
		if err != nil {
			continue
		}
		if m[6] != "" {
			mode.Target = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(m[6]), "->"))
		}
		rules = append(rules, Rule{Audit: m[1] != "", Deny: m[2] != "", Owner: m[3] != "", Pattern: m[4], Perms: perms, Exec: mode})
	}
	return rules
}

// TestRealAbstractionsAgainstCompiler runs the oracle on real-world patterns:
// each rule of the host's abstractions against the rest of its abstraction,
// and typical accesses of a program against each abstraction.
func TestRealAbstractionsAgainstCompiler(t *testing.T) {
	const dir = "/etc/apparmor.d"
	if _, err := os.Stat(filepath.Join(dir, "tunables/global")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no %s/tunables/global (the apparmor package): %v", dir, err)
		}
		t.Skip(err)
	}
	vars := tunables(t, dir)
	probes := []string{
		"/etc/ld.so.cache", "/etc/passwd", "/etc/nsswitch.conf", "/etc/ssl/certs/ca-certificates.crt",
		"/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6", "/proc/12/maps",
		"/proc/sys/kernel/ngroups_max", "/dev/null", "/dev/tty", "/usr/share/zoneinfo/UTC",
		"/home/bob/.cache/x", "/root/.ssh/id_rsa", "/etc/shadow", "/usr/lib/python3/dist-packages/x.py",
		"/run/systemd/resolve/resolv.conf", "/sys/devices/system/cpu/online", "/usr/share/locale/de/LC_MESSAGES/x.mo",
	}
	var cases []oracleCase
	names := []string{"base", "nameservice", "ssl_certs", "python", "perl", "bash", "consoles", "openssl"}
	if testing.Short() {
		names = names[:1]
	}
	for _, name := range names {
		rules := abstractionRules(t, filepath.Join(dir, "abstractions", name))
		if len(rules) == 0 {
			continue
		}
		for i, r := range rules {
			rest := append(append([]Rule(nil), rules[:i]...), rules[i+1:]...)
			cases = append(cases, oracleCase{kind: "real", vars: vars, base: rest, extra: r})
		}
		for _, p := range probes {
			for _, perm := range []Perm{PermRead | PermMmap, PermWrite | PermAppend} {
				cases = append(cases, oracleCase{kind: "real", vars: vars, base: rules, extra: Rule{Pattern: p, Perms: perm}})
			}
		}
	}
	checkAgainstCompiler(t, cases)
}
