package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sqlite"
	"github.com/onpyrunner/onpyrunner/worker"
)

// testServer is a real server on a loopback port: the API, the embedded
// store in a temporary folder and a worker pool on the real sandbox.
type testServer struct {
	URL    string
	Client *client.Client
	Store  *sqlite.Store
}

// serverOpts shape a testServer; the zero value is a server with 2 slots
// and the API's defaults.
type serverOpts struct {
	api   api.Config
	store sqlite.Config
	slots int
	// wrap, when set, wraps the API's handler (to check it against the
	// OpenAPI document, say).
	wrap func(http.Handler) http.Handler
}

func newServer(t testing.TB, o serverOpts) *testServer {
	t.Helper()
	sb := testenv.Sandbox(t)
	if o.store.Dir == "" {
		o.store.Dir = t.TempDir()
	}
	store, err := sqlite.Open(o.store)
	if err != nil {
		t.Fatal(err)
	}
	if o.api.Runtimes == nil {
		o.api.Runtimes = sb.Languages()
	}
	if o.slots == 0 {
		o.slots = 2
	}
	var h http.Handler = api.New(store, o.api, nil)
	if o.wrap != nil {
		h = o.wrap(h)
	}
	srv := httptest.NewServer(h)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	pool := worker.New(store, worker.Config{Slots: o.slots, Drain: 100 * time.Millisecond,
		NewRunner: func() worker.Runner { return sb.NewLane() }})
	wg.Go(func() { _ = pool.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		srv.CloseClientConnections()
		srv.Close()
		wg.Wait()
		store.Close()
	})
	return &testServer{URL: srv.URL, Client: client.New(srv.URL, srv.Client()), Store: store}
}

func sqliteCap(n int) sqlite.Config { return sqlite.Config{QueueCap: n} }
