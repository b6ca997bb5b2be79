//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
	"github.com/armorer-dev/armorer/policy"
)

// TestLibrary proves the profile library (profiles/nginx, profiles/redis,
// profiles/postgresql) on each kernel, in one VM boot per kernel: each
// committed profile is loaded in enforce mode, the service runs a test
// workload that differs from its training (other pages, keys, tables) with
// zero DENIED lines and stops cleanly on SIGTERM; then every attack probe
// must fail and be logged as DENIED by the profile. Each service's result
// is printed as one line (LIBRARY-RESULT key=value ...) for the README's
// table.
func TestLibrary(t *testing.T) {
	root, err := vmtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			files := append(libraryFiles(t, ctx), libraryAbstractions(t, root)...)
			services := libServices
			stats := map[string]profileStats{}
			for _, s := range services {
				src, err := os.ReadFile(filepath.Join(root, "profiles", s.name, s.name))
				if err != nil {
					t.Fatal(err)
				}
				st, err := statsOf(s.name, src)
				if err != nil {
					t.Fatal(err)
				}
				stats[s.name] = st
				files = append(files, vmtest.File{Path: "/etc/apparmor.d/" + s.name, Data: src})
			}
			m := vmtest.BootMachine(t, k, vmtest.MachineOptions{Files: files, Console: consoleFor(t)})
			t.Logf("%s: kernel %s, boot %v", k.Name, m.Release, m.Boot.Round(time.Millisecond))
			m.MustSh(t, 10*time.Second, "dmesg -C")
			for _, s := range services {
				t.Run(s.name, func(t *testing.T) {
					r := proveService(t, ctx, m, s)
					st := stats[s.name]
					t.Logf("LIBRARY-RESULT kernel=%s release=%s service=%s profile=%s rules=%d abstractions=%s functional=%d/%d denials=%d stop=%s probes=%d/%d",
						k.Name, m.Release, s.name, s.name, st.rules, strings.Join(st.abstractions, ","), r.functional, len(s.test), r.denials, r.stop, r.blocked, len(s.probes))
				})
			}
		})
	}
}

// libraryAbstractions installs the abstractions armorer owns
// (profiles/abstractions) beside the distribution's.
func libraryAbstractions(t *testing.T, root string) []vmtest.File {
	t.Helper()
	dir := filepath.Join(root, "profiles", "abstractions")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []vmtest.File
	for _, e := range ents {
		files = append(files, vmtest.File{Path: "/etc/apparmor.d/abstractions/" + e.Name(), Src: filepath.Join(dir, e.Name()), Mode: 0o644})
	}
	return files
}

type proof struct {
	functional, denials, blocked int
	stop                         string
}

// proveService runs s's test workload and probes under its enforced
// profile, failing t for every miss, and returns the counts.
func proveService(t *testing.T, ctx context.Context, m *vmtest.Machine, s *libService) proof {
	var r proof
	m.MustSh(t, 60*time.Second, s.prepare)
	if out := m.MustSh(t, 60*time.Second, "apparmor_parser -r /etc/apparmor.d/"+s.name+" 2>&1 && cat /sys/kernel/security/apparmor/profiles"); !strings.Contains(out, s.name+" (enforce)") {
		t.Fatalf("%s not loaded in enforce mode:\n%s", s.name, out)
	}
	m.MustSh(t, 10*time.Second, "dmesg -C")
	startService(t, ctx, m, s)
	attr := m.MustSh(t, 10*time.Second, fmt.Sprintf("for p in $(pgrep -x %s); do cat /proc/$p/attr/current; echo; done | sort -u", comm(s)))
	if strings.TrimSpace(attr) != s.name+" (enforce)" {
		t.Errorf("%s's processes run as %q, want %q", s.name, attr, s.name+" (enforce)")
	}
	for _, c := range s.test {
		out, err := m.Sh(ctx, 2*time.Minute, c.sh)
		if err != nil {
			t.Fatal(err)
		}
		if err := out.Err(); err != nil {
			t.Errorf("%s: %s: %v", s.name, c.name, err)
			continue
		}
		r.functional++
	}
	st, err := m.Stop(ctx, s.daemon.Name, 30*time.Second)
	switch {
	case err != nil:
		r.stop = "error"
		t.Errorf("stop %s: %v", s.name, err)
	case !st.Clean():
		r.stop = "unclean"
		t.Errorf("stop %s: %+v, want a clean exit on SIGTERM", s.name, st)
	default:
		r.stop = "clean"
	}
	kern := m.MustSh(t, 30*time.Second, "dmesg; dmesg -C")
	d := denials(kern, s.name)
	r.denials = len(d)
	if len(d) > 0 {
		t.Errorf("%s: %d DENIED lines under the normal workload:\n%s", s.name, len(d), strings.Join(d, "\n"))
	}

	daemon := s.daemon
	if s.name == "redis" {
		daemon.Argv = append(slices.Clone(daemon.Argv), "--enable-protected-configs", "yes", "--enable-module-command", "yes")
	}
	if _, err := m.Start(ctx, daemon); err != nil {
		t.Fatal(err)
	}
	m.MustSh(t, 90*time.Second, fmt.Sprintf("until %s; do sleep 0.3; done", s.ready))
	m.MustSh(t, 60*time.Second, s.setupProbes)
	for _, p := range s.probes {
		m.MustSh(t, 10*time.Second, "dmesg -C")
		out, err := m.Sh(ctx, 60*time.Second, p.sh)
		if err != nil {
			t.Fatal(err)
		}
		kern := m.MustSh(t, 30*time.Second, "dmesg")
		logged := slices.ContainsFunc(denials(kern, s.name), p.denied.MatchString)
		switch {
		case out.RC == 0:
			t.Errorf("%s: probe %q succeeded:\n%s%s", s.name, p.name, out.Stdout, out.Stderr)
		case !logged:
			t.Errorf("%s: probe %q failed but no DENIED line of %s matches %s:\n%s%s\nkernel:\n%s", s.name, p.name, s.name, p.denied, out.Stdout, out.Stderr, kern)
		default:
			r.blocked++
			t.Logf("%s: probe %q blocked: %s", s.name, p.name, strings.TrimSpace(string(out.Stderr)+string(out.Stdout)))
		}
	}
	if s.afterProbes != "" {
		m.MustSh(t, 30*time.Second, s.afterProbes)
	}
	if st, err := m.Stop(ctx, s.daemon.Name, 30*time.Second); err != nil || !st.Clean() {
		t.Errorf("stop %s after the probes: %+v %v", s.name, st, err)
	}
	return r
}

// comm is the process name pgrep finds the service's processes by.
func comm(s *libService) string {
	if s.comm != "" {
		return s.comm
	}
	return s.name
}

type profileStats struct {
	rules        int
	abstractions []string
}

// statsOf counts the rules of the profile name in src (child profiles'
// too; includes, variables and comments are not rules) and lists the
// abstractions it includes.
func statsOf(name string, src []byte) (profileStats, error) {
	f, err := policy.ParseFile(token.NewFileSet(), name, src, policy.ParseComments)
	if err != nil {
		return profileStats{}, err
	}
	var st profileStats
	var walk func(rules []policy.Rule)
	walk = func(rules []policy.Rule) {
		for _, r := range rules {
			switch r := r.(type) {
			case *policy.Profile:
				walk(r.Body)
			case *policy.Include:
				if p := strings.Trim(r.Path.Raw, "<>\""); strings.HasPrefix(p, "abstractions/") {
					st.abstractions = append(st.abstractions, strings.TrimPrefix(p, "abstractions/"))
				}
			case *policy.CommentBlock, *policy.Variable, *policy.Abi:
			default:
				st.rules++
			}
		}
	}
	for _, r := range f.Rules {
		if p, ok := r.(*policy.Profile); ok {
			walk(p.Body)
		}
	}
	if st.rules == 0 {
		return st, fmt.Errorf("%s: no profile with rules", name)
	}
	return st, nil
}
