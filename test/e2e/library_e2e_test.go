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
// profiles/postgresql, and the runtime profiles profiles/go, profiles/node,
// profiles/python with the abstractions armorer owns,
// profiles/abstractions) on each kernel, in one VM boot per kernel: each
// committed profile is loaded in enforce mode, the service runs a test
// workload that differs from its training (other pages, keys, tables) with
// zero DENIED lines and stops cleanly on SIGTERM; then every attack probe
// must fail and be logged as DENIED by the profile. Each service's result
// is printed as one line (LIBRARY-RESULT key=value ...) for the README's
// table. Then, in the same boot, the same workload and probes run under
// what aa-logprof made of the same training log (profiles/NAME/testdata/
// aa-logprof, TestLibraryPeerGen) in place of the library's profile, and
// print LIBRARY-PEER lines: those are results, not failures.
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
			services := append(slices.Clone(libServices), runtimeServices...)
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
			peers := libraryPeers(t, root)
			for _, p := range peers {
				files = append(files, p.file)
			}
			m := vmtest.BootMachine(t, k, vmtest.MachineOptions{Files: files, Console: consoleFor(t)})
			t.Logf("%s: kernel %s, boot %v", k.Name, m.Release, m.Boot.Round(time.Millisecond))
			m.MustSh(t, 10*time.Second, "dmesg -C")
			for _, s := range services {
				t.Run(s.name, func(t *testing.T) {
					p, hasPeer := peers[s.name]
					if hasPeer {
						saveState(t, m, s)
					}
					r := proveService(t, ctx, m, s)
					st := stats[s.name]
					t.Logf("LIBRARY-RESULT kernel=%s release=%s service=%s profile=%s rules=%d abstractions=%s functional=%d/%d denials=%d stop=%s probes=%d/%d",
						k.Name, m.Release, s.name, s.name, st.rules, strings.Join(st.abstractions, ","), r.functional, len(s.test), r.denials, r.stop, r.blocked, len(s.probes))
					if hasPeer {
						provePeer(t, ctx, m, s, p)
					}
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
	load                         string // ok, or why the profile did not load
	setup                        string // of the probes: ok, or failed (only a peer's)
	functional, denials, blocked int
	stop                         string
}

// underTest is the profile a proof runs the service under.
type underTest struct {
	profile string // its name, as the kernel shows it
	file    string // the file in the VM that defines it
	// strict: every miss fails the test (the library's own profiles). A
	// peer's misses (aa-logprof's profile) are results: logged, counted.
	strict bool
}

func ours(s *libService) underTest {
	return underTest{profile: s.name, file: "/etc/apparmor.d/" + s.name, strict: true}
}

// proveService runs s's test workload and probes under its enforced
// profile, failing t for every miss, and returns the counts.
func proveService(t *testing.T, ctx context.Context, m *vmtest.Machine, s *libService) proof {
	return proveUnder(t, ctx, m, s, ours(s))
}

// proveUnder runs s's test workload and probes under u's profile in
// enforce mode and returns the counts; with u.strict each miss fails t.
func proveUnder(t *testing.T, ctx context.Context, m *vmtest.Machine, s *libService, u underTest) proof {
	r := proof{load: "ok", setup: "ok", stop: "n/a"}
	miss := t.Errorf
	if !u.strict {
		miss = func(format string, args ...any) { t.Logf("%s: "+format, append([]any{u.profile}, args...)...) }
	}
	m.MustSh(t, 60*time.Second, s.prepare)
	out, err := m.Sh(ctx, 60*time.Second, "apparmor_parser -r "+u.file+" 2>&1 && cat /sys/kernel/security/apparmor/profiles")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out.Stdout), u.profile+" (enforce)") {
		if u.strict {
			t.Fatalf("%s not loaded in enforce mode:\n%s%s", u.profile, out.Stdout, out.Stderr)
		}
		r.load = "failed"
		miss("not loaded in enforce mode:\n%s%s", out.Stdout, out.Stderr)
		return r
	}
	m.MustSh(t, 10*time.Second, "dmesg -C")
	if err := tryStartService(ctx, m, s.daemon, s.ready); err != nil {
		if u.strict {
			t.Fatalf("%s: %v", s.name, err)
		}
		r.stop = "did not start"
		miss("%s: %v", s.name, err)
		m.Stop(ctx, s.daemon.Name, 30*time.Second)
		r.denials = len(denials(m.MustSh(t, 30*time.Second, "dmesg; dmesg -C"), u.profile))
		return r
	}
	attr := m.MustSh(t, 10*time.Second, fmt.Sprintf("for p in $(pgrep -x %s); do cat /proc/$p/attr/current; echo; done | sort -u", comm(s)))
	if strings.TrimSpace(attr) != u.profile+" (enforce)" {
		miss("%s's processes run as %q, want %q", s.name, attr, u.profile+" (enforce)")
	}
	for _, c := range s.test {
		out, err := m.Sh(ctx, 2*time.Minute, c.sh)
		if err != nil {
			t.Fatal(err)
		}
		if err := out.Err(); err != nil {
			miss("%s: %s: %v", s.name, c.name, err)
			continue
		}
		r.functional++
	}
	st, err := m.Stop(ctx, s.daemon.Name, 30*time.Second)
	switch {
	case err != nil:
		r.stop = "error"
		miss("stop %s: %v", s.name, err)
	case !st.Clean():
		r.stop = "unclean"
		miss("stop %s: %+v, want a clean exit on SIGTERM", s.name, st)
	default:
		r.stop = "clean"
	}
	kern := m.MustSh(t, 30*time.Second, "dmesg; dmesg -C")
	d := denials(kern, u.profile)
	r.denials = len(d)
	if len(d) > 0 {
		miss("%s: %d DENIED lines under the normal workload:\n%s", s.name, len(d), strings.Join(d, "\n"))
	}

	daemon := s.daemon
	if s.name == "redis" {
		daemon.Argv = append(slices.Clone(daemon.Argv), "--enable-protected-configs", "yes", "--enable-module-command", "yes")
	}
	if err := tryStartService(ctx, m, daemon, s.ready); err != nil {
		if u.strict {
			t.Fatalf("%s for the probes: %v", s.name, err)
		}
		miss("%s for the probes: %v", s.name, err)
		m.Stop(ctx, s.daemon.Name, 30*time.Second)
		return r
	}
	if u.strict {
		m.MustSh(t, 60*time.Second, s.setupProbes)
	} else if err := shErr(m.Sh(ctx, 60*time.Second, s.setupProbes)); err != nil {
		// nginx under aa-logprof's profile cannot read the probe's new
		// server configuration: that probe then cannot even be tried.
		r.setup = "failed"
		miss("%s: setting up the probes failed: %v", s.name, err)
	}
	for _, p := range s.probes {
		m.MustSh(t, 10*time.Second, "dmesg -C")
		out, err := m.Sh(ctx, 60*time.Second, p.sh)
		if err != nil {
			t.Fatal(err)
		}
		kern := m.MustSh(t, 30*time.Second, "dmesg")
		logged := slices.ContainsFunc(denials(kern, u.profile), p.denied.MatchString)
		switch {
		case out.RC == 0:
			miss("%s: probe %q succeeded:\n%s%s", s.name, p.name, out.Stdout, out.Stderr)
		case !logged:
			miss("%s: probe %q failed but no DENIED line of %s matches %s:\n%s%s\nkernel:\n%s", s.name, p.name, u.profile, p.denied, out.Stdout, out.Stderr, kern)
		default:
			r.blocked++
			t.Logf("%s: probe %q blocked: %s", u.profile, p.name, strings.TrimSpace(string(out.Stderr)+string(out.Stdout)))
		}
	}
	if s.afterProbes != "" {
		if err := shErr(m.Sh(ctx, 30*time.Second, s.afterProbes)); err != nil {
			miss("%s: after the probes: %v", s.name, err)
		}
	}
	if st, err := m.Stop(ctx, s.daemon.Name, 30*time.Second); err != nil || !st.Clean() {
		miss("stop %s after the probes: %+v %v", s.name, st, err)
	}
	return r
}

// shErr is the error of a shell run: the harness's, else the command's.
func shErr(out *vmtest.Output, err error) error {
	if err != nil {
		return err
	}
	return out.Err()
}

// tryStartService starts d and waits until ready succeeds.
func tryStartService(ctx context.Context, m *vmtest.Machine, d vmtest.Daemon, ready string) error {
	if _, err := m.Start(ctx, d); err != nil {
		return err
	}
	if err := shErr(m.Sh(ctx, 90*time.Second, fmt.Sprintf("until %s; do sleep 0.3; done", ready))); err != nil {
		log, _ := m.ReadFile(ctx, "/var/log/vmtest/"+d.Name+".log")
		return fmt.Errorf("did not come up: %v\nits log:\n%s", err, log)
	}
	return nil
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
