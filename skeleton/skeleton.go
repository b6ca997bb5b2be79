package skeleton

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// Options shape the first profile.
type Options struct {
	Name     string // the profile's name; "" means the program's base name
	ABI      string // "3.0" (default) or "4.0"
	Complain bool
	// Base is what abstractions/base allows (nil: nothing); loader and
	// libraries it covers are left out.
	Base *learn.Coverage
	// HasAbstraction says whether the include path has an abstraction
	// ("abstractions/python"); a script's interpreter abstraction is
	// included only then (an include that is missing fails to compile).
	// nil: every one exists.
	HasAbstraction func(name string) bool
}

// InterpreterAbstraction is the abstraction for the files a script's
// interpreter itself reads (its modules and configuration), chosen from
// the interpreter's name as aa-autodep does: abstractions/perl,
// abstractions/python, abstractions/ruby, abstractions/bash,
// abstractions/php; "" for other interpreters.
func InterpreterAbstraction(interpreter string) string {
	name := filepath.Base(interpreter)
	switch trimmed := strings.TrimRight(name, "0123456789."); {
	case trimmed == "perl":
		return "abstractions/perl"
	case trimmed == "python":
		return "abstractions/python"
	case trimmed == "ruby":
		return "abstractions/ruby"
	case name == "bash" || name == "dash" || name == "sh":
		return "abstractions/bash"
	case trimmed == "php":
		return "abstractions/php"
	}
	return ""
}

// ScriptAbstraction is InterpreterAbstraction of the program that runs
// the script x (the last of its interpreter chain); "" when x is no
// script.
func ScriptAbstraction(x *Executable) string {
	if !x.Script || len(x.Interpreters) == 0 {
		return ""
	}
	return InterpreterAbstraction(x.Interpreters[len(x.Interpreters)-1])
}

// Profile returns the first profile for an executable: the program itself
// (mr; a script r, and its interpreters ix), its ELF loader and shared
// libraries (mr; versioned library names generalised).
func Profile(x *Executable, opts Options) learn.ProfileFile {
	name := opts.Name
	if name == "" {
		name = filepath.Base(x.Path)
	}
	var b builder
	if x.Script {
		b.add(x.Path, aare.PermRead, aare.ExecNone)
		for _, in := range x.Interpreters {
			b.add(in, aare.PermMmap|aare.PermRead|aare.PermExec, aare.ExecInherit)
		}
	} else {
		b.add(x.Path, aare.PermMmap|aare.PermRead, aare.ExecNone)
	}
	for _, lib := range append([]string{x.Loader}, x.Libraries...) {
		if lib != "" && (opts.Base == nil || opts.Base.MissingFile(lib, aare.PermMmap|aare.PermRead, false) != 0) {
			b.add(lib, aare.PermMmap|aare.PermRead, aare.ExecNone)
		}
	}
	pf := learn.ProfileFile{Name: name, Attach: x.Path, ABI: opts.ABI, Complain: opts.Complain, Rules: b.nodes()}
	if a := ScriptAbstraction(x); a != "" && (opts.HasAbstraction == nil || opts.HasAbstraction(a)) {
		interp := filepath.Base(x.Interpreters[len(x.Interpreters)-1])
		pf.Abstractions = append(pf.Abstractions, learn.Abstraction{Name: a, Reason: "the script runs " + interp})
	}
	return pf
}

// Unit returns the first profile for a systemd service whose program cannot
// be attached by path (python3 app.py: attaching to the interpreter would
// confine every program it runs): Profile without the attachment, since
// systemd applies it (AppArmorProfile=), and read access to the existing
// files argv names by absolute path (app.py).
func Unit(x *Executable, argv []string, opts Options) learn.ProfileFile {
	pf := Profile(x, opts)
	pf.Attach = ""
	for _, arg := range argv[min(1, len(argv)):] {
		if filepath.IsAbs(arg) {
			if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
				pf.Rules = append(pf.Rules, learn.FileRule(learn.EscapeLiteral(arg), aare.PermRead, aare.ExecNone))
			}
		}
	}
	return pf
}

// builder collects file rules, sorted by pattern and deduplicated (a
// versioned library and its generalisation).
type builder struct{ rules []fileRule }

type fileRule struct {
	pattern string
	perms   aare.Perm
	exec    aare.ExecKind
}

func (b *builder) add(p string, perms aare.Perm, exec aare.ExecKind) {
	pat := learn.EscapeLiteral(p)
	if perms&^(aare.PermRead|aare.PermMmap) == 0 {
		pat = learn.Generalise(p, perms)
	}
	b.rules = append(b.rules, fileRule{pat, perms, exec})
}

func (b *builder) nodes() []policy.Rule {
	slices.SortFunc(b.rules, func(x, y fileRule) int {
		return cmp.Or(cmp.Compare(x.pattern, y.pattern), cmp.Compare(x.perms, y.perms), cmp.Compare(x.exec, y.exec))
	})
	b.rules = slices.Compact(b.rules)
	var out []policy.Rule
	for _, r := range b.rules {
		out = append(out, learn.FileRule(r.pattern, r.perms, r.exec))
	}
	return out
}
