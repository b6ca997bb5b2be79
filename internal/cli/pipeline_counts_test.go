package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/monitor"
)

// countsLog has unreadable lines, duplicates, a rate-limit notice and a
// forged record: what every command must count alike.
const countsLog = "testdata/counts/mixed.log"

// wantCounts is what the pipeline makes of countsLog.
var wantCounts = source.Stats{Lines: 14, Events: 3, Duplicates: 2, Bad: 2, Lost: 5, Rejected: 1}

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ios, _, out, errOut := TestStreams()
	root := NewRootCmd(&Factory{IO: ios})
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

var statsRE = regexp.MustCompile(`\((\d+) lines, (\d+) events, (\d+) duplicates, (\d+) unreadable, (\d+) lost, (\d+) rejected\)`)

// parseStatsText reads statsText's wording back.
func parseStatsText(t *testing.T, cmd, stderr string) source.Stats {
	t.Helper()
	m := statsRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("%s does not report the log's counts on stderr:\n%s", cmd, stderr)
	}
	n := func(i int) uint64 { v, _ := strconv.ParseUint(m[i], 10, 64); return v }
	return source.Stats{Lines: n(1), Events: n(2), Duplicates: n(3), Bad: n(4), Lost: n(5), Rejected: n(6)}
}

// TestSameCountsEverywhere: events, learn, simulate and monitor read one
// log through the one pipeline and report the same counts; learn and
// simulate say the log was incomplete (issue 9.1).
func TestSameCountsEverywhere(t *testing.T) {
	t.Setenv(EnvStateDir, t.TempDir())
	dir := t.TempDir()
	t.Setenv(EnvProfileDir, dir)

	// events --summary --json
	out, errOut, err := runCLI(t, "events", "--summary", "--json", countsLog)
	if err != nil {
		t.Fatalf("events: %v\n%s", err, errOut)
	}
	var sum struct {
		Events, Duplicates, Lost, Rejected uint64
		Bad                                uint64 `json:"bad_lines"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("events --summary --json: %v\n%s", err, out)
	}
	got := source.Stats{Events: sum.Events, Duplicates: sum.Duplicates, Bad: sum.Bad, Lost: sum.Lost, Rejected: sum.Rejected}
	want := wantCounts
	want.Lines = 0 // the summary has no line count
	if got != want {
		t.Errorf("events --summary --json: %+v, want %+v", got, want)
	}
	_, errOut, err = runCLI(t, "events", "--verbose", countsLog)
	if err != nil || !strings.Contains(errOut, "armorer: 14 lines, 3 events, 3 shown, 2 duplicates, 5 lost, 2 unreadable, 1 rejected\n") {
		t.Errorf("events --verbose: %v\n%s", err, errOut)
	}

	// learn: the profile comes from an incomplete log, and says so.
	out, errOut, err = runCLI(t, "learn", "--dir", dir, countsLog)
	if err != nil {
		t.Fatalf("learn: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "/var/lib/app/state w,") || strings.Contains(out, "index.php") {
		t.Errorf("learn: want the kernel's event learned and the forged one not:\n%s", out)
	}
	if !strings.Contains(errOut, "profile learned from an incomplete log") {
		t.Errorf("learn does not say the log was incomplete:\n%s", errOut)
	}
	if got := parseStatsText(t, "learn", errOut); got != wantCounts {
		t.Errorf("learn: %+v, want %+v", got, wantCounts)
	}

	// simulate
	prof := filepath.Join(dir, "app")
	if err := os.WriteFile(prof, []byte("profile app /usr/bin/app {\n  /etc/app/a.conf r,\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = runCLI(t, "simulate", "-I", dir, prof, countsLog)
	if exitCode(err) != ExitFound { // the capability and the write are denied
		t.Fatalf("simulate: exit %d (%v)\n%s", exitCode(err), err, errOut)
	}
	if got := parseStatsText(t, "simulate", errOut); got != wantCounts {
		t.Errorf("simulate: %+v, want %+v", got, wantCounts)
	}

	// monitor, reading the file from its start.
	m := monitor.New(monitor.Options{}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &monitor.Runner{Monitor: m, Specs: []string{countsLog}, FromStart: true, MinBackoff: 10 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	var events, lost, bad float64
	for time.Now().Before(deadline) {
		events = metricSum(t, m, "armorer_apparmor_events_total")
		lost = metricSum(t, m, "armorer_apparmor_events_lost_total")
		bad = metricSum(t, m, "armorer_monitor_parse_errors_total")
		if events >= 3 && lost >= 5 && bad >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if events != float64(wantCounts.Events) || lost != float64(wantCounts.Lost) || bad != float64(wantCounts.Bad) {
		t.Errorf("monitor: events %v, lost %v, parse errors %v; want %d, %d, %d",
			events, lost, bad, wantCounts.Events, wantCounts.Lost, wantCounts.Bad)
	}
}

// metricSum adds up every series of a metric.
func metricSum(t *testing.T, m *monitor.Monitor, name string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, metric := range mf.Metric {
			if c := metric.GetCounter(); c != nil {
				sum += c.GetValue()
			} else {
				sum += metric.GetGauge().GetValue()
			}
		}
	}
	return sum
}
