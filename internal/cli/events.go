package cli

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
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
	Verbose bool
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
reports lost (audit_lost=, callbacks suppressed, /dev/kmsg overruns) are counted too.`,
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
	fl.BoolVarP(&o.Verbose, "verbose", "v", false, "show each unreadable line with its position, and the stream statistics")
	return cmd
}

// eventsRun reads every source into one Stream, so that duplicates across
// sources are dropped and the statistics cover them all.
func eventsRun(o *eventsOptions) error {
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	out := bufio.NewWriterSize(o.IO.Out, 64*1024)
	defer out.Flush()
	sink := newEventSink(o, out)
	var st auditlog.Stream
	onBad := func(e *auditlog.SyntaxError) {
		sink.bad++
		if o.Verbose {
			fmt.Fprintf(o.IO.ErrOut, "armorer: %v\n", e)
		}
	}

	var live []string
	for _, spec := range o.Sources {
		if stored, ok, err := stateSource(spec); ok { // state:NAME, the event store
			if err == nil {
				err = readFile(spec, "-", stored, &st, onBad, sink)
			}
			if err != nil {
				return err
			}
			continue
		}
		path, isFile := filePath(spec)
		if o.Follow || !isFile {
			live = append(live, spec)
			continue
		}
		if err := readFile(spec, path, o.IO.In, &st, onBad, sink); err != nil {
			return err
		}
	}
	if len(live) > 0 {
		if err := readLive(ctx, o, live, &st, onBad, sink); err != nil {
			out.Flush()
			sink.finish(&st)
			return err
		}
	}
	return sink.finish(&st)
}

// filePath says whether spec is read as a whole file (a path, -, or
// auditd:[PATH]) and which.
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
	if i := strings.IndexByte(spec, ':'); i > 0 && strings.Trim(spec[:i], "abcdefghijklmnopqrstuvwxyz") == "" {
		return "", false // a scheme: kmsg:, journal:, netlink:, or an unknown one source.Open reports
	}
	return spec, true
}

func readFile(spec, path string, stdin io.Reader, st *auditlog.Stream, onBad func(*auditlog.SyntaxError), sink *eventSink) error {
	var in io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			err = fmt.Errorf("cannot read source %s: %w", spec, err)
			if strings.HasPrefix(spec, "auditd:") && errors.Is(err, fs.ErrNotExist) {
				err = fmt.Errorf("%w (is auditd installed and running? Without auditd, read netlink:, journal: or kmsg:)", err)
			}
			return &FlagError{Err: err}
		}
		defer f.Close()
		in = f
	}
	r := auditlog.NewReader(in, auditlog.ReaderOptions{Name: spec, Stream: st, OnBad: onBad})
	for r.Next() {
		if err := sink.event(r.Event(), spec, r.Line()); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return &FlagError{Err: fmt.Errorf("read %s: %w", spec, err)}
	}
	return nil
}

// readLive runs the live (or followed) sources concurrently and parses
// their records here, in one goroutine.
func readLive(ctx context.Context, o *eventsOptions, specs []string, st *auditlog.Stream, onBad func(*auditlog.SyntaxError), sink *eventSink) error {
	var srcs []source.Source
	for _, spec := range specs {
		src, err := source.Open(spec, source.Options{Follow: o.Follow, Stdin: o.IO.In})
		if err != nil {
			for _, s := range srcs {
				s.Close()
			}
			return sourceError(err)
		}
		srcs = append(srcs, src)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make(chan source.Record, 1024)
	errs := make(chan error, len(srcs))
	var wg sync.WaitGroup
	for _, src := range srcs {
		wg.Go(func() { errs <- src.Run(ctx, recs) })
	}
	go func() { wg.Wait(); close(recs) }()

	p := auditlog.NewParser()
	var ev auditlog.Event
	for rec := range recs {
		line := rec.Pos.Line
		if line == 0 {
			line = int64(rec.Pos.Seq)
		}
		st.Stats.Lines++
		if err := p.Parse(rec.Data, &ev); err != nil {
			var se *auditlog.SyntaxError
			if !errors.As(err, &se) {
				se = &auditlog.SyntaxError{Col: 1, Msg: err.Error()}
			}
			st.Stats.Bad++
			se.File, se.Line = rec.Source, line
			onBad(se)
			continue
		}
		if st.Add(&ev) {
			if err := sink.event(&ev, rec.Source, line); err != nil {
				cancel()
				return err
			}
		}
		if o.Follow && len(recs) == 0 { // caught up: show what we have
			sink.out.Flush()
		}
	}
	close(errs)
	for _, src := range srcs {
		// Records a full channel dropped are lost to the reader as surely as kernel losses.
		st.Stats.Lost += src.Stats().Lost + src.Stats().Dropped
	}
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return sourceError(err)
		}
	}
	return nil
}

func sourceError(err error) error {
	var se *source.SpecError
	if errors.As(err, &se) {
		return &FlagError{Err: err}
	}
	var ue *source.UnavailableError
	if errors.As(err, &ue) && ue.Source != "-" && !strings.HasPrefix(ue.Source, "auditd:") && strings.Contains(ue.Source, ":") {
		return &EnvError{Err: err}
	}
	if errors.As(err, &ue) {
		return &FlagError{Err: err} // an unreadable file is a usage error
	}
	return err
}

// eventSink filters events and prints them or counts them for --summary.
type eventSink struct {
	o       *eventsOptions
	out     *bufio.Writer
	buf     []byte
	bad     uint64
	shown   uint64
	denied  uint64
	counts  [4]map[string]int // profile, class, operation, path
	profBuf []byte
}

var summaryTitles = [4]string{"profile", "class", "operation", "path"}

func newEventSink(o *eventsOptions, out *bufio.Writer) *eventSink {
	s := &eventSink{o: o, out: out}
	for i := range s.counts {
		s.counts[i] = map[string]int{}
	}
	return s
}

func (s *eventSink) event(ev *auditlog.Event, src string, line int64) error {
	if s.o.Denied && !ev.Denied() {
		return nil
	}
	label := ev.String(auditlog.KeyProfile) // interned: no allocation per event
	if label == "" {
		label = ev.String(auditlog.KeyLabel)
	}
	if s.o.Profile != "" && !auditlog.LabelMatches(label, s.o.Profile) {
		return nil
	}
	s.shown++
	if ev.Denied() {
		s.denied++
	}
	if s.o.Summary {
		s.counts[0][label]++
		s.counts[1][string(ev.Class())]++
		s.counts[2][ev.String(auditlog.KeyOperation)]++
		if c := ev.Class(); ev.Has(auditlog.KeyName) && (c == auditlog.ClassFile || c == auditlog.ClassMount || c == auditlog.ClassMqueue) {
			s.counts[3][string(ev.Value(auditlog.KeyName))]++
		}
		return nil
	}
	if s.o.JSON {
		s.buf = ev.AppendJSON(s.buf[:0], src, line)
	} else {
		s.buf = appendEventText(s.buf[:0], ev)
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

func isPrintable(v []byte) bool {
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

type countEntry struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func sortedCounts(m map[string]int) []countEntry {
	out := make([]countEntry, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, countEntry{k, m[k]})
	}
	slices.SortStableFunc(out, func(a, b countEntry) int { return cmp.Compare(b.Count, a.Count) })
	return out
}

// finish prints the summary, and on stderr what the user should know:
// unreadable lines and lost events.
func (s *eventSink) finish(st *auditlog.Stream) error {
	stats := st.Stats
	if s.o.Summary {
		if s.o.JSON {
			sum := map[string]any{
				"events": s.shown, "denied": s.denied, "lost": stats.Lost,
				"duplicates": stats.Duplicates, "bad_lines": stats.Bad,
			}
			for i, t := range summaryTitles {
				sum[t] = sortedCounts(s.counts[i])
			}
			js, err := json.Marshal(sum)
			if err != nil {
				return err
			}
			s.out.Write(append(js, '\n'))
		} else {
			fmt.Fprintf(s.out, "events %d (denied %d), lost %d, duplicates %d, unreadable lines %d\n",
				s.shown, s.denied, stats.Lost, stats.Duplicates, stats.Bad)
			for i, t := range summaryTitles {
				entries := sortedCounts(s.counts[i])
				if len(entries) == 0 {
					continue
				}
				fmt.Fprintf(s.out, "\n%s:\n", t)
				for _, e := range entries {
					name := e.Name
					switch {
					case name == "":
						name = "-"
					case !utf8.ValidString(name) || !isPrintable([]byte(name)):
						name = strconv.Quote(name)
					}
					fmt.Fprintf(s.out, "%8d  %s\n", e.Count, name)
				}
			}
		}
	}
	if err := s.out.Flush(); err != nil {
		return err
	}
	if s.o.Verbose {
		fmt.Fprintf(s.o.IO.ErrOut, "armorer: %d lines, %d events, %d shown, %d duplicates, %d lost, %d unreadable\n",
			stats.Lines, stats.Events, s.shown, stats.Duplicates, stats.Lost, stats.Bad)
		return nil
	}
	if stats.Bad > 0 {
		fmt.Fprintf(s.o.IO.ErrOut, "armorer: %d lines looked like AppArmor events but could not be read (--verbose shows them)\n", stats.Bad)
	}
	if stats.Lost > 0 && !s.o.Summary {
		fmt.Fprintf(s.o.IO.ErrOut, "armorer: the kernel reported %d events lost\n", stats.Lost)
	}
	return nil
}
