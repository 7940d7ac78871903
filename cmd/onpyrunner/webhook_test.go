package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/internal/attachtest"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/internal/webhooktest"
)

// webhookArgs turn on the deliveries, to loopback receivers, with short
// waits: a lease of 2×1s + 5s.
var webhookArgs = []string{"--webhook-secret", webhooktest.Secret, "--webhook-allow-private",
	"--webhook-timeout", "1s", "--webhook-retry", "100ms"}

// TestWebhookSurvivesKill: the server is killed with -9 while a delivery
// is owed and in flight (the receiver has not answered); once it is
// started again, on the same store, the delivery is made, and only once
// after the receiver answers 200. On the embedded store, and on Redis
// with the job run by a worker process and delivered by the API process.
func TestWebhookSurvivesKill(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		data := t.TempDir()
		args := append([]string{"--data", data, "--slots", "1"}, webhookArgs...)
		killedDuringDelivery(t, func() *server { return startServe(t, args...) })
	})
	t.Run("redis", func(t *testing.T) {
		rdb := testenv.StartRedis(t)
		startWorker(t, "--redis", rdb.URL, "--slots", "1")
		args := append([]string{"--redis", rdb.URL, "--slots", "0"}, webhookArgs...)
		killedDuringDelivery(t, func() *server { return startServe(t, args...) })
	})
}

func killedDuringDelivery(t *testing.T, start func() *server) {
	recv := webhooktest.New(t, 0) // the first try gets no answer
	srv := start()
	j, err := srv.client.Submit(t.Context(), api.SubmitRequest{Code: ptr("print(6 * 7)"), CallbackURL: recv.URL + "/done"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	first := recv.Next(t, time.Minute)
	if first.Job.ID != j.ID || first.Attempt != 1 {
		t.Fatalf("first try: job %s attempt %d", first.Job.ID, first.Attempt)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.waitExit(t, 30*time.Second)
	start()
	again := recv.Next(t, time.Minute) // after the dead process's lease
	if again.Job.ID != j.ID || again.Attempt != 2 || again.Job.Status != onpyrunner.Completed || again.Job.Result.Stdout != "42\n" {
		t.Fatalf("after the restart: %+v attempt %d", again.Job, again.Attempt)
	}
	time.Sleep(time.Second) // ten retry waits: a third delivery would have come
	if n := recv.Count(); n != 2 {
		t.Fatalf("%d deliveries, want 2 (one unanswered, one answered 200)", n)
	}
}

// BenchmarkDistributedWebhookDelay: from a job's end on a worker process
// to its webhook's arrival at a loopback receiver, delivered by the API
// process over Redis; p50 and p99 of 200 jobs per run.
func BenchmarkDistributedWebhookDelay(b *testing.B) {
	rdb := testenv.StartRedis(b)
	startWorker(b, "--redis", rdb.URL, "--slots", "1")
	apiSrv := startServe(b, append([]string{"--redis", rdb.URL, "--slots", "0"}, webhookArgs...)...)
	recv := webhooktest.New(b)
	for b.Loop() {
		took := webhooktest.Delays(b, apiSrv.client, recv, 200)
		b.ReportMetric(float64(attachtest.Quantile(took, 0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(attachtest.Quantile(took, 0.99).Microseconds())/1000, "p99-ms")
	}
}
