package main

import (
	"testing"

	"github.com/onpyrunner/onpyrunner/internal/attachtest"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
)

// TestDistributedAttach: interactive runs with the client attached to an
// API process and the job run by a worker process: stdin, EOF and signals
// go API -> Redis -> worker, the output back as for any job.
func TestDistributedAttach(t *testing.T) {
	rdb := testenv.StartRedis(t)
	apiSrv := startServe(t, "--redis", rdb.URL, "--slots", "0")
	startWorker(t, "--redis", rdb.URL, "--slots", "2")
	attachtest.Run(t, apiSrv.client)
}

// BenchmarkDistributedAttachRoundTrip: a line sent on the WebSocket to its
// echo by print(input()) over Redis on loopback; p50 and p99 of 1,000
// lines per run.
func BenchmarkDistributedAttachRoundTrip(b *testing.B) {
	rdb := testenv.StartRedis(b)
	apiSrv := startServe(b, "--redis", rdb.URL, "--slots", "0")
	startWorker(b, "--redis", rdb.URL, "--slots", "1")
	for b.Loop() {
		took := attachtest.RoundTrip(b, apiSrv.client, 1000)
		b.ReportMetric(float64(attachtest.Quantile(took, 0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(attachtest.Quantile(took, 0.99).Microseconds())/1000, "p99-ms")
	}
}
