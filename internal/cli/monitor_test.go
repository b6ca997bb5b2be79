package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMonitorRun runs the monitor command on a followed log file, appends a
// known number N of denials, and scrapes /metrics and the textfile: both show
// exactly N for that profile and operation.
func TestMonitorRun(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	promPath := filepath.Join(dir, "armorer.prom")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	streams, _, _, errOut := TestStreams()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	o := &monitorOptions{
		IO: streams, Ctx: ctx, Listen: "127.0.0.1:0", Sources: []string{logPath},
		Textfile: promPath, TextfileInterval: 20 * time.Millisecond, MaxProfiles: 10,
		ready: func(a string) { addrc <- a },
	}
	done := make(chan error, 1)
	go func() { done <- monitorRun(o) }()
	addr := <-addrc

	const n = 9
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Give the follower a moment to reach the end of the empty file first;
	// lines written before it starts would count as old.
	waitUntil(t, func() bool { return scrape(t, addr)["armorer_monitor_source_up"] != nil })
	for i := 1; i <= n; i++ {
		fmt.Fprintf(f, "type=AVC msg=audit(1795600186.%03d:%d): apparmor=\"DENIED\" operation=\"open\" class=\"file\" profile=\"myapp\" name=\"/etc/shadow\" pid=210 comm=\"myapp\" requested_mask=\"r\" denied_mask=\"r\" fsuid=0 ouid=0\n", i, 100+i)
	}
	f.Close()
	denials := func(fams map[string]*dto.MetricFamily) float64 {
		fam := fams["armorer_apparmor_denials_total"]
		if fam == nil {
			return -1
		}
		for _, m := range fam.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["profile"] == "myapp" && labels["operation"] == "open" && labels["class"] == "file" {
				return m.GetCounter().GetValue()
			}
		}
		return -1
	}
	waitUntil(t, func() bool { return denials(scrape(t, addr)) == n })
	waitUntil(t, func() bool {
		fh, err := os.Open(promPath)
		if err != nil {
			return false
		}
		defer fh.Close()
		tp := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := tp.TextToMetricFamilies(fh)
		return err == nil && denials(fams) == n
	})
	resp, err := http.Get("http://" + addr + "/denials")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := readAll(resp)
	if !strings.Contains(body, `"name": "/etc/shadow"`) {
		t.Errorf("/denials lacks the denial:\n%s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("monitor returned %v after cancel; stderr:\n%s", err, errOut)
	}
}

func readAll(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := tp.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
