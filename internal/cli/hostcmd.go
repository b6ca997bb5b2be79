package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy"
	"github.com/spf13/cobra"
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
		nb *host.NotBackupError
		pe *host.ParserError
		oe *host.OutsideError
		ce *host.ChangedError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue), errors.As(err, &ke), errors.As(err, &rb), errors.Is(err, fs.ErrPermission):
		return &EnvError{Err: err}
	case errors.As(err, &ie), errors.As(err, &iu), errors.As(err, &oe), errors.As(err, &ce):
		return &FoundError{Msg: err.Error()}
	case errors.As(err, &nf), errors.As(err, &am), errors.As(err, &nb):
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
// (h.Resolve), then run op on it; an invalid profile is explained by
// check's diagnostics (withDiagnostics).
func onFile(op func(ctx context.Context, h *host.Host, f host.ProfileFile) (*host.Result, error)) hostAction {
	return func(ctx context.Context, h *host.Host, arg string) (*host.Result, error) {
		f, err := h.Resolve(arg)
		if err != nil {
			return nil, err
		}
		res, err := op(ctx, h, f)
		return res, withDiagnostics(ctx, h, f, err)
	}
}

// withDiagnostics adds, to apparmor_parser's rejection of f, what
// armorer's checker says about the file (file:line:col and a hint, as
// armorer check prints them), which is usually more precise; then the
// parser's own message. Other errors pass through.
func withDiagnostics(ctx context.Context, h *host.Host, f host.ProfileFile, err error) error {
	var ie *host.InvalidProfileError
	if !errors.As(err, &ie) {
		return err
	}
	file := h.Path(f)
	if f.Source != "" {
		file = f.Source
	}
	src, rerr := os.ReadFile(file)
	if rerr != nil {
		return err
	}
	l := policy.NewLoader(h.Paths.ProfileDir)
	l.Base = h.Paths.ProfileDir
	res := policy.CheckFile(l, file, src, policy.CheckConfig{MinTarget: h.Parser.LanguageVersion(ctx)})
	var b strings.Builder
	b.WriteString("invalid profile:")
	for _, d := range res.Errors() {
		fmt.Fprintf(&b, "\n  %s", d)
	}
	fmt.Fprintf(&b, "\n  %s", strings.ReplaceAll(strings.TrimSpace(ie.Error()), "\n", "\n  "))
	return &FoundError{Msg: b.String()}
}

// runHostVerb is the body of load, unload, disable, complain and enforce:
// it needs a kernel that can load profiles (unless --no-load), then runs
// act on every argument, prints each result and returns the worst failure (see eachArg).
func runHostVerb(ctx context.Context, ios *IOStreams, hf func() (*host.Host, error), verb string, args []string, act hostAction) error {
	h, err := hf()
	if err != nil {
		return &EnvError{Err: err}
	}
	if !h.NoLoad {
		if h, err = requireKernel(ctx, hf); err != nil {
			return err
		}
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
		if msg := err.Error(); strings.HasPrefix(msg, arg+": ") || strings.HasPrefix(msg, arg+" ") {
			fmt.Fprintf(errOut, "armorer %s: %s\n", verb, msg) // it names the argument already
		} else {
			fmt.Fprintf(errOut, "armorer %s: %s: %s\n", verb, arg, msg)
		}
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
	// reload replaces the written profiles that are loaded in the kernel,
	// as aa-logprof does after saving. When false, noReload (if set) says
	// why not, so a loaded profile never silently keeps its old version.
	reload   bool
	noReload string
}

// reloadAfterWrite decides whether a verb that writes profiles (learn,
// record) reloads the loaded ones afterwards, and if not, why: --no-load,
// a --dir that is not the host's profile directory (its files are not
// what the kernel loaded), or no usable AppArmor here.
func reloadAfterWrite(ctx context.Context, hf func() (*host.Host, error), flags *hostFlags) (bool, string) {
	h, err := hf()
	switch {
	case err != nil:
		return false, "not reloaded: " + err.Error()
	case h.NoLoad:
		return false, "not reloaded (--no-load): a loaded profile keeps its previous version in the kernel until armorer load NAME"
	case flags.elsewhere:
		return false, fmt.Sprintf("not reloaded: %s is not the host's profile directory, so the kernel's profiles do not come from it; armorer load FILE loads one", h.Paths.ProfileDir)
	}
	if _, err := h.RequireKernel(ctx); err != nil {
		return false, "not reloaded: AppArmor is not usable here, so no profile is loaded"
	}
	return true, ""
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
	update := h.UpdateProfiles
	if w.reload {
		update = h.UpdateAndReload
	}
	res, err := update(ctx, w.dir, w.include, func() ([]host.FileWrite, error) {
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
		return nil, hostError(err)
	}
	for _, f := range res.Files {
		if f.Existed {
			fmt.Fprintf(io_.ErrOut, "wrote %s (previous version: %s)\n", f.Path, f.Backup)
		} else {
			fmt.Fprintf(io_.ErrOut, "wrote %s\n", f.Path)
		}
	}
	for _, r := range res.Reloads {
		if r.Replaced {
			fmt.Fprintf(io_.ErrOut, "reloaded %s: %v\n", r.File, r.Profiles)
		} else {
			fmt.Fprintf(io_.ErrOut, "not reloaded: %s: not loaded in the kernel (armorer load %s loads it)\n", strings.Join(r.Profiles, ", "), r.File)
		}
	}
	if !w.reload && w.noReload != "" {
		fmt.Fprintln(io_.ErrOut, w.noReload)
	}
	return res.Files, nil
}

// hostFlags are the flags of every verb that reads or writes profiles:
// where the profiles and armorer's state are, and (for the verbs that
// load) whether the kernel is told at all. With them a test or a CI job
// works on a directory of its own and never touches /etc/apparmor.d,
// /var/lib/armorer or the kernel.
type hostFlags struct {
	Dir      string // --dir: the profile directory
	StateDir string // --state-dir: backups, kept events, locks
	NoLoad   bool   // --no-load: edit files only

	// elsewhere is set by hostFor: --dir names another directory than
	// the host's profile directory.
	elsewhere bool
}

// stateSubdir is the state directory inside a --dir profile directory
// when --state-dir is not given: a dot name, which the AppArmor loader
// and armorer's profile set skip.
const stateSubdir = ".armorer"

// addHostFlags registers --dir and --state-dir on cmd, and --no-load when
// the verb loads profiles (noLoad says what it then does instead).
func addHostFlags(cmd *cobra.Command, hf *hostFlags, noLoad string) {
	addDirFlag(cmd, hf)
	fl := cmd.Flags()
	fl.StringVar(&hf.StateDir, "state-dir", "", "armorer's state `DIR`: backups, kept events, locks (default $"+EnvStateDir+", else DIR/"+stateSubdir+" with --dir, else "+host.DefaultStateDir+")")
	if noLoad != "" {
		fl.BoolVar(&hf.NoLoad, "no-load", false, noLoad+"; the kernel is never told (offline, CI; like aa-complain --no-reload)")
	}
}

// addDirFlag registers --dir alone, for a verb that only reads profiles
// and keeps no state (status).
func addDirFlag(cmd *cobra.Command, hf *hostFlags) {
	cmd.Flags().StringVar(&hf.Dir, "dir", "", "profile `DIR` (default $"+EnvProfileDir+", else "+host.DefaultProfileDir+")")
}

// hostFor returns the factory's host moved by the verb's flags.
func (f *Factory) hostFor(hf *hostFlags) func() (*host.Host, error) {
	return sync.OnceValues(func() (*host.Host, error) {
		if f.Host == nil {
			return nil, errors.New("no host in this factory")
		}
		h, err := f.Host()
		if err != nil {
			return nil, err
		}
		hf.elsewhere = hf.Dir != "" && !sameDir(hf.Dir, h.Paths.ProfileDir)
		h = h.WithDirs(hf.Dir, hf.stateDir(h))
		h.NoLoad = hf.NoLoad
		return h, nil
	})
}

// stateDir is --state-dir; else, with --dir naming another directory than
// the host's and the state directory not moved ($ARMORER_STATE_DIR), the
// profile directory's own stateSubdir; "" keeps the host's.
func (hf *hostFlags) stateDir(h *host.Host) string {
	switch {
	case hf.StateDir != "":
		return hf.StateDir
	case hf.Dir == "" || h.Paths.StateDir != host.DefaultStateDir || sameDir(hf.Dir, h.Paths.ProfileDir):
		return ""
	}
	return filepath.Join(hf.Dir, stateSubdir)
}

// sameDir says whether two paths name the same directory.
func sameDir(a, b string) bool {
	x, err1 := os.Stat(a)
	y, err2 := os.Stat(b)
	if err1 == nil && err2 == nil {
		return os.SameFile(x, y)
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

// stateDirOf is the state directory of a verb's host.
func stateDirOf(hf func() (*host.Host, error)) string {
	if hf != nil {
		if h, err := hf(); err == nil {
			return h.Paths.StateDir
		}
	}
	return HostPathsFromEnv().StateDir
}
