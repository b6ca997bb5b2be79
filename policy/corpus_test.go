package policy_test

// The differential corpus (proof 3 of issue 2): every case in
// testdata/corpus/*.txtar goes through armorer's Check with --target 3.0 and
// 4.1 and through both real parsers (Debian 12's 3.0.8 and Debian 13's 4.1);
// armorer must agree with the matching parser on accept/reject, for every
// case. There is no skip list.
//
// A case is one file of a txtar archive:
//   - NAME.rules is the body of a profile; the harness wraps it as
//     "abi <abi/V>, include <tunables/global> profile test /usr/bin/test { … }"
//     with the abi that matches the parser (3.0 or 4.0);
//   - NAME.profile is a whole file, used as is.
//
// Every case may include files from testdata/corpus/include, which is first
// on the search path (-I) of both armorer and the parsers.
//
// testdata/corpus/verdicts.golden records the parsers' verdicts; -update
// rewrites it. It shows at a glance what each case tests and lets the
// corpus be reviewed without running the parsers.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/armorer-dev/armorer/internal/oracle"
)

type corpusCase struct {
	Name string // archive/file, e.g. "file.txtar/owner.rules"
	Body []byte
	Wrap bool // a .rules body to wrap in a profile
}

// Text is the file the parser and armorer see for a target.
func (c corpusCase) Text(abi string) []byte {
	if !c.Wrap {
		return c.Body
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "abi <%s>,\ninclude <tunables/global>\nprofile test /usr/bin/test {\n", abi)
	b.Write(c.Body)
	if len(c.Body) > 0 && c.Body[len(c.Body)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus archives: %v", err)
	}
	var cases []corpusCase
	seen := map[string]bool{}
	for _, f := range files {
		ar, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, af := range ar.Files {
			name := filepath.Base(f) + "/" + af.Name
			if seen[name] {
				t.Fatalf("duplicate corpus case %s", name)
			}
			seen[name] = true
			switch filepath.Ext(af.Name) {
			case ".rules":
				cases = append(cases, corpusCase{Name: name, Body: af.Data, Wrap: true})
			case ".profile":
				cases = append(cases, corpusCase{Name: name, Body: af.Data})
			default:
				t.Fatalf("%s: a case name ends in .rules or .profile", name)
			}
		}
	}
	return cases
}

// corpusTargets are the two parser versions and the armorer target each one checks.
var corpusTargets = []string{"3.0", "4.1"}

func corpusIncludeDir(t testing.TB) string {
	d, err := filepath.Abs("testdata/corpus/include")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type verdict struct {
	accept bool
	msg    string
}

func (v verdict) String() string {
	if v.accept {
		return "accept"
	}
	return "reject"
}

// parserVerdicts runs every case through one parser with two workers.
func parserVerdicts(t *testing.T, p *oracle.Parser, cases []corpusCase, inc string) []verdict {
	out := make([]verdict, len(cases))
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan error, len(cases))
	for range 2 {
		wg.Go(func() {
			for i := range work {
				ok, stderr, err := p.Validate(context.Background(), cases[i].Text(p.ABI), []string{inc})
				if err != nil {
					errs <- fmt.Errorf("%s: %w", cases[i].Name, err)
				}
				out[i] = verdict{ok, stderr}
			}
		})
	}
	for i := range cases {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return out
}

func TestCorpusDifferential(t *testing.T) {
	cases := loadCorpus(t)
	inc := corpusIncludeDir(t)
	parsers := make([]*oracle.Parser, len(corpusTargets))
	for i, v := range corpusTargets {
		parsers[i] = oracle.Require(t, v)
	}
	verdicts := make([][]verdict, len(corpusTargets))
	for i, p := range parsers {
		verdicts[i] = parserVerdicts(t, p, cases, inc)
	}

	// The golden file: one line per case with both parsers' verdicts.
	var golden bytes.Buffer
	fmt.Fprintf(&golden, "# apparmor_parser verdicts per corpus case: %s\n", strings.Join(versions(parsers), " | "))
	for ci, c := range cases {
		fmt.Fprintf(&golden, "%s", c.Name)
		for ti := range corpusTargets {
			fmt.Fprintf(&golden, " %s=%s", corpusTargets[ti], verdicts[ti][ci])
		}
		golden.WriteByte('\n')
	}
	checkGolden(t, "testdata/corpus/verdicts.golden", golden.Bytes())

	agree := make([]int, len(corpusTargets))
	for ci, c := range cases {
		for ti, target := range corpusTargets {
			p := parsers[ti]
			got, msg := armorerVerdict(c.Text(p.ABI), target, []string{inc, p.IncludeDir})
			want := verdicts[ti][ci]
			if got != want.accept {
				t.Errorf("%s --target %s: armorer %s, apparmor_parser %s %s\n  armorer: %s\n  parser:  %s\n%s",
					c.Name, target, verdict{accept: got}, p.Version, want, msg, want.msg, indent(c.Text(p.ABI)))
				continue
			}
			agree[ti]++
		}
	}
	for ti, p := range parsers {
		t.Logf("armorer --target %s agrees with apparmor_parser %s on %d of %d cases", corpusTargets[ti], p.Version, agree[ti], len(cases))
	}
}

// TestCorpusShape keeps the corpus honest: enough cases, and both verdicts
// present for every archive (each archive is one rule kind or lexing topic).
func TestCorpusShape(t *testing.T) {
	cases := loadCorpus(t)
	if len(cases) < 300 {
		t.Errorf("corpus has %d cases, want at least 300", len(cases))
	}
	data, err := os.ReadFile("testdata/corpus/verdicts.golden")
	if err != nil {
		t.Fatal(err)
	}
	type counts struct{ accept, reject int }
	per := map[string]*counts{}
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		archive, _, _ := strings.Cut(f[0], "/")
		if per[archive] == nil {
			per[archive] = &counts{}
		}
		for _, v := range f[1:] {
			if strings.HasSuffix(v, "=accept") {
				per[archive].accept++
			} else {
				per[archive].reject++
			}
		}
	}
	for _, a := range slices.Sorted(func(yield func(string) bool) {
		for k := range per {
			if !yield(k) {
				return
			}
		}
	}) {
		c := per[a]
		if c.accept == 0 || c.reject == 0 {
			t.Errorf("%s: %d accept and %d reject verdicts; every topic needs both", a, c.accept, c.reject)
		}
	}
}

func versions(ps []*oracle.Parser) []string {
	var v []string
	for _, p := range ps {
		v = append(v, p.Version)
	}
	return v
}

func indent(b []byte) string {
	var s strings.Builder
	for i, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		fmt.Fprintf(&s, "    %3d| %s\n", i+1, l)
	}
	return s.String()
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: the parsers' verdicts changed or cases were added; review and run go test -run Corpus -update", path)
	}
}
