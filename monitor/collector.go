package monitor

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "armorer"

// concern is one group of metrics read at scrape time. update returns an
// error when its data could not be read; the other concerns still report.
type concern interface {
	describe(ch chan<- *prometheus.Desc)
	update(ctx context.Context, ch chan<- prometheus.Metric) error
}

var (
	collectorDurationDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "monitor", "collector_duration_seconds"),
		"How long each armorer collector took at scrape time.", []string{"collector"}, nil)
	collectorSuccessDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "monitor", "collector_success"),
		"Whether each armorer collector succeeded at scrape time (1) or failed (0).", []string{"collector"}, nil)
)

// multiCollector runs every concern on each scrape, recording its duration
// and success, so one failing concern never fails the whole scrape.
type multiCollector struct {
	concerns map[string]concern
	logger   *slog.Logger
	timeout  time.Duration

	mu      sync.Mutex
	lastErr map[string]string // per concern: the error last logged, so a persistent failure is logged once
}

func (c *multiCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- collectorDurationDesc
	ch <- collectorSuccessDesc
	for _, k := range c.concerns {
		k.describe(ch)
	}
}

func (c *multiCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for name, k := range c.concerns {
		wg.Go(func() {
			start := time.Now()
			err := k.update(ctx, ch)
			success := 1.0
			if err != nil {
				success = 0
			}
			c.logChange(name, err)
			ch <- prometheus.MustNewConstMetric(collectorDurationDesc, prometheus.GaugeValue, time.Since(start).Seconds(), name)
			ch <- prometheus.MustNewConstMetric(collectorSuccessDesc, prometheus.GaugeValue, success, name)
		})
	}
	wg.Wait()
}

// logChange logs a concern's failure when it starts or changes, and its recovery.
func (c *multiCollector) logChange(name string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastErr == nil {
		c.lastErr = map[string]string{}
	}
	if c.lastErr[name] == msg {
		return
	}
	c.lastErr[name] = msg
	if err != nil {
		c.logger.Error("collector failed", "collector", name, "err", err)
	} else {
		c.logger.Info("collector recovered", "collector", name)
	}
}
