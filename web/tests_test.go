package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// sum is the program of the Tests panel's tests: a + b.
const sum = "a, b = map(int, input().split())\nprint(a + b)"

// TestTestsPanel drives the Tests panel at 375x667 (a phone) and 1280x800:
// two tests of a + b, one passing and one with a wrong expected output,
// each shown as it ends, the wrong one with its difference in view and no
// sideways scroll; then the normal Run still runs interactively.
func TestTestsPanel(t *testing.T) {
	browser := startBrowser(t)
	p := startPlayground(t)
	t.Run("phone", func(t *testing.T) { testsPanel(t, tab(t, browser, p.URL, 375, 667, true), p, "phone") })
	t.Run("desktop", func(t *testing.T) { testsPanel(t, tab(t, browser, p.URL, 1280, 800, false), p, "desktop") })
	t.Run("live", func(t *testing.T) { testsLive(t, tab(t, browser, p.URL, 375, 667, true)) })
	t.Run("tolerance", func(t *testing.T) { testsTolerance(t, tab(t, browser, p.URL, 375, 667, true), p) })
}

// testsTolerance checks the tolerance field: shown only for Numbers; a
// bad value is refused on the page; 0.01 lets 3 match 3.001, which the
// default 1e-6 does not, and the job carries it.
func testsTolerance(t *testing.T, ctx context.Context, p *playground) {
	wait(t, ctx, `!!document.querySelector(".cm-content")`)
	typeCode(t, ctx, sum)
	setTests(t, ctx, [2]string{"1 2\n", "3.001\n"})
	if eval[bool](t, ctx, `!document.getElementById("tolerance-box").hidden`) {
		t.Errorf("the tolerance field shows while lines are compared")
	}
	do(t, ctx, chromedp.SetValue(chromedp.ID("compare"), "float"))
	eval[bool](t, ctx, `document.getElementById("compare").dispatchEvent(new Event("change"))`)
	if eval[bool](t, ctx, `document.getElementById("tolerance-box").hidden`) {
		t.Fatalf("the tolerance field is hidden while numbers are compared")
	}
	run := func() []testItem {
		clickID(t, ctx, "run-tests")
		wait(t, ctx, `document.getElementById("test-results").dataset.state === "done"`)
		return eval[[]testItem](t, ctx, testItemsJS)
	}
	if items := run(); len(items) != 1 || items[0].Judgement != "wrong_answer" {
		t.Fatalf("3 against 3.001 within 1e-6: %+v, want a wrong answer", items)
	}
	setField := func(v string) {
		do(t, ctx, chromedp.Click(chromedp.ID("tolerance")),
			chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent(kb.Backspace), insertText(v))
	}
	setField("-1")
	clickID(t, ctx, "run-tests")
	expect(t, "a negative tolerance", eval[string](t, ctx, `document.getElementById("message").textContent`), "tolerance must be a number")
	if !eval[bool](t, ctx, `document.getElementById("tolerance").getAttribute("aria-invalid") === "true"`) {
		t.Errorf("a negative tolerance is not marked invalid")
	}
	setField("0.01")
	if items := run(); len(items) != 1 || items[0].Judgement != "accepted" {
		t.Fatalf("3 against 3.001 within 0.01: %+v, want accepted", items)
	}
	id := eval[string](t, ctx, `new URLSearchParams(location.search).get("job") || ""`)
	res, err := http.Get(p.URL + "/api/jobs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var job struct {
		Compare   string  `json:"compare"`
		Tolerance float64 `json:"tolerance"`
	}
	if err := json.NewDecoder(res.Body).Decode(&job); err != nil || job.Compare != "float" || job.Tolerance != 0.01 {
		t.Errorf("the job: %+v %v, want compare float, tolerance 0.01", job, err)
	}
	noSideways(t, ctx, "with the tolerance field")
	do(t, ctx, chromedp.ScrollIntoView(chromedp.ID("tolerance")))
	screenshot(t, ctx, "phone-tests-tolerance")
}

// testItem is what the page shows of one test's result.
type testItem struct {
	Name, Judgement, Kind, Text, Verdict, Expected, Got, Stderr string
	// Left and Right are the bounds of its diff boxes (or of the item).
	Left, Right float64
}

const testItemsJS = `[...document.querySelectorAll("#test-items .test-item")].map(li => {
	const q = s => { const e = li.querySelector(s); return e ? e.textContent : ""; };
	const boxes = [...li.querySelectorAll(".test-box")].concat([li]).map(b => b.getBoundingClientRect());
	return {name: li.dataset.name, judgement: li.dataset.judgement, kind: li.dataset.kind || "",
		text: li.textContent, verdict: q(".test-verdict"), expected: q(".test-box.expected .test-text"),
		got: q(".test-box.got .test-text"), stderr: q(".test-box.stderr .test-text"),
		left: Math.min(...boxes.map(b => b.left)), right: Math.max(...boxes.map(b => b.right))};
})`

// fillTest types a test's input and expected output into the panel's
// test number n (from 1), adding it first where there is none, and pastes
// each as one text.
func fillTest(t testing.TB, ctx context.Context, n int, input, expected string) {
	t.Helper()
	if eval[int](t, ctx, `document.querySelectorAll("#test-list .test-case").length`) < n {
		do(t, ctx, chromedp.Click(chromedp.ID("test-add")))
	}
	sel := `#test-list .test-case:nth-child(` + strconv.Itoa(n) + `) `
	for _, f := range []struct{ cls, text string }{{".test-in", input}, {".test-out", expected}} {
		do(t, ctx, chromedp.Click(chromedp.CSS(sel+f.cls)),
			chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent(kb.Backspace),
			insertText(f.text))
		if got := eval[string](t, ctx, `document.querySelector("`+sel+f.cls+`").value`); got != f.text {
			t.Fatalf("test %d %s holds %q, want %q", n, f.cls, got, f.text)
		}
	}
}

// setTests makes the panel hold exactly these tests (input, expected).
func setTests(t testing.TB, ctx context.Context, tests ...[2]string) {
	t.Helper()
	for eval[int](t, ctx, `document.querySelectorAll("#test-list .test-case").length`) > 1 {
		do(t, ctx, chromedp.Click(chromedp.CSS("#test-list .test-case:last-child .test-remove")))
	}
	for i, c := range tests {
		fillTest(t, ctx, i+1, c[0], c[1])
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#test-list .test-case").length`); n != len(tests) {
		t.Fatalf("the panel holds %d tests, want %d", n, len(tests))
	}
}

func testsPanel(t *testing.T, ctx context.Context, p *playground, name string) {
	wait(t, ctx, `!!document.querySelector(".cm-content")`)
	noSideways(t, ctx, "at load")
	typeCode(t, ctx, sum)
	setTests(t, ctx, [2]string{"1 2\n", "3\n"}, [2]string{"2 2\n", "5\n"})
	// Add and remove: a third test comes and goes.
	do(t, ctx, chromedp.Click(chromedp.ID("test-add")))
	if n := eval[int](t, ctx, `document.querySelectorAll("#test-list .test-case").length`); n != 3 {
		t.Fatalf("after Add test the panel holds %d tests, want 3", n)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`#test-list .test-case:nth-child(3) .test-remove`)))
	if n := eval[int](t, ctx, `document.querySelectorAll("#test-list .test-case").length`); n != 2 {
		t.Fatalf("after Remove the panel holds %d tests, want 2", n)
	}
	if name == "phone" {
		small := eval[[]string](t, ctx, `["run-tests", "test-add", "compare"].filter(id => {
			const r = document.getElementById(id).getBoundingClientRect(); return r.height < 44 || r.width < 44; })`)
		if len(small) > 0 {
			t.Errorf("touch targets under 44 px: %v", small)
		}
	}

	clickID(t, ctx, "run-tests")
	wait(t, ctx, `document.getElementById("test-results").dataset.state === "done"`)
	items := eval[[]testItem](t, ctx, testItemsJS)
	summary := eval[string](t, ctx, `document.getElementById("test-summary").textContent`)
	expect(t, "summary", summary, "1 of 2 tests passed")
	if len(items) != 2 {
		t.Fatalf("the page shows %d test results, want 2: %+v", len(items), items)
	}
	if a := items[0]; a.Judgement != "accepted" || a.Kind != "ok" {
		t.Errorf("test 1 shows %+v, want passed", a)
	}
	expect(t, "test 1", items[0].Text, "Test 1", "Passed", "CPU time", "memory")
	w := items[1]
	if w.Judgement != "wrong_answer" || w.Kind != "fail" {
		t.Errorf("test 2 shows %+v, want a wrong answer", w)
	}
	expect(t, "test 2", w.Text, "Test 2", "Wrong answer", "Line 1", "expected", "got", "CPU time")
	if w.Expected != "5" || w.Got != "4" {
		t.Errorf("test 2's difference: expected %q, got %q; want 5 and 4", w.Expected, w.Got)
	}
	// The difference is on screen: scrolled to, within the viewport's width.
	do(t, ctx, chromedp.ScrollIntoView(chromedp.CSS(`#test-items .test-item:nth-child(2) .test-box.got`)))
	vis := eval[bool](t, ctx, `(() => {
		const vw = document.documentElement.clientWidth, vh = window.innerHeight;
		return [...document.querySelectorAll("#test-items .test-item:nth-child(2) .test-box")].every(b => {
			const r = b.getBoundingClientRect(), s = getComputedStyle(b);
			return r.width > 0 && r.left >= 0 && r.right <= vw && r.bottom > 0 && r.top < vh && s.visibility !== "hidden"; });
	})()`)
	if !vis {
		t.Errorf("test 2's expected and got are not both on screen: %+v", w)
	}
	if w.Left < 0 || w.Right > eval[float64](t, ctx, `document.documentElement.clientWidth`) {
		t.Errorf("test 2's result spans %v..%v, past the viewport", w.Left, w.Right)
	}
	noSideways(t, ctx, "after the tests")
	screenshot(t, ctx, name+"-tests")

	// The job had the tests, and was no interactive run.
	id := eval[string](t, ctx, `new URLSearchParams(location.search).get("job") || ""`)
	job := getJob(t, p, id)
	if job.Interactive || job.Result.Total != 2 || job.Result.Passed != 1 {
		t.Errorf("the job: interactive %v, %d of %d passed", job.Interactive, job.Result.Passed, job.Result.Total)
	}
	// The Output says where the results are.
	out := waitDone(t, ctx)
	expect(t, "verdict", out.Verdict, "1 of 2 tests passed")

	// Run is still an interactive run, with the Input box.
	typeInput(t, ctx, "3 4\n")
	if got := runClick(t, ctx); got.Output != "7\n" || got.Kind != "ok" {
		t.Errorf("Run after the tests shows %+v", got)
	}
	if job := getJob(t, p, eval[string](t, ctx, `new URLSearchParams(location.search).get("job")`)); !job.Interactive {
		t.Errorf("Run's job is not interactive")
	}
}

// testsLive checks that each test shows as it ends, before the run does:
// the second test sleeps, the first is shown passed meanwhile; a runtime
// error shows its stderr, and a long expected line stays within the page.
func testsLive(t *testing.T, ctx context.Context) {
	wait(t, ctx, `!!document.querySelector(".cm-content")`)
	typeCode(t, ctx, "import time\na, b = map(int, input().split())\nif a == 2:\n    time.sleep(3)\nif a == 3:\n    raise ValueError('no threes')\nprint(a + b)")
	long := strings.Repeat("8", 400)
	setTests(t, ctx, [2]string{"1 2\n", "3\n"}, [2]string{"2 2\n", "4\n"}, [2]string{"3 3\n", "6\n"}, [2]string{"4 4\n", long + "\n"})
	clickID(t, ctx, "run-tests")
	mid := wait(t, ctx, `(() => { const li = document.querySelector('#test-items [data-name="1"]');
		return li && li.dataset.judgement === "accepted" && document.getElementById("test-results").dataset.state; })()`)
	if string(mid) != `"running"` {
		t.Errorf("test 1 was shown only when the run ended (state %s)", mid)
	}
	wait(t, ctx, `document.getElementById("test-results").dataset.state === "done"`)
	items := eval[[]testItem](t, ctx, testItemsJS)
	if len(items) != 4 || items[1].Judgement != "accepted" || items[2].Judgement != "runtime_error" || items[3].Judgement != "wrong_answer" {
		t.Fatalf("the page shows %+v", items)
	}
	expect(t, "test 3", items[2].Verdict, "error", "exit code 1")
	expect(t, "test 3's stderr", items[2].Stderr, "ValueError: no threes")
	expect(t, "summary", eval[string](t, ctx, `document.getElementById("test-summary").textContent`), "2 of 4 tests passed")
	// A long expected line wraps in its box: the page does not scroll sideways.
	if !strings.HasPrefix(items[3].Expected, long[:100]) || items[3].Got != "8" {
		t.Errorf("test 4's difference: expected %q, got %q", items[3].Expected, items[3].Got)
	}
	noSideways(t, ctx, "after a runtime error and a long line")
	screenshot(t, ctx, "phone-tests-live")
}

// pageJob is what the tests read of a job.
type pageJob struct {
	Status      string `json:"status"`
	Interactive bool   `json:"interactive"`
	Limits      struct {
		TimeMs, WallTimeMs, MemoryMB, OutputKB int64
	} `json:"limits"`
	Result struct {
		Verdict       string `json:"verdict"`
		Passed, Total int
	} `json:"result"`
}

// getJob reads a job from the server.
func getJob(t testing.TB, p *playground, id string) pageJob {
	t.Helper()
	if id == "" {
		t.Fatal("the page names no job")
	}
	res, err := http.Get(p.URL + "/api/jobs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var j pageJob
	if err := json.NewDecoder(res.Body).Decode(&j); err != nil {
		t.Fatal(err)
	}
	return j
}

// TestLimitsPanel checks that the limits set on the page reach the job: a
// CPU time of 500 ms stops a loop with the time limit, and the job's
// limits say 500; a value over the server's maximum is refused on the page
// with a message, and nothing is sent; Run tests takes the limits too.
func TestLimitsPanel(t *testing.T) {
	browser := startBrowser(t)
	p := startPlayground(t)
	ctx := tab(t, browser, p.URL, 375, 667, true)
	wait(t, ctx, `!!document.querySelector(".cm-content")`)
	rt := struct {
		Default, Max       map[string]int64
		MaxInteractiveWall int64
	}{}
	res, err := http.Get(p.URL + "/api/runtimes")
	if err != nil {
		t.Fatal(err)
	}
	var rtj struct {
		DefaultLimits, MaxLimits map[string]int64
		MaxInteractiveWallTimeMs int64
	}
	err = json.NewDecoder(res.Body).Decode(&rtj)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	rt.Default, rt.Max, rt.MaxInteractiveWall = rtj.DefaultLimits, rtj.MaxLimits, rtj.MaxInteractiveWallTimeMs
	// The boxes show the defaults and take the maxima.
	if open := eval[bool](t, ctx, `document.getElementById("limits-box").open`); open {
		t.Errorf("the Limits box is open at load")
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#limits-box summary")))
	got := eval[[]string](t, ctx, `["time", "memory", "output"].map(n => {
		const b = document.getElementById("limit-" + n); return b.placeholder + "/" + b.max; })`)
	want := []string{
		strconv.FormatInt(rt.Default["timeMs"], 10) + "/" + strconv.FormatInt(rt.Max["timeMs"], 10),
		strconv.FormatInt(rt.Default["memoryMB"], 10) + "/" + strconv.FormatInt(rt.Max["memoryMB"], 10),
		strconv.FormatInt(rt.Default["outputKB"], 10) + "/" + strconv.FormatInt(rt.Max["outputKB"], 10),
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the limit boxes' default/max are %v, want %v", got, want)
	}
	expect(t, "limits hint", eval[string](t, ctx, `document.getElementById("limits-hint").textContent`), "default")
	noSideways(t, ctx, "with the Limits box open")

	// 500 ms of CPU time stops a loop.
	typeCode(t, ctx, "while True:\n    pass")
	typeInto(t, ctx, "limit-time", "500")
	expect(t, "limits under the output", eval[string](t, ctx, `document.getElementById("limits").textContent`), "500 ms of CPU time")
	end := runClick(t, ctx)
	expect(t, "verdict", end.Verdict, "500 ms", "CPU time")
	if v := eval[string](t, ctx, `document.getElementById("result").dataset.verdict`); v != "time_limit" {
		t.Errorf("the verdict is %q, want time_limit", v)
	}
	id := eval[string](t, ctx, `new URLSearchParams(location.search).get("job")`)
	job := getJob(t, p, id)
	if job.Limits.TimeMs != 500 || job.Result.Verdict != "time_limit" {
		t.Errorf("the job has limits %+v and verdict %q, want timeMs 500 and time_limit", job.Limits, job.Result.Verdict)
	}
	// The interactive run's wall limit is the server's interactive one.
	if !job.Interactive || job.Limits.WallTimeMs != rt.MaxInteractiveWall {
		t.Errorf("the Run's job: interactive %v, wall %d ms, want interactive with %d", job.Interactive,
			job.Limits.WallTimeMs, rt.MaxInteractiveWall)
	}

	// Over the maximum: a message, the box marked, nothing sent.
	over := strconv.FormatInt(rt.Max["timeMs"]+1, 10)
	typeInto(t, ctx, "limit-time", over)
	do(t, ctx, chromedp.Click(chromedp.ID("run")))
	msg := decode[string](t, wait(t, ctx, `!document.getElementById("message").hidden && document.getElementById("message").textContent`))
	expect(t, "message", msg, "CPU time", "at most")
	if eval[string](t, ctx, `document.getElementById("limit-time").getAttribute("aria-invalid")`) != "true" {
		t.Errorf("the CPU time box is not marked invalid")
	}
	if now := eval[string](t, ctx, `new URLSearchParams(location.search).get("job")`); now != id {
		t.Errorf("a run over the maximum was sent (job %s)", now)
	}
	if st := eval[string](t, ctx, `document.getElementById("result").dataset.state`); st != "done" {
		t.Errorf("the page's run state is %q after a refused run", st)
	}
	// Run tests refuses it too.
	clickID(t, ctx, "run-tests")
	time.Sleep(300 * time.Millisecond)
	if now := eval[string](t, ctx, `new URLSearchParams(location.search).get("job")`); now != id {
		t.Errorf("tests over the maximum were sent (job %s)", now)
	}

	// A wall time over the test runs' maximum (but within Run's) is refused for tests.
	typeInto(t, ctx, "limit-time", "")
	if rt.MaxInteractiveWall > rt.Max["wallTimeMs"] {
		typeInto(t, ctx, "limit-wall", strconv.FormatInt(rt.Max["wallTimeMs"]+1, 10))
		clickID(t, ctx, "run-tests")
		msg = decode[string](t, wait(t, ctx, `!document.getElementById("message").hidden && document.getElementById("message").textContent`))
		expect(t, "message", msg, "wall time", "at most")
		typeInto(t, ctx, "limit-wall", "")
	}

	// Run tests takes the limits: memory and CPU time.
	typeInto(t, ctx, "limit-memory", "64")
	typeInto(t, ctx, "limit-time", "700")
	typeCode(t, ctx, sum)
	setTests(t, ctx, [2]string{"1 2\n", "3\n"})
	clickID(t, ctx, "run-tests")
	wait(t, ctx, `document.getElementById("test-results").dataset.state === "done"`)
	expect(t, "summary", eval[string](t, ctx, `document.getElementById("test-summary").textContent`), "All 1 test passed")
	if m := eval[bool](t, ctx, `document.getElementById("message").hidden`); !m {
		t.Errorf("a message stays after a good run: %q", eval[string](t, ctx, `document.getElementById("message").textContent`))
	}
	job = getJob(t, p, eval[string](t, ctx, `new URLSearchParams(location.search).get("job")`))
	if job.Limits.MemoryMB != 64 || job.Limits.TimeMs != 700 || job.Interactive {
		t.Errorf("the tests' job has limits %+v (interactive %v), want memory 64 and time 700", job.Limits, job.Interactive)
	}
	// A test that loops reports the time limit in words.
	typeCode(t, ctx, "while True:\n    pass")
	clickID(t, ctx, "run-tests")
	wait(t, ctx, `document.getElementById("test-results").dataset.state === "done"`)
	expect(t, "test 1", eval[string](t, ctx, `document.querySelector('#test-items [data-name="1"]').textContent`),
		"more than 700 ms of CPU time")
	screenshot(t, ctx, "phone-limits")
}
