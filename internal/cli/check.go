package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"go/token"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/lint"
	"github.com/armorer-dev/armorer/policy"
)

type checkOptions struct {
	IO       *IOStreams
	Ctx      context.Context
	JSON     bool
	Oracle   bool
	Strict   lint.Severity // fail on lint findings of at least this severity; 0: never
	Target   string
	Includes []string
	Base     string
	Files    []string

	NoLint  bool
	Disable []string
	Explain bool

	lint []*lint.Analyzer
	// parser is this machine's apparmor_parser, from the factory.
	parser func() (*host.Parser, error)
}

func newCheckCmd(f *Factory, runF func(*checkOptions) error) *cobra.Command {
	o := &checkOptions{IO: f.IO, parser: func() (*host.Parser, error) {
		h, err := f.Host()
		if err != nil {
			return nil, err
		}
		return h.Parser, nil
	}}
	cmd := &cobra.Command{
		Use:   "check [--json] [--oracle] [--target 3.0|4.1] [-I DIR] [--strict[=LEVEL]] FILE|DIR...",
		Short: "Parse profiles, resolve includes and report every error",
		Long: `check parses each profile file, resolves its includes (search path like
apparmor_parser -I, then /etc/apparmor.d), expands variables and reports what
apparmor_parser of the target version would reject: syntax errors, unknown
capabilities, conflicting exec modes, invalid permissions, unresolvable
includes, undefined variables and rules the target does not support.

The target defaults to the file's abi line (abi/4.0 means 4.1), else 3.0, but
never below the installed apparmor_parser's version (4.x means 4.1).
With --oracle, apparmor_parser -QK also validates each file and any
disagreement is reported. Lint findings (L001 missing abi, L002 writable and
executable paths, L003 ux, L004 px without environment scrubbing, L005
dangerous capabilities, L006 raw and packet sockets, L007 whole-filesystem
globs, L008 sensitive paths, L009 ptrace/signal to unconfined, L010 deny without
audit, L011 rules newer than the file's abi, L012 relative file names, L013 change_profile
to any profile or unconfined, mount and pivot_root) are warnings: they change the exit
status only with --strict, or with --strict=medium or --strict=high only the
findings at least that severe. --explain says why each matters; --json gives
each finding's severity (low, medium, high), its span and, where one is
clear, a suggested fix as text edits.

Exit status: 0 all files valid, 1 any file invalid (or a lint finding with
--strict, or a disagreement with --oracle), 2 usage error or unreadable file,
3 apparmor_parser unavailable for --oracle.`,
		Example: `  armorer check /etc/apparmor.d/usr.sbin.dnsmasq
  armorer check /etc/apparmor.d
  armorer check --target 4.1 -I ./profiles --json myapp`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files = args
			o.Ctx = cmd.Context()
			if !o.NoLint {
				checks, err := enabledChecks(o.Disable)
				if err != nil {
					return err
				}
				o.lint = checks
			}
			if runF != nil {
				return runF(o)
			}
			return checkRun(o)
		},
	}
	cmd.GroupID = "profile"
	fl := cmd.Flags()
	fl.BoolVar(&o.JSON, "json", false, "print the results as JSON")
	fl.BoolVar(&o.Oracle, "oracle", false, "also validate with apparmor_parser -QK and report disagreements")
	fl.Var((*strictFlag)(&o.Strict), "strict", "treat lint warnings as failures; with `LEVEL` (low, medium, high) only those at least that severe")
	fl.Lookup("strict").NoOptDefVal = lint.SeverityLow.String()
	fl.BoolVar(&o.NoLint, "no-lint", false, "skip the lint checks")
	fl.StringSliceVar(&o.Disable, "disable", nil, "skip these lint checks (`IDs` or names, comma-separated)")
	fl.BoolVar(&o.Explain, "explain", false, "after each file's findings, explain each lint check that fired")
	fl.StringVar(&o.Target, "target", "", "AppArmor version to check against: 3.0 or 4.1 (default: the file's abi line, else 3.0, at least the installed parser's)")
	fl.StringArrayVarP(&o.Includes, "include", "I", nil, "add `DIR` to the include search path (before /etc/apparmor.d)")
	fl.StringVar(&o.Base, "base", policy.DefaultIncludeDir, "base `DIR` for relative includes, searched last (like apparmor_parser --base)")
	return cmd
}

// checkReport is check's --json document.
type checkReport struct {
	Schema string            `json:"schema"`
	Files  []checkFileResult `json:"files"`
}

// checkFileResult is one file's outcome, also its --json form.
type checkFileResult struct {
	File        string            `json:"file"`
	Target      string            `json:"target"`
	Valid       bool              `json:"valid"`
	Diagnostics []checkDiagnostic `json:"diagnostics"`
	Oracle      *checkOracle      `json:"oracle,omitempty"`
}

// checkDiagnostic is a diagnostic of check or a lint finding. Severity is
// "error" or "warning" for check's own, the lint severity (low, medium,
// high) for a finding, which also has a name, an end and maybe fixes.
type checkDiagnostic struct {
	File      string     `json:"file"`
	Line      int        `json:"line"`
	Column    int        `json:"column"`
	EndLine   int        `json:"end_line,omitempty"`
	EndColumn int        `json:"end_column,omitempty"`
	Severity  string     `json:"severity"`
	Category  string     `json:"category"`
	Name      string     `json:"name,omitempty"`
	Message   string     `json:"message"`
	Fixes     []checkFix `json:"fixes,omitempty"`

	offset int           // for sorting
	lint   lint.Severity // a lint finding's severity, low for check's warnings
}

type checkFix struct {
	Message string      `json:"message"`
	Edits   []checkEdit `json:"edits"`
}

// checkEdit replaces the text from line:column to end_line:end_column.
type checkEdit struct {
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"end_line"`
	EndColumn int    `json:"end_column"`
	NewText   string `json:"new_text"`
}

// strictFlag is --strict (every finding fails) or --strict=LEVEL.
type strictFlag lint.Severity

func (s *strictFlag) String() string {
	if *s == 0 {
		return ""
	}
	return lint.Severity(*s).String()
}

func (s *strictFlag) Set(v string) error {
	sev, err := lint.ParseSeverity(v)
	*s = strictFlag(sev)
	return err
}

func (s *strictFlag) Type() string { return "level" }

type checkOracle struct {
	Parser   string `json:"parser"`
	Accepted bool   `json:"accepted"`
	Agrees   bool   `json:"agrees"`
	// ArmorerBug: the parser of the target's version disagrees with
	// armorer, which is a bug in armorer's checker.
	ArmorerBug bool   `json:"armorer_bug,omitempty"`
	Stderr     string `json:"stderr,omitempty"`
}

func checkRun(o *checkOptions) error {
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	var target policy.Version
	if o.Target != "" {
		v, err := policy.ParseVersion(o.Target)
		if err != nil {
			return &FlagError{Err: err}
		}
		target = v
	}
	// Without --target, never check for an older language than the
	// installed apparmor_parser compiles.
	if o.parser == nil {
		o.parser = func() (*host.Parser, error) { return host.New(HostPathsFromEnv(), nil).Parser, nil }
	}
	installed, err := o.parser()
	if err != nil {
		return &EnvError{Err: err}
	}
	var minTarget policy.Version
	if target.IsZero() {
		minTarget = installed.LanguageVersion(ctx)
	}
	var parser *host.Parser
	var parserVersion string
	if o.Oracle {
		if parserVersion, err = installed.Version(ctx); err != nil {
			return &EnvError{Err: fmt.Errorf("check --oracle: apparmor_parser not found or not working (install the apparmor package): %w", err)}
		}
		parser = oracleParser(installed, o.Includes, o.Base)
	}

	l := policy.NewLoader(o.Includes...)
	l.Base = o.Base
	var (
		results []checkFileResult
		failed  int
	)
	files, unreadable := expandCheckArgs(o.IO, o.Files)
	total := len(files) + len(unreadable)
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			unreadable = append(unreadable, name)
			msg := err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				msg = "no such file"
			}
			fmt.Fprintf(o.IO.ErrOut, "%s: cannot read: %s\n", name, msg)
			continue
		}
		res := policy.CheckFile(l, name, src, policy.CheckConfig{Target: target, MinTarget: minTarget})
		r := checkFileResult{File: name, Target: res.Target.String(), Valid: res.Valid(),
			Diagnostics: checkDiagnostics(l.Fset, res, lint.Run(l, res, o.lint))}
		ok := res.Valid()
		for _, d := range r.Diagnostics {
			if d.lint != 0 && o.Strict != 0 && d.lint >= o.Strict {
				ok = false
			}
		}
		if parser != nil {
			accepted, stderr, err := parser.Check(ctx, name)
			if err != nil {
				return &EnvError{Err: err}
			}
			r.Oracle = &checkOracle{Parser: parserVersion, Accepted: accepted, Agrees: accepted == res.Valid(), Stderr: stderr}
			r.Oracle.ArmorerBug = !r.Oracle.Agrees && strings.HasPrefix(parserVersion, strings.SplitN(r.Target, ".", 2)[0]+".")
			if !r.Oracle.Agrees {
				ok = false
			}
		}
		if !ok {
			failed++
		}
		results = append(results, r)
		if !o.JSON {
			printCheckText(o.IO, r, o.Explain)
		}
	}
	if o.JSON {
		if err := writeJSON(o.IO.Out, checkReport{Schema: schemaName("check"), Files: results}); err != nil {
			return err
		}
	}
	switch {
	case len(unreadable) > 0:
		return &FlagError{Err: fmt.Errorf("%d of %d files could not be read", len(unreadable), total)}
	case failed > 0:
		return &FoundError{Msg: fmt.Sprintf("%d of %d files invalid", failed, total)}
	}
	return nil
}

// checkDiagnostics lists check's diagnostics and the lint findings in one
// order: by file and position, check's first at one position.
func checkDiagnostics(fset *token.FileSet, res *policy.CheckResult, findings []lint.Diagnostic) []checkDiagnostic {
	out := []checkDiagnostic{}
	for _, d := range res.Diagnostics {
		cd := checkDiagnostic{
			File: d.Pos.Filename, Line: d.Pos.Line, Column: d.Pos.Column,
			Severity: d.Severity.String(), Category: d.Category, Message: d.Message, offset: d.Pos.Offset,
		}
		if d.Severity == policy.SeverityWarning {
			cd.lint = lint.SeverityLow
		}
		out = append(out, cd)
	}
	for _, d := range findings {
		pos, end := fset.Position(d.Pos), fset.Position(d.End)
		cd := checkDiagnostic{
			File: pos.Filename, Line: pos.Line, Column: pos.Column, EndLine: end.Line, EndColumn: end.Column,
			Severity: d.Severity.String(), Category: d.Category, Name: d.Name, Message: d.Text(),
			offset: pos.Offset, lint: d.Severity,
		}
		for _, f := range d.SuggestedFixes {
			fix := checkFix{Message: f.Message, Edits: []checkEdit{}}
			for _, e := range f.TextEdits {
				from, to := fset.Position(e.Pos), fset.Position(e.End)
				fix.Edits = append(fix.Edits, checkEdit{Line: from.Line, Column: from.Column, EndLine: to.Line, EndColumn: to.Column, NewText: string(e.NewText)})
			}
			cd.Fixes = append(cd.Fixes, fix)
		}
		out = append(out, cd)
	}
	slices.SortStableFunc(out, func(a, b checkDiagnostic) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.offset, b.offset))
	})
	return out
}

// expandCheckArgs replaces each directory argument by the files
// apparmor_parser would load from it (sorted, without the names it skips).
// Arguments that cannot be read are reported and returned apart.
func expandCheckArgs(io *IOStreams, args []string) (files, unreadable []string) {
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil || !fi.IsDir() {
			files = append(files, a) // read errors are reported when reading
			continue
		}
		ps, err := host.ProfileFiles(a)
		if err != nil {
			fmt.Fprintf(io.ErrOut, "%s: cannot read: %v\n", a, err)
			unreadable = append(unreadable, a)
			continue
		}
		files = append(files, ps...)
	}
	return files, unreadable
}

func printCheckText(io *IOStreams, r checkFileResult, explain bool) {
	cs := io.ColorScheme()
	var fired []string
	for _, d := range r.Diagnostics {
		if c, ok := lint.Lookup(d.Category); ok && explain && !slices.Contains(fired, c.ID) {
			fired = append(fired, c.ID)
		}
		prefix, msg := "", d.Message
		if d.Severity != "error" {
			prefix = cs.Severity(d.lint, "warning: ")
		} else {
			msg = cs.Red(msg)
		}
		fmt.Fprintf(io.Out, "%s:%d:%d: %s%s\n", d.File, d.Line, d.Column, prefix, msg)
	}
	if r.Oracle != nil && !r.Oracle.Agrees {
		printOracleDisagreement(io, r)
	}
	for _, id := range fired {
		c, _ := lint.Lookup(id)
		fmt.Fprintf(io.Out, "\n%s %s (%s):\n  %s\n", c.ID, c.Name, c.Severity, strings.ReplaceAll(c.Doc, "\n", "\n  "))
	}
}

// printOracleDisagreement reports a file on which armorer and the
// installed apparmor_parser disagree. For the parser's own language version
// that is a bug in armorer, and the file is the case that shows it.
func printOracleDisagreement(io *IOStreams, r checkFileResult) {
	verdict := map[bool]string{true: "accepts", false: "rejects"}
	o := r.Oracle
	sameVersion := strings.HasPrefix(o.Parser, strings.SplitN(r.Target, ".", 2)[0]+".")
	if sameVersion {
		fmt.Fprintf(io.Out, "%s: armorer bug: apparmor_parser %s %s this file but armorer %s it (target %s)",
			r.File, o.Parser, verdict[o.Accepted], verdict[r.Valid], r.Target)
	} else {
		fmt.Fprintf(io.Out, "%s: apparmor_parser %s %s this file but armorer %s it for target %s (the parser's language differs: use --target %s to compare)",
			r.File, o.Parser, verdict[o.Accepted], verdict[r.Valid], r.Target, strings.Join(strings.SplitN(o.Parser, ".", 3)[:2], "."))
	}
	if o.Stderr != "" {
		fmt.Fprintf(io.Out, ": %s", o.Stderr)
	}
	fmt.Fprintln(io.Out)
	if sameVersion {
		fmt.Fprintf(io.Out, "%s: please report it with this file: it becomes a case of armorer's differential corpus (policy/testdata/corpus)\n", r.File)
	}
}

// enabledChecks returns every lint check except the disabled ones.
func enabledChecks(disable []string) ([]*lint.Analyzer, error) {
	off := map[*lint.Analyzer]bool{}
	for _, d := range disable {
		c, ok := lint.Lookup(strings.TrimSpace(d))
		if !ok {
			return nil, usageErrorf("--disable: no lint check %q (IDs are L001 to L%03d)", d, len(lint.Analyzers))
		}
		off[c] = true
	}
	var out []*lint.Analyzer
	for _, c := range lint.Analyzers {
		if !off[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// oracleParser is the installed parser set up as check's oracle: the
// include search path of check (-I DIRS, then --base), and no parser.conf,
// so the verdict does not depend on this machine's parser options.
func oracleParser(p *host.Parser, includes []string, base string) *host.Parser {
	o := *p
	o.Args = append(slices.Clone(p.Args), "--config-file", os.DevNull)
	for _, d := range includes {
		o.Args = append(o.Args, "-I", d)
	}
	o.Args = append(o.Args, "-I", base, "--base", base)
	return &o
}

// installedVersion is the language version of this machine's
// apparmor_parser (3.x → 3.0, 4.x → 4.1), or zero when there is none.
func installedVersion(ctx context.Context) policy.Version {
	return host.New(HostPathsFromEnv(), nil).Parser.LanguageVersion(ctx)
}
