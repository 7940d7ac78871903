package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/client"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/internal/webhooktest"
	"github.com/onpyrunner/onpyrunner/sqlite"
	"github.com/onpyrunner/onpyrunner/webhook"
	"github.com/onpyrunner/onpyrunner/worker"
)

// testServer is a real server on a loopback port: the API, the embedded
// store in a temporary folder and a worker pool on the real sandbox (or a
// fake runner: serverOpts.fake).
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
	// fake, when set, runs no program: a stand-in runner answers each job
	// with its code as stdout, for tests of what the API does around a
	// run; they need neither root nor the sandbox.
	fake bool
	// attach is the workers' attach timeout (worker.Config's default
	// when zero).
	attach time.Duration
	// webhooks, when set, runs a deliverer over the store (with the
	// test receivers' secret), and the API takes callback URLs.
	webhooks *webhook.Config
}

// echoRunner is the fake runner: stdout is the code.
type echoRunner struct{}

func (echoRunner) Run(_ context.Context, req onpyrunner.RunRequest) (*onpyrunner.Result, error) {
	return &onpyrunner.Result{Verdict: onpyrunner.OK, Stdout: string(req.Code)}, nil
}

func (echoRunner) Close() error { return nil }

func newServer(t testing.TB, o serverOpts) *testServer {
	t.Helper()
	runtimes := []onpyrunner.Runtime{{Language: "python", Version: "fake"}}
	newRunner := func() worker.Runner { return echoRunner{} }
	if !o.fake {
		sb := testenv.Sandbox(t)
		runtimes = sb.Languages()
		newRunner = func() worker.Runner { return sb.NewLane() }
	}
	if o.store.Dir == "" {
		o.store.Dir = t.TempDir()
	}
	store, err := sqlite.Open(o.store)
	if err != nil {
		t.Fatal(err)
	}
	if o.api.Runtimes == nil {
		o.api.Runtimes = runtimes
	}
	if o.slots == 0 {
		o.slots = 2
	}
	if o.webhooks != nil {
		o.api.Webhooks, o.api.WebhookPrivate = true, o.webhooks.AllowPrivate
	}
	var h http.Handler = api.New(store, o.api)
	if o.wrap != nil {
		h = o.wrap(h)
	}
	srv := httptest.NewServer(h)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool := worker.New(store, worker.Config{Slots: o.slots, Drain: 100 * time.Millisecond, NewRunner: newRunner, Logger: quiet,
		AttachTimeout: o.attach})
	wg.Go(func() { _ = pool.Run(ctx) })
	if o.webhooks != nil {
		cfg := *o.webhooks
		cfg.Secret, cfg.Logger = []byte(webhooktest.Secret), quiet
		wg.Go(func() { _ = webhook.New(store, store, cfg).Run(ctx) })
	}
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
