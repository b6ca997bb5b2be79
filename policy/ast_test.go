package policy_test

import (
	"bytes"
	"errors"
	"go/scanner"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/armorer-dev/armorer/policy"
)

// allNodeTypes lists every node type of the tree.
var allNodeTypes = []policy.Node{
	(*policy.File)(nil), (*policy.Comment)(nil), (*policy.CommentGroup)(nil), (*policy.Word)(nil),
	(*policy.List)(nil), (*policy.Cond)(nil), (*policy.CommentBlock)(nil), (*policy.Abi)(nil),
	(*policy.Include)(nil), (*policy.Variable)(nil), (*policy.Boolean)(nil), (*policy.Alias)(nil),
	(*policy.If)(nil), (*policy.Block)(nil), (*policy.QualBlock)(nil), (*policy.Profile)(nil),
	(*policy.FileRule)(nil), (*policy.LinkRule)(nil), (*policy.CapabilityRule)(nil), (*policy.NetworkRule)(nil),
	(*policy.SignalRule)(nil), (*policy.PtraceRule)(nil), (*policy.UnixRule)(nil), (*policy.DbusRule)(nil),
	(*policy.MountRule)(nil), (*policy.PivotRootRule)(nil), (*policy.ChangeProfileRule)(nil),
	(*policy.RlimitRule)(nil), (*policy.UsernsRule)(nil), (*policy.IOUringRule)(nil), (*policy.MqueueRule)(nil),
	(*policy.AllRule)(nil), (*policy.RawRule)(nil), (*policy.BadRule)(nil),
}

func parseAll(t *testing.T) (*token.FileSet, *policy.File) {
	t.Helper()
	src, err := os.ReadFile("testdata/parse/all.profile")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, "testdata/parse/all.profile", src, policy.ParseComments)
	var list scanner.ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want exactly the one error of the /broken rule, got %v", err)
	}
	return fset, f
}

// TestWalkEveryType: Walk reaches every node type, and Preorder stops when
// asked.
func TestWalkEveryType(t *testing.T) {
	_, f := parseAll(t)
	seen := map[reflect.Type]int{}
	for n := range policy.Preorder(f) {
		seen[reflect.TypeOf(n)]++
	}
	for _, n := range allNodeTypes {
		if seen[reflect.TypeOf(n)] == 0 {
			t.Errorf("Walk never visited a %T", n)
		}
	}
	count := 0
	for range policy.Preorder(f) {
		count++
		if count == 3 {
			break
		}
	}
	if count != 3 {
		t.Errorf("Preorder did not stop: %d", count)
	}
	// Inspect calls f(nil) after the children of a visited node.
	depth, maxDepth := 0, 0
	policy.Inspect(f, func(n policy.Node) bool {
		if n == nil {
			depth--
			return false
		}
		depth++
		maxDepth = max(maxDepth, depth)
		return true
	})
	if depth != 0 || maxDepth < 4 {
		t.Errorf("Inspect enter/leave unbalanced: depth %d, max %d", depth, maxDepth)
	}
}

// TestFprintGolden keeps the debug dump of a tree with every node kind.
func TestFprintGolden(t *testing.T) {
	fset, f := parseAll(t)
	var b bytes.Buffer
	if err := policy.Fprint(&b, fset, f); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/parse/all.golden"
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), b.String()); d != "" {
		t.Errorf("Fprint mismatch (-want +got):\n%s", d)
	}
}

const mergeSrc = `include <tunables/global>

profile app /usr/bin/app {
  include <abstractions/base>

  # configuration
  /etc/app/ r,
  /etc/app/main.conf r,

  /var/log/app.log w,

  capability chown,

  ^hat {
  }

  include if exists <local/app>
}
`

// TestMerge: AddRule puts a rule next to the most similar one (or after a
// hint, or in a new section before the trailing local include), DropRule
// hides a rule, Cleanup removes it; printing changes only those lines.
func TestMerge(t *testing.T) {
	fset, f := parse(t, "app", []byte(mergeSrc))
	prof := f.Rules[1].(*policy.Profile)

	conf := &policy.FileRule{Path: policy.NewWord("/etc/app/extra.conf"), Perms: policy.NewWord("r")}
	prof.AddRule(nil, conf)
	prof.AddRule(nil, &policy.CapabilityRule{Names: []*policy.Word{policy.NewWord("setuid")}})
	sig := &policy.SignalRule{Access: &policy.List{Words: []*policy.Word{policy.NewWord("receive")}},
		Conds: []*policy.Cond{{Key: policy.NewWord("peer"), Value: &policy.List{Words: []*policy.Word{policy.NewWord("unconfined")}}}}}
	sig.Doc = &policy.CommentGroup{List: []*policy.Comment{{Text: "# learned"}}}
	prof.AddRule(nil, sig)
	var logRule policy.Rule
	for _, r := range prof.Body {
		if fr, ok := r.(*policy.FileRule); ok && fr.Path.Raw == "/var/log/app.log" {
			logRule = r
		}
	}
	prof.AddRule(logRule, &policy.FileRule{Path: policy.NewWord("/var/log/app.log.1"), Perms: policy.NewWord("w")})
	if !f.DropRule(logRule) || !policy.Dropped(logRule) {
		t.Fatal("DropRule did not find the rule")
	}

	want := `include <tunables/global>

profile app /usr/bin/app {
  include <abstractions/base>

  # configuration
  /etc/app/ r,
  /etc/app/main.conf r,
  /etc/app/extra.conf r,

  /var/log/app.log.1 w,

  capability chown,
  capability setuid,

  # learned
  signal receive peer=unconfined,

  ^hat {
  }

  include if exists <local/app>
}
`
	got := string(policy.FormatFile(fset, f))
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("merge result (-want +got):\n%s", d)
	}
	n := len(prof.Body)
	f.Cleanup()
	if len(prof.Body) != n-1 {
		t.Errorf("Cleanup kept the dropped rule: %d rules, want %d", len(prof.Body), n-1)
	}
	if again := string(policy.FormatFile(fset, f)); again != got {
		t.Errorf("Cleanup changed the output:\n%s", cmp.Diff(got, again))
	}
	if strings.Contains(got, "app.log w") {
		t.Error("dropped rule printed")
	}
}

// TestFormatBuiltRules: rules built by a program (no positions, fields left
// nil) print without panicking, and Walk accepts them.
func TestFormatBuiltRules(t *testing.T) {
	for _, n := range allNodeTypes {
		r, ok := reflect.New(reflect.TypeOf(n).Elem()).Interface().(policy.Rule)
		if !ok {
			continue
		}
		var b bytes.Buffer
		if err := policy.Format(&b, token.NewFileSet(), r); err != nil {
			t.Errorf("%T: %v", r, err)
		}
		for range policy.Preorder(r) {
		}
	}
	f := &policy.File{Rules: []policy.Rule{
		&policy.Profile{Keyword: policy.PROFILE, Name: policy.NewWord("p"), Body: []policy.Rule{
			&policy.FileRule{Path: policy.NewWord("/a"), Perms: policy.NewWord("r")},
			&policy.CapabilityRule{Meta: policy.Meta{Hint: policy.NewSection}, Names: []*policy.Word{policy.NewWord("chown")}},
		}},
	}}
	want := "profile p {\n  /a r,\n\n  capability chown,\n}\n"
	if got := string(policy.FormatFile(token.NewFileSet(), f)); got != want {
		t.Errorf("built file:\n%s\nwant:\n%s", got, want)
	}
}

// TestAddRulesLikeAddRule: the batch insert puts each rule where AddRule,
// called once per rule, puts it (nearest path prefix, qualifiers, kind,
// the end section for a new kind).
func TestAddRulesLikeAddRule(t *testing.T) {
	mk := func() []policy.Rule {
		var rs []policy.Rule
		for _, p := range []string{"/etc/app/a.conf", "/var/log/app/x.log", "/etc/app/b.conf", "/srv/new/1",
			"/srv/new/2", "/etc/other", "/var/log/app.log.2", "/srv/new/sub/3"} {
			rs = append(rs, &policy.FileRule{Path: policy.NewWord(p), Perms: policy.NewWord("r")})
		}
		rs = append(rs, &policy.FileRule{Qual: policy.Qualifiers{Owner: true}, Path: policy.NewWord("/etc/app/c"), Perms: policy.NewWord("w")})
		rs = append(rs, &policy.CapabilityRule{Names: []*policy.Word{policy.NewWord("setuid")}})
		rs = append(rs, &policy.NetworkRule{Family: policy.NewWord("inet")}, &policy.NetworkRule{Family: policy.NewWord("inet6")})
		return rs
	}
	print := func(f *policy.File) string {
		var b bytes.Buffer
		if err := policy.Format(&b, token.NewFileSet(), f); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	_, one := parse(t, "app", []byte(mergeSrc))
	for _, r := range mk() {
		one.Rules[1].(*policy.Profile).AddRule(nil, r)
	}
	_, batch := parse(t, "app", []byte(mergeSrc))
	batch.Rules[1].(*policy.Profile).AddRules(mk())
	if diff := cmp.Diff(print(one), print(batch)); diff != "" {
		t.Errorf("AddRules differs from AddRule (-one +batch):\n%s", diff)
	}
}
