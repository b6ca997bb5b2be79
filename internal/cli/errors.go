package cli

import (
	"errors"
	"fmt"
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
