package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/internal/atomicfile"
	"github.com/armorer-dev/armorer/policy"
)

type fmtOptions struct {
	IO    *IOStreams
	Host  func() (*host.Host, error) // for the profile directory's lock
	Write bool
	Diff  bool
	List  bool
	JSON  bool
	Files []string
	// report collects each file's outcome for --json.
	report *fmtReport
}

func newFmtCmd(f *Factory, runF func(*fmtOptions) error) *cobra.Command {
	o := &fmtOptions{IO: f.IO, Host: f.Host}
	cmd := &cobra.Command{
		Use:   "fmt [-w|-d|-l] FILE...",
		Short: "Format profiles in the canonical style",
		Long: `fmt prints each profile file in armorer's canonical style, like gofmt:
two spaces of indentation per level, one rule per line, single spaces between
tokens, at most one blank line between rules. It never reorders rules, never
changes a spelling (#include stays #include, quotes stay) and keeps every
comment before the rule it belongs to, so apparmor_parser compiles the same
policy. FILE "-" reads standard input.

Exit status: 0 success, 1 a file has a syntax error (reported as
file:line:col: message; the file is left untouched), 2 usage error or
unreadable file.

--json (with -l or -w) prints one document (schema armorer/fmt/v1): each
file, whether its formatting differs (and, with -w, was rewritten), and
its errors.`,
		Example: `  armorer fmt /etc/apparmor.d/usr.sbin.dnsmasq
  armorer fmt -d examples/profiles/*
  armorer fmt -w myapp`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files = args
			if n := btoi(o.Write) + btoi(o.Diff) + btoi(o.List); n > 1 {
				return usageErrorf("-w, -d and -l cannot be combined: pick one")
			}
			if o.JSON && !o.List && !o.Write {
				return usageErrorf("--json goes with -l or -w (it lists files, not their text)")
			}
			if runF != nil {
				return runF(o)
			}
			return fmtRun(o)
		},
	}
	cmd.GroupID = "profile"
	fl := cmd.Flags()
	fl.BoolVarP(&o.Write, "write", "w", false, "write the result to the file instead of standard output")
	fl.BoolVarP(&o.Diff, "diff", "d", false, "print a unified diff of the changes instead of the result")
	fl.BoolVarP(&o.List, "list", "l", false, "list the files whose formatting differs")
	fl.BoolVar(&o.JSON, "json", false, "with -l or -w: print each file's outcome as one JSON document (docs/json.md)")
	// Not MarkFlagsMutuallyExclusive: cobra returns its error as a plain
	// error, which would exit 1 rather than 2 (usage).
	return cmd
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fmtRun(o *fmtOptions) error {
	var syntaxErrs, readErrs int
	if o.JSON {
		o.report = &fmtReport{Schema: schemaName("fmt"), Files: []fmtFileJSON{}}
		defer func() { writeJSON(o.IO.Out, o.report) }()
	}
	for _, name := range o.Files {
		err := fmtFile(o, name)
		var list scanner.ErrorList
		if o.report != nil && err != nil {
			fs := o.report.Files
			if n := len(fs); n > 0 && fs[n-1].File == displayName(name) {
				fs = fs[:n-1] // formatted, then the write failed
			}
			fj := fmtFileJSON{File: displayName(name), Errors: []string{}}
			if errors.As(err, &list) {
				for _, e := range list {
					fj.Errors = append(fj.Errors, e.Error())
				}
			} else {
				fj.Errors = append(fj.Errors, err.Error())
			}
			o.report.Files = append(fs, fj)
		}
		switch {
		case err == nil:
		case errors.As(err, &list):
			syntaxErrs++
			for _, e := range list {
				fmt.Fprintln(o.IO.ErrOut, e)
			}
			fmt.Fprintf(o.IO.ErrOut, "armorer fmt: %s not formatted: fix the syntax errors above\n", name)
		default:
			readErrs++
			fmt.Fprintf(o.IO.ErrOut, "armorer fmt: %v\n", err)
		}
	}
	switch {
	case readErrs > 0:
		return &FlagError{Err: fmt.Errorf("%d of %d files could not be read or written", readErrs, len(o.Files))}
	case syntaxErrs > 0:
		return &FoundError{Msg: "syntax errors", Silent: true}
	}
	return nil
}

// fmtFile formats one file; a syntax error comes back as a
// scanner.ErrorList, anything else is an I/O error.
func fmtFile(o *fmtOptions, name string) error {
	var src []byte
	var err error
	if name == "-" {
		src, err = io.ReadAll(o.IO.In)
	} else {
		src, err = os.ReadFile(name)
	}
	if err != nil {
		return err
	}
	if src == nil {
		src = []byte{}
	}
	display := displayName(name)
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, display, src, policy.ParseComments)
	if err != nil {
		return err
	}
	out := policy.FormatFile(fset, f)
	changed := !bytes.Equal(src, out)
	if o.report != nil {
		o.report.Files = append(o.report.Files, fmtFileJSON{File: display, Changed: changed, Written: o.Write && changed, Errors: []string{}})
		if o.List {
			return nil
		}
	}
	switch {
	case o.List:
		if changed {
			fmt.Fprintln(o.IO.Out, display)
		}
	case o.Diff:
		if changed {
			_, err = o.IO.Out.Write(diff.Diff(display+".orig", src, display, out))
		}
	case o.Write:
		if name == "-" {
			return fmt.Errorf("cannot write standard input back: use fmt without -w")
		}
		if changed {
			err = writeFormatted(o, name, src, out)
		}
	default:
		_, err = o.IO.Out.Write(out)
	}
	return err
}

// displayName is how fmt names a file argument: "-" is <stdin>.
func displayName(name string) string {
	if name == "-" {
		return "<stdin>"
	}
	return name
}

// fmtReport is fmt's --json document.
type fmtReport struct {
	Schema string        `json:"schema"`
	Files  []fmtFileJSON `json:"files"`
}

type fmtFileJSON struct {
	File string `json:"file"`
	// Changed: the canonical format differs from the file; Written: -w
	// rewrote it.
	Changed bool     `json:"changed"`
	Written bool     `json:"written"`
	Errors  []string `json:"errors"`
}

// writeFormatted replaces name, which held src, with out: atomically
// (temp file, fsync, rename) and with the file's mode; no backup, since
// fmt changes layout only and the input parsed. The directory's lock is
// held (when the state directory allows it) and the file is compared
// again first, so a write another armorer made meanwhile is not lost.
func writeFormatted(o *fmtOptions, name string, src, out []byte) error {
	if o.Host != nil {
		if h, err := o.Host(); err == nil {
			if lock, err := h.LockProfileDir(context.Background(), filepath.Dir(name)); err == nil {
				defer lock.Unlock()
			}
		}
	}
	cur, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, src) {
		return fmt.Errorf("%s changed while it was being formatted; nothing written: run fmt again", name)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	_, err = atomicfile.WritePath(name, out, fi.Mode().Perm(), "")
	return err
}
