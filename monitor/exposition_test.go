package monitor

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The textfile carries armorer's metrics only, even when the daemon also
// serves process metrics on /metrics: node_exporter has its own go_* and
// process_* series and logs "was collected before" for duplicates.
func TestTextfileHasOnlyArmorerMetrics(t *testing.T) {
	m := New(Options{}, nil, nil)
	m.RegisterProcessMetrics()
	m.Observe(denied("a", "open", "file", "/x"))

	path := filepath.Join(t.TempDir(), "armorer.prom")
	if err := m.WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	families, err := tp.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	for name := range families {
		if !strings.HasPrefix(name, "armorer_") {
			t.Errorf("textfile carries %s; only armorer_* belongs there", name)
		}
	}
	if families["armorer_build_info"] == nil || families["armorer_apparmor_denials_total"] == nil {
		t.Errorf("textfile lacks armorer_build_info or the denials: %v", families)
	}

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"go_goroutines", "process_start_time_seconds", "armorer_apparmor_denials_total"} {
		if !strings.Contains(string(body), "\n"+want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestBuildInfo(t *testing.T) {
	m := New(Options{Build: BuildInfo{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.8"}}, nil, nil)
	want := `
# HELP armorer_build_info A metric with a constant '1' value labelled by the version, revision and Go version armorer was built with.
# TYPE armorer_build_info gauge
armorer_build_info{goversion="go1.26.8",revision="abc123",version="v1.2.3"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "armorer_build_info"); err != nil {
		t.Error(err)
	}
	// Unstamped builds still say what they are.
	n, err := testutil.GatherAndCount(New(Options{}, nil, nil).Registry(), "armorer_build_info")
	if err != nil || n != 1 {
		t.Errorf("unstamped armorer_build_info series = %d, %v; want 1", n, err)
	}
}

// Loaded profiles have denial series at zero before their first denial, so
// rate() and sum by (profile) answer 0 rather than "no data"; a real
// denial never duplicates a pre-declared series.
func TestDenialSeriesPredeclared(t *testing.T) {
	src := fakeProfiles{snap: ProfileSnapshot{Loaded: map[string]string{
		"myapp": "enforce", "nginx": "complain", "myapp//null-/bin/sh": "complain", "ux": "unconfined",
	}}}
	m := New(Options{}, src, nil)
	want := `
# HELP armorer_apparmor_denials_total AppArmor denials (apparmor="DENIED"), by profile, operation and class.
# TYPE armorer_apparmor_denials_total counter
armorer_apparmor_denials_total{class="",operation="",profile="myapp"} 0
armorer_apparmor_denials_total{class="",operation="",profile="nginx"} 0
# HELP armorer_apparmor_new_denials_total Denials whose signature (profile, operation, path pattern) had not been seen before: an application change may need new rules.
# TYPE armorer_apparmor_new_denials_total counter
armorer_apparmor_new_denials_total{profile="myapp"} 0
armorer_apparmor_new_denials_total{profile="nginx"} 0
`
	names := []string{"armorer_apparmor_denials_total", "armorer_apparmor_new_denials_total"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	m.Observe(denied("myapp", "open", "file", "/etc/shadow"))
	want = `
# HELP armorer_apparmor_denials_total AppArmor denials (apparmor="DENIED"), by profile, operation and class.
# TYPE armorer_apparmor_denials_total counter
armorer_apparmor_denials_total{class="",operation="",profile="myapp"} 0
armorer_apparmor_denials_total{class="",operation="",profile="nginx"} 0
armorer_apparmor_denials_total{class="file",operation="open",profile="myapp"} 1
# HELP armorer_apparmor_new_denials_total Denials whose signature (profile, operation, path pattern) had not been seen before: an application change may need new rules.
# TYPE armorer_apparmor_new_denials_total counter
armorer_apparmor_new_denials_total{profile="myapp"} 1
armorer_apparmor_new_denials_total{profile="nginx"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// Pre-declaration is bounded like the profile label.
func TestDenialSeriesPredeclaredBounded(t *testing.T) {
	loaded := map[string]string{}
	for _, p := range []string{"a", "b", "c", "d"} {
		loaded[p] = "enforce"
	}
	m := New(Options{MaxProfiles: 2}, fakeProfiles{snap: ProfileSnapshot{Loaded: loaded}}, nil)
	n, err := testutil.GatherAndCount(m.Registry(), "armorer_apparmor_new_denials_total")
	if err != nil || n != 2 {
		t.Errorf("pre-declared new_denials series = %d, %v; want 2 (MaxProfiles)", n, err)
	}
}

// The dashboard lists nodes from a metric that a monitor exports from its
// first scrape, with no event seen and no host profiles readable: a node
// without denials must still be selectable.
func TestDashboardNodeVariable(t *testing.T) {
	data, err := os.ReadFile("../contrib/grafana/armorer-apparmor.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Templating struct {
			List []struct{ Name, Query string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	mfs, err := New(Options{}, nil, nil).Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	always := map[string]bool{}
	for _, mf := range mfs {
		if len(mf.Metric) > 0 {
			always[mf.GetName()] = true
		}
	}
	metric := regexp.MustCompile(`^label_values\((armorer_[a-z_]+)[,{]`)
	for _, v := range dash.Templating.List {
		if v.Name != "instance" {
			continue
		}
		m := metric.FindStringSubmatch(v.Query)
		if m == nil || !always[m[1]] {
			t.Errorf("node variable query %q must use a metric every monitor exports from the start (one of %v)", v.Query, slices.Sorted(maps.Keys(always)))
		}
		return
	}
	t.Error("dashboard has no instance (node) variable")
}
