package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/auditlog"
)

func avc(serial int, name string) string {
	return fmt.Sprintf(`audit: type=1400 audit(1764054001.001:%d): apparmor="DENIED" operation="open" profile="app" name=%q pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`, serial, name)
}

func auditdAVC(serial int, name string) string {
	return fmt.Sprintf(`type=AVC msg=audit(1764054001.001:%d): apparmor="DENIED" operation="open" profile="app" name=%q pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`, serial, name)
}

type seen struct {
	src  string
	line int64
	name string
}

// collect reads the whole pipeline.
func collect(t *testing.T, p *Pipeline) []seen {
	t.Helper()
	var got []seen
	for ev := range p.Events() {
		got = append(got, seen{ev.Source, ev.Line(), ev.String(auditlog.KeyName)})
	}
	if err := p.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	return got
}

func writeLog(t *testing.T, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Files, stdin, state:NAME and k8s:NAME are read in order through one Stream: the
// audit copy of an event in another file is a duplicate, and every count
// covers all of them.
func TestPipelineWholeInputs(t *testing.T) {
	a := writeLog(t, "kern.log", avc(1, "/a"), `audit: type=1400 audit(1764054001.x:9): apparmor="DENIED"`, avc(2, "/b"), "kauditd_printk_skb: 3 callbacks suppressed")
	b := writeLog(t, "audit.log", auditdAVC(2, "/b"), auditdAVC(3, "/c"))
	var bad []string
	p, err := Open(context.Background(), []string{a, "auditd:" + b, "-", "state:app", "k8s:ns/web"}, Options{
		Stdin: strings.NewReader(avc(4, "/d") + "\n"),
		State: func(name string) (io.Reader, error) {
			if name != "app" {
				return nil, fmt.Errorf("no %s", name)
			}
			return strings.NewReader(auditdAVC(5, "/e") + "\n"), nil
		},
		K8s: func(name string) (io.Reader, error) {
			if name != "ns/web" {
				return nil, fmt.Errorf("no %s", name)
			}
			return strings.NewReader(auditdAVC(6, "/f") + "\n"), nil
		},
		OnBad: func(e *auditlog.SyntaxError) { bad = append(bad, e.Error()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, p)
	want := []seen{{a, 1, "/a"}, {a, 3, "/b"}, {"auditd:" + b, 2, "/c"}, {"-", 1, "/d"}, {"state:app", 1, "/e"}, {"k8s:ns/web", 1, "/f"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events\n%v\nwant\n%v", got, want)
	}
	if st := p.Stats(); st != (Stats{Lines: 9, Events: 6, Duplicates: 1, Bad: 1, Lost: 3}) {
		t.Errorf("stats %+v", st)
	}
	if len(bad) != 1 || !strings.HasPrefix(bad[0], a+":2:") {
		t.Errorf("bad lines %v", bad)
	}
}

// Every SOURCE is checked before anything is read.
func TestPipelineOpenErrors(t *testing.T) {
	ok := writeLog(t, "ok.log", avc(1, "/a"))
	for _, tc := range []struct {
		specs []string
		opts  Options
		want  any
		msg   string
	}{
		{[]string{ok, "/nonexistent/x.log"}, Options{}, new(*UnavailableError), "no such file"},
		{[]string{"auditd:/nonexistent/audit.log"}, Options{}, new(*UnavailableError), "is auditd installed"},
		{[]string{ok, "bogus:"}, Options{}, new(*SpecError), `unknown source scheme "bogus:"`},
		{[]string{"-"}, Options{}, new(*SpecError), "stdin"},
		{[]string{"state:app"}, Options{}, new(*SpecError), "event store"},
		{[]string{"state:"}, Options{State: func(string) (io.Reader, error) { return nil, nil }}, new(*SpecError), "state:NAME"},
		{[]string{"state:app"}, Options{State: func(string) (io.Reader, error) { return nil, os.ErrPermission }}, new(*UnavailableError), "permission"},
		{[]string{"k8s:web"}, Options{State: func(string) (io.Reader, error) { return nil, nil }}, new(*SpecError), "Kubernetes"},
		{[]string{"k8s:"}, Options{K8s: func(string) (io.Reader, error) { return nil, nil }}, new(*SpecError), "k8s:NAME"},
		{[]string{t.TempDir()}, Options{}, new(*UnavailableError), "is a directory"},
	} {
		_, err := Open(context.Background(), tc.specs, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: error %v, want one saying %q", tc.specs, err, tc.msg)
			continue
		}
		switch w := tc.want.(type) {
		case **UnavailableError:
			if !errors.As(err, w) {
				t.Errorf("%v: %T, want *UnavailableError", tc.specs, err)
			}
		case **SpecError:
			if !errors.As(err, w) {
				t.Errorf("%v: %T, want *SpecError", tc.specs, err)
			}
		}
	}
}

// Followed sources run concurrently into one Stream: the same event in
// two files is delivered once. The pipeline calls OnIdle when it has
// caught up, and ends when its context does.
func TestPipelineFollowDedup(t *testing.T) {
	a := writeLog(t, "a.log", avc(1, "/a"), avc(2, "/b"))
	b := writeLog(t, "b.log", auditdAVC(2, "/b"), auditdAVC(3, "/c"))
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	var p *Pipeline
	stop, stopped := context.WithCancel(context.Background())
	p, err := Open(stop, []string{a, b}, Options{Follow: true, OnIdle: func() {
		if st := p.Stats(); st.Lines == 4 {
			stopped()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for ev := range p.Events() {
		names[ev.String(auditlog.KeyName)]++
	}
	if ctx.Err() != nil {
		t.Fatalf("timed out; got %v", names)
	}
	if names["/a"] != 1 || names["/b"] != 1 || names["/c"] != 1 {
		t.Errorf("events %v", names)
	}
	if st := p.Stats(); st.Events != 3 || st.Duplicates != 1 || p.Err() != nil {
		t.Errorf("stats %+v, err %v", st, p.Err())
	}
}

// Leaving the loop stops the live sources and ends the iteration.
func TestPipelineBreak(t *testing.T) {
	a := writeLog(t, "a.log", avc(1, "/a"), avc(2, "/b"))
	p, err := Open(context.Background(), []string{a}, Options{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range p.Events() {
			break
		}
	}()
	select {
	case <-done:
	case <-time.After(waitTime):
		t.Fatal("the iteration did not end after break")
	}
}

// fakeSource delivers lines from a position on, then fails: a source that
// goes away.
type fakeSource struct {
	counters
	name  string
	lines []string
	from  int64 // resume: deliver lines after this one
	err   error
}

func (f *fakeSource) Name() string       { return f.name }
func (f *fakeSource) Stats() SourceStats { return f.counters.Stats() }
func (f *fakeSource) Close() error       { return nil }
func (f *fakeSource) Run(ctx context.Context, out chan<- Record) error {
	snd := newSender(&f.counters, out, f.name, FullWait, false)
	for i := f.from; i < int64(len(f.lines)); i++ {
		if err := snd.send(ctx, []byte(f.lines[i]), Position{Line: i + 1}); err != nil {
			return err
		}
	}
	f.lost.Add(1)
	if f.err != nil {
		return f.err
	}
	<-ctx.Done()
	return ctx.Err()
}

// With Retry, a failed source is reopened (the preferred one first, with
// FirstOf) and resumes after the last record it delivered; every run's
// losses count; OnSource sees each state.
func TestPipelineRetryResumes(t *testing.T) {
	lines := []string{avc(1, "/a"), avc(2, "/b"), "not apparmor", avc(3, "/c")}
	var mu sync.Mutex
	var log []string
	opens := 0
	open := func(spec string, opts SourceOptions) (Source, error) {
		mu.Lock()
		defer mu.Unlock()
		if spec == "netlink:" {
			return nil, &UnavailableError{Source: spec, What: "bind", Err: os.ErrPermission}
		}
		opens++
		from := int64(0)
		if opts.Resume != nil {
			from = opts.Resume.Line
		}
		log = append(log, fmt.Sprintf("open %s from %d fromEnd %v", spec, from, opts.FromEnd))
		f := &fakeSource{name: spec, lines: lines, from: from}
		if opens == 1 {
			f.lines, f.err = lines[:2], errors.New("gone")
		}
		return f, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	var states []string
	p, err := Open(ctx, []string{"netlink:", "auditd:"}, Options{
		Follow: true, FromEnd: true, FirstOf: true, Retry: time.Millisecond, OpenSource: open,
		OnSource: func(spec string, err error) {
			mu.Lock()
			defer mu.Unlock()
			states = append(states, fmt.Sprintf("%s %v", spec, err != nil))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for ev := range p.Events() {
		names = append(names, ev.String(auditlog.KeyName))
		if len(names) == 3 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(names) != "[/a /b /c]" {
		t.Errorf("events %v, want each once", names)
	}
	if want := "[open auditd: from 0 fromEnd true open auditd: from 2 fromEnd false]"; fmt.Sprint(log) != want {
		t.Errorf("opens %v\nwant %s", log, want)
	}
	if want := "[netlink: true auditd: false auditd: true netlink: true auditd: false]"; fmt.Sprint(states) != want {
		t.Errorf("source states %v\nwant %s", states, want)
	}
	if st := p.Stats(); st.Lost != 2 || st.Lines != 4 {
		t.Errorf("stats %+v: want the losses of both runs and 4 lines", st)
	}
}

// Without Retry, FirstOf fails when no SOURCE opens, naming each failure.
func TestPipelineFirstOfNoneOpens(t *testing.T) {
	open := func(spec string, _ SourceOptions) (Source, error) {
		return nil, &UnavailableError{Source: spec, What: "open", Err: os.ErrNotExist}
	}
	_, err := Open(context.Background(), []string{"netlink:", "kmsg:"}, Options{FirstOf: true, Follow: true, OpenSource: open})
	if err == nil || !strings.Contains(err.Error(), `"netlink:"`) || !strings.Contains(err.Error(), `"kmsg:"`) {
		t.Errorf("error %v", err)
	}
}
