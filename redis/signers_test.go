package redis_test

import (
	"slices"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner/internal/testenv"
)

// TestPublishSigner: the fingerprints that live processes publish are
// listed, each once, and one is forgotten once its ttl has passed.
func TestPublishSigner(t *testing.T) {
	s := open(t, testenv.StartRedis(t).URL, "signers:", 0, 0)
	if live, err := s.PublishSigner(t.Context(), "a", time.Minute); err != nil || !slices.Equal(live, []string{"a"}) {
		t.Fatalf("%v %v", live, err)
	}
	if _, err := s.PublishSigner(t.Context(), "b", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	live, err := s.PublishSigner(t.Context(), "a", time.Minute)
	if slices.Sort(live); err != nil || !slices.Equal(live, []string{"a", "b"}) {
		t.Fatalf("%v %v", live, err)
	}
	time.Sleep(400 * time.Millisecond)
	if live, err := s.PublishSigner(t.Context(), "a", time.Minute); err != nil || !slices.Equal(live, []string{"a"}) {
		t.Fatalf("after b's ttl: %v %v", live, err)
	}
}
