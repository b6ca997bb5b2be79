package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/host"
)

type eventsOptions struct {
	IO      *IOStreams
	Ctx     context.Context
	Sources []string
	JSON    bool
	Follow  bool
	Denied  bool
	Profile string
	Summary bool
	Top     int
	Verbose bool
	// StateDir is where state:NAME reads ("": the environment's).
	StateDir string
}

func newEventsCmd(f *Factory, runF func(*eventsOptions) error) *cobra.Command {
	o := &eventsOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "events [SOURCE...]",
		Short: "Read AppArmor audit events from logs and live sources",
		Long: `Read AppArmor audit events from every log format Linux writes them in and print them,
one per line, or as JSON objects (--json), or as counts (--summary).

A SOURCE is a file path (the format is detected per line; journalctl -o export per file),
- for stdin (the default), kmsg: (the kernel ring buffer), journal:[PATH] (journalctl),
auditd:[PATH] (default /var/log/audit/audit.log) or netlink: (the audit multicast group).
The same event delivered twice (the kernel's printk copy and its audit copy) is shown once,
even across sources. With --follow, files are read line by line as they grow, so a
journalctl -o export file is only recognised when read without --follow.

Unreadable lines are counted (--verbose shows each with its position); events the kernel
reports lost (audit_lost=, callbacks suppressed, /dev/kmsg overruns) are counted too.
Only records the kernel or auditd wrote are events: an AppArmor record inside another
program's syslog message or a journal entry of another transport is rejected (counted,
shown with --verbose): any user can write such text into the system log.`,
		GroupID: "events",
		Example: `  armorer events /var/log/kern.log --denied
  journalctl -k -o json | armorer events - --json --profile myapp
  armorer events kmsg: --follow
  armorer events /var/log/audit/audit.log --summary`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Sources = args
			if len(o.Sources) == 0 {
				o.Sources = []string{"-"}
			}
			if o.Top < 0 || (o.Top > 0 && !o.Summary) {
				return usageErrorf("--top N goes with --summary, N at least 0")
			}
			o.Ctx = cmd.Context()
			if runF != nil {
				return runF(o)
			}
			return eventsRun(o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.JSON, "json", false, "print one JSON object per event (or the summary as JSON)")
	fl.BoolVarP(&o.Follow, "follow", "f", false, "keep reading as events arrive (files across rotation, kmsg:, journal:)")
	fl.BoolVar(&o.Denied, "denied", false, "only denials (apparmor=\"DENIED\"), not complain-mode or audit events")
	fl.StringVar(&o.Profile, "profile", "", "only events of profile `P`, its children and hats (P//…) and stacks containing it")
	fl.BoolVar(&o.Summary, "summary", false, "print counts per profile, class, operation and path, most frequent first")
	fl.IntVar(&o.Top, "top", 0, "with --summary: only the `N` most frequent of each (0: all)")
	fl.BoolVarP(&o.Verbose, "verbose", "v", false, "show each unreadable line with its position, and the stream statistics")
	fl.StringVar(&o.StateDir, "state-dir", "", "armorer's state `DIR`, where state:NAME reads (default $"+EnvStateDir+", else "+host.DefaultStateDir+")")
	return cmd
}

// eventsRun reads every source through one pipeline, so that duplicates
// across sources are dropped and the statistics cover them all.
func eventsRun(o *eventsOptions) error {
	out := bufio.NewWriterSize(o.IO.Out, 64*1024)
	defer out.Flush()
	sink := newEventSink(o, out)
	opts := source.Options{
		Follow: o.Follow,
		State:  storedEventsIn(cmp.Or(o.StateDir, HostPathsFromEnv().StateDir)),
		OnBad: func(e *auditlog.SyntaxError) {
			if o.Verbose {
				fmt.Fprintf(o.IO.ErrOut, "armorer: %v\n", e)
			}
		},
		OnRejected: func(e *auditlog.RejectedError) {
			if o.Verbose {
				fmt.Fprintf(o.IO.ErrOut, "armorer: %v\n", e)
			}
		},
	}
	if o.Summary {
		// The summary reads a few fields: the parser stores only those.
		opts.Only = append(auditlog.ClassKeys(), auditlog.KeyApparmor, auditlog.KeyProfile, auditlog.KeyLabel,
			auditlog.KeyOperation, auditlog.KeyName)
		if !o.Follow {
			// Its heap is its counts, which only grow: collected less
			// often (GOGC=200 under a limit, as learn), each collection's
			// write barriers slow the parser less often.
			defer limitMemory(summaryMemoryFloor)()
		}
	}
	if o.Follow {
		opts.OnIdle = func() { out.Flush() } // caught up: show what we have
	}
	p, err := openEvents(o.Ctx, o.IO, o.Sources, opts)
	if err != nil {
		return err
	}
	// Only --summary prints its result at the end: a progress line
	// would interleave with events printed as they come.
	stopProgress := startProgress(o.IO, p, !o.Summary || o.JSON || o.Follow)
	for ev := range p.Events() {
		if err := sink.event(ev.Event, ev.Source, ev.Line()); err != nil {
			stopProgress()
			return err
		}
	}
	stopProgress()
	err = p.Err()
	if ferr := sink.finish(p.Stats()); err == nil {
		err = ferr
	}
	if err != nil {
		return sourceError(err)
	}
	return nil
}

// openEvents opens the event pipeline every command reads its SOURCEs
// through: stdin from io, state:NAME from the event store (opts.State, by
// default the environment's state directory), k8s:NAME from the node
// agents' publications.
func openEvents(ctx context.Context, io_ *IOStreams, specs []string, opts source.Options) (*source.Pipeline, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	opts.Stdin = io_.In
	if opts.State == nil {
		opts.State = storedEvents
	}
	opts.K8s = fleetEvents(ctx, io_.ErrOut)
	p, err := source.Open(ctx, specs, opts)
	if err != nil {
		return nil, sourceError(err)
	}
	return p, nil
}

// sourceError maps the pipeline's errors to exit codes: a malformed SOURCE
// or an unreadable file the user named is a usage error; a live source
// that cannot be used here, auditd's default log missing (no auditd) and a
// permission problem are environment failures.
func sourceError(err error) error {
	var se *source.SpecError
	if errors.As(err, &se) {
		return &FlagError{Err: err}
	}
	var ue *source.UnavailableError
	if !errors.As(err, &ue) {
		return err
	}
	msg := errors.New(sourceMessage(ue))
	switch {
	case strings.HasPrefix(ue.Source, source.StateScheme),
		ue.Source == "auditd:",
		errors.Is(ue.Err, fs.ErrPermission):
		return &EnvError{Err: msg}
	}
	if _, isFile := filePath(ue.Source); isFile {
		return &FlagError{Err: msg} // an unreadable file is a usage error
	}
	return &EnvError{Err: msg}
}

// sourceMessage says what failed for a SOURCE, naming it once: "cannot
// open app.log: ...", "auditd: cannot open /var/log/audit/audit.log: ...
// (hint)", "kmsg: cannot open /dev/kmsg: ...".
func sourceMessage(ue *source.UnavailableError) string {
	var b strings.Builder
	scheme, _, isScheme := strings.Cut(ue.Source, ":")
	if isScheme && ue.Source != "-" && strings.Trim(scheme, "abcdefghijklmnopqrstuvwxyz") == "" && scheme != "" {
		b.WriteString(scheme + ": ")
	}
	what := ue.What
	if what == "" {
		what = "read " + ue.Source
	}
	fmt.Fprintf(&b, "cannot %s: %v", what, ue.Err)
	if ue.Hint != "" {
		b.WriteString(" (" + ue.Hint + ")")
	}
	return b.String()
}

// filePath says whether spec is a file (a path, -, or auditd:[PATH]).
func filePath(spec string) (string, bool) {
	if spec == "-" {
		return spec, true
	}
	if p, ok := strings.CutPrefix(spec, "auditd:"); ok {
		if p == "" {
			p = source.DefaultAuditdLog
		}
		return p, true
	}
	if i := strings.IndexByte(spec, ':'); i > 0 && spec[0] >= 'a' && spec[0] <= 'z' && strings.Trim(spec[:i], "abcdefghijklmnopqrstuvwxyz0123456789") == "" {
		return "", false // a scheme: kmsg:, journal:, netlink:, or an unknown one source.Open reports
	}
	return spec, true
}

// eventSink filters events and prints them or counts them for --summary.
type eventSink struct {
	o      *eventsOptions
	out    *bufio.Writer
	buf    []byte
	shown  uint64
	denied uint64
	counts [4]*tally // profile, class, operation, path
	// classes counts the classes before counts[1] does: they are few and
	// mostly auditlog's constants, which compare without reading their
	// bytes, where a tally hashes each.
	classes []classCount
	color   *ColorScheme
}

type classCount struct {
	c auditlog.Class
	n uint64
}

// countClass counts c once more.
func (s *eventSink) countClass(c auditlog.Class) {
	for i := range s.classes {
		if s.classes[i].c == c {
			s.classes[i].n++
			return
		}
	}
	if len(s.classes) == 16 { // not the kernel's: count there
		s.counts[1].add([]byte(c))
		return
	}
	s.classes = append(s.classes, classCount{c, 1})
}

var summaryTitles = [4]string{"profile", "class", "operation", "path"}

func newEventSink(o *eventsOptions, out *bufio.Writer) *eventSink {
	s := &eventSink{o: o, out: out, color: o.IO.ColorScheme()}
	for i := range s.counts {
		s.counts[i] = newTally()
	}
	return s
}

func (s *eventSink) event(ev *auditlog.Event, src string, line int64) error {
	denied := ev.Denied()
	if s.o.Denied && !denied {
		return nil
	}
	label := ev.Value(auditlog.KeyProfile)
	if len(label) == 0 {
		label = ev.Value(auditlog.KeyLabel)
	}
	if s.o.Profile != "" && !auditlog.LabelMatches(string(label), s.o.Profile) {
		return nil
	}
	s.shown++
	if denied {
		s.denied++
	}
	if s.o.Summary {
		c := ev.Class()
		s.counts[0].add(label)
		s.countClass(c)
		s.counts[2].add(ev.Value(auditlog.KeyOperation))
		if ev.Has(auditlog.KeyName) && (c == auditlog.ClassFile || c == auditlog.ClassMount || c == auditlog.ClassMqueue) {
			s.counts[3].add(ev.Value(auditlog.KeyName))
		}
		return nil
	}
	if s.o.JSON {
		s.buf = ev.AppendJSON(s.buf[:0], src, line)
	} else {
		s.buf = appendEventText(s.buf[:0], ev)
		if s.color.Enabled() && ev.Denied() {
			s.buf = colorWord(s.buf, "DENIED", s.color.Denied("DENIED"))
		}
	}
	s.buf = append(s.buf, '\n')
	_, err := s.out.Write(s.buf)
	return err
}

// appendEventText formats an event for people: time, outcome, profile,
// operation, class, what was accessed, the masks, comm and pid.
func appendEventText(b []byte, ev *auditlog.Event) []byte {
	word := func(v []byte) {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		switch {
		case len(v) == 0:
			b = append(b, '-')
		case strings.ContainsAny(string(v), " \t\n\"\\") || !isPrintable(v):
			b = strconv.AppendQuote(b, string(v))
		default:
			b = append(b, v...)
		}
	}
	if ev.Time.IsZero() {
		word(nil)
	} else {
		b = ev.Time.Time().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	word(ev.Value(auditlog.KeyApparmor))
	word(ev.Label())
	word(ev.Value(auditlog.KeyOperation))
	word([]byte(ev.Class()))
	var what []byte
	for _, k := range []auditlog.Key{auditlog.KeyName, auditlog.KeyCapname, auditlog.KeySignal, auditlog.KeyFamily, auditlog.KeyMember} {
		if v := ev.Value(k); v != nil {
			what = v
			break
		}
	}
	word(what)
	mask := ev.Value(auditlog.KeyDeniedMask)
	if mask == nil {
		mask = ev.Value(auditlog.KeyRequestedMask)
	}
	word(mask)
	for _, kv := range []struct {
		k    auditlog.Key
		name string
	}{{auditlog.KeyPeer, "peer="}, {auditlog.KeyTarget, "target="}, {auditlog.KeyInfo, "info="}, {auditlog.KeyComm, "comm="}, {auditlog.KeyPID, "pid="}} {
		if v := ev.Value(kv.k); v != nil {
			b = append(b, ' ')
			b = append(b, kv.name...)
			if strings.ContainsAny(string(v), " \t\n\"\\") || !isPrintable(v) {
				b = strconv.AppendQuote(b, string(v))
			} else {
				b = append(b, v...)
			}
		}
	}
	return b
}

// colorWord replaces the first " word " of b by " colored ".
func colorWord(b []byte, word, colored string) []byte {
	i := bytes.Index(b, []byte(" "+word+" "))
	if i < 0 {
		return b
	}
	return slices.Concat(b[:i+1], []byte(colored), b[i+1+len(word):])
}

// appendCountLine appends one line of the summary: the count right-aligned
// in 8 columns (as %8d), two spaces and the name, "-" when empty, quoted
// when it is not printable UTF-8 (e.quote).
func appendCountLine(b []byte, e countEntry) []byte {
	var num [20]byte
	digits := strconv.AppendInt(num[:0], int64(e.Count), 10)
	for range 8 - len(digits) {
		b = append(b, ' ')
	}
	b = append(b, digits...)
	b = append(b, "  "...)
	switch {
	case e.Name == "":
		b = append(b, '-')
	case e.quote:
		b = strconv.AppendQuote(b, e.Name)
	default:
		b = append(b, e.Name...)
	}
	return append(b, '\n')
}

// plainText reports whether s is printable UTF-8 (utf8.Valid and
// isPrintable), in one pass over ASCII, 8 bytes at a time (it is asked of
// every name the summary counts).
func plainText(s []byte) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// A byte below 0x20 borrows into its top bit; 0x7f carries into
		// it; one from 0x80 has it.
		if ((v-0x2020202020202020)&^v|(v+0x0101010101010101)|v)&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return c >= 0x80 && utf8.Valid(s[i:]) && isPrintable(s[i:])
		}
	}
	return true
}

func isPrintable[T []byte | string](v T) bool {
	for i := range len(v) {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

type countEntry struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	quote bool   // Name is not printable UTF-8 (plainText): printed quoted
}

// finish prints the summary, and on stderr what the user should know:
// unreadable lines and lost events.
func (s *eventSink) finish(stats source.Stats) error {
	if s.o.Summary {
		for _, cc := range s.classes {
			s.counts[1].addN([]byte(cc.c), cc.n)
		}
		s.classes = nil
		if s.o.JSON {
			sum := map[string]any{
				"schema": schemaName("events-summary"),
				"events": s.shown, "denied": s.denied, "lost": stats.Lost,
				"duplicates": stats.Duplicates, "bad_lines": stats.Bad, "rejected": stats.Rejected,
			}
			distinct := map[string]int{}
			for i, t := range summaryTitles {
				sum[t] = s.counts[i].sorted(s.o.Top)
				distinct[t] = s.counts[i].len()
			}
			if s.o.Top > 0 {
				sum["top"] = s.o.Top
				sum["distinct"] = distinct
			}
			js, err := json.Marshal(sum)
			if err != nil {
				return err
			}
			s.out.Write(append(js, '\n'))
		} else {
			fmt.Fprintf(s.out, "events %d (denied %d), lost %d, duplicates %d, unreadable lines %d",
				s.shown, s.denied, stats.Lost, stats.Duplicates, stats.Bad)
			if stats.Rejected > 0 {
				fmt.Fprintf(s.out, ", rejected %d", stats.Rejected)
			}
			fmt.Fprintln(s.out)
			for i, t := range summaryTitles {
				entries := s.counts[i].sorted(s.o.Top)
				if len(entries) == 0 {
					continue
				}

				fmt.Fprintf(s.out, "\n%s:\n", t)
				for _, e := range entries {
					s.buf = appendCountLine(s.buf[:0], e)
					s.out.Write(s.buf)
				}
				if more := s.counts[i].len() - len(entries); more > 0 {
					fmt.Fprintf(s.out, "       …  %d more (--top %d)\n", more, s.o.Top)
				}
			}
		}
	}
	if err := s.out.Flush(); err != nil {
		return err
	}
	if s.o.Verbose {
		fmt.Fprintf(s.o.IO.ErrOut, "armorer: %d lines, %d events, %d shown, %d duplicates, %d lost, %d unreadable",
			stats.Lines, stats.Events, s.shown, stats.Duplicates, stats.Lost, stats.Bad)
		if stats.Rejected > 0 {
			fmt.Fprintf(s.o.IO.ErrOut, ", %d rejected", stats.Rejected)
		}
		fmt.Fprintln(s.o.IO.ErrOut)
		return nil
	}
	if stats.Bad > 0 {
		fmt.Fprintf(s.o.IO.ErrOut, "armorer: %d lines looked like AppArmor events but could not be read (--verbose shows them)\n", stats.Bad)
	}
	if stats.Rejected > 0 {
		fmt.Fprintf(s.o.IO.ErrOut, "armorer: %s\n", rejectedNote(stats.Rejected))
	}
	if stats.Lost > 0 && !s.o.Summary {
		fmt.Fprintf(s.o.IO.ErrOut, "armorer: the kernel reported %d events lost\n", stats.Lost)
	}
	return nil
}

// rejectedNote says that n records were not used as evidence.
func rejectedNote(n uint64) string {
	return fmt.Sprintf("%d AppArmor records were rejected: not written by the kernel or auditd (any program can write such text to the system log); --verbose shows them", n)
}
