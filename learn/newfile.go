package learn

import (
	"fmt"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// ProfileFile is a profile file armorer creates, in the layout of
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
	// Explain writes what each abstraction covers and grants.
	Explain bool
}

// Abstraction is an include chosen for a profile, and why.
type Abstraction struct {
	Name   string // "abstractions/nameservice"
	Reason string // "covers 14 accesses"; becomes a comment
	// Covers are the observed accesses the include allows (rules, sorted);
	// Grants what else it allows that is not a file rule, and how many file
	// rules it has. --explain writes both under the reason.
	Covers, Grants []string
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
		prof.Body = append(prof.Body, includeNode(a, pf.Explain))
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
	// localName is a plain file name (host.ProfileFileName); SearchInclude
	// checks it again, so that no label becomes include text.
	if local := policy.SearchInclude("local/"+localName(pf.Name), true); local != nil {
		local.Hint = policy.NewSection
		prof.Body = append(prof.Body, local)
	}
	prof.Hint = policy.NewSection

	inc := &policy.Include{Path: policy.NewWord("<tunables/global>")}
	inc.Hint = policy.NewSection
	return &policy.File{Rules: []policy.Rule{
		&policy.Abi{Path: policy.NewWord("<abi/" + abi + ">")},
		inc,
		prof,
	}}
}

// localName is the file name under local/ for a profile's site additions.
func localName(profile string) string { return host.ProfileFileName(profile) }

// ProfileFileName is the file name aa-autodep gives a profile for an
// executable: the path without its leading slash, "/" replaced by ".".
func ProfileFileName(executable string) string { return host.ProfileFileName(executable) }

// Generalise rewrites a concrete path by the safe rules (--glob safe,
// default thresholds); a path no rule applies to comes back escaped.
func Generalise(path string, perms aare.Perm) string {
	if g, _ := generalise(path, perms); g != "" {
		return g
	}
	return EscapeLiteral(path)
}

// FileRule is the file rule learn writes: pattern, the permissions spelled
// m r w a l k, and for x the transition (ix, Px, Cx).
func FileRule(pattern string, perms aare.Perm, exec aare.ExecKind) policy.Rule {
	return rule{Class: ClassFile, Path: pattern, Perms: perms, Exec: exec}.node()
}

// PermString spells permissions as learned rules write them: m r w a l k
// (an exec mode is the rule's business).
func PermString(p aare.Perm) string { return permString(p) }
