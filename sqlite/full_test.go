package sqlite_test

import (
	"crypto/rand"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sqlite"
)

// TestDiskFull fills the store's disk (a 2 MiB tmpfs): a submission then
// gets 503 "disk is full", not a 500, and readyz says the same.
func TestDiskFull(t *testing.T) {
	testenv.Root(t)
	dir := filepath.Join(t.TempDir(), "small")
	if err := unix.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	s, err := sqlite.Open(sqlite.Config{Dir: dir, QueueCap: 1000, MaxBytes: 1 << 40}) // the disk fills first
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	input := strings.Repeat("x", 100<<10)
	for i := 0; ; i++ {
		err = s.Submit(t.Context(), &onpyrunner.Job{ID: rand.Text(), Language: "python", Code: "pass", Input: input})
		if err != nil {
			break
		}
		if i > 100 {
			t.Fatal("2 MiB took 10 MiB of jobs")
		}
	}
	e, ok := errors.AsType[*onpyrunner.Error](err)
	if !ok || e.Code != onpyrunner.CodeUnavailable || !strings.Contains(e.Message, "disk is full") {
		t.Fatalf("a submission to a full disk: %v, want unavailable: disk is full", err)
	}
	if _, err := s.Stats(t.Context()); err == nil || !strings.Contains(err.Error(), "disk is full") {
		t.Errorf("Stats with the disk full: %v", err)
	}
	rec := httptest.NewRecorder()
	api.New(s, api.Config{}).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 503 || !strings.Contains(string(body), "disk is full") {
		t.Errorf("readyz with the disk full: %d %s", rec.Code, body)
	}
}

// TestByteBudget: once the database holds its byte budget, a submission
// gets 503 naming the budget (before the disk fills), and Stats tells the
// bytes stored.
func TestByteBudget(t *testing.T) {
	s, err := sqlite.Open(sqlite.Config{Dir: t.TempDir(), MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	input := strings.Repeat("x", 100<<10)
	for i := 0; ; i++ {
		err = s.Submit(t.Context(), &onpyrunner.Job{ID: rand.Text(), Language: "python", Code: "pass", Input: input})
		if err != nil {
			break
		}
		if i > 20 {
			t.Fatal("2 MiB of jobs in a budget of 1 MiB")
		}
	}
	if e, ok := errors.AsType[*onpyrunner.Error](err); !ok || e.Code != onpyrunner.CodeUnavailable || !strings.Contains(e.Message, "byte budget") {
		t.Fatalf("a submission past the budget: %v, want unavailable: byte budget", err)
	}
	if st, err := s.Stats(t.Context()); err != nil || st.StoredBytes < 1<<20 || st.StoredBytes > 2<<20 {
		t.Errorf("Stats: %+v %v, want about 1 MiB stored", st, err)
	}
}
