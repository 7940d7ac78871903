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
