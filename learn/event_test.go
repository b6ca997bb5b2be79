package learn

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// readAccesses reads every learnable access of a log file.
func readAccesses(t testing.TB, path string) []*Access {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := auditlog.NewReader(f, auditlog.ReaderOptions{Name: path})
	var out []*Access
	for r.Next() {
		a := new(Access)
		if fromEvent(r.Event(), filepath.Base(path), r.Line(), a) {
			out = append(out, a)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRealKernelEvents learns from the lines real kernels (Debian 12's 6.1
// and 13's 6.12) printed for the probe program, one class per file, and
// compares the rules and findings with a golden.
func TestRealKernelEvents(t *testing.T) {
	for _, kernel := range []string{"debian12-6.1", "debian13-6.12"} {
		for _, class := range []string{"file", "exec", "network", "unix", "signal", "ptrace", "mount", "capability", "userns"} {
			in := filepath.Join("..", "auditlog", "testdata", "kernel", kernel, class+".log")
			if _, err := os.Stat(in); err != nil {
				continue
			}
			t.Run(kernel+"/"+class, func(t *testing.T) {
				l := New(Options{AppTree: func(string) string { return "/opt/probe/" }})
				accs := readAccesses(t, in)
				if len(accs) == 0 {
					t.Fatalf("%s: no learnable events", in)
				}
				for _, a := range accs {
					l.Add(a)
				}
				ps, err := l.Result()
				if err != nil {
					t.Fatal(err)
				}
				got := render(ps)
				golden := filepath.Join("testdata", "kernel", kernel, class+".golden")
				if *update {
					os.MkdirAll(filepath.Dir(golden), 0o755)
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(string(want), got); d != "" {
					t.Errorf("%s (-want +got):\n%s", golden, d)
				}
				// What was learned compiles with that kernel's parser.
				abi := "3.0"
				if kernel == "debian13-6.12" {
					abi = "4.0"
				}
				compileLearned(t, ps, abi)
			})
		}
	}
}

// compileLearned prints every learned top-level profile (children nested)
// as a new profile file and runs the real apparmor_parser on it.
func compileLearned(t *testing.T, ps []*Profile, abi string) {
	t.Helper()
	dir := t.TempDir()
	for _, p := range ps {
		if p.Parent != "" {
			continue
		}
		pf := ProfileFile{Name: p.Name, ABI: abi, Abstractions: p.Abstractions}
		for _, r := range p.Rules {
			pf.Rules = append(pf.Rules, r.Explained())
		}
		for _, c := range ps {
			if c.Parent == p.Name {
				pf.Children = append(pf.Children, newChild(c, MergeOptions{}))
			}
		}
		path := filepath.Join(dir, localName(p.Name))
		if err := os.WriteFile(path, []byte(printFile(t, pf.File())), 0o644); err != nil {
			t.Fatal(err)
		}
		compiles(t, path, abi, dir)
	}
}

// TestOtherForms learns from auditlog's hand-written fixtures for forms no
// VM here produces (Ubuntu's unix/dbus/mqueue classes, auditd's enriched
// and USER_AVC lines): the rules they map to, and that they compile.
func TestOtherForms(t *testing.T) {
	for _, name := range []string{"ubuntu", "auditd"} {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join("..", "auditlog", "testdata", name+".log")
			l := New(Options{ABI: "4.0"})
			for _, a := range readAccesses(t, in) {
				l.Add(a)
			}
			ps, err := l.Result()
			if err != nil {
				t.Fatal(err)
			}
			got := render(ps)
			golden := filepath.Join("testdata", "forms", name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("%s (-want +got):\n%s", golden, d)
			}
			compileLearned(t, ps, "4.0")
		})
	}
}

// Mapping an event whose strings were seen before allocates nothing.
func TestMapperAllocs(t *testing.T) {
	lines := []string{
		`[    2.533566] audit: type=1400 audit(1795600175.779:6): apparmor="ALLOWED" operation="open" profile="probe" name="/opt/probe/data/w" pid=114 comm="probe" requested_mask="a" denied_mask="a" fsuid=0 ouid=0`,
		`[    2.632264] audit: type=1400 audit(1795600175.875:22): apparmor="ALLOWED" operation="create" profile="probe" pid=114 comm="probe" family="inet" sock_type="stream" protocol=6 requested_mask="create" denied_mask="create"`,
		`[    2.598326] audit: type=1400 audit(1795600175.843:8): apparmor="ALLOWED" operation="signal" profile="probe" pid=114 comm="probe" requested_mask="send" denied_mask="send" signal=urg peer="probe"`,
	}
	p := auditlog.NewParser()
	var m Mapper
	var a Access
	for _, line := range lines {
		var ev auditlog.Event
		if err := p.Parse([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if !m.Map(&ev, "x", 1, &a) {
			t.Fatalf("not learnable: %s", line)
		}
		if n := testing.AllocsPerRun(100, func() { m.Map(&ev, "x", 1, &a) }); n != 0 {
			t.Errorf("Map allocates %v times for %s", n, line)
		}
	}
}
