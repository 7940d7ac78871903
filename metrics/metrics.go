// Package metrics exports OnPyRunner's Prometheus metrics: queue depth,
// running jobs, jobs ended by status and verdict, and histograms of the
// time jobs wait in the queue and the time they run.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the service's metrics in a registry of its own.
type Metrics struct {
	reg      *prometheus.Registry
	wait     prometheus.Histogram
	run      prometheus.Histogram
	webhooks *prometheus.CounterVec
	delay    prometheus.Histogram
}

// New registers the metrics; stats reads the store at each scrape for the
// queue depth, the running jobs and the jobs ended, which the store counts
// where each job ends: every process that shares the store (an API
// process without workers too) exports the same totals.
func New(stats func(context.Context) (onpyrunner.Stats, error)) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "onpyrunner_queue_wait_seconds",
			Help:    "Time from a job's submission to the start of its run.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}),
		run: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "onpyrunner_run_seconds",
			Help:    "Wall time of a job's run in the sandbox.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onpyrunner_webhook_tries_total",
			Help: "Tries of webhook deliveries made by this process, by outcome (delivered, retried, gave_up, refused, gone).",
		}, []string{"outcome"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "onpyrunner_webhook_delay_seconds",
			Help:    "Time from a job's end to its webhook's delivery, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 14),
		}),
	}
	m.reg.MustRegister(m.wait, m.run, m.webhooks, m.delay, storeCollector{stats},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Started records a job's time in the queue.
func (m *Metrics) Started(j *onpyrunner.Job) {
	if j.StartedAt != nil {
		m.wait.Observe(j.StartedAt.Sub(j.CreatedAt).Seconds())
	}
}

// Finished records the time a job ran (the store counts its end).
func (m *Metrics) Finished(_ *onpyrunner.Job, run time.Duration) {
	m.run.Observe(run.Seconds())
}

// Webhook records a try of a webhook delivery: its outcome and, for one
// delivered, the time since its job ended (webhook.Config.Observe).
func (m *Metrics) Webhook(outcome webhook.Outcome, sinceEnd time.Duration) {
	m.webhooks.WithLabelValues(string(outcome)).Inc()
	if outcome == webhook.Delivered {
		m.delay.Observe(sinceEnd.Seconds())
	}
}

var (
	depthDesc   = prometheus.NewDesc("onpyrunner_queue_depth", "Jobs waiting in the queue.", nil, nil)
	runningDesc = prometheus.NewDesc("onpyrunner_jobs_running", "Jobs running now.", nil, nil)
	bytesDesc   = prometheus.NewDesc("onpyrunner_store_bytes",
		"Bytes the job store holds (SQLite's pages in use, Redis's used memory); new jobs are refused at the store's byte budget.", nil, nil)
	endedDesc = prometheus.NewDesc("onpyrunner_jobs_total",
		"Jobs ended, by final status and (for completed jobs) verdict, counted once by the store where each ends.",
		[]string{"status", "verdict"}, nil)
)

// storeCollector reads the store's Stats once per scrape. A store that does
// not answer shows as queue depth, running and bytes -1, and no job totals.
type storeCollector struct {
	stats func(context.Context) (onpyrunner.Stats, error)
}

// Describe names the store's metrics.
func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- runningDesc
	ch <- bytesDesc
	ch <- endedDesc
}

// Collect reads the store and reports its metrics.
func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		st = onpyrunner.Stats{Queued: -1, Running: -1, StoredBytes: -1}
	}
	ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(st.Running))
	ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(st.StoredBytes))
	for e, n := range st.Ended {
		ch <- prometheus.MustNewConstMetric(endedDesc, prometheus.CounterValue, float64(n), string(e.Status), string(e.Verdict))
	}
}
