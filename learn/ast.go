package learn

import (
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// learned converts the rule to its policy AST node with its evidence.
func (r rule) learned() Learned { return Learned{Node: r.node(), Evidence: r.Evidence, Glob: r.Glob} }

// setDoc attaches comment lines above a built rule.
func setDoc(n policy.Rule, lines ...string) {
	g := &policy.CommentGroup{}
	for _, text := range lines {
		g.List = append(g.List, &policy.Comment{Text: "# " + strings.ReplaceAll(text, "\n", " ")})
	}
	n.RuleMeta().Doc = g
}

// node builds the rule. Non-file fields hold names as logged; they are
// written as literal patterns (EscapeLiteral), so that a name with glob
// characters or bytes the profile syntax cannot carry matches only itself.
func (r rule) node() policy.Rule {
	escapeNames(&r)
	switch r.Class {
	case ClassFile:
		n := &policy.FileRule{Qual: policy.Qualifiers{Owner: r.Owner}, Path: word(r.Path), Perms: policy.NewWord(r.filePerms())}
		if r.ExecTarget != "" {
			n.Target = word(r.ExecTarget)
		}
		return n
	case ClassCapability:
		return &policy.CapabilityRule{Names: []*policy.Word{policy.NewWord(r.Capability)}}
	case ClassNetwork:
		n := &policy.NetworkRule{}
		if r.Family != "" {
			n.Family = policy.NewWord(r.Family)
		}
		if r.SockType != "" {
			n.Type = policy.NewWord(r.SockType)
		}
		return n
	case ClassUnix:
		n := &policy.UnixRule{Access: accessList(r.Mask)}
		n.Conds = appendCond(n.Conds, "type", r.SockType)
		n.Conds = appendCond(n.Conds, "addr", r.Addr)
		if r.PeerAddr != "" {
			n.Conds = append(n.Conds, nested("peer", cond("addr", r.PeerAddr)))
		}
		return n
	case ClassSignal:
		n := &policy.SignalRule{Access: accessList(r.Mask)}
		if len(r.Signals) > 0 {
			n.Conds = append(n.Conds, &policy.Cond{Key: policy.NewWord("set"), Value: wordList(r.Signals, true)})
		}
		n.Conds = appendCond(n.Conds, "peer", r.Peer)
		return n
	case ClassPtrace:
		n := &policy.PtraceRule{Access: accessList(r.Mask)}
		n.Conds = appendCond(n.Conds, "peer", r.Peer)
		return n
	case ClassDBus:
		n := &policy.DbusRule{Access: accessList(r.Mask)}
		n.Conds = appendCond(n.Conds, "bus", r.Bus)
		n.Conds = appendCond(n.Conds, "path", r.DBusPath)
		n.Conds = appendCond(n.Conds, "interface", r.Interface)
		n.Conds = appendCond(n.Conds, "member", r.Member)
		n.Conds = appendCond(n.Conds, "name", r.Name)
		var peer []*policy.Cond
		if r.PeerName != "" {
			peer = append(peer, cond("name", r.PeerName))
		}
		if r.Peer != "" {
			peer = append(peer, cond("label", r.Peer))
		}
		if len(peer) > 0 {
			n.Conds = append(n.Conds, nested("peer", peer...))
		}
		return n
	case ClassMount:
		n := &policy.MountRule{Kind: policy.MOUNT, Arrow: true, MountPoint: word(r.Path)}
		n.Conds = appendCond(n.Conds, "fstype", r.FSType)
		if r.Options != "" {
			n.Conds = append(n.Conds, &policy.Cond{Key: policy.NewWord("options"), Value: wordList(strings.Split(r.Options, ","), true)})
		}
		if r.Source != "" {
			n.Source = word(r.Source)
		}
		return n
	case ClassUmount:
		return &policy.MountRule{Kind: policy.UMOUNT, MountPoint: word(r.Path)}
	case ClassPivotRoot:
		return &policy.PivotRootRule{NewRoot: word(r.Path)}
	case ClassChangeProfile:
		return &policy.ChangeProfileRule{Profile: word(r.Target)}
	case ClassUserns:
		return &policy.UsernsRule{Access: accessList(r.Mask)}
	case ClassIOUring:
		n := &policy.IOUringRule{Access: accessList(r.Mask)}
		n.Conds = appendCond(n.Conds, "label", r.Peer)
		return n
	case ClassMqueue:
		n := &policy.MqueueRule{Access: accessList(r.Mask)}
		n.Conds = appendCond(n.Conds, "type", r.MqType)
		if r.Path != "" {
			n.Name = word(r.Path)
		}
		return n
	}
	return &policy.CommentBlock{Comments: &policy.CommentGroup{List: []*policy.Comment{{Text: "# unknown rule class " + r.Class.String()}}}}
}

// word makes a Word, quoted when the value has characters the policy
// lexer would split on. A backslash stays as it is: the value is a
// pattern, escaped already (EscapeLiteral), and apparmor_parser reads
// escapes the same inside quotes and out; a quote is escaped.
func word(s string) *policy.Word {
	if s == "" || strings.ContainsAny(s, " \t\n,=()\"#!<>") {
		var b strings.Builder
		b.WriteByte('"')
		for i := 0; i < len(s); i++ {
			if s[i] == '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
		}
		b.WriteByte('"')
		return policy.NewWord(b.String())
	}
	return policy.NewWord(s)
}

func wordList(vals []string, paren bool) *policy.List {
	l := &policy.List{Paren: paren || len(vals) > 1, Commas: true}
	for _, v := range vals {
		l.Words = append(l.Words, word(v))
	}
	return l
}

func accessList(mask []string) *policy.List {
	if len(mask) == 0 {
		return nil
	}
	return wordList(mask, false)
}

func cond(key, val string) *policy.Cond {
	return &policy.Cond{Key: policy.NewWord(key), Value: &policy.List{Words: []*policy.Word{word(val)}}}
}

func appendCond(cs []*policy.Cond, key, val string) []*policy.Cond {
	if val == "" {
		return cs
	}
	return append(cs, cond(key, val))
}

func nested(key string, sub ...*policy.Cond) *policy.Cond {
	return &policy.Cond{Key: policy.NewWord(key), Conds: sub, Commas: true}
}

// A capability name, network family or socket type from an event becomes a
// bare word of its rule: one that is no such name ("chown, capability"
// would print as two rules, the second granting every capability) builds
// no rule. The Mapper refuses the event, which is then counted as one
// armorer cannot learn: never a finding that --accept could write.

// ruleCapability reports whether name can be a capability rule's word.
func ruleCapability(name string) bool { return policy.IsCapability(name) }

// ruleNetwork reports whether family and sockType ("" for none) can be a
// network rule's words.
func ruleNetwork(family, sockType string) bool {
	return policy.IsNetworkFamily(family) && (sockType == "" || policy.IsNetworkType(sockType))
}
