package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/onpyrunner/onpyrunner"
	"github.com/onpyrunner/onpyrunner/api"
	"github.com/onpyrunner/onpyrunner/internal/testenv"
	"github.com/onpyrunner/onpyrunner/sqlite"
	"github.com/onpyrunner/onpyrunner/web"
	"github.com/onpyrunner/onpyrunner/worker"
)

// playground is a real server for the browser tests: the API with the
// playground, the embedded store and a worker pool on the real sandbox.
// Fallback serves the same, but answers 404 for the editor bundle (the page
// must then work with its textarea) and can be told to fail submissions.
type playground struct {
	URL, Fallback string
	// fault, when set, is how Fallback answers POST /api/jobs: "503",
	// "429" or "drop" (the connection closes with no answer); "noattach"
	// refuses the WebSocket of /api/jobs/{id}/attach instead.
	fault atomic.Value
	// runtimes are what the server offers.
	runtimes []onpyrunner.Runtime
}

func startPlayground(t testing.TB) *playground {
	t.Helper()
	sb := testenv.Sandbox(t)
	store, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := api.Config{
		MaxCodeBytes:  4096,
		DefaultLimits: onpyrunner.Limits{TimeMs: 1000, WallTimeMs: 20000, MemoryMB: 128, OutputKB: 64, Processes: 32},
		Web:           web.Handler(),
		Logger:        quiet,
	}
	cfg.Runtimes = sb.Languages()
	h := api.New(store, cfg)
	p := &playground{runtimes: cfg.Runtimes}
	p.fault.Store("")
	srv := httptest.NewServer(h)
	fb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/editor") {
			http.NotFound(w, r)
			return
		}
		if p.fault.Load().(string) == "noattach" && strings.HasSuffix(r.URL.Path, "/attach") {
			api.WriteError(w, onpyrunner.Errorf(onpyrunner.CodeNotFound, "no WebSocket here"))
			return
		}
		if f := p.fault.Load().(string); f != "" && f != "noattach" && r.Method == http.MethodPost && r.URL.Path == "/api/jobs" {
			injectFault(w, f)
			return
		}
		h.ServeHTTP(w, r)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	pool := worker.New(store, worker.Config{Slots: 2, Drain: 100 * time.Millisecond, Logger: quiet,
		NewRunner: func() worker.Runner { return sb.NewLane() }})
	wg.Go(func() { _ = pool.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		for _, s := range []*httptest.Server{srv, fb} {
			s.CloseClientConnections()
			s.Close()
		}
		wg.Wait()
		store.Close()
	})
	p.URL, p.Fallback = srv.URL, fb.URL
	return p
}

func injectFault(w http.ResponseWriter, fault string) {
	if fault == "drop" {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	}
	code, e := http.StatusServiceUnavailable, onpyrunner.Errorf(onpyrunner.CodeQueueFull, "the queue is full (1000 jobs); try again shortly")
	if fault == "429" {
		code, e = http.StatusTooManyRequests, onpyrunner.Errorf(onpyrunner.CodeTooMany, "too many submissions from you; slow down")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// chromium is the path of a Chromium or Chrome, or "" where there is none.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startBrowser starts a headless Chromium for t and returns its first tab.
func startBrowser(t testing.TB) context.Context {
	t.Helper()
	path := chromium()
	testenv.Require(t, path != "", "needs chromium (Debian package chromium)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("hide-scrollbars", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// tab opens a new tab of the browser with the viewport w x h, a phone's
// (mobile and touch) where mobile is set, and loads url in it.
func tab(t testing.TB, browser context.Context, url string, w, h int64, mobile bool) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	// The first call opens the tab, which lives as long as its context:
	// this one has no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
	if mobile {
		opts = append(opts, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	do(t, ctx, chromedp.EmulateViewport(w, h, opts...), chromedp.Navigate(url))
	wait(t, ctx, `document.getElementById("result") && document.getElementById("language").options.length > 0 && document.readyState === "complete"`)
	return ctx
}

// do runs actions in the tab, each within a generous but bounded time.
func do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the tab.
func eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript expression until it is truthy, and returns it.
func wait(t testing.TB, ctx context.Context, expr string) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 35*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[[]byte](expr,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("waiting for %s: %v\npage: %s", expr, err, pageState(ctx))
	}
	return v
}

// pageState says what the page shows, for failure messages.
func pageState(ctx context.Context) string {
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`JSON.stringify({state: document.getElementById("result").dataset.state,
		verdict: document.getElementById("verdict").textContent, message: document.getElementById("message").textContent,
		output: document.getElementById("output").textContent})`))
	return s
}

// insertText types text at the cursor as one input, as a paste or an IME does.
func insertText(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// pressEnter presses Enter as a keyboard does: one key down that types
// "\r", and the key up.
func pressEnter(mods ...chromedp.Modifier) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var m int64
		for _, x := range mods {
			m |= int64(x)
		}
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter",
			WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Modifiers: m}
		if m == 0 {
			down.Text, down.UnmodifiedText = "\r", "\r"
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		for _, p := range []input.DispatchKeyEventParams{down, up} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// typeCode replaces the editor's text by code, typing it as a person would.
func typeCode(t testing.TB, ctx context.Context, code string) {
	t.Helper()
	do(t, ctx, chromedp.Focus(chromedp.CSS(".cm-content")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent(kb.Backspace),
		insertText(code))
	// CodeMirror draws only the visible part of a long line.
	if got := editorText(t, ctx); len(code) < 1000 && got != code {
		t.Fatalf("the editor holds %q, want %q", got, code)
	}
}

// clickID clicks the element with the given id as a user would, with the
// mouse at its middle, and makes sure that the click reached it: a layout
// that moves between chromedp's measure and its click (the page settling
// after a run) sends the click elsewhere, and then it clicks again.
func clickID(t testing.TB, ctx context.Context, id string) {
	t.Helper()
	arm := fmt.Sprintf(`(window.__clicked = false, document.getElementById(%q).addEventListener("click",
		() => { window.__clicked = true; }, { once: true }), true)`, id)
	for try := 0; ; try++ {
		eval[bool](t, ctx, arm)
		do(t, ctx, chromedp.Click(chromedp.ID(id)))
		if eval[bool](t, ctx, `window.__clicked`) {
			return
		}
		if try == 4 {
			t.Fatalf("clicks on #%s do not reach it", id)
		}
		t.Logf("a click on #%s went elsewhere; clicking again", id)
		time.Sleep(100 * time.Millisecond)
	}
}

// editorText is the text that the CodeMirror editor shows.
func editorText(t testing.TB, ctx context.Context) string {
	return eval[string](t, ctx, `[...document.querySelectorAll(".cm-content .cm-line")].map(l => l.textContent).join("\n")`)
}

// typeInput replaces the stdin box's text by text, typing it.
func typeInput(t testing.TB, ctx context.Context, text string) { typeInto(t, ctx, "stdin", text) }

// typeInto replaces the text of the textarea with the given id, typing it.
func typeInto(t testing.TB, ctx context.Context, id, text string) {
	t.Helper()
	do(t, ctx, chromedp.Click(chromedp.ID(id)),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent(kb.Backspace),
		chromedp.SendKeys(chromedp.ID(id), text))
	if got := eval[string](t, ctx, `document.getElementById("`+id+`").value`); got != text {
		t.Fatalf("#%s holds %q, want %q", id, got, text)
	}
}

// screenshot saves a PNG of the whole page into $ONPYRUNNER_SCREENSHOTS (or
// a temporary folder) and logs its path.
func screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("ONPYRUNNER_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
