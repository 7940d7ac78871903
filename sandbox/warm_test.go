package sandbox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/onpyrunner/onpyrunner/sandbox"
)

func TestWarmSmoke(t *testing.T) {
	s := sandboxFor(t)
	sl, err := s.NewSlot("python")
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	for i := 0; i < 3; i++ {
		res, err := sl.Run(context.Background(), sandbox.Spec{Code: []byte("import time, sys\nprint(time.process_time(), time.perf_counter(), len(sys.modules))"), Stdin: strings.NewReader("x\n")})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", res)
	}
}
