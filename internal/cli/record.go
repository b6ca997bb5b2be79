package cli

import (
	"context"
	"errors"
	"fmt"
	"go/token"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/internal/eventstore"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy"
	"github.com/spf13/cobra"
)

type recordOptions struct {
	IO      *IOStreams
	Host    func() (*host.Host, error)
	Ctx     context.Context
	Profile string
	Write   bool
	Source  string
	ABI     string
	Settle  time.Duration
	Argv    []string
	JSON    bool

	hostFlags // --dir, --state-dir, --no-load
}

func newRecordCmd(f *Factory, runF func(*recordOptions) error) *cobra.Command {
	opts := &recordOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Annotations: map[string]string{ownsStop: "restores the profile after CMD"},
		Use:         "record [--profile NAME] [--write] -- CMD [ARGS...]",
		Short:       "Run a program under a complain-mode profile and learn from exactly its events",
		Long: `Make sure CMD's program has a profile (armorer new --complain writes one into
the profile directory when none exists), load it in complain mode, run CMD
with stdin, stdout and stderr passed through, and collect the AppArmor events
of that profile and its children (other processes the profile confines
meanwhile included) while it runs, from the best live source
(netlink: when permitted, else kmsg:; --source to choose). Then learn from
them: the diff on stdout, or --write to apply it. The events are kept in the
state directory for enforce's check (armorer events state:NAME lists them).

The kernel rate-limits complain mode's printk messages: record sets
/proc/sys/kernel/printk_ratelimit to 0 while it runs and restores it on
exit (also on an error or SIGINT/SIGTERM), and says so. Events the kernel
or the source lost are reported.

The exit status is CMD's (128+N when a signal N ended it), unless armorer
itself failed.

--json prints one document when CMD has ended (schema armorer/record/v1):
the command and its exit status, the source, the events recorded and, per
profile, learn's report. CMD's standard output then goes to stderr, so that
stdout holds the document alone.`,
		GroupID: "profile",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 {
				return usageErrorf("write the command after --: armorer record [flags] -- CMD [ARGS...]")
			}
			if err := learn.ValidABI(opts.ABI); err != nil {
				return &FlagError{Err: err}
			}
			opts.Ctx = cmd.Context()
			opts.Argv = args
			if runF != nil {
				return runF(opts)
			}
			return recordRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Profile, "profile", "", "profile `NAME` (default: the one for CMD's program, else its base name)")
	fl.BoolVar(&opts.Write, "write", false, "write the learned rules into the profile")
	fl.StringVar(&opts.Source, "source", "", "live event `SOURCE` (default: netlink: if permitted, else kmsg:)")
	fl.StringVar(&opts.ABI, "abi", "3.0", "policy ABI of a new profile: 3.0 or 4.0")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as one JSON document (docs/json.md); CMD's stdout goes to stderr")
	addHostFlags(cmd, &opts.hostFlags, "") // record needs the kernel: no --no-load
	fl.DurationVar(&opts.Settle, "settle", 500*time.Millisecond, "after CMD exits, wait until the log has been quiet this long (at most 10 times as long)")
	return cmd
}

// ChildExitError carries the exit status of the program record ran.
type ChildExitError struct {
	Argv0 string
	Code  int
}

func (e *ChildExitError) Error() string {
	return fmt.Sprintf("%s exited with status %d", e.Argv0, e.Code)
}

// ExitCode is the status armorer exits with.
func (e *ChildExitError) ExitCode() int { return e.Code }

func recordRun(o *recordOptions) error {
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	errOut := o.IO.ErrOut
	prog, err := exec.LookPath(o.Argv[0])
	if err != nil {
		return usageErrorf("record: %v", err)
	}
	if prog, err = filepath.Abs(prog); err == nil {
		// The kernel attaches a profile to the program's real path.
		prog, err = filepath.EvalSymlinks(prog)
	}
	if err != nil {
		return usageErrorf("record: %v", err)
	}
	h, err := requireKernel(ctx, o.Host)
	if err != nil {
		return err
	}
	file, err := recordProfileFile(o, h, prog)
	if err != nil {
		return hostError(err)
	}
	wasMode := fileModes(h.Path(file))
	res, err := h.Load(ctx, file, true, nil)
	if err != nil {
		return hostError(err)
	}
	printResult(errOut, errOut, res)
	for name, mode := range wasMode {
		if mode != host.Complain {
			fmt.Fprintf(errOut, "note: %s was in %s mode and stays in complain mode; run armorer enforce %s when done\n", name, mode, name)
		}
	}
	var names []string
	for _, n := range res.Profiles {
		if !strings.Contains(n, "//") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return &FoundError{Msg: fmt.Sprintf("%s defines no profile", res.File)}
	}

	restore := raiseRatelimit(errOut, filepath.Join(h.Paths.Proc, "sys/kernel/printk_ratelimit"))
	defer restore()

	specs, firstOf := []string{o.Source}, false
	if o.Source == "" {
		specs, firstOf = recordSources, true
	}
	// The source outlives ctx's end by the settle time: the last events
	// arrive after CMD exited (or was stopped).
	srcCtx, stopSource := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSource()
	p, err := source.Open(srcCtx, specs, source.Options{
		Follow: true, FromEnd: true, WhenFull: source.FullWait, FirstOf: firstOf,
	})
	if err != nil {
		if firstOf {
			return &EnvError{Err: fmt.Errorf("%v; give --source journal: or auditd:", err)}
		}
		return sourceError(err)
	}
	spec := p.Sources()[0]
	fmt.Fprintf(errOut, "recording the events of %s from %s\n", strings.Join(names, ", "), spec)
	col := newCollector(names)
	colDone := make(chan struct{})
	go func() { col.consume(p.Events()); close(colDone) }()

	childErr := runChild(ctx, o)
	col.settle(o.Settle)
	stopSource()
	<-colDone
	if err := p.Err(); err != nil {
		fmt.Fprintf(errOut, "armorer: warning: %s: %v\n", spec, err)
	}

	// Losses and unreadable lines are reported with what was learned.
	stats := p.Stats()
	fmt.Fprintf(errOut, "recorded %d events of %s\n", len(col.events), strings.Join(names, ", "))

	kept := eventstore.NewBatch()
	for _, ev := range col.events {
		kept.Add(ev.Event, ev.Source, ev.Line())
	}
	storeEvents(errOut, h.Paths.StateDir, kept)
	learnErr := error(nil)
	rep := &recordReport{Schema: schemaName("record"), Command: o.Argv, Source: spec, Profiles: names,
		Events: len(col.events), Loaded: res, Learned: []*learnReport{}}
	for _, name := range names {
		lr, err := recordLearn(o, h.Paths.ProfileDir, name, col.events, stats)
		if err != nil && learnErr == nil {
			learnErr = err
		}
		if lr != nil {
			rep.Learned = append(rep.Learned, lr)
		}
	}
	var ce *ChildExitError
	if errors.As(childErr, &ce) {
		rep.ExitCode = ce.Code
	}
	if o.JSON {
		if err := writeJSON(o.IO.Out, rep); err != nil {
			return err
		}
	}
	if childErr != nil {
		return childErr
	}
	return learnErr
}

// recordSources are the live sources record prefers, in order: netlink:
// (every record, no rate limit) when this process may join the audit
// multicast group, else kmsg:.
var recordSources = []string{"netlink:", "kmsg:"}

// recordLearn learns profile name from the recorded events, with learn's
// defaults (the zero learn.SessionOptions knobs), and prints the result as
// learn does.
func recordLearn(o *recordOptions, dir, name string, events []*source.Event, st source.Stats) (*learnReport, error) {
	sess, err := learn.OpenSession(learn.SessionOptions{
		Dir:     dir,
		Options: learn.Options{ABI: o.ABI},
		Profile: name,
		Merge: learn.MergeOptions{
			ABI:   o.ABI,
			Local: learn.LocalPackaged, // learn's --local default
		},
		Warn: func(err error) { fmt.Fprintf(o.IO.ErrOut, "armorer: warning: %v\n", err) },
	})
	if err != nil {
		return nil, &FlagError{Err: err}
	}
	res, err := sess.Learn(slices.Values(events))
	if err != nil {
		return nil, &FoundError{Msg: err.Error()}
	}
	// The events were kept already, once for every profile.
	var w *profileWriter
	if o.Write {
		w = &profileWriter{ctx: o.Ctx, host: o.Host, dir: dir, reload: true} // record loaded it
	}
	return learnOutput(o.IO, learnOut{w: w, json: o.JSON, sources: []string{stateScheme + name}}, res, st, nil)
}

// recordProfileFile finds CMD's profile file: --profile NAME when the
// profile directory has it, else the file armorer new would write for the
// program; when there is none, it writes one with armorer new.
func recordProfileFile(o *recordOptions, h *host.Host, prog string) (host.ProfileFile, error) {
	if o.Profile != "" {
		if f, err := h.Resolve(o.Profile); err == nil {
			return f, nil
		}
	}
	name := learn.ProfileFileName(prog)
	if _, err := os.Stat(filepath.Join(h.Paths.ProfileDir, name)); err == nil {
		return host.ProfileFile{Name: name}, nil
	}
	if f, ok := profileAttachedTo(h, prog); ok {
		return f, nil
	}
	if file, ok := disabledProfileFor(h, prog); ok {
		// Not a second profile beside it, which the next boot would load
		// while this one stays disabled: loading re-enables it, as load does
		// for the conventional file.
		fmt.Fprintf(o.IO.ErrOut, "record: the profile for %s in %s is disabled; loading it re-enables it\n", prog, file)
		return host.ProfileFile{Name: file}, nil
	}
	nopts := &newOptions{IO: &IOStreams{Out: o.IO.ErrOut, ErrOut: o.IO.ErrOut}, Host: o.Host, Ctx: o.Ctx, Binary: prog, Name: o.Profile,
		Write: true, hostFlags: hostFlags{Dir: h.Paths.ProfileDir, StateDir: h.Paths.StateDir}, Complain: true, ABI: o.ABI}
	if err := newRun(nopts); err != nil {
		return host.ProfileFile{}, err
	}
	return host.ProfileFile{Name: name}, nil
}

// profileAttachedTo finds the file of the top-level profile attached to
// exactly prog (its attachment, or its name for a profile named by its
// path): one named otherwise, or by an older conventional name (before
// host.ProfileFileName replaced characters outside letters, digits and
// ._-+~), is still the program's profile. A glob attachment is not taken:
// record's own profile for the program is.
func profileAttachedTo(h *host.Host, prog string) (host.ProfileFile, bool) {
	set, err := h.ProfileSet()
	if err != nil {
		return host.ProfileFile{}, false
	}
	name, ok := set.ProfileFor(prog)
	if !ok || set.Profiles[name].Attach != prog {
		return host.ProfileFile{}, false
	}
	rel, err := filepath.Rel(set.Dir, set.Profiles[name].File)
	if err != nil || strings.HasPrefix(rel, "..") {
		return host.ProfileFile{}, false
	}
	return host.ProfileFile{Name: filepath.ToSlash(rel)}, true
}

// disabledProfileFor finds the file of a disabled top-level profile
// attached to exactly prog (ProfileFor skips disabled files).
func disabledProfileFor(h *host.Host, prog string) (string, bool) {
	set, err := h.ProfileSet()
	if err != nil {
		return "", false
	}
	for _, p := range set.TopLevel(true) {
		if p.Disabled && p.Attach == prog {
			if rel, err := filepath.Rel(set.Dir, p.File); err == nil && !strings.HasPrefix(rel, "..") {
				return filepath.ToSlash(rel), true
			}
		}
	}
	return "", false
}

// raiseRatelimit sets the kernel's printk rate limit (complain mode's
// events are printk messages) to 0 and returns the func that puts the
// previous value back. It says both on w; failing is a warning.
func raiseRatelimit(w interface{ Write([]byte) (int, error) }, path string) func() {
	old, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(w, "armorer: warning: cannot read %s: %v; complain-mode events may be rate-limited\n", path, err)
		return func() {}
	}
	prev := strings.TrimSpace(string(old))
	if prev == "0" {
		return func() {}
	}
	if err := os.WriteFile(path, []byte("0\n"), 0o644); err != nil {
		fmt.Fprintf(w, "armorer: warning: cannot set %s to 0: %v; complain-mode events may be rate-limited\n", path, err)
		return func() {}
	}
	fmt.Fprintf(w, "set %s to 0 (was %s) while recording\n", path, prev)
	return func() {
		if err := os.WriteFile(path, []byte(prev+"\n"), 0o644); err != nil {
			fmt.Fprintf(w, "armorer: warning: cannot restore %s to %s: %v; write it by hand\n", path, prev, err)
			return
		}
		fmt.Fprintf(w, "restored %s to %s\n", path, prev)
	}
}

// runChild runs the command with the streams passed through, forwarding
// SIGTERM when armorer's context ends (Ctrl-C reaches the whole process
// group by itself). It returns a *ChildExitError for a non-zero status.
func runChild(ctx context.Context, o *recordOptions) error {
	c := exec.Command(o.Argv[0], o.Argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = o.IO.In, o.IO.Out, o.IO.ErrOut
	if o.JSON {
		c.Stdout = o.IO.ErrOut // stdout holds the document alone
	}
	if err := c.Start(); err != nil {
		return &FlagError{Err: fmt.Errorf("record: %w", err)}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			c.Process.Signal(syscall.SIGTERM)
		case <-done:
		}
	}()
	err := c.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return &ChildExitError{Argv0: o.Argv[0], Code: code}
	}
	if err != nil {
		return &EnvError{Err: fmt.Errorf("record: %w", err)}
	}
	return nil
}

// collector keeps the events of some profiles (and their children) from
// the pipeline.
type collector struct {
	names  []string
	events []*source.Event
	last   chan struct{} // an event arrived (buffered, 1)
}

func newCollector(names []string) *collector {
	return &collector{names: names, last: make(chan struct{}, 1)}
}

func (c *collector) consume(events iter.Seq[*source.Event]) {
	for ev := range events {
		select {
		case c.last <- struct{}{}:
		default:
		}
		label := string(ev.Label())
		for _, n := range c.names {
			if auditlog.LabelMatches(label, n) {
				c.events = append(c.events, &source.Event{Event: ev.Clone(), Source: ev.Source, Pos: ev.Pos})
				break
			}
		}
	}
}

// settle waits until no record has arrived for quiet (at most 10×quiet):
// the kernel hands audit records to printk and netlink asynchronously, so
// the last ones arrive after the program has exited.
func (c *collector) settle(quiet time.Duration) {
	deadline := time.After(10 * quiet)
	for {
		select {
		case <-c.last:
		case <-time.After(quiet):
			return
		case <-deadline:
			return
		}
	}
}

// fileModes returns the mode of each top-level profile a file defines
// (none when it cannot be read or parsed).
func fileModes(file string) map[string]host.Mode {
	modes := map[string]host.Mode{}
	src, err := os.ReadFile(file)
	if err != nil {
		return modes
	}
	f, _ := policy.ParseFile(token.NewFileSet(), file, src, 0)
	if f == nil {
		return modes
	}
	for _, r := range f.Rules {
		if p, ok := r.(*policy.Profile); ok && p.Name != nil {
			modes[p.Name.Value()] = host.ProfileMode(p)
		}
	}
	return modes
}
