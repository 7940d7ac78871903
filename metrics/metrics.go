// Package metrics exports OnPyRunner's Prometheus metrics: queue depth,
// running jobs, jobs ended by status and verdict, and histograms of the
// time jobs wait in the queue and the time they run.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the service's metrics in a registry of its own.
type Metrics struct {
	reg  *prometheus.Registry
	jobs *prometheus.CounterVec
	wait prometheus.Histogram
	run  prometheus.Histogram
}

// New registers the metrics; stats reads the queue for the depth and
// running gauges at each scrape.
func New(stats func(context.Context) (onpyrunner.Stats, error)) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onpyrunner_jobs_total",
			Help: "Jobs ended, by final status and (for completed jobs) verdict.",
		}, []string{"status", "verdict"}),
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
	}
	gauge := func(name, help string, pick func(onpyrunner.Stats) int) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			st, err := stats(ctx)
			if err != nil {
				return -1
			}
			return float64(pick(st))
		})
	}
	m.reg.MustRegister(m.jobs, m.wait, m.run,
		gauge("onpyrunner_queue_depth", "Jobs waiting in the queue.", func(s onpyrunner.Stats) int { return s.Queued }),
		gauge("onpyrunner_jobs_running", "Jobs running now.", func(s onpyrunner.Stats) int { return s.Running }),
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

// Finished records a job's end and the time it ran.
func (m *Metrics) Finished(j *onpyrunner.Job, run time.Duration) {
	verdict := ""
	if j.Result != nil {
		verdict = string(j.Result.Verdict)
	}
	m.jobs.WithLabelValues(string(j.Status), verdict).Inc()
	m.run.Observe(run.Seconds())
}
