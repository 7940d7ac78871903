package web_test

import (
	"context"
	"encoding/json"
	"github.com/onpyrunner/onpyrunner"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// streaming prints, sleeps, and prints again: its first line must show
// while it still runs.
const streaming = "import time\nprint(\"first\", flush=True)\ntime.sleep(1.5)\nprint(\"second\")"

// TestPlayground drives the page in Chromium against a real server, at a
// phone's viewport and at a desktop's, and without the editor bundle.
func TestPlayground(t *testing.T) {
	browser := startBrowser(t)
	p := startPlayground(t)
	t.Run("phone", func(t *testing.T) { phone(t, browser, p) })
	t.Run("desktop", func(t *testing.T) { desktop(t, browser, p) })
	t.Run("fallback", func(t *testing.T) { fallback(t, browser, p) })
}

// shown is what the page shows of a run.
type shown struct {
	State, Kind, Verdict, Stats, Output, Stderr, Message string
}

const shownJS = `(() => {
	const r = document.getElementById("result"), $ = id => document.getElementById(id).textContent;
	return {state: r.dataset.state, kind: r.dataset.kind, verdict: $("verdict"), stats: $("stats"),
		output: $("output"), message: document.getElementById("message").hidden ? "" : $("message"),
		stderr: [...document.querySelectorAll("#output .err")].map(e => e.textContent).join("")};
})()`

func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// waitDone waits for the end of a run and returns what the page shows.
func waitDone(t testing.TB, ctx context.Context) shown {
	t.Helper()
	return decode[shown](t, wait(t, ctx, `document.getElementById("result").dataset.state === "done" && `+shownJS))
}

// runClick runs the code with the Run button and waits for the end.
func runClick(t testing.TB, ctx context.Context) shown {
	t.Helper()
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	return waitDone(t, ctx)
}

func expect(t testing.TB, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q does not say %q", what, got, w)
		}
	}
}

// noSideways checks that the page does not scroll sideways.
func noSideways(t testing.TB, ctx context.Context, when string) {
	t.Helper()
	if !eval[bool](t, ctx, `document.documentElement.scrollWidth <= document.documentElement.clientWidth`) {
		t.Errorf("%s: the page scrolls sideways (scrollWidth %v > clientWidth)", when,
			eval[float64](t, ctx, `document.documentElement.scrollWidth`))
	}
}

func phone(t *testing.T, browser context.Context, p *playground) {
	ctx := tab(t, browser, p.URL, 375, 667, true)
	wait(t, ctx, `!!document.querySelector(".cm-content")`)
	noSideways(t, ctx, "at load")
	small := eval[[]string](t, ctx, `["run", "stop", "share", "language", "stdin"].filter(id => {
		const r = document.getElementById(id).getBoundingClientRect(); return r.height < 44 || r.width < 44; })`)
	if len(small) > 0 {
		t.Errorf("touch targets under 44 px: %v", small)
	}

	// The output streams: the first line shows while the program sleeps.
	typeCode(t, ctx, streaming)
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	mid := decode[shown](t, wait(t, ctx, `document.getElementById("output").textContent.includes("first") && `+shownJS))
	if mid.State == "done" || strings.Contains(mid.Output, "second") {
		t.Errorf("the first line came only with the end of the run: %+v", mid)
	}
	screenshot(t, ctx, "phone-running")
	end := waitDone(t, ctx)
	if end.Output != "first\nsecond\n" || end.Kind != "ok" {
		t.Errorf("after the run the page shows %+v", end)
	}
	expect(t, "verdict", end.Verdict, "Finished normally")
	expect(t, "stats", end.Stats, "Exit code 0", "CPU time", "memory")
	noSideways(t, ctx, "after a run")
	screenshot(t, ctx, "phone-done")

	// Input reaches the program; Share gives a link that reopens the run.
	code := "name = input()\nprint(f\"Hello, {name}!\")"
	typeCode(t, ctx, code)
	typeInput(t, ctx, "Ada\n")
	if got := runClick(t, ctx); got.Output != "Hello, Ada!\n" {
		t.Fatalf("with stdin the page shows %+v", got)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("share")))
	link := decode[string](t, wait(t, ctx, `document.getElementById("share-link").value`))
	if !strings.Contains(link, "?job=") {
		t.Fatalf("share link %q", link)
	}
	shared := tab(t, browser, link, 375, 667, true)
	got := waitDone(t, shared)
	if got.Output != "Hello, Ada!\n" || got.Kind != "ok" {
		t.Errorf("the shared link shows %+v", got)
	}
	if c := editorText(t, shared); c != code {
		t.Errorf("the shared link shows the code %q, want %q", c, code)
	}
	if in := eval[string](t, shared, `document.getElementById("stdin").value`); in != "Ada\n" {
		t.Errorf("the shared link shows the input %q", in)
	}
	screenshot(t, shared, "phone-shared")
}

func desktop(t *testing.T, browser context.Context, p *playground) {
	ctx := tab(t, browser, p.URL, 1280, 800, false)
	wait(t, ctx, `!!document.querySelector(".cm-content")`)
	if !eval[bool](t, ctx, `document.getElementById("editor-host").getBoundingClientRect().right <=
		document.getElementById("output").getBoundingClientRect().left`) {
		t.Errorf("the editor and the output are not side by side")
	}

	// Ctrl+Enter runs, and types no new line.
	typeCode(t, ctx, "print(1)")
	do(t, ctx, pressEnter(chromedp.ModifierCtrl))
	if got := waitDone(t, ctx); got.Output != "1\n" {
		t.Errorf("Ctrl+Enter: the page shows %+v", got)
	}
	if c := editorText(t, ctx); c != "print(1)" {
		t.Errorf("after Ctrl+Enter the editor holds %q", c)
	}

	// From the press of Run to the first output, several times.
	var times []float64
	for range 5 {
		eval[bool](t, ctx, `(() => { const t = window.__t = {}, o = document.getElementById("output");
			document.getElementById("run").addEventListener("click", () => { t.start = performance.now(); }, {capture: true, once: true});
			const mo = new MutationObserver(() => { if (o.textContent.trim()) { t.first = performance.now(); mo.disconnect(); } });
			mo.observe(o, {childList: true, subtree: true, characterData: true}); return true; })()`)
		runClick(t, ctx)
		times = append(times, eval[float64](t, ctx, `window.__t.first - window.__t.start`))
	}
	slices.Sort(times)
	t.Logf("Run to first output of print(1), ms: %.0f (median %.0f)", times, times[len(times)/2])

	// The picker names each runtime with its version (PyPy with its own and
	// the Python it implements); a run goes to the one picked; a failed
	// import says which packages that runtime has.
	labels := eval[[]string](t, ctx, `[...document.getElementById("language").options].map(o => o.text)`)
	for _, rt := range p.runtimes {
		want := "Python " + rt.Version
		if rt.Language == "pypy" {
			want = "PyPy " + rt.ImplementationVersion + " (Python " + rt.Version + ")"
		}
		if !slices.Contains(labels, want) {
			t.Errorf("the picker %q lacks %q", labels, want)
		}
	}
	if slices.ContainsFunc(p.runtimes, func(r onpyrunner.Runtime) bool { return r.Language == "pypy" }) {
		eval[bool](t, ctx, `(() => { const s = document.getElementById("language");
			s.value = [...s.options].find(o => o.value.startsWith("pypy ")).value; s.dispatchEvent(new Event("change")); return true; })()`)
		typeCode(t, ctx, "import sys, platform\nprint(sys.implementation.name, platform.python_version())")
		pypy := p.runtimes[slices.IndexFunc(p.runtimes, func(r onpyrunner.Runtime) bool { return r.Language == "pypy" })]
		if got := runClick(t, ctx); got.Output != "pypy "+pypy.Version+"\n" {
			t.Errorf("a run with PyPy picked: %+v", got)
		}
		typeCode(t, ctx, "import numpy")
		got := runClick(t, ctx)
		expect(t, "a failed import", got.Message, "no module numpy", "PyPy "+pypy.Version, "standard library only")
		eval[bool](t, ctx, `(() => { const s = document.getElementById("language");
			s.value = [...s.options].find(o => o.dataset.default && o.value.startsWith("python ")).value; return true; })()`)
	}

	// Editing: auto-indent after a colon, and undo.
	typeCode(t, ctx, "if True:")
	do(t, ctx, chromedp.Sleep(600*time.Millisecond), pressEnter())
	if c := editorText(t, ctx); c != "if True:\n    " {
		t.Errorf("after Enter the editor holds %q, want an indented line", c)
	}
	do(t, ctx, chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	if c := editorText(t, ctx); c != "if True:" {
		t.Errorf("after undo the editor holds %q", c)
	}
	// Tab indents, but Esc then Tab leaves the editor (no keyboard trap).
	do(t, ctx, chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.Tab))
	if eval[bool](t, ctx, `document.querySelector(".cm-editor").contains(document.activeElement)`) {
		t.Errorf("Esc then Tab left the focus in the editor")
	}

	// stderr is told apart; a crash, a limit and a too large program are said in words.
	// (One write each: print's text and its new line are two writes when
	// the output is written through, and stdout and stderr are two pipes,
	// so a piece of stderr may come between them.)
	typeCode(t, ctx, "import sys\nsys.stdout.write(\"out\\n\")\nsys.stderr.write(\"oops\\n\")\nsys.exit(3)")
	got := runClick(t, ctx)
	if got.Stderr != "oops\n" || !strings.Contains(got.Output, "out\n") || got.Kind != "error" {
		t.Errorf("stderr run: the page shows %+v", got)
	}
	expect(t, "verdict", got.Verdict, "exit code 3")
	screenshot(t, ctx, "desktop-stderr")
	typeCode(t, ctx, "while True:\n    pass")
	expect(t, "verdict", runClick(t, ctx).Verdict, "Stopped: used more than 1 s of CPU time")
	typeCode(t, ctx, "# "+strings.Repeat("x", 5000))
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	expect(t, "message", decode[string](t, wait(t, ctx, `document.getElementById("message").textContent`)),
		"at most 4 KiB of code")

	// Stop interrupts a long run first (SIGINT: a KeyboardInterrupt)...
	typeCode(t, ctx, "import time\nprint(\"tick\")\ntime.sleep(15)")
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	wait(t, ctx, `document.getElementById("output").textContent.includes("tick")`)
	do(t, ctx, chromedp.Click(chromedp.ID("stop")))
	interrupted(t, ctx, waitDone(t, ctx), "Stop")
	// ...and cancels it when it goes on after that, keeping its output and
	// saying the time it used.
	typeCode(t, ctx, "import time\ntry:\n    print(\"tick\")\n    time.sleep(15)\nexcept KeyboardInterrupt:\n"+
		"    print(\"caught\")\n    time.sleep(15)")
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	wait(t, ctx, `document.getElementById("output").textContent.includes("tick")`)
	do(t, ctx, chromedp.Click(chromedp.ID("stop")))
	got = waitDone(t, ctx)
	expect(t, "verdict", got.Verdict, "canceled")
	expect(t, "output", got.Output, "tick\n", "caught\n")
	if !strings.Contains(got.Stats, "wall time") && !strings.Contains(got.Stats, "Stopped after") {
		t.Errorf("a canceled run's stats %q do not say the time it used", got.Stats)
	}
	screenshot(t, ctx, "desktop-stopped")

	dark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	})
	do(t, ctx, dark)
	screenshot(t, ctx, "desktop-dark")
}

func fallback(t *testing.T, browser context.Context, p *playground) {
	ctx := tab(t, browser, p.Fallback, 375, 667, true)
	if eval[bool](t, ctx, `!!document.querySelector(".cm-editor") || document.getElementById("code").hidden`) {
		t.Fatal("without the bundle, the page still shows an editor, or hides the textarea")
	}
	typeInto(t, ctx, "code", "print(input()[::-1])")
	typeInput(t, ctx, "abc\n")
	do(t, ctx, chromedp.Click(chromedp.ID("code")), pressEnter(chromedp.ModifierCtrl))
	if got := waitDone(t, ctx); got.Output != "cba\n" {
		t.Errorf("with the textarea the page shows %+v", got)
	}
	noSideways(t, ctx, "without the editor")
	screenshot(t, ctx, "fallback-done")

	for _, c := range []struct{ fault, says string }{
		{"503", "The server is busy"},
		{"429", "You are sending runs too quickly"},
		{"drop", "Can't reach the server"},
	} {
		p.fault.Store(c.fault)
		do(t, ctx, chromedp.Click(chromedp.ID("run")))
		msg := decode[string](t, wait(t, ctx, `!document.getElementById("run").disabled && document.getElementById("message").textContent`))
		expect(t, c.fault, msg, c.says)
		if c.fault == "503" {
			screenshot(t, ctx, "fallback-busy")
		}
	}
	p.fault.Store("")

	// Where the WebSocket cannot open, runs read the Input box only, and
	// their output streams over Server-Sent Events.
	p.fault.Store("noattach")
	defer p.fault.Store("")
	typeInto(t, ctx, "code", "import time\nprint(input()[::-1])\ntime.sleep(1)\nprint(\"end\")")
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	mid := decode[shown](t, wait(t, ctx, `document.getElementById("output").textContent.includes("cba") && `+shownJS))
	if mid.State != "running" {
		t.Errorf("without a WebSocket, the output came only with the end of the run: %+v", mid)
	}
	if got := waitDone(t, ctx); got.Output != "cba\nend\n" || got.Kind != "ok" {
		t.Errorf("without a WebSocket the page shows %+v", got)
	} else {
		expect(t, "message without a WebSocket", got.Message, "WebSocket", "Input box")
	}
}
