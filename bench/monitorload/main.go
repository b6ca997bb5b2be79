// Command monitorload measures whether `armorer monitor` keeps up with a
// high event rate on a followed file, with bounded memory: a generator
// appends -rate AppArmor denial lines per second for -duration to a log file
// the monitor follows, then it measures the lag (time from the last write
// until /metrics counts every line) and the monitor's peak RSS (VmHWM).
//
//	go build -o /tmp/armorer ./cmd/armorer
//	go run ./bench/monitorload -armorer /tmp/armorer -rate 100000 -duration 30s
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func main() {
	armorer := flag.String("armorer", "armorer", "armorer binary")
	rate := flag.Int("rate", 100000, "events per second")
	duration := flag.Duration("duration", 30*time.Second, "how long to write")
	flag.Parse()

	dir, err := os.MkdirTemp("", "monitorload")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "audit.log")
	f, err := os.Create(logPath)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	cmd := exec.Command(*armorer, "monitor", "--source", logPath, "--listen", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer cmd.Process.Kill()
	for count(addr) < 0 {
		time.Sleep(50 * time.Millisecond)
	}

	w := bufio.NewWriterSize(f, 1<<20)
	start := time.Now()
	total := 0
	tick := time.NewTicker(10 * time.Millisecond)
	var peakRSS int64
	for time.Since(start) < *duration {
		<-tick.C
		// Catch up to the target rate, whatever the ticker's jitter.
		due := int(time.Since(start).Seconds()*float64(*rate)) - total
		for range due {
			total++
			fmt.Fprintf(w, "type=AVC msg=audit(1795600186.%03d:%d): apparmor=\"DENIED\" operation=\"open\" class=\"file\" profile=\"myapp\" name=\"/srv/data/f%d\" pid=%d comm=\"myapp\" requested_mask=\"r\" denied_mask=\"r\" fsuid=1000 ouid=1000\n",
				total%1000, total, total%5000, 1000+total%300)
		}
		w.Flush()
		if total%(*rate) < due {
			peakRSS = max(peakRSS, rss(cmd.Process.Pid))
		}
	}
	wrote := time.Since(start)
	tick.Stop()
	f.Close()
	end := time.Now()
	var got float64
	for got = count(addr); int(got) < total; got = count(addr) {
		if time.Since(end) > 5*time.Minute {
			log.Fatalf("monitor counted %v of %d after 5 minutes", got, total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	lag := time.Since(end)
	peakRSS = max(peakRSS, rss(cmd.Process.Pid))
	fmt.Printf("events written: %d in %v (%.0f/s)\n", total, wrote.Round(time.Millisecond), float64(total)/wrote.Seconds())
	fmt.Printf("monitor counted: %.0f; lag after last write: %v\n", got, lag.Round(time.Millisecond))
	fmt.Printf("monitor peak RSS (VmHWM): %.1f MiB\n", float64(hwm(cmd.Process.Pid))/1024)
	fmt.Printf("monitor RSS sampled each second, max: %.1f MiB\n", float64(peakRSS)/1024)
}

// count returns armorer_apparmor_denials_total summed, or -1 before the server answers.
func count(addr string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := tp.TextToMetricFamilies(resp.Body)
	if err != nil {
		return -1
	}
	sum := 0.0
	if fam := fams["armorer_apparmor_denials_total"]; fam != nil {
		for _, m := range fam.Metric {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func statusKB(pid int, key string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func rss(pid int) int64 { return statusKB(pid, "VmRSS") }
func hwm(pid int) int64 { return statusKB(pid, "VmHWM") }
