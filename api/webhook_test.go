package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/internal/attachtest"
	"github.com/onpyrunner/onpyrunner/internal/webhooktest"
	"github.com/onpyrunner/onpyrunner/webhook"
)

// TestWebhooks: a job's end is POSTed to its callbackUrl once, signed, as
// GET /api/jobs/{id} shows it; a batch's callbackUrl goes to each of its
// jobs that names none; a canceled job is delivered too.
func TestWebhooks(t *testing.T) {
	srv := newServer(t, serverOpts{webhooks: &webhook.Config{AllowPrivate: true, FirstRetry: 50 * time.Millisecond, Tries: 2}})
	c := srv.Client
	if rt, err := c.Runtimes(t.Context()); err != nil || !rt.Webhooks {
		t.Fatalf("runtimes: %+v %v, want webhooks true", rt, err)
	}
	recv := webhooktest.New(t)
	j, err := c.Submit(t.Context(), api.SubmitRequest{Code: ptr("print(6 * 7)"), CallbackURL: recv.URL + "/hook?k=1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := recv.Next(t, 30*time.Second)
	resp, err := http.Get(srv.URL + "/api/jobs/" + j.ID)
	if err != nil {
		t.Fatal(err)
	}
	shown, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var a, b map[string]any
	_ = json.Unmarshal(d.Body, &a)
	_ = json.Unmarshal(shown, &b)
	delete(b, "webhook") // GET alone says how the delivery stands
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("delivered %s\nGET shows %s", d.Body, shown)
	}
	if _, ok := a["webhook"]; ok {
		t.Errorf("the delivery's body has the webhook's state: %s", d.Body)
	}
	// GET says it was delivered, once the deliverer has heard the 200.
	if w := awaitWebhook(t, c, j.ID, onpyrunner.Delivered); *w != (onpyrunner.DeliveryState{Status: onpyrunner.Delivered, Tries: 1}) {
		t.Fatalf("GET shows webhook %+v, want delivered after 1 try", w)
	}
	if d.Job.Status != onpyrunner.Completed || d.Job.Result.Stdout != "42\n" || d.Attempt != 1 {
		t.Fatalf("delivered %+v attempt %d", d.Job, d.Attempt)
	}

	other := webhooktest.New(t)
	bt, err := c.SubmitBatch(t.Context(), []api.SubmitRequest{{Code: ptr("print(1)")}, {Code: ptr("print(2)"), CallbackURL: other.URL},
		{Code: ptr("print(3)")}}, recv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for range 2 {
		d := recv.Next(t, 30*time.Second)
		got[d.Job.ID] = d.Job.Result.Stdout
	}
	if od := other.Next(t, 30*time.Second); od.Job.ID != bt.JobIDs[1] {
		t.Errorf("the job with its own callback: %s delivered there, want %s", od.Job.ID, bt.JobIDs[1])
	}
	if got[bt.JobIDs[0]] != "1\n" || got[bt.JobIDs[2]] != "3\n" {
		t.Errorf("the batch's callback got %v for jobs %v", got, bt.JobIDs)
	}

	slow, err := c.Submit(t.Context(), api.SubmitRequest{Code: ptr("import time\ntime.sleep(30)"), CallbackURL: recv.URL,
		Limits: &api.RequestLimits{WallTimeMs: ptr[int64](30000)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cancel(t.Context(), slow.ID); err != nil {
		t.Fatal(err)
	}
	if d := recv.Next(t, 30*time.Second); d.Job.ID != slow.ID || d.Job.Status != onpyrunner.Canceled {
		t.Fatalf("after a cancel: %s %s", d.Job.ID, d.Job.Status)
	}
	time.Sleep(300 * time.Millisecond) // retry waits: another delivery would have come
	if n := recv.Count(); n != 4 {
		t.Fatalf("%d deliveries, want 4: one per job", n)
	}

	// A receiver that keeps failing: GET shows the delivery failed, and why.
	failing := webhooktest.New(t, 500, 500)
	fj, err := c.Submit(t.Context(), api.SubmitRequest{Code: ptr("print(1)"), CallbackURL: failing.URL}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if w := awaitWebhook(t, c, fj.ID, onpyrunner.DeliveryFailed); w.Tries != 2 || !strings.Contains(w.Error, "500") {
		t.Errorf("given up: %+v, want 2 tries and the 500", w)
	}
}

// awaitWebhook polls GET /api/jobs/{id} until its webhook state has
// status st (the deliverer settles a try after the receiver's answer),
// and returns that state.
func awaitWebhook(t *testing.T, c *client.Client, id string, st onpyrunner.DeliveryStatus) *onpyrunner.DeliveryState {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err := c.Get(t.Context(), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if w := got.Webhook; w != nil && w.Status == st {
			return w
		} else if time.Now().After(deadline) {
			t.Fatalf("GET shows webhook %+v, want %s", w, st)
		}
	}
}

// TestCallbackRefused: a server without a webhook secret refuses every
// callbackUrl; one with refuses bad URLs and, unless allowed, private
// addresses; a batch's callbackUrl is checked alike.
func TestCallbackRefused(t *testing.T) {
	none := newServer(t, serverOpts{fake: true})
	if rt, err := none.Client.Runtimes(t.Context()); err != nil || rt.Webhooks {
		t.Fatalf("runtimes: %+v %v, want webhooks false", rt, err)
	}
	_, err := none.Client.Submit(t.Context(), api.SubmitRequest{Code: ptr("1"), CallbackURL: "https://example.com/"}, 0)
	wantRefusal(t, err, "callbackUrl: this server sends no webhooks")

	srv := newServer(t, serverOpts{fake: true, webhooks: &webhook.Config{}})
	for u, want := range map[string]string{
		"http://10.0.0.1/hook":                             "not a public address",
		"http://[::1]:8080/":                               "not a public address",
		"ftp://example.com/":                               "http or https",
		"http://u:p@example.com/":                          "user name",
		"example.com/hook":                                 "http or https",
		"https://example.com/" + strings.Repeat("x", 3000): "over 2048 bytes",
	} {
		_, err := srv.Client.Submit(t.Context(), api.SubmitRequest{Code: ptr("1"), CallbackURL: u}, 0)
		wantRefusal(t, err, "callbackUrl: ")
		wantRefusal(t, err, want)
	}
	_, err = srv.Client.SubmitBatch(t.Context(), []api.SubmitRequest{{Code: ptr("1")}}, "http://169.254.169.254/")
	wantRefusal(t, err, "callbackUrl: 169.254.169.254 is not a public address")
	_, err = srv.Client.SubmitBatch(t.Context(), []api.SubmitRequest{{Code: ptr("1")}, {Code: ptr("1"), CallbackURL: "gopher://x"}}, "")
	wantRefusal(t, err, "jobs[1]: callbackUrl")
	if _, err := srv.Client.Submit(t.Context(), api.SubmitRequest{Code: ptr("1"), CallbackURL: "https://example.com/hook"}, 0); err != nil {
		t.Fatalf("a public URL: %v", err)
	}
}

func wantRefusal(t *testing.T, err error, msg string) {
	t.Helper()
	ce, ok := err.(*client.Error)
	if !ok || ce.StatusCode != 400 || !strings.Contains(ce.Message, msg) {
		t.Errorf("got %v, want a 400 that says %q", err, msg)
	}
}

// BenchmarkWebhookDelay: from a job's end to its webhook's arrival at a
// loopback receiver, embedded store; p50 and p99 of 200 jobs per run.
func BenchmarkWebhookDelay(b *testing.B) {
	srv := newServer(b, serverOpts{webhooks: &webhook.Config{AllowPrivate: true}})
	recv := webhooktest.New(b)
	for b.Loop() {
		took := webhooktest.Delays(b, srv.Client, recv, 200)
		b.ReportMetric(float64(attachtest.Quantile(took, 0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(attachtest.Quantile(took, 0.99).Microseconds())/1000, "p99-ms")
	}
}
