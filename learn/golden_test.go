package learn_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/simulate"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// learn.Bundled is the example's profile tree (Debian 12's tunables, abi and
// the abstractions it needs): every golden case can include them, so the
// tests do not depend on the host's /etc/apparmor.d.

// TestGolden runs each testdata/learn/*.txtar: events (audit.log) and a
// profile directory (apparmor.d/…) in, the changed files (want/…) and the
// findings (want/findings) out. The first comment line of the archive says
// what it tests; a line "args: …" sets options as the CLI flags do.
//
// Each result is also checked by the real compiler (apparmor_parser -QK,
// 3.0.8, or 4.1 for --abi 4.0), and replaying the events against the
// result must deny exactly the accesses reported as findings.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/learn/*.txtar")
	if len(files) == 0 {
		t.Fatal("no testdata/learn/*.txtar")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			runGolden(t, file)
		})
	}
}

func goldenOptions(t *testing.T, comment string) (learn.Options, learn.MergeOptions) {
	var o learn.Options
	var m learn.MergeOptions
	for _, line := range strings.Split(comment, "\n") {
		args, ok := strings.CutPrefix(strings.TrimSpace(line), "args:")
		if !ok {
			continue
		}
		fs := strings.Fields(args)
		for i := 0; i < len(fs); i++ {
			val := func() string {
				i++
				if i >= len(fs) {
					t.Fatalf("args: %s needs a value", fs[i-1])
				}
				return fs[i]
			}
			var err error
			switch fs[i] {
			case "--glob":
				o.Glob, err = learn.ParseGlobMode(val())
			case "--siblings":
				o.Siblings, err = strconv.Atoi(val())
			case "--abi":
				o.ABI = val()
				m.ABI = o.ABI
			case "--exec":
				o.DefaultExec, err = learn.ParseExecMode(val())
			case "--explain":
				m.Explain = true
			case "--allow-sensitive":
				o.AllowSensitive = true
			case "--local":
				m.Local = learn.LocalAlways
			default:
				t.Fatalf("args: unknown %s", fs[i])
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return o, m
}

func runGolden(t *testing.T, file string) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	profDir := filepath.Join(dir, "apparmor.d")
	os.MkdirAll(profDir, 0o755)
	var log []byte
	want := map[string]string{}
	for _, f := range ar.Files {
		switch {
		case f.Name == "audit.log":
			log = f.Data
		case strings.HasPrefix(f.Name, "want/"):
			want[strings.TrimPrefix(f.Name, "want/")] = string(f.Data)
		default:
			p := filepath.Join(dir, f.Name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts, mopts := goldenOptions(t, string(ar.Comment))
	pol, err := host.LoadProfileSet(profDir, profDir, learn.Bundled)
	if err != nil {
		t.Fatal(err)
	}
	if len(pol.Problems) > 0 {
		t.Fatalf("profile directory: %v", pol.Problems)
	}
	accs := learn.LogAccesses(t, log)
	l := learn.New(learn.WithProfiles(opts, pol, nil, func(err error) { t.Errorf("warning: %v", err) }))
	for _, a := range accs {
		l.Add(a)
	}
	profiles, err := l.Result()
	if err != nil {
		t.Fatal(err)
	}
	changes, err := learn.Merge(pol, profiles, mopts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range changes {
		rel, _ := filepath.Rel(profDir, c.Path)
		got[rel] = string(c.New)
	}
	var findings strings.Builder
	for _, p := range profiles {
		for _, f := range p.Findings {
			fmt.Fprintf(&findings, "%s\n", f)
		}
	}
	got["findings"] = findings.String()

	if *learn.Update {
		var files []txtar.File
		for _, f := range ar.Files {
			if !strings.HasPrefix(f.Name, "want/") {
				files = append(files, f)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(got)) {
			files = append(files, txtar.File{Name: "want/" + name, Data: []byte(got[name])})
		}
		ar.Files = files
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		want = got
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}

	// The results compile, and replaying the events denies only findings.
	for _, c := range changes {
		if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.Path, c.New, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range changes {
		if rel, _ := filepath.Rel(profDir, c.Path); !strings.HasPrefix(rel, "local/") {
			learn.Compiles(t, c.Path, opts.ABI, profDir)
		}
	}
	pol2, err := host.LoadProfileSet(profDir, profDir, learn.Bundled)
	if err != nil {
		t.Fatal(err)
	}
	sim := simulate.New(pol2)
	for _, a := range accs {
		if err := sim.Add(a); err != nil {
			t.Error(err)
		}
	}
	for _, d := range sim.Denials() {
		if !reported(profiles, d) {
			t.Errorf("simulate denies what learn neither allowed nor reported: %s", d)
		}
	}
}

// reported says whether a denial matches a finding (same profile, same
// path for files, same kind of rule otherwise).
func reported(profiles []*learn.Profile, d simulate.Denial) bool {
	for _, p := range profiles {
		for _, f := range p.Findings {
			if f.Profile != d.Profile || fmt.Sprintf("%T", f.Rule) != fmt.Sprintf("%T", d.Rule) {
				continue
			}
			ff, ok := f.Rule.(*policy.FileRule)
			if !ok || ff.Path.Pattern() == d.Rule.(*policy.FileRule).Path.Pattern() {
				return true
			}
		}
	}
	return false
}

// TestExample learns the learn.Bundled example (a real Debian 12 kernel's
// complain-mode log of myapp) in shuffled orders: the output is the same
// each time, apparmor_parser accepts it, and replaying the log against it
// denies nothing.
func TestExample(t *testing.T) {
	log, err := os.ReadFile("../examples/myapp/audit.log")
	if err != nil {
		t.Fatal(err)
	}
	accs := learn.LogAccesses(t, log)
	learnOnce := func(accs []*learn.Access) learn.Change {
		pol, err := host.LoadProfileSet(learn.Bundled)
		if err != nil {
			t.Fatal(err)
		}
		l := learn.New(learn.WithProfiles(learn.Options{}, pol, nil, func(err error) { t.Error(err) }))
		for _, a := range accs {
			l.Add(a)
		}
		ps, err := l.Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if len(p.Findings) > 0 {
				t.Errorf("findings: %v", p.Findings)
			}
		}
		cs, err := learn.Merge(pol, ps, learn.MergeOptions{})
		if err != nil || len(cs) != 1 {
			t.Fatalf("changes %v, %v", cs, err)
		}
		return cs[0]
	}
	want := learnOnce(accs)
	r := rand.New(rand.NewPCG(3, 4))
	for range 3 {
		r.Shuffle(len(accs), func(i, j int) { accs[i], accs[j] = accs[j], accs[i] })
		if got := learnOnce(accs); !bytes.Equal(got.New, want.New) {
			t.Fatalf("output depends on event order:\n%s\nvs\n%s", got.New, want.New)
		}
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(learn.Bundled)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, filepath.Base(want.Path))
	if err := os.WriteFile(path, want.New, 0o644); err != nil {
		t.Fatal(err)
	}
	learn.Compiles(t, path, "3.0", dir)
	pol, err := host.LoadProfileSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	sim := simulate.New(pol, "myapp")
	for _, a := range accs {
		sim.Add(a)
	}
	if d := sim.Denials(); len(d) > 0 || sim.Replayed == 0 {
		t.Errorf("replayed %d, denials %v", sim.Replayed, d)
	}
}
