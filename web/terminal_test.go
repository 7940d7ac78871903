package web_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The terminal's programs: two prompts answered by typing, a loop that
// prints while it runs, a program that waits for input.
const (
	prompts = "name = input(\"Your name? \")\nage = input(\"Age? \")\nprint(name, age)"
	ticks   = "import time\nfor i in range(30):\n    print(\"tick\", i)\n    time.sleep(0.2)"
	waits   = "print(\"ready\")\nline = input()\nprint(\"never\", line)"
	// caret raises with a traceback whose ^^^ line points into a line
	// wider than a phone.
	caret = "total = 5\nprint(\"the average of all the values given is\", total / (total - 5), \"per item\")"
)

// TestTerminal drives the output as a terminal, at a phone's viewport and
// at a desktop's: the program's prompts show before the learner types, the
// lines typed reach it and stay shown in place, output shows while the
// program runs, Ctrl+C (the key and the button) interrupts it, Ctrl+D ends
// its input.
func TestTerminal(t *testing.T) {
	browser := startBrowser(t)
	p := startPlayground(t)
	t.Run("phone", func(t *testing.T) { terminalPhone(t, browser, p) })
	t.Run("desktop", func(t *testing.T) { terminalDesktop(t, browser, p) })
}

// clearInput empties the Input box, so that stdin comes from the terminal only.
func clearInput(t testing.TB, ctx context.Context) {
	t.Helper()
	eval[bool](t, ctx, `(() => { const s = document.getElementById("stdin"); s.value = "";
		s.dispatchEvent(new Event("input")); return true; })()`)
}

// waitPrompt waits until the output ends with prompt while the program
// runs and the line to type in is there, and returns what the page shows.
func waitPrompt(t testing.TB, ctx context.Context, prompt string) shown {
	t.Helper()
	q := jsString(prompt)
	return decode[shown](t, wait(t, ctx, `document.getElementById("output").textContent.endsWith(`+q+`) &&
		!document.getElementById("term-line").hidden && !document.getElementById("term-line").disabled && `+shownJS))
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// lineShown says whether the line being typed is within what the page
// shows (the visual viewport), and within the terminal's box.
const lineShownJS = `(() => {
	const l = document.getElementById("term-line").getBoundingClientRect(),
		t = document.getElementById("terminal").getBoundingClientRect(), v = window.visualViewport;
	const top = v ? v.offsetTop : 0, h = v ? v.height : innerHeight;
	return l.height > 0 && l.top >= top - 1 && l.bottom <= top + h + 1 && l.top >= t.top - 1 && l.bottom <= t.bottom + 1;
})()`

func terminalPhone(t *testing.T, browser context.Context, p *playground) {
	ctx := tab(t, browser, p.URL, 375, 667, true)
	wait(t, ctx, `!!document.querySelector(".cm-content")`)
	clearInput(t, ctx)
	typeCode(t, ctx, prompts)

	// Run brings the output into view: below the code, it starts under
	// the fold.
	eval[bool](t, ctx, `(window.scrollTo(0, 0), true)`)
	if eval[bool](t, ctx, `document.getElementById("terminal").getBoundingClientRect().top < innerHeight - 96`) {
		t.Logf("the output was in view before Run already")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	first := waitPrompt(t, ctx, "Your name? ")
	if first.Output != "Your name? " || first.State != "running" {
		t.Errorf("at the first prompt the page shows %+v", first)
	}
	if !eval[bool](t, ctx, `(() => { const r = document.getElementById("terminal").getBoundingClientRect();
		return r.top >= 0 && r.top + 48 <= innerHeight; })()`) {
		t.Errorf("after Run the output is not in view: its box is at %v, the viewport %v high",
			eval[float64](t, ctx, `document.getElementById("terminal").getBoundingClientRect().top`),
			eval[float64](t, ctx, `innerHeight`))
	}
	noSideways(t, ctx, "while a run waits for input")

	// A tap on the output puts the focus on the line; with the on-screen
	// keyboard up (the viewport shrinks), the line stays in view.
	do(t, ctx, chromedp.Click(chromedp.ID("terminal")))
	wait(t, ctx, `document.activeElement && document.activeElement.id === "term-line"`)
	do(t, ctx, chromedp.EmulateViewport(375, 667-290, chromedp.EmulatePortrait, chromedp.EmulateScale(2),
		chromedp.EmulateMobile, chromedp.EmulateTouch))
	wait(t, ctx, `innerHeight < 400 && `+lineShownJS)
	screenshot(t, ctx, "phone-terminal-keyboard")
	do(t, ctx, insertText("Ada"), pressEnter())
	second := waitPrompt(t, ctx, "Age? ")
	if second.Output != "Your name? Ada\nAge? " {
		t.Errorf("at the second prompt the page shows %+v", second)
	}
	wait(t, ctx, lineShownJS)
	do(t, ctx, insertText("36"), pressEnter())
	end := waitDone(t, ctx)
	if end.Output != "Your name? Ada\nAge? 36\nAda 36\n" || end.Kind != "ok" {
		t.Errorf("after the answers the page shows %+v", end)
	}
	do(t, ctx, chromedp.EmulateViewport(375, 667, chromedp.EmulatePortrait, chromedp.EmulateScale(2),
		chromedp.EmulateMobile, chromedp.EmulateTouch))
	if eval[bool](t, ctx, `!document.getElementById("term-line").hidden || !document.getElementById("term-bar").hidden`) {
		t.Errorf("the line to type in is still there after the run")
	}
	screenshot(t, ctx, "phone-terminal-done")

	// Output shows while the program runs; the Interrupt button stops it
	// with a KeyboardInterrupt.
	typeCode(t, ctx, ticks)
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	mid := decode[shown](t, wait(t, ctx, `document.getElementById("output").textContent.includes("tick 0") && `+shownJS))
	if mid.State != "running" || strings.Contains(mid.Output, "tick 29") {
		t.Errorf("when tick 0 shows, the page shows %+v", mid)
	}
	small := eval[[]string](t, ctx, `["term-int", "term-eof"].filter(id => {
		const r = document.getElementById(id).getBoundingClientRect(); return r.height < 44 || r.width < 44; })`)
	if len(small) > 0 {
		t.Errorf("touch targets under 44 px: %v", small)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("term-int")))
	got := waitDone(t, ctx)
	interrupted(t, ctx, got, "the Interrupt button")
	if !strings.Contains(got.Output, "tick 0\n") || strings.Contains(got.Output, "tick 29") {
		t.Errorf("interrupted ticks: the page shows %+v", got)
	}
	screenshot(t, ctx, "phone-terminal-interrupted")

	// A traceback keeps its ^^^ under what they point at: its lines do
	// not wrap, the output scrolls sideways within its box.
	typeCode(t, ctx, caret)
	got = runClick(t, ctx)
	expect(t, "stderr", got.Stderr, "ZeroDivisionError")
	if ws := eval[string](t, ctx, `getComputedStyle(document.getElementById("output")).whiteSpace`); ws != "pre" {
		t.Errorf("the output's white-space is %q, want pre", ws)
	}
	wrapped := eval[[]string](t, ctx, `(() => {
		const node = document.querySelector("#output .err").firstChild, out = [];
		const top = o => { const r = document.createRange(); r.setStart(node, o); r.setEnd(node, o + 1); return r.getBoundingClientRect().top; };
		let off = 0;
		for (const l of node.data.split("\n")) {
			if (l.length > 1 && Math.abs(top(off) - top(off + l.length - 1)) > 1) out.push(l);
			off += l.length + 1;
		}
		return out;
	})()`)
	if len(wrapped) > 0 {
		t.Errorf("lines of the traceback wrap: %q", wrapped)
	}
	align := eval[map[string]float64](t, ctx, `(() => {
		const node = document.querySelector("#output .err").firstChild, lines = node.data.split("\n");
		const at = o => { const r = document.createRange(); r.setStart(node, o); r.setEnd(node, o + 1); return r.getBoundingClientRect(); };
		for (let i = 1, off = lines[0].length + 1; i < lines.length; off += lines[i].length + 1, i++) {
			if (!/^\s*[~^]+\s*$/.test(lines[i]) || !lines[i].includes("^")) continue;
			const col = lines[i].indexOf("^"), above = off - lines[i - 1].length - 1;
			const c = at(off + col), s = at(above + col);
			return {caret: c.left, code: s.left, caretTop: c.top, codeTop: s.top,
				wide: document.getElementById("terminal").scrollWidth > document.getElementById("terminal").clientWidth ? 1 : 0};
		}
		return {};
	})()`)
	if len(align) == 0 {
		t.Errorf("no ^^^ line in the traceback %q", got.Stderr)
	} else {
		if math.Abs(align["caret"]-align["code"]) > 1 || align["caretTop"] <= align["codeTop"] {
			t.Errorf("the ^ is not under what it points at: %v", align)
		}
		if align["wide"] != 1 {
			t.Errorf("the traceback fits the phone's width; the test wants a wider one")
		}
	}
	noSideways(t, ctx, "with a wide traceback")
	screenshot(t, ctx, "phone-traceback")
}

func terminalDesktop(t *testing.T, browser context.Context, p *playground) {
	ctx := tab(t, browser, p.URL, 1280, 800, false)
	wait(t, ctx, `!!document.querySelector(".cm-content")`)
	clearInput(t, ctx)

	// Two prompts, answered with the keyboard: Run puts the focus on the
	// line to type in.
	typeCode(t, ctx, prompts)
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	first := waitPrompt(t, ctx, "Your name? ")
	if first.Output != "Your name? " || first.State != "running" {
		t.Errorf("at the first prompt the page shows %+v", first)
	}
	wait(t, ctx, `document.activeElement && document.activeElement.id === "term-line"`)
	do(t, ctx, chromedp.KeyEvent("Grace"), pressEnter())
	second := waitPrompt(t, ctx, "Age? ")
	if second.Output != "Your name? Grace\nAge? " {
		t.Errorf("at the second prompt the page shows %+v", second)
	}
	screenshot(t, ctx, "desktop-terminal-prompt")
	do(t, ctx, chromedp.KeyEvent("85"), pressEnter())
	end := waitDone(t, ctx)
	if end.Output != "Your name? Grace\nAge? 85\nGrace 85\n" || end.Kind != "ok" {
		t.Errorf("after the answers the page shows %+v", end)
	}

	// The Input box is fed first; the rest comes from the terminal.
	typeInto(t, ctx, "stdin", "Lin\n")
	typeCode(t, ctx, prompts)
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	waitPrompt(t, ctx, "Your name? Age? ")
	do(t, ctx, chromedp.Click(chromedp.ID("terminal")), chromedp.KeyEvent("7"), pressEnter())
	if got := waitDone(t, ctx); got.Output != "Your name? Age? 7\nLin 7\n" {
		t.Errorf("with the Input box and the terminal the page shows %+v", got)
	}
	clearInput(t, ctx)

	// Output shows while the program runs; Ctrl+C interrupts it.
	typeCode(t, ctx, ticks)
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	mid := decode[shown](t, wait(t, ctx, `document.getElementById("output").textContent.includes("tick 0") && `+shownJS))
	if mid.State != "running" || strings.Contains(mid.Output, "tick 29") {
		t.Errorf("when tick 0 shows, the page shows %+v", mid)
	}
	wait(t, ctx, `document.activeElement && document.activeElement.id === "term-line"`)
	do(t, ctx, chromedp.KeyEvent("c", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	got := waitDone(t, ctx)
	interrupted(t, ctx, got, "Ctrl+C")
	expect(t, "output", got.Output, "tick 0\n", "^C\n")
	screenshot(t, ctx, "desktop-terminal-interrupted")

	// Ctrl+C while the program waits for input.
	typeCode(t, ctx, waits)
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	waitPrompt(t, ctx, "ready\n")
	do(t, ctx, chromedp.Click(chromedp.ID("terminal")),
		chromedp.KeyEvent("c", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	interrupted(t, ctx, waitDone(t, ctx), "Ctrl+C at input()")

	// A second tab on the same run shows its output, but its input stays
	// with the first.
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	waitPrompt(t, ctx, "ready\n")
	other := tab(t, browser, eval[string](t, ctx, `location.href`), 375, 667, true)
	msg := decode[string](t, wait(t, other, `document.getElementById("output").textContent.includes("ready") &&
		document.getElementById("message").textContent`))
	expect(t, "the second tab", msg, "already taken")
	if eval[bool](t, other, `!document.getElementById("term-line").hidden`) {
		t.Errorf("the second tab offers to type into a run the first holds")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("terminal")), chromedp.KeyEvent("hi"), pressEnter())
	if got := waitDone(t, ctx); got.Output != "ready\nhi\nnever hi\n" {
		t.Errorf("the first tab shows %+v", got)
	}
	if got := waitDone(t, other); got.Output != "ready\nnever hi\n" || got.Kind != "ok" {
		t.Errorf("the second tab shows %+v", got)
	}

	// Ctrl+D ends the input: input() raises EOFError.
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	waitPrompt(t, ctx, "ready\n")
	do(t, ctx, chromedp.Click(chromedp.ID("terminal")),
		chromedp.KeyEvent("d", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	got = waitDone(t, ctx)
	expect(t, "stderr after Ctrl+D", got.Stderr, "EOFError")
	if got.Kind != "error" || strings.Contains(got.Output, "never") {
		t.Errorf("after Ctrl+D the page shows %+v", got)
	}
	expect(t, "verdict after Ctrl+D", got.Verdict, "EOFError")
	if v := eval[string](t, ctx, `document.getElementById("result").dataset.verdict`); v != "runtime_error" {
		t.Errorf("after Ctrl+D the verdict is %q, want runtime_error", v)
	}
}

// interrupted checks that a run ended by SIGINT shows the KeyboardInterrupt
// and the runtime_error verdict.
func interrupted(t testing.TB, ctx context.Context, got shown, how string) {
	t.Helper()
	expect(t, how+": stderr", got.Stderr, "KeyboardInterrupt")
	expect(t, how+": verdict", got.Verdict, "Interrupted")
	if got.Kind != "error" {
		t.Errorf("%s: the page shows %+v", how, got)
	}
	if v := eval[string](t, ctx, `document.getElementById("result").dataset.verdict`); v != "runtime_error" {
		t.Errorf("%s: the verdict is %q, want runtime_error", how, v)
	}
	if eval[bool](t, ctx, `!document.getElementById("term-line").hidden`) {
		t.Errorf("%s: the line to type in is still there after the run", how)
	}
}
