package learn

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// ProfileFile describes a profile file armorer creates, in the layout of
// DESIGN.md ("Profiles armorer creates"):
//
//	abi <abi/3.0>,
//
//	include <tunables/global>
//
//	profile NAME /path/to/binary [flags=(complain)] {
//	  include <abstractions/base>
//	  ...rules...
//
//	  include if exists <local/NAME>
//	}
type ProfileFile struct {
	Name     string
	Attach   string // the attachment path, or "" for none
	ABI      string // "3.0" (default) or "4.0"
	Complain bool
	// Abstractions are included after abstractions/base, each with an
	// optional comment saying why.
	Abstractions []Abstraction
	Rules        []policy.Rule
	Children     []*policy.Profile
}

// Abstraction is an include chosen for a profile, and why.
type Abstraction struct {
	Name   string // "abstractions/nameservice"
	Reason string // "covers 14 accesses"; becomes a comment
}

// ValidABI reports whether armorer can target abi.
func ValidABI(abi string) error {
	switch abi {
	case "3.0", "4.0":
		return nil
	}
	return fmt.Errorf("abi %q: want 3.0 or 4.0", abi)
}

// File builds the policy file.
func (pf ProfileFile) File() *policy.File {
	abi := pf.ABI
	if abi == "" {
		abi = "3.0"
	}
	prof := &policy.Profile{Keyword: policy.PROFILE, Name: word(pf.Name)}
	if pf.Attach != "" {
		prof.Attach = word(EscapeLiteral(pf.Attach))
	}
	if pf.Complain {
		prof.Flags = &policy.Cond{Key: policy.NewWord("flags"), Value: &policy.List{Paren: true, Words: []*policy.Word{policy.NewWord("complain")}}}
	}
	prof.Body = append(prof.Body, &policy.Include{Path: policy.NewWord("<abstractions/base>")})
	for _, a := range pf.Abstractions {
		inc := &policy.Include{Path: policy.NewWord("<" + a.Name + ">")}
		if a.Reason != "" {
			inc.Doc = &policy.CommentGroup{List: []*policy.Comment{{Text: "# " + a.Name + ": " + a.Reason}}}
		}
		prof.Body = append(prof.Body, inc)
	}
	for i, r := range pf.Rules {
		if i == 0 {
			r.RuleMeta().Hint = policy.NewSection
		}
		prof.Body = append(prof.Body, r)
	}
	for _, c := range pf.Children {
		c.Hint = policy.NewSection
		prof.Body = append(prof.Body, c)
	}
	local := &policy.Include{IfExists: true, Path: policy.NewWord("<local/" + LocalName(pf.Name) + ">")}
	local.Hint = policy.NewSection
	prof.Body = append(prof.Body, local)
	prof.Hint = policy.NewSection

	inc := &policy.Include{Path: policy.NewWord("<tunables/global>")}
	inc.Hint = policy.NewSection
	return &policy.File{Rules: []policy.Rule{
		&policy.Abi{Path: policy.NewWord("<abi/" + abi + ">")},
		inc,
		prof,
	}}
}

// LocalName is the file name under local/ for a profile's site additions.
func LocalName(profile string) string {
	return strings.NewReplacer("/", ".", " ", "_").Replace(strings.TrimPrefix(profile, "/"))
}

// Skeleton returns the first profile for an executable: the program
// itself (mr; a script r, and its interpreters ix), its ELF loader and
// shared libraries (mr; versioned library names generalised). Loader and
// libraries that base (abstractions/base, when not nil) already allows
// are left out.
func Skeleton(x *Executable, name, abi string, complain bool, base Coverer) ProfileFile {
	if name == "" {
		name = filepath.Base(x.Path)
	}
	var rules []Rule
	add := func(p string, perms aare.Perm, exec aare.ExecKind) {
		pat := EscapeLiteral(p)
		if perms&^(aare.PermRead|aare.PermMmap) == 0 {
			if g, _ := generalise(p, perms); g != "" {
				pat = g
			}
		}
		rules = append(rules, Rule{Class: ClassFile, Path: pat, Perms: perms, Exec: exec})
	}
	if x.Script {
		add(x.Path, aare.PermRead, aare.ExecNone)
		for _, in := range x.Interpreters {
			add(in, aare.PermMmap|aare.PermRead|aare.PermExec, aare.ExecInherit)
		}
	} else {
		add(x.Path, aare.PermMmap|aare.PermRead, aare.ExecNone)
	}
	for _, lib := range append([]string{x.Loader}, x.Libraries...) {
		if lib != "" && (base == nil || base.MissingFile(lib, aare.PermMmap|aare.PermRead, false) != 0) {
			add(lib, aare.PermMmap|aare.PermRead, aare.ExecNone)
		}
	}
	// Dedupe (a versioned library and its generalisation) and sort.
	seen := map[string]bool{}
	var nodes []policy.Rule
	slices.SortFunc(rules, compareRules)
	for _, r := range rules {
		if k := r.String(); !seen[k] {
			seen[k] = true
			nodes = append(nodes, r.Node(false))
		}
	}
	return ProfileFile{Name: name, Attach: x.Path, ABI: abi, Complain: complain, Rules: nodes}
}
