package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func denied(profile, op, class, name string) Observation {
	return Observation{Outcome: "DENIED", Profile: profile, Operation: op, Class: auditlog.Class(class), Name: name, PID: 42, Comm: "app"}
}

func TestCounting(t *testing.T) {
	m := New(Options{}, nil, nil)
	m.Observe(denied("myapp", "open", "file", "/etc/shadow"))
	m.Observe(denied("myapp", "open", "file", "/etc/shadow"))
	m.Observe(denied("myapp", "exec", "file", "/bin/sh"))
	m.Observe(Observation{Outcome: "ALLOWED", Profile: "myapp", Operation: "open", Class: "file", Name: "/opt/myapp/config"})
	m.Observe(denied("other", "create", "net", ""))
	m.AddLost(3)
	m.AddParseErrors(2)

	want := `
# HELP armorer_apparmor_denials_total AppArmor denials (apparmor="DENIED"), by profile, operation and class.
# TYPE armorer_apparmor_denials_total counter
armorer_apparmor_denials_total{class="file",operation="exec",profile="myapp"} 1
armorer_apparmor_denials_total{class="file",operation="open",profile="myapp"} 2
armorer_apparmor_denials_total{class="net",operation="create",profile="other"} 1
# HELP armorer_apparmor_events_lost_total Audit events the kernel or a source reported as lost (rate limits, audit_lost, ring buffer overruns, full queues).
# TYPE armorer_apparmor_events_lost_total counter
armorer_apparmor_events_lost_total 3
# HELP armorer_apparmor_events_total AppArmor audit events seen, by profile, class and outcome (the apparmor= value).
# TYPE armorer_apparmor_events_total counter
armorer_apparmor_events_total{class="file",outcome="ALLOWED",profile="myapp"} 1
armorer_apparmor_events_total{class="file",outcome="DENIED",profile="myapp"} 3
armorer_apparmor_events_total{class="net",outcome="DENIED",profile="other"} 1
# HELP armorer_apparmor_new_denials_total Denials whose signature (profile, operation, path pattern) had not been seen before: an application change may need new rules.
# TYPE armorer_apparmor_new_denials_total counter
armorer_apparmor_new_denials_total{profile="myapp"} 2
armorer_apparmor_new_denials_total{profile="other"} 1
# HELP armorer_monitor_parse_errors_total Lines from the sources that could not be parsed as audit events.
# TYPE armorer_monitor_parse_errors_total counter
armorer_monitor_parse_errors_total 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"armorer_apparmor_denials_total", "armorer_apparmor_events_total", "armorer_apparmor_new_denials_total",
		"armorer_apparmor_events_lost_total", "armorer_monitor_parse_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestProfileLabelFolding(t *testing.T) {
	m := New(Options{MaxProfiles: 2}, nil, nil)
	for _, p := range []string{"a", "b", "c", "d", "a"} {
		m.Observe(denied(p, "open", "file", "/x"))
	}
	want := `
# HELP armorer_apparmor_denials_total AppArmor denials (apparmor="DENIED"), by profile, operation and class.
# TYPE armorer_apparmor_denials_total counter
armorer_apparmor_denials_total{class="file",operation="open",profile="a"} 2
armorer_apparmor_denials_total{class="file",operation="open",profile="b"} 1
armorer_apparmor_denials_total{class="file",operation="open",profile="other"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "armorer_apparmor_denials_total"); err != nil {
		t.Error(err)
	}
}

func TestNewDenialSignatures(t *testing.T) {
	m := New(Options{}, nil, nil)
	var news []bool
	m.OnDenial = func(_ Observation, isNew bool) { news = append(news, isNew) }
	m.Observe(denied("app", "open", "file", "/proc/123/mem"))
	m.Observe(denied("app", "open", "file", "/proc/456/mem"))   // same pattern: /proc/*/mem
	m.Observe(denied("app", "open", "file", "/var/lib/app/v2")) // new path after an update
	m.Observe(denied("app", "mknod", "file", "/var/lib/app/v2"))
	if got, want := news, []bool{true, false, true, true}; !equalBools(got, want) {
		t.Errorf("new flags = %v, want %v", got, want)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPathPattern(t *testing.T) {
	for in, want := range map[string]string{
		"/proc/1234/status":  "/proc/*/status",
		"/etc/shadow":        "/etc/shadow",
		"/var/lib/app/v2":    "/var/lib/app/v2",
		"/run/user/1000/bus": "/run/user/*/bus",
		"/tmp/3f2a9c1e-7b4d-4e8f-9a1b-2c3d4e5f6a7b": "/tmp/*",
		"/usr/lib/x86_64-linux-gnu/libc.so.6":       "/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/data/deadbeef0cafe":                       "/data/*",
		"/data/deadbeefcafe":                        "/data/deadbeefcafe", // no digit: a word, not an id
		"/data/ab12":                                "/data/ab12",
		"":                                          "",
	} {
		if got := PathPattern(in); got != want {
			t.Errorf("PathPattern(%q) = %q, want %q", in, got, want)
		}
	}
}

type fakeProfiles struct {
	snap ProfileSnapshot
	err  error
}

func (f fakeProfiles) ProfileSnapshot(context.Context) (ProfileSnapshot, error) { return f.snap, f.err }

func TestProfilesCollector(t *testing.T) {
	src := fakeProfiles{snap: ProfileSnapshot{
		Loaded:     map[string]string{"myapp": "enforce", "nginx": "complain", "/usr/bin/man": "enforce"},
		Defined:    []string{"myapp", "nginx", "worker"},
		Unconfined: 1,
	}}
	m := New(Options{}, src, nil)
	want := `
# HELP armorer_apparmor_profile_loaded Whether a profile defined in the profile directory is loaded in the kernel (1) or not (0).
# TYPE armorer_apparmor_profile_loaded gauge
armorer_apparmor_profile_loaded{profile="myapp"} 1
armorer_apparmor_profile_loaded{profile="nginx"} 1
armorer_apparmor_profile_loaded{profile="worker"} 0
# HELP armorer_apparmor_profiles AppArmor profiles loaded in the kernel, by mode.
# TYPE armorer_apparmor_profiles gauge
armorer_apparmor_profiles{mode="complain"} 1
armorer_apparmor_profiles{mode="enforce"} 2
# HELP armorer_apparmor_unconfined_processes Processes whose executable matches a profile's attachment but that run unconfined (started before the profile was loaded).
# TYPE armorer_apparmor_unconfined_processes gauge
armorer_apparmor_unconfined_processes 1
# HELP armorer_monitor_collector_success Whether each armorer collector succeeded at scrape time (1) or failed (0).
# TYPE armorer_monitor_collector_success gauge
armorer_monitor_collector_success{collector="denials"} 1
armorer_monitor_collector_success{collector="profiles"} 1
armorer_monitor_collector_success{collector="sources"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"armorer_apparmor_profile_loaded", "armorer_apparmor_profiles", "armorer_apparmor_unconfined_processes",
		"armorer_monitor_collector_success"); err != nil {
		t.Error(err)
	}
}

// A failing concern is reported by its success metric; the others still answer.
func TestFailingCollectorDoesNotFailScrape(t *testing.T) {
	m := New(Options{}, fakeProfiles{err: errors.New("securityfs not mounted")}, nil)
	m.Observe(denied("app", "open", "file", "/x"))
	want := `
# HELP armorer_monitor_collector_success Whether each armorer collector succeeded at scrape time (1) or failed (0).
# TYPE armorer_monitor_collector_success gauge
armorer_monitor_collector_success{collector="denials"} 1
armorer_monitor_collector_success{collector="profiles"} 0
armorer_monitor_collector_success{collector="sources"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "armorer_monitor_collector_success"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "armorer_apparmor_denials_total"); err != nil || n != 1 {
		t.Errorf("denials series = %d, %v; want 1", n, err)
	}
}

// TestHTTPEndpoints scrapes a real listener and parses the exposition with expfmt.
func TestHTTPEndpoints(t *testing.T) {
	m := New(Options{RecentSize: 2}, nil, nil)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("/readyz with no source up = %d, want 503", code)
	}
	m.SourceUp("kmsg:", true)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz with a source up = %d, want 200", code)
	}

	const n = 7
	for i := 0; i < n; i++ {
		m.Observe(denied("myapp", "open", "file", "/etc/shadow"))
	}
	_, body := get("/metrics")
	tp := expfmt.NewTextParser(model.UTF8Validation)
	families, err := tp.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	fam := families["armorer_apparmor_denials_total"]
	if fam == nil || len(fam.Metric) != 1 || fam.Metric[0].GetCounter().GetValue() != n {
		t.Fatalf("armorer_apparmor_denials_total = %v, want one series with %d", fam, n)
	}
	if families["go_goroutines"] != nil {
		t.Error("process metrics registered without RegisterProcessMetrics")
	}

	_, body = get("/denials")
	var ds []Denial
	if err := json.Unmarshal([]byte(body), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Name != "/etc/shadow" || ds[0].PID != 42 {
		t.Errorf("/denials = %+v, want the 2 most recent", ds)
	}
}

// everyMetric gathers a monitor that has set every metric it exports.
func everyMetric(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	m := New(Options{}, fakeProfiles{snap: ProfileSnapshot{Loaded: map[string]string{"a": "enforce"}, Defined: []string{"a"}}}, nil)
	m.Observe(denied("a", "open", "file", "/x"))
	m.SourceUp("kmsg:", true)
	m.SourceError("kmsg:")
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func TestMetricNamesLint(t *testing.T) {
	mfs := everyMetric(t)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// Labels never carry a path, PID or comm.
	for _, mf := range mfs {
		for _, metric := range mf.Metric {
			for _, l := range metric.Label {
				switch l.GetName() {
				case "path", "name", "pid", "comm":
					t.Errorf("%s has unbounded label %s", mf.GetName(), l.GetName())
				}
			}
		}
	}
}

// The textfile is written whole or not at all, in a format node_exporter accepts.
func TestTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "armorer.prom")
	m := New(Options{}, nil, nil)
	m.Observe(denied("a", "open", "file", "/x"))
	if err := m.WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only armorer.prom (no temp files left)", len(entries))
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	families, err := tp.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("textfile does not parse: %v", err)
	}
	for name, fam := range families {
		for _, metric := range fam.Metric {
			if metric.TimestampMs != nil {
				t.Errorf("%s carries a timestamp; node_exporter's textfile collector rejects it", name)
			}
		}
	}
	if families["armorer_apparmor_denials_total"] == nil {
		t.Error("textfile lacks armorer_apparmor_denials_total")
	}
}

// TestOperationClassBounded (issue 13 item 10): 3,000 distinct operation
// and class values make at most the cap + "other" series, not 3,001.
func TestOperationClassBounded(t *testing.T) {
	m := New(Options{}, nil, nil)
	for i := range 3000 {
		m.Observe(denied("app", fmt.Sprintf("op%d", i), fmt.Sprintf("class%d", i), "/x"))
	}
	for _, name := range []string{"armorer_apparmor_denials_total", "armorer_apparmor_events_total"} {
		n, err := testutil.GatherAndCount(m.Registry(), name)
		if err != nil {
			t.Fatal(err)
		}
		if n > 65*65 || n == 0 {
			t.Errorf("%s: %d series from 3000 operations and classes, want at most 65 per label", name, n)
		}
	}
	mfs, _ := m.Registry().Gather()
	ops, classes := map[string]bool{}, map[string]bool{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				switch l.GetName() {
				case "operation":
					ops[l.GetValue()] = true
				case "class":
					classes[l.GetValue()] = true
				}
			}
		}
	}
	if len(ops) != 65 || !ops["other"] || len(classes) != 65 || !classes["other"] {
		t.Errorf("%d operation and %d class values (other: %v, %v), want 64 + other each", len(ops), len(classes), ops["other"], classes["other"])
	}
}

// Complain mode's learning children are named after the program they
// exec, a path: a label carries no path, so they count as PROFILE//null-.
func TestLearningChildLabel(t *testing.T) {
	m := New(Options{}, nil, nil)
	for _, p := range []string{"myapp//null-/usr/bin/curl", "myapp//null-/bin/sh", "myapp//null-/bin/sh//null-/bin/ls"} {
		m.Observe(Observation{Outcome: "ALLOWED", Profile: p, Operation: "open", Class: "file", Name: "/etc/hosts"})
	}
	want := `
# HELP armorer_apparmor_events_total AppArmor audit events seen, by profile, class and outcome (the apparmor= value).
# TYPE armorer_apparmor_events_total counter
armorer_apparmor_events_total{class="file",outcome="ALLOWED",profile="myapp//null-"} 3
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "armorer_apparmor_events_total"); err != nil {
		t.Error(err)
	}
}
