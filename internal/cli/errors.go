package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes; see the CLI contract in DESIGN.md.
const (
	ExitOK      = 0 // success
	ExitFound   = 1 // the command found something or refused
	ExitUsage   = 2 // usage error: unknown flag, unreadable input
	ExitEnviron = 3 // the environment failed: no AppArmor, kernel rejected a load, permission denied
)

// FlagError is a usage error: bad flags, wrong arguments, unreadable input.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// usageErrorf returns a *FlagError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// FoundError reports that a command found something (invalid profile,
// predicted denials, lint findings under --strict) or refused to act.
// Its message has usually been printed already; Silent suppresses it.
type FoundError struct {
	Msg    string
	Silent bool
}

func (e *FoundError) Error() string { return e.Msg }

// EnvError reports that the environment failed: AppArmor missing, the
// kernel rejected a load, permission denied.
type EnvError struct{ Err error }

func (e *EnvError) Error() string { return e.Err.Error() }
func (e *EnvError) Unwrap() error { return e.Err }

// exitCode decides the process exit status for the error a command returned.
func exitCode(err error) int {
	var (
		fe  *FlagError
		fnd *FoundError
		env *EnvError
		cmd *ChildExitError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &cmd): // record exits with its program's status
		return cmd.Code
	case errors.As(err, &fe):
		return ExitUsage
	case errors.As(err, &env):
		return ExitEnviron
	case errors.As(err, &fnd):
		return ExitFound
	default:
		return ExitFound
	}
}

// reportError prints the error a command returned, once, prefixed
// "armorer: "; after a usage error it names the help of the command that
// failed (cmd: the one cobra ran, or the deepest one the arguments name).
func reportError(w io.Writer, cmd *cobra.Command, err error) {
	if err == nil {
		return
	}
	var fnd *FoundError
	if !(errors.As(err, &fnd) && fnd.Silent) {
		fmt.Fprintf(w, "armorer: %v\n", err)
	}
	var fe *FlagError
	if errors.As(err, &fe) {
		path := "armorer"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", path)
	}
}

// unknownCommand finds an unknown subcommand of a command that has
// subcommands, which cobra does not always report as one: with --help it
// prints the parent's help and exits 0 ("armorer kube --help"), and a
// parent without its own argument check (completion) prints its help or
// fails with a plain error. It returns the parent and the usage error, or
// nil.
func unknownCommand(root *cobra.Command, args []string) (*cobra.Command, error) {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		return nil, nil // added by cobra when it executes
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	c, rest, err := root.Find(args)
	if err != nil || !c.HasSubCommands() {
		return nil, nil
	}
	if word := firstPositional(c, rest); word != "" {
		if c == root {
			return c, usageErrorf("unknown command %q", word)
		}
		return c, usageErrorf("unknown command %q for %q", word, c.CommandPath())
	}
	return nil, nil
}

// firstPositional is the first argument that is neither a flag nor a
// flag's value ("" if none).
func firstPositional(c *cobra.Command, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		case strings.HasPrefix(a, "--"):
			name := strings.TrimPrefix(a, "--")
			if strings.Contains(name, "=") {
				continue
			}
			if fl := lookupFlag(c, name, ""); fl != nil && fl.NoOptDefVal == "" {
				i++ // its value
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if len(a) == 2 {
				if fl := lookupFlag(c, "", a[1:]); fl != nil && fl.NoOptDefVal == "" {
					i++
				}
			}
		default:
			return a
		}
	}
	return ""
}

// lookupFlag finds a flag of c, its own or inherited, by name or shorthand.
func lookupFlag(c *cobra.Command, name, short string) *pflag.Flag {
	for _, fs := range []*pflag.FlagSet{c.Flags(), c.InheritedFlags()} {
		if name != "" {
			if fl := fs.Lookup(name); fl != nil {
				return fl
			}
		} else if fl := fs.ShorthandLookup(short); fl != nil {
			return fl
		}
	}
	return nil
}
