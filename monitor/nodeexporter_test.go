package monitor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/armorer-dev/armorer/internal/testenv"
)

// nodeExporter is Debian's prometheus-node-exporter serving only its
// textfile collector from dir on a free 127.0.0.1 port; it returns a
// scrape function and a reader of node_exporter's log so far.
func nodeExporter(t *testing.T, dir string) (scrape func() map[string]*dto.MetricFamily, log func() string) {
	t.Helper()
	bin, err := exec.LookPath("prometheus-node-exporter")
	if err != nil {
		testenv.Missing(t, "prometheus-node-exporter not installed (apt-get install prometheus-node-exporter; scripts/install-deps.sh does)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "node_exporter.log"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer logFile.Close()
	log = func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }
	cmd := exec.CommandContext(ctx, bin, "--web.listen-address="+addr,
		"--collector.disable-defaults", "--collector.textfile", "--collector.textfile.directory="+dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })

	get := func() (int, []byte, error) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, _, err := get(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node_exporter did not answer on %s within 15s:\n%s", addr, log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return func() map[string]*dto.MetricFamily {
		t.Helper()
		code, body, err := get()
		if err != nil || code != http.StatusOK {
			t.Fatalf("scrape node_exporter: %d %v\n%s", code, err, body)
		}
		tp := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := tp.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("node_exporter's exposition does not parse: %v", err)
		}
		return mfs
	}, log
}

func gaugeValue(mfs map[string]*dto.MetricFamily, name string) (float64, bool) {
	mf := mfs[name]
	if mf == nil || len(mf.Metric) == 0 {
		return 0, false
	}
	m := mf.Metric[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	}
	return 0, false
}

// The textfile, written while the daemon also serves process metrics,
// is read by the real node_exporter without a gathering error, and the
// armorer series come out of node_exporter's /metrics.
func TestTextfileWithNodeExporter(t *testing.T) {
	dir := t.TempDir()
	src := fakeProfiles{snap: ProfileSnapshot{Loaded: map[string]string{"myapp": "enforce", "quiet": "enforce"}, Defined: []string{"myapp", "quiet"}}}
	m := New(Options{Build: BuildInfo{Version: "v1.2.3", Revision: "abc"}}, src, nil)
	m.RegisterProcessMetrics() // as `armorer monitor --listen ... --textfile ...` does
	m.Observe(denied("myapp", "open", "file", "/etc/shadow"))
	m.SourceUp("kmsg:", true)
	if err := m.WriteTextfile(filepath.Join(dir, "armorer.prom")); err != nil {
		t.Fatal(err)
	}
	scrape, log := nodeExporter(t, dir)
	mfs := scrape()
	if v, ok := gaugeValue(mfs, "node_textfile_scrape_error"); !ok || v != 0 {
		t.Errorf("node_textfile_scrape_error = %v (present %v), want 0\nnode_exporter log:\n%s", v, ok, log())
	}
	if mfs["node_textfile_mtime_seconds"] == nil {
		t.Error("node_exporter did not read armorer.prom (no node_textfile_mtime_seconds)")
	}
	for name, want := range map[string]float64{
		"armorer_build_info":                 1,
		"armorer_apparmor_events_lost_total": 0,
		"armorer_monitor_source_up":          1,
	} {
		if v, ok := gaugeValue(mfs, name); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	var denials []string
	for _, s := range mfs["armorer_apparmor_denials_total"].GetMetric() {
		var labels []string
		for _, l := range s.Label {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		denials = append(denials, fmt.Sprintf("%s %v", strings.Join(labels, ","), s.GetCounter().GetValue()))
	}
	wantDenials := []string{
		"class=file,operation=open,profile=myapp 1", // the denial
		"class=,operation=,profile=myapp 0",         // pre-declared for the loaded profiles
		"class=,operation=,profile=quiet 0",
	}
	for _, w := range wantDenials {
		found := false
		for _, d := range denials {
			found = found || d == w
		}
		if !found {
			t.Errorf("node_exporter's armorer_apparmor_denials_total lacks %q; has %q", w, denials)
		}
	}
	if s := log(); strings.Contains(s, "level=error") || strings.Contains(s, "collected before") {
		t.Errorf("node_exporter logged errors:\n%s", s)
	}
}

// The check above can fail: a textfile that also carries the process
// metrics (what --textfile wrote before) is what node_exporter rejects.
func TestNodeExporterRejectsProcessMetricsInTextfile(t *testing.T) {
	dir := t.TempDir()
	m := New(Options{}, nil, nil)
	m.RegisterProcessMetrics()
	if err := writeGathered(filepath.Join(dir, "armorer.prom"), m); err != nil {
		t.Fatal(err)
	}
	scrape, log := nodeExporter(t, dir)
	scrape()
	// node_exporter logs the gathering error as it serves the scrape.
	const want = `collected metric \"go_goroutines\" { gauge:<value:`
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log(), want) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(log(), want) || !strings.Contains(log(), "was collected before") {
		t.Errorf("node_exporter accepted go_* and process_* from a textfile; the test above proves nothing\n%s", log())
	}
}

// writeGathered writes everything /metrics serves, process metrics included.
func writeGathered(path string, m *Monitor) error {
	mfs, err := m.Registry().Gather()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			return err
		}
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// The unit documents a textfile setup that Debian's node_exporter reads
// without configuration, and that the unit's sandbox lets armorer write.
func TestContribUnitTextfileSetup(t *testing.T) {
	unit, err := os.ReadFile("../contrib/systemd/armorer-monitor.service")
	if err != nil {
		t.Fatal(err)
	}
	var textfile string
	var rw []string
	for _, line := range strings.Split(string(unit), "\n") {
		if rest, ok := strings.CutPrefix(line, "#   ExecStart=/usr/bin/armorer monitor "); ok {
			f := strings.Fields(rest)
			for i := 0; i+1 < len(f); i++ {
				if f[i] == "--textfile" {
					textfile = f[i+1]
				}
			}
		}
		if rest, ok := strings.CutPrefix(line, "ReadWritePaths="); ok {
			for _, p := range strings.Fields(rest) {
				rw = append(rw, strings.TrimPrefix(p, "-"))
			}
		}
	}
	if textfile == "" || !strings.HasSuffix(textfile, ".prom") {
		t.Fatalf("the unit documents no --textfile PATH.prom drop-in (found %q)", textfile)
	}
	dir := filepath.Dir(textfile)
	if !slices.Contains(rw, dir) {
		t.Errorf("ReadWritePaths %v does not let the monitor write %s", rw, dir)
	}
	bin, err := exec.LookPath("prometheus-node-exporter")
	if err != nil {
		testenv.Missing(t, "prometheus-node-exporter not installed (scripts/install-deps.sh)")
	}
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	if want := `--collector.textfile.directory="` + dir + `"`; !strings.Contains(string(help), want) {
		t.Errorf("node_exporter's default textfile directory is not %s:\n%s", dir, help)
	}
}
