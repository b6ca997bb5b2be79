package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
)

// Shared by the host verbs (status, load, unload, complain, enforce,
// disable): error mapping, per-profile loops and result lines.

// hostError maps host's error types to exit codes: AppArmor missing, a
// kernel rejection and permission problems are the environment (3); an
// invalid profile or a refusal is a finding (1); an argument naming no
// profile is a usage error (2).
func hostError(err error) error {
	var (
		ue *host.UnavailableError
		ke *host.KernelError
		rb *host.RolledBackError
		ie *host.InvalidProfileError
		iu *host.InUseError
		nf *host.NotFoundError
		am *host.AmbiguousError
		pe *host.ParserError
		oe *host.OutsideError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue), errors.As(err, &ke), errors.As(err, &rb), errors.Is(err, fs.ErrPermission):
		return &EnvError{Err: err}
	case errors.As(err, &ie), errors.As(err, &iu), errors.As(err, &oe):
		return &FoundError{Msg: err.Error()}
	case errors.As(err, &nf), errors.As(err, &am):
		return &FlagError{Err: err}
	case errors.As(err, &pe):
		return &EnvError{Err: err} // the parser did not run
	}
	var fe *FlagError
	var fnd *FoundError
	var ee *EnvError
	if errors.As(err, &fe) || errors.As(err, &fnd) || errors.As(err, &ee) {
		return err
	}
	return &EnvError{Err: err}
}

// requireKernel fails with exit 3, saying what is missing and how to fix
// it, unless profiles can be loaded here.
func requireKernel(ctx context.Context, hf func() (*host.Host, error)) (*host.Host, error) {
	h, err := hf()
	if err != nil {
		return nil, &EnvError{Err: err}
	}
	if _, err := h.RequireKernel(ctx); err != nil {
		return nil, hostError(err)
	}
	return h, nil
}

// hostAction is what a host verb does with one argument.
type hostAction func(ctx context.Context, h *host.Host, arg string) (*host.Result, error)

// onFile is the usual hostAction: resolve the argument to a profile file
// (h.Resolve), then run op on it.
func onFile(op func(ctx context.Context, h *host.Host, f host.ProfileFile) (*host.Result, error)) hostAction {
	return func(ctx context.Context, h *host.Host, arg string) (*host.Result, error) {
		f, err := h.Resolve(arg)
		if err != nil {
			return nil, err
		}
		return op(ctx, h, f)
	}
}

// runHostVerb is the body of load, unload, disable, complain and enforce:
// it needs a kernel that can load profiles, then runs act on every
// argument, prints each result and returns the worst failure (see eachArg).
func runHostVerb(ctx context.Context, ios *IOStreams, hf func() (*host.Host, error), verb string, args []string, act hostAction) error {
	h, err := requireKernel(ctx, hf)
	if err != nil {
		return err
	}
	return eachArg(ios.ErrOut, verb, args, func(arg string) error {
		res, err := act(ctx, h, arg)
		if err != nil {
			return err
		}
		printResult(ios.Out, ios.ErrOut, res)
		return nil
	})
}

// eachArg runs fn for every argument; a failure on one never stops the
// others. Each failure is reported on errOut as it happens; the returned
// error carries the most severe exit status (3 over 2 over 1).
func eachArg(errOut io.Writer, verb string, args []string, fn func(arg string) error) error {
	var worst error
	failed := 0
	for _, arg := range args {
		err := hostError(fn(arg))
		if err == nil {
			continue
		}
		failed++
		fmt.Fprintf(errOut, "armorer %s: %s: %v\n", verb, arg, err)
		if worst == nil || exitCode(err) > exitCode(worst) {
			worst = err
		}
	}
	if worst == nil {
		return nil
	}
	summary := fmt.Errorf("%s: %d of %d failed", verb, failed, len(args))
	switch exitCode(worst) {
	case ExitEnviron:
		return &EnvError{Err: summary}
	case ExitUsage:
		return &FlagError{Err: summary}
	default:
		return &FoundError{Msg: summary.Error()}
	}
}

// printResult writes one line per profile file acted on, and warns about
// processes that the profile should confine but does not.
func printResult(out, errOut io.Writer, res *host.Result) {
	mode := ""
	if res.Mode != "" {
		mode = " (" + string(res.Mode) + ")"
	}
	fmt.Fprintf(out, "%s: %s%s", res.Action, res.File, mode)
	if len(res.Profiles) > 0 {
		fmt.Fprintf(out, ": %v", res.Profiles)
	}
	fmt.Fprintln(out)
	if res.Backup != "" {
		fmt.Fprintf(errOut, "previous version kept in %s\n", res.Backup)
	}
	for _, p := range res.Unconfined {
		fmt.Fprintf(errOut, "warning: process %d (%s) runs %s unconfined: it started before %s was loaded; restart it to confine it\n",
			p.PID, p.Comm, p.Exe, p.ShouldBe)
	}
}

// profileWriter writes learned changes through host's profile-directory
// write (atomic, with backups, checked, rolled back when invalid). A nil
// *profileWriter previews only.
type profileWriter struct {
	ctx     context.Context
	host    func() (*host.Host, error)
	dir     string   // the profile directory the changes belong to
	include []string // the include search path learn used
	// remerge, when set, recomputes the changes from the files as they
	// are now: used when another writer changed them since they were read.
	remerge func() ([]learn.Change, error)
}

// write returns the files it wrote.
func (w *profileWriter) write(io_ *IOStreams, changes []learn.Change) ([]host.Written, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	h, err := w.host()
	if err != nil {
		return nil, &EnvError{Err: err}
	}
	ctx := w.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := h.UpdateProfiles(ctx, w.dir, w.include, func() ([]host.FileWrite, error) {
		// Under the directory's lock, merge again into the files as they
		// are now: another writer may have changed them since learning
		// began (and a change's Old is read at merge time, not when the
		// profile set was parsed, so comparing it proves nothing).
		if w.remerge != nil {
			var err error
			if changes, err = w.remerge(); err != nil {
				return nil, err
			}
		}
		files := make([]host.FileWrite, len(changes))
		for i, c := range changes {
			files[i] = host.FileWrite{Path: c.Path, Content: c.New, Profiles: c.Profiles, Compare: true, Expected: c.Old}
		}
		return files, nil
	})
	var rej *host.WriteRejectedError
	var conflict *host.ConflictError
	switch {
	case errors.As(err, &rej):
		return nil, &FoundError{Msg: err.Error()}
	case errors.As(err, &conflict):
		return nil, &FoundError{Msg: err.Error() + "; run the command again"}
	case err != nil:
		return nil, &EnvError{Err: err}
	}
	for _, f := range res.Files {
		if f.Existed {
			fmt.Fprintf(io_.ErrOut, "wrote %s (previous version: %s)\n", f.Path, f.Backup)
		} else {
			fmt.Fprintf(io_.ErrOut, "wrote %s\n", f.Path)
		}
	}
	return res.Files, nil
}
