package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	Strict   bool
	Target   string
	Includes []string
	Base     string
	Files    []string

	NoLint  bool
	Disable []string
	Explain bool

	lint []*lint.Check
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
		Use:   "check [--json] [--oracle] [--target 3.0|4.1] [-I DIR] [--strict] FILE|DIR...",
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
audit, L011 rules newer than the file's abi) are warnings: they change the exit
status only with --strict. --explain says why each matters.

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
	fl.BoolVar(&o.Strict, "strict", false, "treat lint warnings as failures")
	fl.BoolVar(&o.NoLint, "no-lint", false, "skip the lint checks")
	fl.StringSliceVar(&o.Disable, "disable", nil, "skip these lint checks (`IDs` or names, comma-separated)")
	fl.BoolVar(&o.Explain, "explain", false, "after each file's findings, explain each lint check that fired")
	fl.StringVar(&o.Target, "target", "", "AppArmor version to check against: 3.0 or 4.1 (default: the file's abi line, else 3.0, at least the installed parser's)")
	fl.StringArrayVarP(&o.Includes, "include", "I", nil, "add `DIR` to the include search path (before /etc/apparmor.d)")
	fl.StringVar(&o.Base, "base", policy.DefaultIncludeDir, "base `DIR` for relative includes, searched last (like apparmor_parser --base)")
	return cmd
}

// checkFileResult is one file's outcome, also its --json form.
type checkFileResult struct {
	File        string            `json:"file"`
	Target      string            `json:"target"`
	Valid       bool              `json:"valid"`
	Diagnostics []checkDiagnostic `json:"diagnostics"`
	Oracle      *checkOracle      `json:"oracle,omitempty"`
}

type checkDiagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"`
	Category string `json:"category"`
	Message  string `json:"message"`
}

type checkOracle struct {
	Parser   string `json:"parser"`
	Accepted bool   `json:"accepted"`
	Agrees   bool   `json:"agrees"`
	Stderr   string `json:"stderr,omitempty"`
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
		minTarget = installedVersion(ctx, installed)
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
		res := policy.CheckFile(l, name, src, policy.CheckConfig{Target: target, MinTarget: minTarget, Lint: lint.PolicyChecks(o.lint)})
		r := checkFileResult{File: name, Target: res.Target.String(), Valid: res.Valid(), Diagnostics: []checkDiagnostic{}}
		ok := res.Valid()
		for _, d := range res.Diagnostics {
			r.Diagnostics = append(r.Diagnostics, checkDiagnostic{
				File: d.Pos.Filename, Line: d.Pos.Line, Column: d.Pos.Column,
				Severity: d.Severity.String(), Category: d.Category, Message: d.Message,
			})
			if d.Severity == policy.SeverityWarning && o.Strict {
				ok = false
			}
		}
		if parser != nil {
			accepted, stderr, err := parser.Check(ctx, name)
			if err != nil {
				return &EnvError{Err: err}
			}
			r.Oracle = &checkOracle{Parser: parserVersion, Accepted: accepted, Agrees: accepted == res.Valid(), Stderr: stderr}
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
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"files": results}); err != nil {
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
	var fired []string
	for _, d := range r.Diagnostics {
		if c, ok := lint.Lookup(d.Category); ok && explain && !slices.Contains(fired, c.ID) {
			fired = append(fired, c.ID)
		}
		prefix := ""
		if d.Severity == "warning" {
			prefix = "warning: "
		}
		fmt.Fprintf(io.Out, "%s:%d:%d: %s%s\n", d.File, d.Line, d.Column, prefix, d.Message)
	}
	if r.Oracle != nil && !r.Oracle.Agrees {
		verdict := map[bool]string{true: "accepts", false: "rejects"}
		armorer := map[bool]string{true: "armorer accepts it", false: "armorer rejects it"}
		fmt.Fprintf(io.Out, "%s: apparmor_parser %s %s this file but %s (target %s)", r.File, r.Oracle.Parser, verdict[r.Oracle.Accepted], armorer[r.Valid], r.Target)
		if r.Oracle.Stderr != "" {
			fmt.Fprintf(io.Out, ": %s", r.Oracle.Stderr)
		}
		fmt.Fprintln(io.Out)
	}
	for _, id := range fired {
		c, _ := lint.Lookup(id)
		fmt.Fprintf(io.Out, "\n%s %s (%s):\n  %s\n", c.ID, c.Name, c.Severity, strings.ReplaceAll(c.Doc, "\n", "\n  "))
	}
}

// enabledChecks returns every lint check except the disabled ones.
func enabledChecks(disable []string) ([]*lint.Check, error) {
	off := map[*lint.Check]bool{}
	for _, d := range disable {
		c, ok := lint.Lookup(strings.TrimSpace(d))
		if !ok {
			return nil, usageErrorf("--disable: no lint check %q (IDs are L001 to L%03d)", d, len(lint.Checks))
		}
		off[c] = true
	}
	var out []*lint.Check
	for _, c := range lint.Checks {
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
func installedVersion(ctx context.Context, p *host.Parser) policy.Version {
	v, err := p.Version(ctx)
	if err != nil {
		return policy.Version{}
	}
	switch {
	case strings.HasPrefix(v, "3."):
		return policy.V3_0
	case strings.HasPrefix(v, "4."), strings.HasPrefix(v, "5."):
		return policy.V4_1
	}
	return policy.Version{}
}
