package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/armorer-dev/armorer/auditlog/source"
)

// A denial line as Debian 13's kernel 6.12 printed it (auditlog/testdata/kernel).
func deniedLine(serial int, name string) string {
	return fmt.Sprintf(`[    4.723123] audit: type=1400 audit(1795600186.738:%d): apparmor="DENIED" operation="open" class="file" profile="probe" name=%q pid=210 comm="probe" requested_mask="a" denied_mask="a" fsuid=0 ouid=0`, serial, name)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func counterValue(t *testing.T, m *Monitor, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, metric := range mf.Metric {
			for _, l := range metric.Label {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			if c := metric.GetCounter(); c != nil {
				return c.GetValue()
			}
			return metric.GetGauge().GetValue()
		}
	}
	return 0
}

// TestRunnerFollowsRealFile follows a real log file: only lines written after
// start are counted, the same event twice is counted once, and a rotation is
// followed.
func TestRunnerFollowsRealFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kern.log")
	old := deniedLine(1, "/old") + "\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(Options{}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &Runner{Monitor: m, Specs: []string{path}, MinBackoff: 10 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, "source up", func() bool { return counterValue(t, m, "armorer_monitor_source_up", nil) == 1 })

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 6; i++ {
		fmt.Fprintln(f, deniedLine(i, fmt.Sprintf("/opt/app/f%d", i)))
	}
	fmt.Fprintln(f, deniedLine(6, "/opt/app/f6")) // the same event again (serial 6)
	fmt.Fprintln(f, "Nov 25 07:00:00 host kernel: something unrelated")
	f.Close()
	labels := map[string]string{"profile": "probe", "operation": "open", "class": "file"}
	waitFor(t, "5 denials", func() bool { return counterValue(t, m, "armorer_apparmor_denials_total", labels) == 5 })

	// Rotate: rename, then a new file at the same path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(deniedLine(7, "/opt/app/f7")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the denial after rotation", func() bool { return counterValue(t, m, "armorer_apparmor_denials_total", labels) == 6 })
	cancel()
	<-done
	if got := counterValue(t, m, "armorer_apparmor_denials_total", labels); got != 6 {
		t.Errorf("denials = %v, want 6 (the line present before start must not count)", got)
	}
}

// fakeSource delivers its records, then fails.
type fakeSource struct {
	name string
	recs []string
	err  error
}

func (f *fakeSource) Name() string              { return f.name }
func (f *fakeSource) Stats() source.SourceStats { return source.SourceStats{Lost: 2} }
func (f *fakeSource) Close() error              { return nil }
func (f *fakeSource) Run(ctx context.Context, out chan<- source.Record) error {
	for i, r := range f.recs {
		select {
		case out <- source.Record{Data: []byte(r), Source: f.name, Pos: source.Position{Line: int64(i + 1)}}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.err == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

// TestRunnerFailover: in auto mode, an unavailable source is skipped, a
// failing one is retried, and each failure shows in the source metrics.
func TestRunnerFailover(t *testing.T) {
	var mu sync.Mutex
	opened := map[string]int{}
	open := func(spec string, _ source.SourceOptions) (source.Source, error) {
		mu.Lock()
		defer mu.Unlock()
		opened[spec]++
		switch spec {
		case "netlink:":
			return nil, &source.UnavailableError{Source: spec, What: "bind", Err: os.ErrPermission, Hint: "needs CAP_AUDIT_READ"}
		case "auditd:":
			if opened[spec] == 1 { // delivers two denials, then the file goes away
				return &fakeSource{name: spec, recs: []string{deniedLine(1, "/a"), deniedLine(2, "/b")}, err: os.ErrNotExist}, nil
			}
			return &fakeSource{name: spec, recs: []string{deniedLine(3, "/c")}}, nil // comes back
		}
		return nil, fmt.Errorf("unexpected %s", spec)
	}
	m := New(Options{}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &Runner{Monitor: m, Open: open, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	labels := map[string]string{"profile": "probe"}
	waitFor(t, "3 denials", func() bool { return counterValue(t, m, "armorer_apparmor_denials_total", labels) == 3 })
	waitFor(t, "auditd: up again", func() bool {
		return counterValue(t, m, "armorer_monitor_source_up", map[string]string{"source": "auditd:"}) == 1
	})
	cancel()
	<-done
	if got := counterValue(t, m, "armorer_monitor_source_errors_total", map[string]string{"source": "auditd:"}); got != 1 {
		t.Errorf("auditd: errors = %v, want 1", got)
	}
	if got := counterValue(t, m, "armorer_monitor_source_up", map[string]string{"source": "netlink:"}); got != 0 {
		t.Errorf("netlink: up = %v, want 0", got)
	}
	if got := counterValue(t, m, "armorer_apparmor_events_lost_total", nil); got != 4 {
		t.Errorf("lost = %v, want 4 (2 per source run)", got)
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestRunnerResumesAfterCrash (issue 13 item 10): the positions the
// runner saves while it runs (what a kill -9 leaves) let the next start
// count exactly the events written while it was down: none twice, none
// lost. Before, the restarted monitor began at the end and never counted
// them.
func TestRunnerResumesAfterCrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kern.log")
	state := filepath.Join(dir, "state", "monitor", "positions.json")
	if err := os.WriteFile(path, []byte(deniedLine(1, "/old")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	appendLines := func(from, to int) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := from; i < to; i++ {
			fmt.Fprintln(f, deniedLine(i, fmt.Sprintf("/f%d", i)))
		}
	}
	denials := func(m *Monitor) float64 {
		return counterValue(t, m, "armorer_apparmor_denials_total", map[string]string{"profile": "probe"})
	}
	start := func() (*Monitor, context.CancelFunc, chan error) {
		m := New(Options{}, nil, nil)
		ctx, cancel := context.WithCancel(context.Background())
		r := &Runner{Monitor: m, Specs: []string{path}, MinBackoff: 10 * time.Millisecond, PositionFile: state}
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		waitFor(t, "source up", func() bool { return counterValue(t, m, "armorer_monitor_source_up", nil) == 1 })
		return m, cancel, done
	}

	m, cancel, done := start()
	appendLines(2, 4)
	waitFor(t, "2 denials", func() bool { return denials(m) == 2 })
	// What the periodic save left on disk is what survives a kill -9.
	var crashed []byte
	waitFor(t, "positions saved", func() bool {
		b, err := os.ReadFile(state)
		if err == nil && len(b) > 0 && strings.Contains(string(b), `"Line": 3`) {
			crashed = b
			return true
		}
		return false
	})
	cancel()
	<-done
	if err := os.WriteFile(state, crashed, 0o600); err != nil {
		t.Fatal(err)
	}

	appendLines(4, 7) // written while the monitor is down
	m, cancel, done = start()
	defer func() { cancel(); <-done }()
	waitFor(t, "the 3 denials written while down", func() bool { return denials(m) >= 3 })
	time.Sleep(200 * time.Millisecond)
	if got := denials(m); got != 3 {
		t.Errorf("after restart: %v denials counted, want the 3 written while down", got)
	}
	if got := counterValue(t, m, "armorer_apparmor_events_lost_total", nil); got != 0 {
		t.Errorf("events_lost_total = %v, want 0 (nothing was unrecoverable)", got)
	}
}
