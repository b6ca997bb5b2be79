package learn

import (
	"go/token"
	"slices"
	"testing"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

func TestPlainWord(t *testing.T) {
	for _, tc := range []struct {
		w    string
		want bool
	}{
		{"/usr/bin/ls", true},
		{"@{PROC}/@{pid}/stat", true},
		{"/run/user/[0-9]*/bus", true},
		{"@cups-[0-9]*", true},
		{"/home/*/résumé.odt", true},
		{"mrix", true},
		{"org.freedesktop.DBus", true},
		{`"/tmp/a b"`, true},
		{`"/tmp/budget (final), #2 {x=y}.ods"`, true},
		{"", false},
		{`"`, false},
		{`"/tmp/a\"b"`, true},
		{`"/tmp/a\\b"`, true},
		{`"/tmp/Meeting \x22draft\x22.docx"`, true},
		{`"/tmp/a"b"`, false},
		{`"/tmp/a\"`, false},
		{"\"/tmp/a\nb\"", false},
		{"\"/tmp/a\\\nb\"", false},
		{`"/tmp/a`, false},
		{"/tmp/a b", false},
		{"/tmp/a,b", false},
		{"/tmp/a#b", false},
		{"/tmp/a=b", false},
		{"/tmp/f(1)", false},
		{`/tmp/\[x`, false},
		{"{a}", false},
		{"@{PROC", false},
		{"/a}b", false},
		{"a->b", false},
		{"<abi/3.0>", false},
	} {
		if got := plainWord(tc.w); got != tc.want {
			t.Errorf("plainWord(%q) = %v, want %v", tc.w, got, tc.want)
		}
	}
}

// selfCheckCases are learned rules the checker accepts or rejects.
func selfCheckCases() (valid, invalid [][]rule) {
	file := func(p string, perms aare.Perm, exec aare.ExecKind) rule {
		return rule{Class: ClassFile, Path: p, Perms: perms, Exec: exec}
	}
	valid = [][]rule{
		{{Class: ClassCapability, Capability: "chown"}},
		{file("/etc/hosts", aare.PermRead, 0), file("@{PROC}/@{pid}/stat", aare.PermRead, 0)},
		{file("@{HOME}/Desktop/budget (final), #2.ods", aare.PermRead|aare.PermWrite, 0)},
		{file(EscapeLiteral(`/srv/a "quoted" \ *name*`), aare.PermRead, 0)},
		{{Class: ClassNetwork, Family: "inet", SockType: "stream"}},
		{{Class: ClassUnix, Mask: []string{"bind"}, SockType: "dgram", Addr: "@cups-[0-9]*", escaped: true}},
		{{Class: ClassSignal, Mask: []string{"send"}, Signals: []string{"hup", "term"}, Peer: "other"}},
		{{Class: ClassDBus, Mask: []string{"send"}, Bus: "session", DBusPath: "/org/x", Interface: "org.x", Member: "Ping", PeerName: "org.y"}},
	}
	invalid = [][]rule{
		// dbus bind takes no message conditionals; eavesdrop only a bus.
		{{Class: ClassDBus, Mask: []string{"bind"}, Bus: "session", PeerName: "com.example.Test"}},
		{{Class: ClassDBus, Mask: []string{"eavesdrop"}, Bus: "session", DBusPath: "/org/x", Interface: "org.x", Member: "M"}},
		// One program, two transitions.
		{file("/usr/bin/tool", aare.PermExec, aare.ExecInherit), file("/usr/bin/tool", aare.PermExec, aare.ExecProfile)},
		// A queue rule at abi 3.0.
		{{Class: ClassMqueue, Mask: []string{"read"}, Path: "/q"}},
		// A quoted path with an exec conflict.
		{file("/opt/my app/tool", aare.PermExec, aare.ExecInherit), file("/opt/my app/tool", aare.PermExec, aare.ExecProfile)},
	}
	return valid, invalid
}

func profileOf(name string, rules []rule) *Profile {
	p := &Profile{Name: name}
	for _, r := range rules {
		p.Rules = append(p.Rules, r.learned())
	}
	return p
}

// The syntax tree is checked as its text would be: for plain rules,
// treeErrors finds errors exactly when profileErrors does.
func TestTreeErrorsAsText(t *testing.T) {
	l := policy.NewLoader(t.TempDir())
	valid, invalid := selfCheckCases()
	for i, rules := range append(valid, invalid...) {
		p := profileOf("p", rules)
		if !plainProfile(p) {
			t.Fatalf("case %d: not plain: %v", i, p.Rules)
		}
		text := profileErrors(l, "3.0", []*Profile{p})[0]
		tree := treeErrors(l, "3.0", []*Profile{p})
		if text != (i >= len(valid)) {
			t.Errorf("case %d (%s): text check says errors=%v", i, ruleText(p.Rules[0].Node), text)
		}
		if tree != text {
			t.Errorf("case %d (%s): tree check says errors=%v, text check %v", i, ruleText(p.Rules[0].Node), tree, text)
		}
	}
}

// selfCheck holds back exactly the rejected rules, whichever way a
// profile is checked: plain profiles in a batch with a bad one, a profile
// with a newline in a path, a relative path.
func TestSelfCheckHoldsBackRejected(t *testing.T) {
	s := &Session{opts: SessionOptions{Dir: t.TempDir()}}
	valid, invalid := selfCheckCases()
	var profiles []*Profile
	for _, rs := range valid {
		profiles = append(profiles, profileOf("good", rs))
	}
	for _, rs := range invalid {
		if len(rs) > 1 {
			continue // rejected together, each rule alone is valid: selfCheck keeps both
		}
		profiles = append(profiles, profileOf("bad", append(rs, rule{Class: ClassCapability, Capability: "chown"})))
	}
	quoted := profileOf("quoted", []rule{{Class: ClassFile, Path: "/tmp/a\nb", Perms: aare.PermRead}})
	relative := profileOf("relative", []rule{{Class: ClassFile, Path: "dev/pts/1", Perms: aare.PermRead | aare.PermWrite}})
	profiles = append(profiles, quoted, relative)
	if plainProfile(quoted) || plainProfile(relative) {
		t.Fatal("a path with a newline, or a relative path, is plain")
	}
	want := map[*Profile]int{}
	for _, p := range profiles {
		want[p] = len(p.Rules)
	}
	s.selfCheck(profiles, "3.0")
	for _, p := range profiles {
		switch p.Name {
		case "good", "quoted":
			if len(p.Findings) > 0 || len(p.Rules) != want[p] {
				t.Errorf("%s: rules %v, findings %v", p.Name, p.Rules, p.Findings)
			}
		case "bad":
			if len(p.Rules) != 1 || p.Rules[0].RuleText() != "capability chown," || len(p.Findings) == 0 {
				t.Errorf("bad: rules %v, findings %v", p.Rules, p.Findings)
			}
		case "relative":
			if len(p.Rules) != 0 || len(p.Findings) != 1 || p.Findings[0].ID != "disconnected-path" {
				t.Errorf("relative: rules %v, findings %v", p.Rules, p.Findings)
			}
		}
	}
}

// wordsOf lists the raw words of a rule, in Inspect's order.
func wordsOf(n policy.Node) []string {
	var ws []string
	policy.Inspect(n, func(x policy.Node) bool {
		if w, ok := x.(*policy.Word); ok {
			ws = append(ws, w.Raw)
		}
		return true
	})
	return ws
}

// FuzzPlainRule: a learned rule that plainRule calls plain prints to text
// that parses back, without errors, to the same words: what selfCheck's
// tree route relies on.
func FuzzPlainRule(f *testing.F) {
	for _, s := range []string{"/usr/bin/ls", "@{HOME}/a b (1).txt", `/srv/a "b" \ *c*`, "/tmp/a\nb", "org.x.Y", "@cups-1465", "x,y", "a#b", "{a,b}", "-> x"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, name string, kind uint8) {
		var r rule
		switch kind % 5 {
		case 0:
			r = rule{Class: ClassFile, Path: name, Perms: aare.PermRead}
		case 1:
			r = rule{Class: ClassFile, Path: "/" + EscapeLiteral(name), Perms: aare.PermRead | aare.PermWrite}
		case 2:
			r = rule{Class: ClassDBus, Mask: []string{"send"}, Bus: "session", Member: name, PeerName: name}
		case 3:
			r = rule{Class: ClassUnix, Mask: []string{"connect"}, SockType: "stream", PeerAddr: "@" + name}
		case 4:
			r = rule{Class: ClassSignal, Mask: []string{"send"}, Signals: []string{"term"}, Peer: name}
		}
		n := r.node()
		if !plainRule(n) {
			return
		}
		text := ruleText(n)
		src := "profile p {\n  " + text + "\n}\n"
		file, err := policy.ParseFile(token.NewFileSet(), "fuzz", []byte(src), 0)
		if err != nil {
			t.Fatalf("plain rule %q does not parse: %v", text, err)
		}
		prof, ok := file.Rules[0].(*policy.Profile)
		if !ok || len(prof.Body) != 1 {
			t.Fatalf("plain rule %q parses to %d rules", text, len(prof.Body))
		}
		if got, want := wordsOf(prof.Body[0]), wordsOf(n); !slices.Equal(got, want) {
			t.Fatalf("plain rule %q parses back to words %q, built with %q", text, got, want)
		}
	})
}

// A rule with a comment is never plain: its text is checked.
func TestPlainRuleComments(t *testing.T) {
	for _, r := range []rule{
		{Class: ClassFile, Path: "/usr/bin/tool", Perms: aare.PermExec, Exec: aare.ExecChild, ExecTarget: "tool"},
		{Class: ClassCapability, Capability: "chown"},
	} {
		n := r.node()
		if !plainRule(n) {
			t.Errorf("%s: not plain", ruleText(n))
		}
		setDoc(n, "a comment")
		if plainRule(n) {
			t.Errorf("%s: plain with a comment", ruleText(n))
		}
		n = r.node()
		n.RuleMeta().Line = &policy.CommentGroup{List: []*policy.Comment{{Text: "# x"}}}
		if plainRule(n) {
			t.Errorf("%s: plain with a line comment", ruleText(n))
		}
	}
	n := rule{Class: ClassFile, Path: "/usr/bin/tool", Perms: aare.PermExec, Exec: aare.ExecChild, ExecTarget: "a\tb"}.node()
	if plainRule(n) {
		t.Errorf("%s: plain with a tab in its target", ruleText(n))
	}
}
