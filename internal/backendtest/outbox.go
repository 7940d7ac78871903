package backendtest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
)

// outboxTests check the stores' onpyrunner.Outbox: a delivery is owed
// exactly when a job with a callback ends, however it ends, and a claimed
// one is held for its lease.
var outboxTests = []test{
	{"OutboxOwed", Config{}, testOutboxOwed},
	{"OutboxLease", Config{}, testOutboxLease},
	{"OutboxWakes", Config{}, testOutboxWakes},
	{"OutboxDefer", Config{}, testOutboxDefer},
}

func outbox(t testing.TB, s onpyrunner.Store) onpyrunner.Outbox {
	t.Helper()
	o, ok := s.(onpyrunner.Outbox)
	if !ok {
		t.Fatalf("%T is no onpyrunner.Outbox", s)
	}
	return o
}

func callbackJob() *onpyrunner.Job {
	j := newJob()
	j.CallbackURL = "http://127.0.0.1:9/hook"
	return j
}

// completedWithCallback is a job with a callback that has completed: it
// is owed a delivery.
func completedWithCallback(t testing.TB, s onpyrunner.Store) *onpyrunner.Job {
	t.Helper()
	j := submit(t, s, callbackJob())
	c := claimAs(t, s, j)
	c.Status, c.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	finish(t, s, c)
	return j
}

// due claims every due delivery, held for a minute, sorted by job id.
func due(t testing.TB, o onpyrunner.Outbox) []onpyrunner.Delivery {
	t.Helper()
	ds, err := o.ClaimDeliveries(bounded(t, wait), 100, time.Minute)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	slices.SortFunc(ds, func(a, b onpyrunner.Delivery) int { return strings.Compare(a.JobID, b.JobID) })
	return ds
}

// testOutboxDefer: a deferred delivery is due after its wait with the try
// it was claimed for not counted; one settled stays settled.
func testOutboxDefer(t *testing.T, s onpyrunner.Store) {
	o := outbox(t, s)
	j := completedWithCallback(t, s)
	ds := awaitDue(t, o, j.ID)
	if err := o.DeferDelivery(bounded(t, wait), ds[0], time.Hour); err != nil {
		t.Fatal(err)
	}
	if ds := due(t, o); len(ds) != 0 {
		t.Fatalf("deferred for an hour, due now: %v", ds)
	}
	if st := deliveryOf(t, o, j.ID); st == nil || st.Status != onpyrunner.DeliveryPending || st.Tries != 0 {
		t.Fatalf("deferred before any try: state %+v, want pending after 0 tries", st)
	}
	if err := o.DeferDelivery(bounded(t, wait), ds[0], 0); err != nil {
		t.Fatal(err)
	}
	if ds = awaitDue(t, o, j.ID); ds[0].Tries != 1 {
		t.Fatalf("claimed after a deferral: tries %d, want 1", ds[0].Tries)
	}
	if err := o.SettleDelivery(bounded(t, wait), ds[0], onpyrunner.Delivered, ""); err != nil {
		t.Fatal(err)
	}
	if err := o.DeferDelivery(bounded(t, wait), ds[0], 0); err != nil {
		t.Fatal(err)
	}
	if ds := due(t, o); len(ds) != 0 {
		t.Fatalf("settled, then deferred, and due: %v", ds)
	}
	if st := deliveryOf(t, o, j.ID); st == nil || *st != (onpyrunner.DeliveryState{Status: onpyrunner.Delivered, Tries: 1}) {
		t.Fatalf("settled, then deferred: state %+v, want delivered after 1 try", st)
	}
}

// testOutboxOwed: a job with a callback that completes, fails, or is
// canceled while queued is owed a delivery, at once, with one try
// counted; one handed back, one still running and one without a callback
// are not; the callback URL is kept.
func testOutboxOwed(t *testing.T, s onpyrunner.Store) {
	o := outbox(t, s)
	done, failed, queued, back, plain := callbackJob(), callbackJob(), callbackJob(), callbackJob(), newJob()
	for _, j := range []*onpyrunner.Job{done, failed, plain, back} {
		submit(t, s, j)
		c := claimAs(t, s, j)
		switch j {
		case done:
			c.Status, c.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
		case failed:
			c.Status, c.Error = onpyrunner.Failed, "no"
		case back:
			c.Status = onpyrunner.Queued
		case plain:
			c.Status, c.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
		}
		finish(t, s, c)
	}
	claimAs(t, s, back) // queued again, and running now
	if got := get(t, s, done.ID).CallbackURL; got != done.CallbackURL {
		t.Fatalf("stored callbackUrl %q, want %q", got, done.CallbackURL)
	}
	submit(t, s, queued)
	cancel(t, s, queued.ID)
	cancel(t, s, queued.ID) // ended already: no second delivery
	want := []string{done.ID, failed.ID, queued.ID}
	slices.Sort(want)
	got := due(t, o)
	var ids []string
	for _, d := range got {
		ids = append(ids, d.JobID)
		if d.Tries != 1 {
			t.Errorf("delivery of %s: tries %d, want 1", d.JobID, d.Tries)
		}
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("deliveries owed %v, want %v (completed, failed, canceled)", ids, want)
	}
	if again := due(t, o); len(again) != 0 {
		t.Fatalf("claimed deliveries are held for their lease; claimed again: %v", again)
	}
}

// testOutboxLease: a delivery whose lease ends is due again, with its try
// counted; one retried is due after its wait, its failure noted; one
// settled is never due again, and its state is kept; a job canceled while
// it ran is owed its delivery after CanceledDeliveryDelay.
func testOutboxLease(t *testing.T, s onpyrunner.Store) {
	o := outbox(t, s)
	j := completedWithCallback(t, s)
	ds, err := o.ClaimDeliveries(bounded(t, wait), 10, 50*time.Millisecond)
	if err != nil || len(ds) != 1 {
		t.Fatalf("ClaimDeliveries: %v, %v; want one", ds, err)
	}
	ds = awaitDue(t, o, j.ID)
	if ds[0].Tries != 2 {
		t.Fatalf("after its lease ended: tries %d, want 2", ds[0].Tries)
	}
	if st := deliveryOf(t, o, j.ID); st == nil || *st != (onpyrunner.DeliveryState{Status: onpyrunner.DeliveryPending, Tries: 2}) {
		t.Fatalf("claimed twice: state %+v, want pending after 2 tries", st)
	}
	if err := o.RetryDelivery(bounded(t, wait), ds[0], 0, "the receiver answered 500"); err != nil {
		t.Fatal(err)
	}
	if st := deliveryOf(t, o, j.ID); st == nil || *st != (onpyrunner.DeliveryState{Status: onpyrunner.DeliveryPending, Tries: 2, Error: "the receiver answered 500"}) {
		t.Fatalf("retried: state %+v", st)
	}
	if ds = awaitDue(t, o, j.ID); ds[0].Tries != 3 {
		t.Fatalf("retried: tries %d, want 3", ds[0].Tries)
	}
	if st := deliveryOf(t, o, j.ID); st == nil || *st != (onpyrunner.DeliveryState{Status: onpyrunner.DeliveryPending, Tries: 3, Error: "the receiver answered 500"}) {
		t.Fatalf("claimed again: state %+v, want pending after 3 tries, the last failure kept", st)
	}
	if err := o.RetryDelivery(bounded(t, wait), ds[0], time.Hour, "no answer"); err != nil {
		t.Fatal(err)
	}
	if ds := due(t, o); len(ds) != 0 {
		t.Fatalf("retried in an hour, due now: %v", ds)
	}
	if err := o.SettleDelivery(bounded(t, wait), ds[0], onpyrunner.Delivered, ""); err != nil {
		t.Fatal(err)
	}
	if st := deliveryOf(t, o, j.ID); st == nil || *st != (onpyrunner.DeliveryState{Status: onpyrunner.Delivered, Tries: 3}) {
		t.Fatalf("delivered: state %+v, want delivered after 3 tries", st)
	}
	if err := o.RetryDelivery(bounded(t, wait), ds[0], 0, "late"); err != nil { // settled meanwhile: stays settled
		t.Fatal(err)
	}
	if ds := due(t, o); len(ds) != 0 {
		t.Fatalf("settled, then due: %v", ds)
	}
	if st := deliveryOf(t, o, j.ID); st == nil || st.Status != onpyrunner.Delivered {
		t.Fatalf("settled, then retried: state %+v, want delivered", st)
	}
	failed := submit(t, s, callbackJob())
	fc := claimAs(t, s, failed)
	fc.Status, fc.Error = onpyrunner.Failed, "no"
	finish(t, s, fc)
	fd := awaitDue(t, o, failed.ID)
	if err := o.SettleDelivery(bounded(t, wait), fd[0], onpyrunner.DeliveryFailed, "the receiver answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	if st := deliveryOf(t, o, failed.ID); st == nil || *st != (onpyrunner.DeliveryState{Status: onpyrunner.DeliveryFailed, Tries: 1, Error: "the receiver answered 410 Gone"}) {
		t.Fatalf("given up: state %+v", st)
	}
	plain := submit(t, s, newJob())
	pc := claimAs(t, s, plain)
	pc.Status, pc.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	finish(t, s, pc)
	if st := deliveryOf(t, o, plain.ID); st != nil {
		t.Fatalf("a job without a callback: state %+v, want none", st)
	}

	r := submit(t, s, callbackJob())
	claimAs(t, s, r)
	start := time.Now()
	cancel(t, s, r.ID)
	if ds := due(t, o); len(ds) != 0 && time.Since(start) < onpyrunner.CanceledDeliveryDelay {
		t.Fatalf("canceled while running: due at once (%v), want after %v", ds, onpyrunner.CanceledDeliveryDelay)
	}
	awaitDue(t, o, r.ID)
}

func deliveryOf(t testing.TB, o onpyrunner.Outbox, id string) *onpyrunner.DeliveryState {
	t.Helper()
	st, err := o.DeliveryOf(bounded(t, wait), id)
	if err != nil {
		t.Fatalf("DeliveryOf %s: %v", id, err)
	}
	return st
}

// awaitDue claims until job id's delivery comes due (within a bound) and
// returns it alone.
func awaitDue(t testing.TB, o onpyrunner.Outbox, id string) []onpyrunner.Delivery {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if ds := due(t, o); len(ds) > 0 {
			if len(ds) != 1 || ds[0].JobID != id {
				t.Fatalf("due: %v, want %s alone", ds, id)
			}
			return ds
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the delivery of %s did not come due within %v", id, wait)
	return nil
}

// testOutboxWakes: AwaitDeliveries returns soon after a job with a
// callback ends, long before its bound.
func testOutboxWakes(t *testing.T, s onpyrunner.Store) {
	o := outbox(t, s)
	j := submit(t, s, callbackJob())
	c := claimAs(t, s, j)
	o.AwaitDeliveries(bounded(t, wait), 10*time.Millisecond) // whatever was owed before
	woke := make(chan time.Time, 1)
	go func() {
		// Bounds past the test's wait: only the job's end returns it in time.
		o.AwaitDeliveries(bounded(t, time.Minute), 20*time.Second)
		woke <- time.Now()
	}()
	time.Sleep(50 * time.Millisecond) // into its wait (not needed for the token, which waits for it)
	c.Status, c.Result = onpyrunner.Completed, &onpyrunner.Result{Verdict: onpyrunner.OK}
	finish(t, s, c)
	select {
	case <-woke:
	case <-time.After(wait):
		t.Fatalf("AwaitDeliveries did not return within %v of a job's end", wait)
	}
}
