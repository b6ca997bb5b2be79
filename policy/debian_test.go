package policy_test

import (
	"bytes"
	"context"
	"fmt"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/policy"
)

// Debian's apparmor, apparmor-profiles and apparmor-profiles-extra packages
// install their policy under these directories.
const (
	etcDir   = "/etc/apparmor.d"
	extraDir = "/usr/share/apparmor/extra-profiles"
)

// policyFile is one file of Debian's policy.
type policyFile struct {
	root string // etcDir or extraDir
	rel  string // path below root
}

func (f policyFile) path() string { return filepath.Join(f.root, f.rel) }

// isProfile reports whether the file holds whole profiles (rather than an
// abstraction, tunables or local fragment).
func (f policyFile) isProfile() bool { return !strings.Contains(f.rel, "/") }

// notPolicy reports files under the policy directories that are not policy:
// the kernel feature ABIs (a different syntax, read by the parser as data)
// and documentation.
func notPolicy(rel string) bool {
	base := filepath.Base(rel)
	return strings.HasPrefix(rel, "abi/") || strings.HasPrefix(base, "README") ||
		strings.HasPrefix(base, ".") || strings.Contains(base, ".dpkg-")
}

// debianPolicy lists every policy file (symlinks in disable/ and
// force-complain/ point to profiles listed anyway). A missing directory
// skips the test, or fails it under CI.
func debianPolicy(t testing.TB) []policyFile {
	t.Helper()
	var files []policyFile
	for _, root := range []string{etcDir, extraDir} {
		if _, err := os.Stat(root); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing: install apparmor, apparmor-profiles and apparmor-profiles-extra (scripts/install-deps.sh)", root)
			}
			t.Skipf("%s is missing (set CI=true to make this a failure)", root)
		}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			if !notPolicy(rel) {
				files = append(files, policyFile{root, rel})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 100 {
		t.Fatalf("only %d policy files under %s and %s: are the Debian packages installed?", len(files), etcDir, extraDir)
	}
	return files
}

// ruleComments lists, for every rule in preorder, its kind and the text of
// the comments attached to it.
func ruleComments(f *policy.File) []string {
	var out []string
	texts := func(g *policy.CommentGroup) string {
		if g == nil {
			return ""
		}
		var s []string
		for _, c := range g.List {
			s = append(s, c.Text)
		}
		return strings.Join(s, "|")
	}
	for n := range policy.Preorder(f) {
		r, ok := n.(policy.Rule)
		if !ok {
			continue
		}
		m := metaOf(r)
		s := fmt.Sprintf("%T doc=%q line=%q", r, texts(m.Doc), texts(m.Line))
		switch r := r.(type) {
		case *policy.Profile:
			s += fmt.Sprintf(" open=%q", texts(r.Open))
		case *policy.CommentBlock:
			s += fmt.Sprintf(" block=%q", texts(r.Comments))
		}
		out = append(out, s)
	}
	return out
}

func metaOf(r policy.Rule) *policy.Meta { return r.RuleMeta() }

// astEqual compares two trees, ignoring positions.
var astOpts = cmp.Options{
	cmpopts.IgnoreTypes(token.Pos(0)),
	cmpopts.IgnoreUnexported(policy.Meta{}),
}

// TestDebianParse is proof 1 of issue 2 (every Debian profile, abstraction
// and tunables file parses without error), plus for each file: formatting
// is idempotent, the reformatted file parses to the same tree, and every
// comment stays attached to the same rule.
func TestDebianParse(t *testing.T) {
	files := debianPolicy(t)
	for _, pf := range files {
		src, err := os.ReadFile(pf.path())
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		f, err := policy.ParseFile(fset, pf.path(), src, policy.ParseComments)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		out := policy.FormatFile(fset, f)
		fset2 := token.NewFileSet()
		f2, err := policy.ParseFile(fset2, pf.path()+" (formatted)", out, policy.ParseComments)
		if err != nil {
			t.Errorf("formatted %s does not parse: %v", pf.path(), err)
			continue
		}
		if again := policy.FormatFile(fset2, f2); !bytes.Equal(again, out) {
			t.Errorf("%s: format is not idempotent:\n%s", pf.path(), cmp.Diff(string(out), string(again)))
		}
		if d := cmp.Diff(ruleComments(f), ruleComments(f2)); d != "" {
			t.Errorf("%s: comments moved (-original +formatted):\n%s", pf.path(), d)
		}
		if d := cmp.Diff(f.Rules, f2.Rules, astOpts); d != "" {
			t.Errorf("%s: formatting changed the tree (-original +formatted):\n%s", pf.path(), d)
		}
	}
	t.Logf("%d Debian policy files parsed", len(files))
}

// TestDebianOracle is proof 2 of issue 2: for every Debian profile, the
// policy apparmor_parser compiles (-QK -S) is byte-identical before and
// after formatting. The whole tree is formatted (profiles, abstractions,
// tunables, local), so includes are formatted too; every abstraction is
// also compiled on its own, wrapped as `profile t { include <...> }`.
func TestDebianOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs apparmor_parser on every Debian profile")
	}
	files := debianPolicy(t)
	p := oracle.Require(t, "3.0")
	oracleRoundTrip(t, p, files, etcDir)
}

// TestDebian13Oracle does the same for Debian 13's own policy (the apparmor
// 4.1 package: AppArmor 4 syntax such as userns and flags=(unconfined)),
// compiled by Debian 13's apparmor_parser 4.1.
func TestDebian13Oracle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs apparmor_parser 4.1 on every Debian 13 profile")
	}
	p := oracle.Require(t, "4.1")
	var files []policyFile
	err := filepath.WalkDir(p.IncludeDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(p.IncludeDir, path)
		if !notPolicy(rel) {
			files = append(files, policyFile{p.IncludeDir, rel})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("only %d files in Debian 13's policy at %s", len(files), p.IncludeDir)
	}
	oracleRoundTrip(t, p, files, p.IncludeDir)
}

// oracleRoundTrip formats files (below one or two roots, etc being the
// include tree) into a temporary mirror and checks that parser p compiles
// every profile, and every abstraction wrapped in a profile, to the same
// bytes from the original and the formatted tree.
func oracleRoundTrip(t *testing.T, p *oracle.Parser, files []policyFile, etc string) {
	tmp := t.TempDir()
	mirror := map[string]string{}
	for _, pf := range files {
		if _, ok := mirror[pf.root]; !ok {
			mirror[pf.root] = filepath.Join(tmp, fmt.Sprintf("tree%d", len(mirror)))
		}
	}
	fmtEtc := mirror[etc]
	err := filepath.WalkDir(etc, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(etc, path)
		if notPolicy(rel) { // the abi files are needed as they are
			return copyFile(path, filepath.Join(fmtEtc, rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, pf := range files {
		src, err := os.ReadFile(pf.path())
		if err != nil {
			t.Fatal(err)
		}
		out := format(t, pf.path(), src)
		dst := filepath.Join(mirror[pf.root], pf.rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	type job struct{ name, orig, formatted string }
	var jobs []job
	var abstractions []string
	for _, pf := range files {
		switch {
		case pf.isProfile():
			jobs = append(jobs, job{pf.path(), pf.path(), filepath.Join(mirror[pf.root], pf.rel)})
		case pf.root == etc && strings.HasPrefix(pf.rel, "abstractions/"):
			abstractions = append(abstractions, pf.rel)
		}
	}
	// Abstractions are compiled wrapped in a profile. apparmor_parser 3.0
	// takes them all in one file of many profiles (one run instead of one
	// per file, and its output is deterministic); 4.1's output for such a
	// file varies from run to run, so there each gets its own file.
	abi := "abi/3.0"
	if strings.HasPrefix(p.Version, "4.") {
		abi = "abi/4.0"
	}
	wrapDir := filepath.Join(tmp, "wrap")
	if err := os.MkdirAll(wrapDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeWrap := func(name string, incs []string) string {
		var b bytes.Buffer
		fmt.Fprintf(&b, "abi <%s>,\ninclude <tunables/global>\n", abi)
		for i, a := range incs {
			fmt.Fprintf(&b, "profile t%d /t%d {\n  include <%s>\n}\n", i, i, a)
		}
		w := filepath.Join(wrapDir, name)
		if err := os.WriteFile(w, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return w
	}
	if strings.HasPrefix(p.Version, "3.") {
		w := writeWrap("all", abstractions)
		jobs = append(jobs, job{fmt.Sprintf("%d abstractions of %s", len(abstractions), etc), w, w})
	} else {
		for _, a := range abstractions {
			w := writeWrap(strings.ReplaceAll(a, "/", "_"), []string{a})
			jobs = append(jobs, job{filepath.Join(etc, a), w, w})
		}
	}

	ctx := context.Background()
	compile := func(path string, inc []string) (string, error) {
		ok, out, stderr, err := p.Run(ctx, inc, "-QK", "-S", path)
		if err != nil {
			return "", err
		}
		if !ok {
			return "REJECTED: " + strings.ReplaceAll(stderr, path, "FILE"), nil
		}
		return sortedBlobs(out), nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		rejected int
		work     = make(chan job)
	)
	for range 2 { // apparmor_parser is CPU-bound; the machine is shared
		wg.Go(func() {
			for j := range work {
				a, errA := compile(j.orig, nil)
				b, errB := compile(j.formatted, []string{fmtEtc})
				// apparmor_parser 4.1 sometimes compiles the same file to
				// different bytes (child profiles in varying order): on a
				// difference, compile both sides again and accept any
				// common output. A real difference never matches. Some
				// files have several variants, so sample generously.
				if a != b && errA == nil && errB == nil {
					seenA, seenB := map[string]bool{a: true}, map[string]bool{b: true}
					for range 20 {
						a2, e1 := compile(j.orig, nil)
						b2, e2 := compile(j.formatted, []string{fmtEtc})
						if e1 != nil || e2 != nil {
							break
						}
						seenA[a2], seenB[b2] = true, true
						if seenB[a2] || seenA[b2] {
							a, b = a2, a2
							break
						}
					}
				}
				mu.Lock()
				switch {
				case errA != nil || errB != nil:
					t.Errorf("%s: %v %v", j.name, errA, errB)
				case a != b:
					t.Errorf("%s: compiled policy differs after formatting:\n%s", j.name, firstDiff(a, b))
				case strings.HasPrefix(a, "REJECTED"):
					rejected++
					t.Logf("%s: apparmor_parser rejects the original and the formatted file alike: %.300s", j.name, a)
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	t.Logf("%d compiles of %d policy files (%d abstractions) before and after formatting (%d rejected alike by apparmor_parser %s)",
		len(jobs), len(files), len(abstractions), rejected, p.Version)
	if rejected > 0 {
		t.Errorf("%d of %d compiles rejected by apparmor_parser: the comparison proves nothing for them", rejected, len(jobs))
	}
}

// sortedBlobs puts the compiled profiles of a multi-profile file in a fixed
// order: apparmor_parser 4.1 writes them in varying order (each profile's
// blob is itself deterministic).
func sortedBlobs(out []byte) string {
	sep := []byte("\x04\x08\x00version\x00")
	parts := bytes.Split(out, sep)
	slices.SortFunc(parts, bytes.Compare)
	return string(bytes.Join(parts, sep))
}

func firstDiff(a, b string) string {
	d := cmp.Diff(a, b)
	if len(d) > 2000 {
		d = d[:2000] + "..."
	}
	return d
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
