package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/internal/atomicfile"
	"github.com/armorer-dev/armorer/internal/eventstore"
	"github.com/armorer-dev/armorer/learn"
	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"
)

type learnOptions struct {
	IO      *IOStreams
	Ctx     context.Context
	Sources []string
	Profile string
	Dir     string
	Include []string

	Write, Stdout, Diff bool

	Glob           string
	Siblings       int
	AbstractionMin int
	Explain        bool
	AllowSensitive bool
	ABI            string
	Exec           string
	Local          string
	Strict         bool
	Abstractions   []string
	MinDigits      int
	MinHex         int
}

func newLearnCmd(f *Factory, runF func(*learnOptions) error) *cobra.Command {
	opts := &learnOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "learn [SOURCE...]",
		Short: "Turn recorded AppArmor events into rules merged into profiles",
		Long: `Read AppArmor events (complain mode's ALLOWED and enforce mode's DENIED) from
each SOURCE (a file, -, auditd:[PATH], kmsg:, journal:[PATH], netlink:; default
auditd:), turn them into rules and merge them into the profiles of the profile
directory, adding only what the profiles (with their includes) do not allow yet.
Each rule goes next to the most similar existing rule; comments and order stay.
Additions to a packaged profile with include if exists <local/NAME> go into
local/NAME. Output: a unified diff (default), --stdout (the resulting files) or
--write (atomic; the previous version is kept in the state directory).

Generalisation (--glob): none keeps every path as logged; safe (default)
rewrites only what varies between runs: /proc/PID → @{PROC}/@{pid},
/home/USER → @{HOME} (owner when the process owned the files), numeric, hex
and uuid path components, runs of 6+ digits, rotated logs, mkstemp names in
temp directories, versioned shared libraries, and --siblings N (default 4)
names in one directory with the same permissions → dir/*; aggressive also
writes dir/** for N paths spread over 2+ subdirectories. No glob ever reaches
a sensitive path the events did not name; /** is never written.

Exec: Px when a profile attaches to the program, ix inside the
application's own directory, otherwise --exec (cx: a child profile, the
default; or ix). Never ux. Complain mode's null-… children are folded into
the parent (ix) or the child profile (cx).

Abstractions: one is included when it covers at least --abstraction-min
(default 3) distinct accesses and grants nothing sensitive.

Sensitive accesses (writes under /etc, /usr, /boot; /etc/shadow, ~/.ssh,
/proc/*/mem; capabilities such as sys_admin; raw and packet sockets; ptrace
of other programs; mounts) are listed for a human, not added, unless
--allow-sensitive. Rules the target --abi cannot express are listed too.`,
		GroupID: "profile",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.Sources = args
			if n := btoi(opts.Diff) + btoi(opts.Write) + btoi(opts.Stdout); n > 1 {
				return usageErrorf("--diff, --write and --stdout exclude each other")
			}
			if len(opts.Sources) == 0 {
				opts.Sources = []string{"auditd:"}
			}
			if err := learn.ValidABI(opts.ABI); err != nil {
				return &FlagError{Err: err}
			}
			if _, err := learn.ParseGlobMode(opts.Glob); err != nil {
				return &FlagError{Err: err}
			}
			if _, err := learn.ParseExecMode(opts.Exec); err != nil || strings.EqualFold(opts.Exec, "px") {
				return usageErrorf("--exec %q: want cx or ix", opts.Exec)
			}
			if opts.MinDigits < 1 || opts.MinHex < 1 || opts.AbstractionMin < 1 || opts.Siblings < 0 {
				return usageErrorf("--min-digits, --min-hex and --abstraction-min must be at least 1, --siblings at least 0")
			}
			switch opts.Local {
			case "auto", "always", "never":
			default:
				return usageErrorf("--local %q: want auto, always or never", opts.Local)
			}
			if runF != nil {
				return runF(opts)
			}
			return learnRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Profile, "profile", "", "only events of profile `P`, its children and hats")
	fl.StringVar(&opts.Dir, "dir", "", "profile directory (default $"+EnvProfileDir+" or /etc/apparmor.d)")
	fl.StringSliceVarP(&opts.Include, "include", "I", nil, "include search path (default: the profile directory)")
	fl.BoolVar(&opts.Diff, "diff", false, "print a unified diff of the changes (the default)")
	fl.BoolVar(&opts.Write, "write", false, "write the changed profiles")
	fl.BoolVar(&opts.Stdout, "stdout", false, "print the resulting profile files")
	// Not MarkFlagsMutuallyExclusive: cobra's flag-group error is not a
	// *FlagError, so it would exit 1 instead of 2.
	fl.StringVar(&opts.Glob, "glob", "safe", "generalisation: none, safe or aggressive")
	fl.IntVar(&opts.Siblings, "siblings", learn.DefaultSiblings, "names in one directory with equal permissions that become dir/* (0: never)")
	fl.IntVar(&opts.MinDigits, "min-digits", learn.DefaultMinDigits, "a run of this many digits inside a name becomes [0-9]*")
	fl.IntVar(&opts.MinHex, "min-hex", learn.DefaultMinHex, "a lower-case hex name this long (with a digit and a letter) becomes [0-9a-f]*")
	fl.IntVar(&opts.AbstractionMin, "abstraction-min", learn.DefaultMinAbstraction, "distinct accesses an abstraction must cover to be included")
	fl.BoolVar(&opts.Explain, "explain", false, "write the evidence (events, time, examples) above each learned rule")
	fl.BoolVar(&opts.AllowSensitive, "allow-sensitive", false, "add sensitive rules instead of only listing them")
	fl.StringVar(&opts.ABI, "abi", "3.0", "policy ABI of new profiles and of what may be learned: 3.0 or 4.0")
	fl.StringVar(&opts.Exec, "exec", "cx", "transition for programs outside the application's directory without a profile: cx or ix")
	fl.StringVar(&opts.Local, "local", "auto", "additions go to local/NAME: auto (packaged profiles), always or never")
	fl.BoolVar(&opts.Strict, "strict", false, "exit 1 when accesses were held back as findings")
	fl.StringSliceVar(&opts.Abstractions, "abstractions", nil, "abstractions to choose from (NAME of abstractions/NAME, or all; default: "+defaultAbstractionList()+")")
	return cmd
}

func learnRun(o *learnOptions) error {
	dir := profileDir(o.Dir)
	pol, err := host.LoadProfileSet(dir, o.Include...)
	if err != nil {
		return &FlagError{Err: err}
	}
	for _, p := range pol.Problems {
		fmt.Fprintf(o.IO.ErrOut, "armorer: warning: %v\n", p)
	}
	glob, _ := learn.ParseGlobMode(o.Glob)
	execMode, _ := learn.ParseExecMode(o.Exec)
	siblings := o.Siblings
	if siblings == 0 {
		siblings = -1
	}
	warn := func(err error) { fmt.Fprintf(o.IO.ErrOut, "armorer: warning: %v\n", err) }
	opts := learn.WithProfiles(learn.Options{
		Glob:           glob,
		Siblings:       siblings,
		ABI:            o.ABI,
		AllowSensitive: o.AllowSensitive,
		DefaultExec:    execMode,
		MinAbstraction: o.AbstractionMin,
		MinDigits:      o.MinDigits,
		MinHex:         o.MinHex,
	}, pol, abstractionNames(pol, o.Abstractions), warn)
	l := learn.New(opts)
	// The events learned from are kept for enforce's simulate gate.
	kept := eventstore.NewBatch()
	var a learn.Access
	var m learn.Mapper
	n, err := readEvents(o.Ctx, o.IO, o.Sources, o.Profile, func(ev *auditlog.Event, src string, line int64) {
		kept.Add(ev, src, line)
		if m.Map(ev, src, line, &a) {
			l.Add(&a)
		}
	})
	if err != nil {
		return err
	}
	profiles, err := l.Result()
	if err != nil {
		var ce *learn.ExecConflictError
		if errors.As(err, &ce) {
			return &FoundError{Msg: err.Error()}
		}
		return err
	}
	findings := 0
	for _, p := range profiles {
		for _, f := range p.Findings {
			findings++
			fmt.Fprintf(o.IO.ErrOut, "finding: %s\n", f)
		}
	}
	changes, err := learn.Merge(pol, profiles, learn.MergeOptions{
		Explain:  o.Explain,
		ABI:      o.ABI,
		UseLocal: func(e *host.Profile) bool { return useLocal(o.Local, pol, e.File) },
	})
	if err != nil {
		return &FoundError{Msg: err.Error()}
	}
	switch {
	case o.Write:
		for _, c := range changes {
			if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
				return &EnvError{Err: err}
			}
			b, err := atomicfile.WritePath(c.Path, c.New, 0o644, backupDir())
			if err != nil {
				return &EnvError{Err: err}
			}
			if b.Existed() {
				fmt.Fprintf(o.IO.ErrOut, "wrote %s (previous version: %s)\n", c.Path, b.Path)
			} else {
				fmt.Fprintf(o.IO.ErrOut, "wrote %s\n", c.Path)
			}
		}
	case o.Stdout:
		for _, c := range changes {
			if len(changes) > 1 {
				fmt.Fprintf(o.IO.Out, "# armorer: %s\n", c.Path)
			}
			o.IO.Out.Write(c.New)
		}
	default:
		for _, c := range changes {
			oldName := c.Path
			if c.Old == nil {
				oldName = "/dev/null"
			}
			o.IO.Out.Write(diff.Diff(oldName, c.Old, c.Path, c.New))
		}
	}
	if len(changes) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "armorer: %d events: nothing new to learn\n", n)
	}
	if o.Write {
		// Only when the profile changes for real: a preview has no side
		// effects (and needs no write access to the state directory).
		storeEvents(o.IO.ErrOut, kept)
	}
	if o.Strict && findings > 0 {
		return &FoundError{Msg: fmt.Sprintf("%d findings held back (--strict)", findings)}
	}
	return nil
}

// useLocal decides where additions to a profile file go: local/NAME for
// packaged profiles (a file a Debian package installed) in auto mode.
func useLocal(mode string, set *host.ProfileSet, file string) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	return set.Packaged(file)
}

func backupDir() string { return HostPathsFromEnv().BackupDir() }

// readAccesses reads every SOURCE and calls add for each learnable event
// (of profile P, when set). It returns the number of events read.
func readAccesses(ctx context.Context, io_ *IOStreams, specs []string, profile string, add func(*learn.Access)) (int, error) {
	var a learn.Access
	var m learn.Mapper
	return readEvents(ctx, io_, specs, profile, func(ev *auditlog.Event, src string, line int64) {
		if m.Map(ev, src, line, &a) {
			add(&a)
		}
	})
}

// readEvents reads every SOURCE (and state:NAME, the event store) and
// calls fn for each event (of profile P, when set). It returns the number
// of events read.
func readEvents(ctx context.Context, io_ *IOStreams, specs []string, profile string, fn func(ev *auditlog.Event, src string, line int64)) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var st auditlog.Stream
	n := 0
	handle := func(ev *auditlog.Event, src string, line int64) {
		if profile != "" && !auditlog.LabelMatches(string(ev.Label()), profile) {
			return
		}
		n++
		fn(ev, src, line)
	}
	for _, spec := range specs {
		path, isFile := filePath(spec)
		stored, isState, err := stateSource(spec)
		if err != nil {
			return n, err
		}
		if isFile || isState {
			var in io.Reader = io_.In
			if isState {
				in = stored
			} else if path != "-" {
				f, err := os.Open(path)
				if err != nil {
					return n, &FlagError{Err: fmt.Errorf("cannot read source %s: %w", spec, errors.Unwrap(err))}
				}
				defer f.Close()
				in = f
			}
			r := auditlog.NewReader(in, auditlog.ReaderOptions{Name: spec, Stream: &st})
			for r.Next() {
				handle(r.Event(), spec, r.Line())
			}
			if err := r.Err(); err != nil {
				return n, &FlagError{Err: fmt.Errorf("read %s: %w", spec, err)}
			}
			continue
		}
		src, err := source.Open(spec, source.Options{Stdin: io_.In})
		if err != nil {
			return n, sourceError(err)
		}
		recs := make(chan source.Record, 1024)
		errc := make(chan error, 1)
		go func() { errc <- src.Run(ctx, recs); close(recs) }()
		p := auditlog.NewParser()
		var ev auditlog.Event
		for rec := range recs {
			if p.Parse(rec.Data, &ev) != nil || !st.Add(&ev) {
				continue
			}
			line := rec.Pos.Line
			if line == 0 {
				line = int64(rec.Pos.Seq)
			}
			handle(&ev, rec.Source, line)
		}
		src.Close()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			return n, sourceError(err)
		}
	}
	return n, nil
}

// abstractionNames turns --abstractions into include names: nil for the
// default list, every abstraction of the search path for "all".
func abstractionNames(pol *host.ProfileSet, flag []string) []string {
	if len(flag) == 0 {
		return nil
	}
	if len(flag) == 1 && flag[0] == "all" {
		return pol.AbstractionNames()
	}
	names := []string{}
	for _, n := range flag {
		names = append(names, "abstractions/"+strings.TrimPrefix(n, "abstractions/"))
	}
	return names
}

func defaultAbstractionList() string {
	var s []string
	for _, n := range learn.DefaultAbstractions {
		s = append(s, strings.TrimPrefix(n, "abstractions/"))
	}
	return strings.Join(s, ",")
}
