package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	r := Report{Done: 100, Elapsed: 2 * time.Second}
	for i := 1; i <= 100; i++ {
		r.lat = append(r.lat, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := r.Percentile(tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if r.Rate() != 50 {
		t.Errorf("rate %v, want 50", r.Rate())
	}
	if (Report{}).Percentile(50) != 0 {
		t.Error("percentile of nothing")
	}
}

func TestRunCountsAndStops(t *testing.T) {
	n := 0
	boom := errors.New("boom")
	r := Run(context.Background(), 1, 50*time.Millisecond, func(context.Context) error {
		n++
		time.Sleep(time.Millisecond)
		if n%2 == 0 {
			return boom
		}
		return nil
	})
	if r.Done+r.Errors != n || r.Errors != n/2 || !errors.Is(r.FirstErr, boom) {
		t.Errorf("report %+v after %d calls", r, n)
	}
	if r.Elapsed < 50*time.Millisecond {
		t.Errorf("stopped after %v", r.Elapsed)
	}
}

func TestAdd(t *testing.T) {
	boom := errors.New("boom")
	a := Report{Done: 2, Errors: 1, FirstErr: boom, Elapsed: time.Second, lat: []time.Duration{1, 5}}
	a.Add(Report{Done: 1, Errors: 1, FirstErr: errors.New("later"), Elapsed: time.Second, lat: []time.Duration{3}})
	if a.Done != 3 || a.Errors != 2 || a.FirstErr != boom || a.Rate() != 1.5 || a.Percentile(50) != 3 || a.Percentile(100) != 5 {
		t.Errorf("merged %+v", a)
	}
}
