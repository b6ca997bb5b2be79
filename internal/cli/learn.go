package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/internal/eventstore"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy/aare"
	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"
)

type learnOptions struct {
	IO      *IOStreams
	Host    func() (*host.Host, error)
	Ctx     context.Context
	Sources []string
	Profile string
	Include []string

	Write, Stdout, Diff bool

	Glob           string
	Siblings       int
	PermUnion      bool
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
	JSON           bool
	Accept         []string
	Reason         string

	hostFlags // --dir, --state-dir, --no-load
}

func newLearnCmd(f *Factory, runF func(*learnOptions) error) *cobra.Command {
	opts := &learnOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
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
--write (atomic; the previous version is kept in the state directory, and
armorer restore brings it back). After --write, the changed profiles that are
loaded in the kernel are replaced, as aa-logprof does after saving (a kernel
rejection puts the files back, exit 3); learn says when it does not reload
and why: --no-load, a --dir other than the host's profile directory, or no
AppArmor here.

Generalisation (--glob): none keeps every path as logged; safe (default)
rewrites only what varies between runs: /proc/PID → @{PROC}/@{pid},
/home/USER → @{HOME} (owner when the process owned the files), numeric, hex
and uuid path components, runs of 6+ digits, rotated logs, mkstemp names in
temp directories, pids and counters in a service's temp and spill names
(pgsql_tmp1234.5, temp-1234.rdb), versioned shared libraries; a digit run
in which --siblings N (default 4) names of one directory vary → [0-9]*
(cpu12, hidraw3); N names in one directory → dir/*; a directory the
application writes 2+ files in, in its own tree or /var/lib, /var/cache,
/run, /srv under its name → dir/* or dir/**; 3+ files read spread over
subdirectories of /var/www or /srv/NAME → root/** r. Merged names get the
union of their permissions (--perm-union=false: only equal ones merge),
unless the union adds a guarded write or exec (then a perm-union finding
says why), and never code mapping (m, x) to names that can be written.
aggressive also writes dir/** for N paths spread over 2+ subdirectories.
No glob ever reaches a sensitive path the events did not name; /** is never
written; no learned rule is covered by another or by the profile. A learned
rule or include that covers rules of the profile replaces them (as aa-logprof
does; unix, dbus, signal, ptrace and mqueue rules too; the profile's own block,
or local/NAME when learn writes there; never deny, audit or exec rules, rules
in a conditional, or an accepted finding's): it takes the
first one's place and their comments, and stderr and --json say which it
removed. --explain shows, for each glob, the observed paths it replaced and
why, and the profile's rules it replaced.
The same threshold generalises names that are not paths: N unix abstract
addresses, dbus object paths or bus names, POSIX queue names or signal and
ptrace peers that differ only in digit runs get [0-9]* there
(@cups-1465 → @cups-[0-9]*); N System V queue keys a rule without a key.

Exec: Px when a profile attaches to the program, ix inside the
application's own directory, otherwise --exec (cx: a child profile, the
default; or ix). Never ux. Complain mode's null-… children are folded into
the parent (ix) or the child profile (cx).

Abstractions: one is included when it covers at least --abstraction-min
(default 3) distinct accesses and grants nothing sensitive. Observed network
use is never left to an abstraction: it stays an explicit network rule.
--explain lists, above each include, the observed accesses it covers and
everything else it grants (network, capability, dbus rules; its file rules).

Sensitive accesses (writes under /etc, /usr, /boot; /etc/shadow, ~/.ssh,
/proc/*/mem; capabilities such as sys_admin; raw and packet sockets; ptrace
of other programs; mounts) are listed for a human, not added, unless
--allow-sensitive. Rules the target --abi cannot express are listed too.
Each finding has a stable ID (the same profile and rule give the same ID
in every run): --accept ID grants just that finding, --accept 'RULE' (for
example 'capability setuid') that rule wherever it was held back. The rule
is written with a comment "# armorer: accepted ID [kind]: --reason", so
the decision is on record in the profile and the next learn does not ask
again.

--json prints one document (schema armorer/learn/v1, docs/json.md): the
rules learned per profile, the findings with their IDs and the command that
accepts each, the changes (diff and new content), the files written, and
what became of every event.

When lines of the log could not be read or the kernel lost events, learn
says that the profile was learned from an incomplete log. Records that
neither the kernel nor auditd wrote are never learned from.`,
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
			if _, err := learn.ParseLocal(opts.Local); err != nil {
				return usageErrorf("%v", err)
			}
			if opts.Reason != "" && len(opts.Accept) == 0 {
				return usageErrorf("--reason goes with --accept")
			}
			if runF != nil {
				return runF(opts)
			}
			return learnRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Profile, "profile", "", "only events of profile `P`, its children and hats")
	addHostFlags(cmd, &opts.hostFlags, "write the files (--write) without reloading loaded profiles")
	fl.StringSliceVarP(&opts.Include, "include", "I", nil, "include search path (default: the profile directory)")
	fl.BoolVar(&opts.Diff, "diff", false, "print a unified diff of the changes (the default)")
	fl.BoolVar(&opts.Write, "write", false, "write the changed profiles")
	fl.BoolVar(&opts.Stdout, "stdout", false, "print the resulting profile files")
	// Not MarkFlagsMutuallyExclusive: cobra's flag-group error is not a
	// *FlagError, so it would exit 1 instead of 2.
	fl.StringVar(&opts.Glob, "glob", learn.GlobSafe.String(), "generalisation: none, safe or aggressive")
	fl.IntVar(&opts.Siblings, "siblings", learn.DefaultSiblings, "names in one directory (or varying in a digit run) that become dir/* (or [0-9]*) (0: never)")
	fl.BoolVar(&opts.PermUnion, "perm-union", true, "merge siblings with different permissions into one rule with their union (false: equal permissions only)")
	fl.IntVar(&opts.MinDigits, "min-digits", learn.DefaultMinDigits, "a run of this many digits inside a name becomes [0-9]*")
	fl.IntVar(&opts.MinHex, "min-hex", learn.DefaultMinHex, "a lower-case hex name this long (with a digit and a letter) becomes [0-9a-f]*")
	fl.IntVar(&opts.AbstractionMin, "abstraction-min", learn.DefaultMinAbstraction, "distinct accesses an abstraction must cover to be included")
	fl.BoolVar(&opts.Explain, "explain", false, "write the evidence (events, time, examples) above each learned rule, and what each include covers and grants")
	fl.BoolVar(&opts.AllowSensitive, "allow-sensitive", false, "add sensitive rules instead of only listing them")
	fl.StringVar(&opts.ABI, "abi", "3.0", "policy ABI of new profiles and of what may be learned: 3.0 or 4.0")
	fl.StringVar(&opts.Exec, "exec", aare.ExecMode{Kind: aare.ExecChild}.String(), "transition for programs outside the application's directory without a profile: cx or ix")
	fl.StringVar(&opts.Local, "local", defaultLocal, "additions go to local/NAME: auto (packaged profiles), always or never")
	fl.BoolVar(&opts.Strict, "strict", false, "exit 1 when accesses were held back as findings")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as one JSON document (docs/json.md)")
	fl.StringArrayVar(&opts.Accept, "accept", nil, "grant the finding with this `ID` (or this rule's text); repeatable")
	fl.StringVar(&opts.Reason, "reason", "", "why the --accept findings are granted (written next to each rule)")
	fl.StringSliceVar(&opts.Abstractions, "abstractions", nil, "abstractions to choose from (NAME of abstractions/NAME, or all; default: "+defaultAbstractionList()+")")
	return cmd
}

func learnRun(o *learnOptions) error {
	glob, _ := learn.ParseGlobMode(o.Glob)
	execMode, _ := learn.ParseExecMode(o.Exec)
	siblings := o.Siblings
	if siblings == 0 {
		siblings = -1 // --siblings 0: never; learn.Options' 0 is the default
	}
	local, _ := learn.ParseLocal(o.Local)
	mergeOpts := learn.MergeOptions{Explain: o.Explain, ABI: o.ABI, Local: local}
	sess, err := learn.OpenSession(learn.SessionOptions{
		Dir:     profileDir(o.Host, o.Dir),
		Include: o.Include,
		Options: learn.Options{
			Glob:           glob,
			Siblings:       siblings,
			NoPermUnion:    !o.PermUnion,
			ABI:            o.ABI,
			AllowSensitive: o.AllowSensitive,
			DefaultExec:    execMode,
			MinAbstraction: o.AbstractionMin,
			MinDigits:      o.MinDigits,
			MinHex:         o.MinHex,
		},
		Abstractions: abstractionNames(o.Abstractions),
		Profile:      o.Profile,
		Merge:        mergeOpts,
		Warn:         func(err error) { fmt.Fprintf(o.IO.ErrOut, "armorer: warning: %v\n", err) },
		Accept:       learn.Accept{Keys: o.Accept, Reason: o.Reason},
	})
	if err != nil {
		return &FlagError{Err: err}
	}
	p, err := openEvents(o.Ctx, o.IO, o.Sources, source.Options{State: storedEventsIn(stateDirOf(o.Host))})
	if err != nil {
		return err
	}
	stopProgress := startProgress(o.IO, p, o.JSON)
	// The events learned from are kept for enforce's simulate gate, when
	// the profiles are written: a preview holds no event past its use.
	events := p.Events()
	var kept *eventstore.Batch
	if o.Write {
		kept = eventstore.NewBatch()
		events = keepEvents(events, kept)
	}
	restoreLimit := limitMemory(learnMemoryFloor)
	res, err := sess.Learn(events)
	restoreLimit()
	stopProgress()
	if perr := p.Err(); perr != nil {
		return sourceError(perr)
	}
	if err != nil {
		return &FoundError{Msg: err.Error()}
	}
	var w *profileWriter
	if o.Write {
		w = &profileWriter{ctx: o.Ctx, host: o.Host, dir: sess.Profiles.Dir, include: o.Include}
		w.reload, w.noReload = reloadAfterWrite(o.Ctx, o.Host, &o.hostFlags)
		w.remerge = func() ([]learn.Change, error) {
			set, err := host.LoadProfileSet(sess.Profiles.Dir, o.Include...)
			if err != nil {
				return nil, err
			}
			return learn.Merge(set, res.Profiles, mergeOpts)
		}
	}
	out := learnOut{w: w, stdout: o.Stdout, strict: o.Strict, json: o.JSON, dir: o.Dir, sources: o.Sources}
	rep, err := learnOutput(o.IO, out, res, p.Stats(), kept)
	if rep != nil {
		if jerr := writeJSON(o.IO.Out, rep); jerr != nil {
			return jerr
		}
	}
	return err
}

// learnOut says how learnOutput reports a session.
type learnOut struct {
	w              *profileWriter // nil: preview only
	stdout, strict bool
	json           bool // build the --json report instead of printing
	// dir and sources make the command that accepts a finding.
	dir     string
	sources []string
}

// learnOutput prints what a learning session found and changed (learn and
// record): findings, then the changes as a diff, the files (stdout), or
// written (write); it says when the log was incomplete and keeps the
// events after a write. With out.json it prints nothing on stdout and
// returns the --json report instead (also with the error).
func learnOutput(io_ *IOStreams, out learnOut, res *learn.SessionResult, st source.Stats, kept *eventstore.Batch) (*learnReport, error) {
	write := out.w != nil
	var rep *learnReport
	if out.json {
		rep = newLearnReport(res, st, out.dir, out.sources)
		switch {
		case write:
			rep.Output = "write"
		case out.stdout:
			rep.Output = "stdout"
		default:
			rep.Output = "diff"
		}
	}
	cs, ecs := io_.ColorScheme(), io_.ErrColorScheme()
	for _, f := range res.Accept.Accepted {
		fmt.Fprintf(io_.ErrOut, "accepted %s: %s: %s\n", f.Key(), f.Profile, f.RuleText())
	}
	for _, f := range res.Accept.Refused {
		fmt.Fprintf(io_.ErrOut, "armorer: warning: --accept %s: %s cannot be granted by a decision (%s)\n", f.Key(), f.RuleText(), f.Reason)
	}
	for _, k := range res.Accept.Unmatched {
		fmt.Fprintf(io_.ErrOut, "armorer: warning: --accept %s matches no finding of this run (granted already, or not observed)\n", k)
	}
	if !out.json {
		// Buffered: a large log has thousands of findings, a write each.
		ew := bufio.NewWriter(io_.ErrOut)
		for _, f := range res.Findings {
			ew.WriteString("finding ")
			ew.WriteString(ecs.Severity(f.Severity, f.Key()))
			ew.WriteString(": ")
			ew.WriteString(f.String())
			ew.WriteByte('\n')
		}
		if acceptable(res.Findings) {
			ew.WriteString("armorer: a human decides each finding: grant one with --accept ID (or --accept 'RULE'), with --write\n")
		}
		ew.Flush()
	}
	ow := bufio.NewWriter(io_.Out)
	for _, c := range res.Changes {
		oldName := c.Path
		if c.Old == nil {
			oldName = "/dev/null"
		}
		if rep != nil {
			d := diff.Diff(oldName, c.Old, c.Path, c.New)
			cj := changeJSON{Path: c.Path, NewFile: c.Old == nil,
				Profiles: append([]string{}, c.Profiles...), Diff: string(d), Content: string(c.New)}
			for _, r := range c.Removed {
				cj.Removed = append(cj.Removed, removalJSON{Profile: r.Profile, Rule: r.Rule, By: r.By})
			}
			rep.Changes = append(rep.Changes, cj)
			continue
		}
		switch {
		case write:
		case out.stdout:
			if len(res.Changes) > 1 {
				ow.WriteString("# armorer: " + c.Path + "\n")
			}
			ow.Write(c.New)
		default:
			ow.Write(cs.Diff(diff.Diff(oldName, c.Old, c.Path, c.New)))
		}
	}
	ow.Flush()
	if write {
		written, err := out.w.write(io_, res.Changes)
		if rep != nil {
			for _, f := range written {
				rep.Written = append(rep.Written, writtenJSON{Path: f.Path, Backup: f.Backup})
			}
		}
		if err != nil {
			return rep, err
		}
	}
	if !out.json {
		for _, c := range res.Changes {
			for _, r := range c.Removed {
				fmt.Fprintf(io_.ErrOut, "removed %s: %s (covered by %s)\n", r.Profile, r.Rule, r.By)
			}
		}
	}
	if len(res.Changes) == 0 || !res.Accounting.NothingNew() {
		fmt.Fprintf(io_.ErrOut, "armorer: %s\n", res.Accounting)
	}
	warnIncomplete(io_.ErrOut, "profile learned", st)
	if write && kept != nil {
		// Only when the profile changes for real: a preview has no side
		// effects (and needs no write access to the state directory).
		storeEvents(io_.ErrOut, stateDirOf(out.w.host), kept)
	}
	if out.strict && len(res.Findings) > 0 {
		return rep, &FoundError{Msg: fmt.Sprintf("%d findings held back (--strict)", len(res.Findings))}
	}
	return rep, nil
}

// acceptable says whether any finding can be granted with --accept.
func acceptable(fs []learn.Finding) bool {
	for _, f := range fs {
		if f.Acceptable() {
			return true
		}
	}
	return false
}

// warnIncomplete tells the user that what a command made of the events
// (what: "profile learned", "simulated") comes from an incomplete log:
// lines could not be read or the kernel lost events. It notes rejected
// records too (never used).
func warnIncomplete(w io.Writer, what string, st source.Stats) {
	if st.Incomplete() {
		fmt.Fprintf(w, "armorer: warning: %s from an incomplete log (%s): the result may miss accesses; armorer events --verbose shows the unreadable lines\n", what, statsText(st))
	}
	if st.Rejected > 0 {
		fmt.Fprintf(w, "armorer: warning: %s\n", rejectedNote(st.Rejected))
	}
}

// statsText is the one wording of the pipeline's counts.
func statsText(st source.Stats) string {
	return fmt.Sprintf("%d lines, %d events, %d duplicates, %d unreadable, %d lost, %d rejected",
		st.Lines, st.Events, st.Duplicates, st.Bad, st.Lost, st.Rejected)
}

// keepEvents passes events through, adding each to the batch kept in the
// state directory.
func keepEvents(events iter.Seq[*source.Event], kept *eventstore.Batch) iter.Seq[*source.Event] {
	return func(yield func(*source.Event) bool) {
		for ev := range events {
			kept.Add(ev.Event, ev.Source, ev.Line())
			if !yield(ev) {
				return
			}
		}
	}
}

// defaultLocal is --local's default: local/NAME for packaged profiles.
const defaultLocal = "auto"

// abstractionNames turns --abstractions into include names: nil for the
// default list, "all" for every abstraction of the search path.
func abstractionNames(flag []string) []string {
	if len(flag) == 0 || (len(flag) == 1 && flag[0] == "all") {
		return flag
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
