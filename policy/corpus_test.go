package policy_test

// The differential corpus (proof 3 of issue 2, and issue 11): every case in
// testdata/corpus/*.txtar goes through armorer's Check with --target 3.0 and
// 4.1 (TestCorpusArmorer) and through both real parsers, Debian 12's 3.0.8
// and Debian 13's 4.1 (TestCorpusVerdicts); armorer must agree with the
// matching parser on accept/reject, for every case. There is no skip list.
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
// rewrites it. TestCorpusArmorer judges armorer by this record, and
// TestCorpusVerdicts confirms the record with the real parsers.
// The gen-*.txtar archives are written by TestCorpusGenerate from the
// tables in corpus_gen_test.go.

import (
	"bytes"
	"context"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/policy"
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

type verdict struct{ accept bool }

func (v verdict) String() string {
	if v.accept {
		return "accept"
	}
	return "reject"
}

// corpusVerdicts reads testdata/corpus/verdicts.golden: for each case, the
// verdict of each parser in corpusTargets' order.
func corpusVerdicts(t testing.TB) map[string][]bool {
	t.Helper()
	data, err := os.ReadFile(verdictsGolden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestCorpusVerdicts -update)", err)
	}
	out := map[string][]bool{}
	for i, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 1+len(corpusTargets) {
			t.Fatalf("%s:%d: want NAME and %d verdicts", verdictsGolden, i+1, len(corpusTargets))
		}
		vs := make([]bool, len(corpusTargets))
		for ti, target := range corpusTargets {
			switch f[1+ti] {
			case target + "=accept":
				vs[ti] = true
			case target + "=reject":
			default:
				t.Fatalf("%s:%d: %q is not %s=accept or %s=reject", verdictsGolden, i+1, f[1+ti], target, target)
			}
		}
		out[f[0]] = vs
	}
	return out
}

const verdictsGolden = "testdata/corpus/verdicts.golden"

// corpusIncludeDirs returns, per target, armorer's search path for a case:
// the corpus includes, then the matching parser's own tree.
func corpusIncludeDirs(t testing.TB) ([][]string, []*oracle.Parser) {
	inc := corpusIncludeDir(t)
	var dirs [][]string
	var ps []*oracle.Parser
	for _, v := range corpusTargets {
		p := oracle.Require(t, v)
		ps = append(ps, p)
		dirs = append(dirs, []string{inc, p.IncludeDir})
	}
	return dirs, ps
}

// TestCorpusArmorer is the differential corpus's verdict on armorer:
// check --target 3.0 must give apparmor_parser 3.0.8's recorded verdict on
// every case, and --target 4.1 parser 4.1's. No parser runs here
// (TestCorpusVerdicts confirms the record); only their include trees are read.
func TestCorpusArmorer(t *testing.T) {
	cases := loadCorpus(t)
	want := corpusVerdicts(t)
	dirs, ps := corpusIncludeDirs(t)
	type tally struct{ accepted, valid, rejected, invalid int }
	counts := make([]tally, len(corpusTargets))
	for _, c := range cases {
		vs, ok := want[c.Name]
		if !ok {
			t.Errorf("%s has no recorded verdict: run go test -run TestCorpusVerdicts -update", c.Name)
			continue
		}
		for ti, target := range corpusTargets {
			text := c.Text(ps[ti].ABI)
			got, msg := armorerVerdict(text, target, dirs[ti])
			n := &counts[ti]
			if vs[ti] {
				n.valid++
			} else {
				n.invalid++
			}
			if got != vs[ti] {
				t.Errorf("%s --target %s: armorer %s, apparmor_parser %s %s\n  armorer: %s\n%s",
					c.Name, target, verdict{accept: got}, ps[ti].Version, verdict{accept: vs[ti]}, msg, indent(text))
				continue
			}
			if got {
				n.accepted++
			} else {
				n.rejected++
			}
		}
	}
	for ti, p := range ps {
		n := counts[ti]
		t.Logf("armorer --target %s against apparmor_parser %s: %d of %d valid cases accepted, %d of %d invalid cases rejected",
			corpusTargets[ti], p.Version, n.accepted, n.valid, n.rejected, n.invalid)
	}
}

// TestCorpusVerdicts runs every case through both real parsers and checks
// the recorded verdicts (-update rewrites them). The parsers compile many
// cases per run (oracle.CompileTexts); the cases recorded as accepted go
// first, so their batches pass in one run each.
//
// It also checks fmt on every case a parser accepts: the formatted text
// compiles to the same policy, byte for byte.
func TestCorpusVerdicts(t *testing.T) {
	cases := loadCorpus(t)
	recorded := map[string][]bool{}
	if !*update {
		recorded = corpusVerdicts(t)
	}
	inc := corpusIncludeDir(t)
	ctx := context.Background()
	got := make([][]bool, len(corpusTargets))
	var ps []*oracle.Parser
	for ti, v := range corpusTargets {
		p := oracle.Require(t, v)
		ps = append(ps, p)
		order := make([]int, len(cases))
		for i := range order {
			order[i] = i
		}
		// Recorded accepts first, then everything else.
		slices.SortStableFunc(order, func(a, b int) int {
			ra, rb := recorded[cases[a].Name], recorded[cases[b].Name]
			return boolRank(len(rb) > ti && rb[ti]) - boolRank(len(ra) > ti && ra[ti])
		})
		texts := make([][]byte, len(cases))
		for i, ci := range order {
			texts[i] = cases[ci].Text(p.ABI)
		}
		res, err := p.CompileTexts(ctx, texts, []string{inc})
		if err != nil {
			t.Fatal(err)
		}
		got[ti] = make([]bool, len(cases))
		var fmtIdx []int
		var fmtTexts [][]byte
		for i, ci := range order {
			r := res[i]
			if r.Hung {
				t.Errorf("%s: apparmor_parser %s hangs on it: a corpus case must finish", cases[ci].Name, p.Version)
			}
			got[ti][ci] = r.Accepted()
			if r.Accepted() {
				out, ok := formatCase(texts[i])
				if !ok {
					t.Errorf("%s: apparmor_parser %s accepts it, armorer's parser does not:\n%s", cases[ci].Name, p.Version, indent(texts[i]))
					continue
				}
				fmtIdx = append(fmtIdx, i)
				fmtTexts = append(fmtTexts, out)
			}
		}
		// fmt changes no compiled policy.
		fres, err := p.CompileTexts(ctx, fmtTexts, []string{inc})
		if err != nil {
			t.Fatal(err)
		}
		for j, i := range fmtIdx {
			name := cases[order[i]].Name
			switch {
			case !fres[j].Accepted():
				t.Errorf("%s: apparmor_parser %s rejects the formatted case: %s\n%s", name, p.Version, fres[j].Stderr, indent(fmtTexts[j]))
			case sortedBlobs(fres[j].Policy) != sortedBlobs(res[i].Policy):
				t.Errorf("%s: formatting changed the policy apparmor_parser %s compiles:\n%s", name, p.Version, indent(fmtTexts[j]))
			}
		}
		t.Logf("apparmor_parser %s: %d cases, %d accepted (each also compiled after fmt)", p.Version, len(cases), len(fmtIdx))
	}

	// The record: one line per case with both parsers' verdicts.
	var golden bytes.Buffer
	fmt.Fprintf(&golden, "# apparmor_parser verdicts per corpus case: %s\n", strings.Join(versions(ps), " | "))
	for ci, c := range cases {
		fmt.Fprintf(&golden, "%s", c.Name)
		for ti := range corpusTargets {
			fmt.Fprintf(&golden, " %s=%s", corpusTargets[ti], verdict{accept: got[ti][ci]})
		}
		golden.WriteByte('\n')
	}
	if *update {
		checkGolden(t, verdictsGolden, golden.Bytes())
		return
	}
	for ci, c := range cases {
		for ti, target := range corpusTargets {
			if rv, ok := recorded[c.Name]; !ok || rv[ti] != got[ti][ci] {
				t.Errorf("%s: apparmor_parser %s now says %s, the record says otherwise (run -update and review)", c.Name, target, verdict{accept: got[ti][ci]})
			}
		}
	}
	checkGolden(t, verdictsGolden, golden.Bytes())
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// formatCase formats a case as armorer fmt does; ok is false when it does
// not parse.
func formatCase(src []byte) ([]byte, bool) {
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, "case", src, policy.ParseComments)
	if err != nil {
		return nil, false
	}
	return policy.FormatFile(fset, f), true
}

// TestCorpusShape keeps the corpus honest: enough cases, and both verdicts
// present for every archive (each archive is one rule kind or lexing topic).
func TestCorpusShape(t *testing.T) {
	cases := loadCorpus(t)
	if len(cases) < 1500 {
		t.Errorf("corpus has %d cases, want at least 1500 (issue 11)", len(cases))
	}
	data, err := os.ReadFile(verdictsGolden)
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
