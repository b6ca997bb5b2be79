package policy

import (
	"fmt"
	"go/ast"
	"go/token"
	"io"
	"iter"
)

// Visitor's Visit is called for each node by Walk. If it returns a non-nil
// visitor w, Walk visits the node's children with w, then calls
// w.Visit(nil).
type Visitor interface {
	Visit(n Node) (w Visitor)
}

// Walk traverses the tree in depth-first order, like go/ast.Walk. Attached
// comments are visited before the node's other children.
func Walk(v Visitor, n Node) {
	if v = v.Visit(n); v == nil {
		return
	}
	walkMeta := func(r Rule) {
		m := r.meta()
		if m.Doc != nil {
			Walk(v, m.Doc)
		}
	}
	walkLine := func(r Rule) {
		if m := r.meta(); m.Line != nil {
			Walk(v, m.Line)
		}
	}
	words := func(ws ...*Word) {
		for _, w := range ws {
			if w != nil {
				Walk(v, w)
			}
		}
	}
	list := func(l *List) {
		if l != nil {
			Walk(v, l)
		}
	}
	conds := func(cs []*Cond) {
		for _, c := range cs {
			Walk(v, c)
		}
	}
	body := func(rs []Rule) {
		for _, r := range rs {
			Walk(v, r)
		}
	}
	qual := func(q Qualifiers) { words(q.Priority) }
	if r, ok := n.(Rule); ok {
		walkMeta(r)
	}
	switch n := n.(type) {
	case *File:
		body(n.Rules)
	case *CommentGroup:
		for _, c := range n.List {
			Walk(v, c)
		}
	case *Comment, *Word:
	case *List:
		words(n.Words...)
	case *Cond:
		words(n.Key)
		list(n.Value)
		conds(n.Conds)
	case *CommentBlock:
		if n.Comments != nil {
			Walk(v, n.Comments)
		}
	case *Abi:
		words(n.Path)
	case *Include:
		words(n.Path)
	case *Variable:
		words(n.Name)
		words(n.Values...)
	case *Boolean:
		words(n.Name, n.Value)
	case *Alias:
		words(n.Path, n.Target)
	case *If:
		words(n.Cond...)
		body(n.Body)
		if n.Else != nil {
			Walk(v, n.Else)
		}
	case *Block:
		body(n.Body)
	case *QualBlock:
		qual(n.Qual)
		body(n.Body)
	case *Profile:
		words(n.Name, n.Attach)
		if n.Xattrs != nil {
			Walk(v, n.Xattrs)
		}
		if n.Flags != nil {
			Walk(v, n.Flags)
		}
		if n.Open != nil {
			Walk(v, n.Open)
		}
		body(n.Body)
	case *FileRule:
		qual(n.Qual)
		if n.PermsFirst {
			words(n.Perms, n.Path)
		} else {
			words(n.Path, n.Perms)
		}
		words(n.Target)
	case *LinkRule:
		qual(n.Qual)
		words(n.Path, n.Target)
	case *CapabilityRule:
		qual(n.Qual)
		words(n.Names...)
	case *NetworkRule:
		qual(n.Qual)
		list(n.Access)
		words(n.Family, n.Type, n.Protocol)
		conds(n.Conds)
	case *SignalRule:
		qual(n.Qual)
		list(n.Access)
		conds(n.Conds)
	case *PtraceRule:
		qual(n.Qual)
		list(n.Access)
		conds(n.Conds)
	case *UnixRule:
		qual(n.Qual)
		list(n.Access)
		conds(n.Conds)
	case *DbusRule:
		qual(n.Qual)
		list(n.Access)
		conds(n.Conds)
	case *IOUringRule:
		qual(n.Qual)
		list(n.Access)
		conds(n.Conds)
	case *UsernsRule:
		qual(n.Qual)
		list(n.Access)
	case *MqueueRule:
		qual(n.Qual)
		list(n.Access)
		conds(n.Conds)
		words(n.Name)
	case *MountRule:
		qual(n.Qual)
		words(n.Keyword)
		conds(n.Conds)
		words(n.Source, n.MountPoint)
	case *PivotRootRule:
		qual(n.Qual)
		conds(n.Conds)
		words(n.NewRoot, n.Profile)
	case *ChangeProfileRule:
		qual(n.Qual)
		words(n.ExecMode, n.Exec, n.Profile)
	case *RlimitRule:
		words(n.Resource, n.Value)
	case *AllRule:
		qual(n.Qual)
	case *RawRule, *BadRule:
	default:
		panic(fmt.Sprintf("policy.Walk: unexpected node type %T", n))
	}
	if r, ok := n.(Rule); ok {
		walkLine(r)
	}
	v.Visit(nil)
}

type inspector func(Node) bool

func (f inspector) Visit(n Node) Visitor {
	if f(n) {
		return f
	}
	return nil
}

// Inspect traverses the tree in depth-first order, calling f(n) for each
// node; if f returns true, Inspect visits n's children, then calls f(nil).
func Inspect(n Node, f func(Node) bool) { Walk(inspector(f), n) }

// Preorder returns an iterator over all nodes of the tree in depth-first
// preorder.
func Preorder(root Node) iter.Seq[Node] {
	return func(yield func(Node) bool) {
		ok := true
		Inspect(root, func(n Node) bool {
			if n != nil {
				ok = ok && yield(n)
			}
			return ok
		})
	}
}

// Fprint writes a readable dump of the tree rooted at x to w, with
// positions resolved through fset (which may be nil). Nil fields are left
// out. It is a debugging aid and the format of parser goldens.
func Fprint(w io.Writer, fset *token.FileSet, x any) error {
	return ast.Fprint(w, fset, x, ast.NotNilFilter)
}
