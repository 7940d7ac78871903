// The playground: run the code, stream its output, say how it ended, share
// it. It needs only the page, say.js and view.js: the code box is a textarea
// until the CodeMirror bundle (editor.js) arrives, if it ever does.
//
// A run is interactive: the page attaches to it over a WebSocket
// (/api/jobs/{id}/attach), shows its output as it comes and sends what the
// learner types in the output (the terminal), Ctrl+C (SIGINT) and Ctrl+D
// (end of input). Where the WebSocket cannot open, runs read the Input box
// only and their output streams over Server-Sent Events (or long polls).
//
// The Tests panel runs the code once per test (judge mode, not
// interactive) and shows each test's end as its "test" event comes; the
// Limits box sets the limits of both kinds of run.
(function () {
  "use strict";
  var say = window.OnPySay;
  var ui = {};
  var view;
  var st = {
    runtimes: null, editor: null, jobId: "", es: null, busy: false, gen: 0,
    lost: false, quiet: false, wantLang: "", draftTimer: 0,
    // The run followed: the last event seen (seq), its socket, whether this
    // page holds the run (live: it may signal it) and its stdin (stdinOpen),
    // what was typed before the socket opened, when it began running.
    seq: 0, ws: null, live: false, stdinOpen: false, queue: [], retries: 0, t0: 0,
    stopTimer: 0, note: "",
    // noSocket: a WebSocket would not open here; runs read the Input box only.
    noSocket: false,
    // mode is what the run followed is: "run" (the Run button) or "tests";
    // testLimits are the limits a test run asked for, to word its tests.
    mode: "run", testLimits: null, testNames: [], testsDone: 0,
  };
  var tview;
  // MAX_TESTS is the most tests a job may carry.
  var MAX_TESTS = 100;
  // LIMITS are the limits boxes: the end of their ids, and their fields.
  var LIMITS = [["time", "timeMs"], ["wall", "wallTimeMs"], ["memory", "memoryMB"], ["output", "outputKB"]];
  // GRACE is how long Stop lets a run handle its KeyboardInterrupt before it
  // kills it.
  var GRACE = 2000;
  var DRAFT = "onpyrunner.draft";
  var NAMES = { python: "Python", pypy: "PyPy" };

  function $(id) { return document.getElementById(id); }

  // code is the code box: the editor once mounted, else the textarea.
  var code = {
    get: function () { return st.editor ? st.editor.get() : ui.code.value; },
    set: function (s) {
      st.quiet = true;
      if (st.editor) st.editor.set(s); else ui.code.value = s;
      st.quiet = false;
    },
  };

  function mountEditor() {
    if (st.editor || !window.OnPyEditor || !ui.code) return;
    try {
      st.editor = window.OnPyEditor.mount(ui.code, { onRun: run, onChange: edited, label: "Code" });
      document.documentElement.classList.add("has-editor");
    } catch (e) {
      st.editor = null;
      ui.code.hidden = false;
    }
  }

  function message(text, info) { view.message(text, info); }

  function showProgress(status) {
    if (status === "running" && !st.t0) st.t0 = Date.now();
    var text = say.status(status);
    if (text) view.verdict({ text: text }, status);
  }

  // event shows one event of the run, from the socket or the event stream.
  function event(type, data) {
    if (type === "test") return testEnded(data);
    if (type === "status") showProgress(data);
    else if ((type === "stdout" || type === "stderr") && st.mode !== "tests") {
      view.append(data, type === "stderr");
      keepLineVisible();
    }
  }

  // fresh says whether the event numbered seq is new (reconnects may repeat
  // some), and notes it as seen.
  function fresh(seq) {
    if (!seq) return true;
    if (seq <= st.seq) return false;
    st.seq = seq;
    return true;
  }

  // closeStreams drops the socket and the event stream of the run followed.
  function closeStreams() {
    if (st.es) st.es.close();
    st.es = null;
    var ws = st.ws;
    st.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = null;
      try { ws.close(); } catch (e) { /* closed already */ }
    }
    clearTimeout(st.stopTimer);
    st.live = st.stdinOpen = false;
    st.queue = [];
    termOff();
  }
  function setBusy(busy) {
    var hadFocus = document.activeElement;
    st.busy = busy;
    ui.run.disabled = busy;
    ui.runTests.disabled = busy;
    ui.stop.disabled = !busy || !st.jobId;
    ui.share.disabled = !st.jobId;
    if (busy && (hadFocus === ui.run || hadFocus === ui.runTests)) ui.stop.focus({ preventScroll: hadFocus === ui.runTests });
    if (!busy && hadFocus === ui.stop) (st.mode === "tests" ? ui.runTests : ui.run).focus({ preventScroll: st.mode === "tests" });
  }

  function fail(text) {
    closeStreams();
    setBusy(false);
    message(text);
    view.verdict({ text: "Not run." }, "idle");
    if (st.mode === "tests" && tview) {
      tview.done("Not run: " + text, "fail");
      ui.testResults.dataset.state = "idle";
    }
  }

  function setLink(id) {
    try { history.replaceState(null, "", id ? "?job=" + encodeURIComponent(id) : location.pathname); } catch (e) { /* file: pages */ }
    ui.shareBox.hidden = true;
  }

  async function run() {
    if (st.busy) return;
    var src = code.get(), input = ui.stdin.value, rt = st.runtimes;
    message("");
    if (rt) {
      var enc = new TextEncoder();
      var n = enc.encode(src).length;
      if (n > rt.maxCodeBytes) return message(say.tooLarge("code", n, rt.maxCodeBytes));
      n = enc.encode(input).length;
      if (n > rt.maxInputBytes) return message(say.tooLarge("input", n, rt.maxInputBytes));
    }
    var live = !st.noSocket && typeof WebSocket === "function";
    if (!limitsOK(live)) return;
    var gen = ++st.gen;
    var ae = document.activeElement;
    st.focusTerm = !coarse() && (ae === ui.run || ae === ui.code || !!(st.editor && ui.editorHost.contains(ae)));
    closeStreams();
    st.jobId = "";
    st.mode = "run";
    st.note = st.noSocket ? say.noSocket() : "";
    setBusy(true);
    view.clear();
    view.verdict({ text: "Sending…" }, "sending");
    bringOutputIntoView();
    submit(src, input, gen, live);
  }

  // submit sends the run: interactive (live) or reading the Input box only.
  async function submit(src, input, gen, live) {
    var req = Object.assign({ code: src, input: input, unbuffered: true }, chosen());
    if (live) req.interactive = true;
    var lim = askedLimits(live);
    if (lim.error) return fail(lim.error);
    if (lim.limits) req.limits = lim.limits;
    var id = await post(req, gen);
    if (!id) return;
    if (live) attach(id, gen, { code: src, input: input });
    else follow(id, gen);
  }

  // post sends the job req and returns its id, or "" when it was not
  // taken (the page then says why) or the page has moved on.
  async function post(req, gen) {
    var res, body;
    st.seq = 0;
    st.t0 = 0;
    try {
      res = await fetch("/api/jobs", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(req),
      });
      body = await res.json().catch(function () { return null; });
    } catch (e) {
      if (gen === st.gen) fail(say.unreachable());
      return "";
    }
    if (gen !== st.gen) return "";
    if (!res.ok || !body || !body.jobId) {
      fail(say.httpError(res.status, body, res.headers.get("Retry-After")));
      return "";
    }
    st.jobId = body.jobId;
    setLink(st.jobId);
    ui.stop.disabled = false;
    ui.share.disabled = false;
    showProgress(body.status);
    return st.jobId;
  }

  // attach follows a job over its WebSocket and, unless it is another's,
  // holds its stdin. again is the code and input of a run just submitted
  // (it is submitted again, reading the Input box only, where the socket
  // cannot open at all); null for a job opened from a link.
  function attach(id, gen, again) {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
      "/api/jobs/" + encodeURIComponent(id) + "/attach" + (st.seq ? "?after=" + st.seq : "");
    var ws, opened = false, done = false, conflict = false;
    st.live = true;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      return again ? unattached(gen, again) : follow(id, gen);
    }
    st.ws = ws;
    if (!st.retries) termOn();
    ws.onopen = function () {
      if (gen !== st.gen) return ws.close();
      opened = true;
      st.retries = 0;
      if (st.lost) { st.lost = false; message(""); }
      var q = st.queue;
      st.queue = [];
      q.forEach(function (m) { ws.send(JSON.stringify(m)); });
    };
    ws.onmessage = function (e) {
      if (gen !== st.gen) return ws.close();
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === "result") {
        done = true;
        return finish(m.job || {});
      }
      if (m.type === "error") {
        var c = (m.error && m.error.code) || "";
        if (c === "conflict") conflict = true;
        if (c === "conflict" || c === "read_only" || c === "not_interactive") {
          st.live = st.stdinOpen = false;
          st.queue = [];
          termOff();
        }
        if (c !== "ended") message(say.socketError(c, m.error && m.error.message), c === "conflict");
        return;
      }
      if (fresh(m.seq)) event(m.type, m.type === "test" ? m.test : m.data);
    };
    ws.onclose = function () {
      if (st.ws === ws) st.ws = null;
      if (gen !== st.gen || done) return;
      if (!opened && !st.seq && !st.retries) {
        // It never opened: no WebSocket here.
        st.live = st.stdinOpen = false;
        st.queue = [];
        termOff();
        return again ? unattached(gen, again) : follow(id, gen);
      }
      if (!conflict && st.retries < 3) {
        st.retries++;
        st.lost = true;
        message("Lost contact with the server; trying again…", true);
        setTimeout(function () { if (gen === st.gen && !st.ws) attach(id, gen, null); }, 1000 * st.retries);
        return;
      }
      st.live = st.stdinOpen = false;
      st.queue = [];
      termOff();
      follow(id, gen);
    };
  }

  // unattached runs the code again without a terminal, where the socket of
  // a run just submitted could not open: that run is canceled (it would wait
  // for the socket), and the new one reads the Input box only.
  function unattached(gen, again) {
    st.noSocket = true;
    st.note = say.noSocket();
    var id = st.jobId;
    if (id) fetch("/api/jobs/" + encodeURIComponent(id), { method: "DELETE" }).catch(function () {});
    message(st.note, true);
    view.clear();
    st.jobId = "";
    ui.stop.disabled = true;
    submit(again.code, again.input, gen, false);
  }

  // send sends a message to the run over its socket, or keeps it for when
  // the socket opens; it says whether the page holds the run.
  function send(m) {
    if (!st.live) return false;
    if (st.ws && st.ws.readyState === 1) st.ws.send(JSON.stringify(m));
    else st.queue.push(m);
    return true;
  }

  // follow streams a job's events until its result.
  function follow(id, gen) {
    var es = new EventSource("/api/jobs/" + encodeURIComponent(id) + "/events" + (st.seq ? "?after=" + st.seq : ""));
    st.es = es;
    function on(type, fn) {
      es.addEventListener(type, function (e) {
        if (gen !== st.gen) return es.close();
        if (type !== "result" && !fresh(+e.lastEventId || 0)) return;
        var d;
        try { d = JSON.parse(e.data); } catch (err) { return; }
        fn(d);
      });
    }
    on("status", function (d) { event("status", d.status); });
    on("stdout", function (d) { event("stdout", d.text); });
    on("stderr", function (d) { event("stderr", d.text); });
    on("test", function (d) { event("test", d); });
    on("result", function (d) { es.close(); finish(d); });
    es.onopen = function () { if (gen === st.gen && st.lost) { st.lost = false; message(""); } };
    es.onerror = function () {
      if (gen !== st.gen) return es.close();
      if (es.readyState === EventSource.CLOSED) return poll(id, gen);
      st.lost = true;
      message("Lost contact with the server; trying again…", true);
    };
  }

  // poll waits for the job's end by long polling, where the stream failed.
  async function poll(id, gen) {
    for (var tries = 0; tries < 20 && gen === st.gen; tries++) {
      try {
        var res = await fetch("/api/jobs/" + encodeURIComponent(id) + "?wait=30s");
        if (res.status === 404) return gen === st.gen && fail("This run is no longer kept on the server.");
        var job = await res.json();
        if (res.ok && /^(completed|failed|canceled)$/.test(job.status)) {
          if (gen === st.gen) finish(job);
          return;
        }
      } catch (e) {
        if (gen === st.gen) message(say.unreachable(), true);
        await new Promise(function (r) { setTimeout(r, 2000); });
      }
    }
  }

  // finish shows how a job ended; its result holds the whole output, which
  // replaces what the stream brought where the two differ.
  function finish(job) {
    var ae = document.activeElement;
    var inTerm = ui.terminal.contains(ae) || ui.termBar.contains(ae);
    closeStreams();
    if (inTerm) ui.terminal.focus({ preventScroll: true });
    st.lost = false;
    st.retries = 0;
    if (st.mode === "tests" || (job.tests && job.tests.length) || (job.result && job.result.total)) return finishTests(job);
    view.result(job.result);
    if (ui.message.classList.contains("info")) message(st.note, true);
    var missing = job.result && /ModuleNotFoundError: No module named '([^'.]+)/.exec(job.result.stderr || "");
    if (missing) message(say.missingModule(missing[1], runtimeOf(job)), true);
    view.verdict(say.verdict(job), "done");
    ui.result.dataset.verdict = (job.result && job.result.verdict) || job.status || "";
    ui.stats.textContent = say.stats(job.result) ||
      (job.status === "canceled" && st.t0 ? say.stoppedAfter(Date.now() - st.t0) : "");
    setBusy(false);
  }

  // The Tests panel.

  // finishTests shows how a test run ended: every test's result (the
  // job's are the whole truth), the summary, here and above the output.
  function finishTests(job) {
    var r = job.result, l = job.limits || st.testLimits;
    var kind = "fail", text;
    view.clear();
    if (ui.testResults.hidden) ui.testResults.hidden = false;
    if (r && r.tests) r.tests.forEach(function (tr) { tview.show(tr, l); });
    [].forEach.call(ui.testItems.querySelectorAll('[data-judgement="pending"] .test-verdict'), function (v) {
      v.textContent = "not run";
    });
    if (job.status === "completed" && r) {
      text = say.testsSummary(r.passed || 0, r.total || (r.tests || []).length);
      if (r.total && r.passed === r.total) kind = "ok";
    } else {
      text = say.verdict(job).text || "Ended: " + job.status + ".";
      kind = job.status === "canceled" ? "stopped" : "fail";
    }
    tview.done(text, kind);
    view.verdict({ kind: kind === "ok" ? "ok" : kind === "stopped" ? "stopped" : "error", text: text,
      detail: "Each test's result is under Tests." }, "done");
    ui.result.dataset.verdict = (r && r.verdict) || job.status || "";
    view.note("(see Tests, below)");
    ui.stats.textContent = "";
    setBusy(false);
  }

  // testEnded shows a test's result as its event comes.
  function testEnded(tr) {
    if (!tr || !tr.name) return;
    if (ui.testResults.hidden) {
      ui.testResults.hidden = false;
      ui.testResults.dataset.state = "running";
    }
    tview.show(tr, st.testLimits);
    st.testsDone++;
    if (st.busy) tview.summary(say.testsProgress(st.testsDone, st.testNames.length || st.testsDone), "");
  }

  // testCases are the test boxes of the panel.
  function testCases() { return [].slice.call(ui.testList.querySelectorAll(".test-case")); }

  // addTest adds a test's boxes, holding input and expected.
  function addTest(input, expected, focus) {
    if (testCases().length >= MAX_TESTS) return;
    var li = document.createElement("li");
    li.className = "test-case";
    var head = li.appendChild(document.createElement("div"));
    head.className = "test-case-head";
    var title = head.appendChild(document.createElement("span"));
    title.className = "test-title";
    var rm = head.appendChild(document.createElement("button"));
    rm.type = "button";
    rm.className = "test-remove";
    rm.textContent = "Remove";
    rm.addEventListener("click", function () { removeTest(li); });
    var fields = li.appendChild(document.createElement("div"));
    fields.className = "test-fields";
    [["Input", "test-in", input], ["Expected output", "test-out", expected]].forEach(function (f) {
      var lab = fields.appendChild(document.createElement("label"));
      lab.appendChild(document.createElement("span")).textContent = f[0];
      var ta = lab.appendChild(document.createElement("textarea"));
      ta.className = f[1];
      ta.rows = 2;
      ta.spellcheck = false;
      ta.setAttribute("autocapitalize", "off");
      ta.setAttribute("autocomplete", "off");
      ta.setAttribute("autocorrect", "off");
      ta.setAttribute("wrap", "off");
      ta.value = f[2] || "";
    });
    ui.testList.appendChild(li);
    renumber();
    if (focus) li.querySelector(".test-in").focus();
  }

  function removeTest(li) {
    var next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    renumber();
    edited();
    if (next) next.querySelector(".test-remove").focus();
    else ui.testAdd.focus();
  }

  // renumber names the tests 1, 2, … in their order.
  function renumber() {
    var cases = testCases();
    cases.forEach(function (li, i) {
      var n = String(i + 1);
      li.dataset.name = n;
      li.querySelector(".test-title").textContent = "Test " + n;
      li.querySelector(".test-remove").setAttribute("aria-label", "Remove test " + n);
      li.querySelector(".test-in").setAttribute("aria-label", "Test " + n + ": input");
      li.querySelector(".test-out").setAttribute("aria-label", "Test " + n + ": expected output");
    });
    ui.testAdd.disabled = cases.length >= MAX_TESTS;
  }

  // readTests is the panel's tests, as the API takes them.
  function readTests() {
    return testCases().map(function (li) {
      return { name: li.dataset.name, input: li.querySelector(".test-in").value,
        expectedOutput: li.querySelector(".test-out").value };
    });
  }

  function setTests(tests) {
    ui.testList.textContent = "";
    (tests || []).slice(0, MAX_TESTS).forEach(function (t) { addTest(t.input, t.expectedOutput); });
    if (!testCases().length) addTest("", "");
  }

  // runTests runs the code on the panel's tests.
  async function runTests() {
    if (st.busy) return;
    var src = code.get(), tests = readTests(), rt = st.runtimes;
    message("");
    if (!tests.length) return message("Add a test first: an input, and the output your program should print for it.");
    if (rt) {
      var enc = new TextEncoder();
      var n = enc.encode(src).length;
      if (n > rt.maxCodeBytes) return message(say.tooLarge("code", n, rt.maxCodeBytes));
      n = tests.reduce(function (s, t) { return s + enc.encode(t.input).length + enc.encode(t.expectedOutput).length; }, 0);
      if (n > rt.maxInputBytes) return message(say.tooLarge("tests' input and output", n, rt.maxInputBytes));
    }
    if (!limitsOK(false)) return;
    var tol = tolerance();
    if (tol === null) return;
    var lim = askedLimits(false);
    var gen = ++st.gen;
    closeStreams();
    st.jobId = "";
    st.mode = "tests";
    st.note = "";
    st.testNames = tests.map(function (t) { return t.name; });
    st.testsDone = 0;
    st.testLimits = Object.assign({}, rt && rt.defaultLimits, lim.limits);
    setBusy(true);
    view.clear();
    view.verdict({ text: "Sending the tests…" }, "sending");
    tview.start(st.testNames);
    ui.testSummary.scrollIntoView({ block: "nearest" });
    var req = Object.assign({ code: src, tests: tests, compare: ui.compare.value }, chosen());
    if (ui.stopFirst.checked) req.stopOnFirstFailure = true;
    if (tol !== undefined) req.tolerance = tol;
    if (lim.limits) req.limits = lim.limits;
    var id = await post(req, gen);
    if (!id) return;
    if (!st.testsDone) tview.summary(say.testsProgress(0, tests.length), "");
    follow(id, gen);
  }

  // The Limits box.

  // askedLimits reads the Limits box for a run (interactive: a Run's, whose
  // wall limit's maximum is the interactive one): {limits} (null where all
  // boxes are empty), or {error, box} for a box the server would refuse.
  function askedLimits(interactive) {
    var rt = st.runtimes || {}, max = rt.maxLimits || {}, out = {}, any = false;
    for (var i = 0; i < LIMITS.length; i++) {
      var f = LIMITS[i][1], box = ui["limit-" + LIMITS[i][0]], s = box.value.trim();
      if (s === "" && !(box.validity && box.validity.badInput)) continue;
      var v = Number(s);
      if (s === "" || !Number.isInteger(v) || v < 1) return { error: say.limitBad(f), box: box };
      var m = max[f];
      if (f === "wallTimeMs" && interactive && rt.maxInteractiveWallTimeMs) m = rt.maxInteractiveWallTimeMs;
      if (m && v > m) return { error: say.limitOver(f, v, m, interactive), box: box };
      out[f] = v;
      any = true;
    }
    return { limits: any ? out : null };
  }

  // limitsOK checks the Limits box; where a box is wrong it says so, shows
  // the box and marks it.
  function limitsOK(interactive) {
    LIMITS.forEach(function (l) { ui["limit-" + l[0]].removeAttribute("aria-invalid"); });
    var lim = askedLimits(interactive);
    if (!lim.error) return true;
    ui.limitsBox.open = true;
    lim.box.setAttribute("aria-invalid", "true");
    message(lim.error);
    lim.box.focus();
    return false;
  }

  // setupLimits gives the Limits box the server's defaults and maxima.
  function setupLimits(rt) {
    var d = rt.defaultLimits || {}, m = rt.maxLimits || {};
    LIMITS.forEach(function (l) {
      var box = ui["limit-" + l[0]], f = l[1], max = m[f];
      if (f === "wallTimeMs" && rt.maxInteractiveWallTimeMs > (max || 0)) max = rt.maxInteractiveWallTimeMs;
      if (max) box.max = max;
      if (d[f]) box.placeholder = String(d[f]);
    });
    ui.limitsHint.textContent = say.limitsHint(d, m, rt.maxInteractiveWallTimeMs);
    showLimits();
  }

  // showLimits says, under the output, the limits a Run gets.
  function showLimits() {
    var rt = st.runtimes;
    if (!rt || !rt.defaultLimits) return;
    var lim = askedLimits(true).limits || {};
    var l = Object.assign({}, rt.defaultLimits, lim);
    ui.limits.textContent = say.limits(l, lim.wallTimeMs || rt.maxInteractiveWallTimeMs);
  }

  // stop interrupts the run (SIGINT: its except KeyboardInterrupt and
  // finally blocks run), and cancels it when it has not ended after GRACE.
  // A run the page does not hold is canceled at once.
  function stop() {
    if (!st.busy || !st.jobId) return;
    ui.stop.disabled = true;
    var id = st.jobId, gen = st.gen;
    if (!interrupt()) return cancel(id);
    st.stopTimer = setTimeout(function () { if (gen === st.gen && st.busy) cancel(id); }, GRACE);
  }

  async function cancel(id) {
    try {
      var res = await fetch("/api/jobs/" + encodeURIComponent(id), { method: "DELETE" });
      if (!res.ok && res.status !== 409) message(say.httpError(res.status, await res.json().catch(function () { return null; })));
    } catch (e) {
      message(say.unreachable());
      if (id === st.jobId && st.busy) ui.stop.disabled = false;
    }
  }

  // The terminal: the output, with the line being typed at its end while
  // the page holds the run's stdin.

  function coarse() { return !!(window.matchMedia && matchMedia("(pointer: coarse)").matches); }

  // termOn shows the line to type in and the Interrupt and End input buttons.
  function termOn() {
    st.stdinOpen = true;
    var l = ui.termLine;
    l.hidden = false;
    l.disabled = false;
    l.value = "";
    l.placeholder = "type here";
    sizeLine();
    ui.termBar.hidden = false;
    ui.termInt.disabled = ui.termEof.disabled = false;
    ui.terminal.classList.add("live");
    if (st.focusTerm) {
      st.focusTerm = false;
      l.focus();
    }
  }

  function termOff() {
    st.stdinOpen = false;
    ui.termLine.hidden = true;
    ui.termLine.disabled = true;
    ui.termBar.hidden = true;
    ui.terminal.classList.remove("live");
  }

  // sizeLine makes the line as wide as its text (the terminal scrolls
  // sideways beyond its width, as it does for long lines of output).
  function sizeLine() {
    var l = ui.termLine;
    l.style.width = Math.max(l.value.length + 1, l.value ? 2 : l.placeholder.length + 1) + "ch";
  }

  // sendLine sends text (lines the learner typed) to the program's stdin
  // and shows it in place.
  function sendLine(text) {
    if (!st.stdinOpen || !send({ type: "stdin", data: text })) return;
    view.echo(text);
  }

  function enter() {
    var l = ui.termLine;
    sendLine(l.value + "\n");
    l.value = "";
    sizeLine();
    keepLineVisible();
  }

  // interrupt sends SIGINT (Ctrl+C); it says whether it could.
  function interrupt() {
    if (!send({ type: "signal", signal: "SIGINT" })) return false;
    view.echo("^C\n");
    keepLineVisible();
    return true;
  }

  // endInput sends what is on the line, then the end of the input (Ctrl+D):
  // input() raises EOFError from then on.
  function endInput() {
    if (!st.stdinOpen) return;
    var l = ui.termLine;
    if (l.value) sendLine(l.value);
    send({ type: "eof" });
    st.stdinOpen = false;
    l.value = "";
    l.placeholder = "input ended";
    sizeLine();
    l.disabled = true;
    ui.termEof.disabled = true;
    if (l === document.activeElement || ui.termEof === document.activeElement) ui.termInt.focus();
  }

  function lineKey(e) {
    if (e.isComposing || e.keyCode === 229) return;
    var l = ui.termLine, k = (e.key || "").toLowerCase();
    if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      enter();
    } else if (e.ctrlKey && !e.metaKey && !e.altKey && !e.shiftKey) {
      if (k === "c" && l.selectionStart === l.selectionEnd) {
        e.preventDefault();
        interrupt();
      } else if (k === "d") {
        e.preventDefault();
        endInput();
      }
    }
  }

  // terminalKey: on the output itself, Ctrl+C (with nothing selected) and
  // Ctrl+D act as on the line, and typing goes to the line.
  function terminalKey(e) {
    if (e.target !== ui.terminal || !st.busy) return;
    var k = (e.key || "").toLowerCase(), sel = window.getSelection();
    if (e.ctrlKey && !e.metaKey && !e.altKey && !e.shiftKey) {
      if (k === "c" && (!sel || sel.isCollapsed) && interrupt()) e.preventDefault();
      else if (k === "d" && st.stdinOpen) { e.preventDefault(); endInput(); }
    } else if (!e.ctrlKey && !e.metaKey && !e.altKey && k.length === 1 && st.stdinOpen) {
      ui.termLine.focus();
    }
  }

  // paste sends each whole line pasted; what follows the last new line
  // stays on the line.
  function paste(e) {
    var t = e.clipboardData && e.clipboardData.getData("text");
    if (!t || !/[\r\n]/.test(t) || !st.stdinOpen) return;
    e.preventDefault();
    var l = ui.termLine, lines = t.replace(/\r\n?/g, "\n").split("\n");
    var rest = l.value.slice(l.selectionEnd);
    lines[0] = l.value.slice(0, l.selectionStart) + lines[0];
    var last = lines.pop();
    sendLine(lines.join("\n") + "\n");
    l.value = last + rest;
    l.setSelectionRange(last.length, last.length);
    sizeLine();
    keepLineVisible();
  }

  // keepLineVisible scrolls the line being typed into view: in the
  // terminal, and in the part of the page that the on-screen keyboard
  // leaves (the visual viewport), with the buttons below it where they fit.
  function keepLineVisible() {
    var l = ui.termLine;
    if (l.hidden || document.activeElement !== l) return;
    var t = ui.terminal, pad = 8;
    t.scrollTop = t.scrollHeight;
    var r = l.getBoundingClientRect(), tr = t.getBoundingClientRect();
    if (r.right > tr.right - pad) t.scrollLeft += r.right - tr.right + pad;
    else if (r.left < tr.left + pad) t.scrollLeft -= tr.left + pad - r.left;
    // The boxes around it (the output pane on a desktop), then the page.
    if (!ui.termBar.hidden) ui.termBar.scrollIntoView({ block: "nearest" });
    l.scrollIntoView({ block: "nearest" });
    r = l.getBoundingClientRect();
    var vv = window.visualViewport;
    var top = vv ? vv.offsetTop : 0, h = vv ? vv.height : window.innerHeight;
    var bottom = r.bottom;
    if (!ui.termBar.hidden) {
      var b = ui.termBar.getBoundingClientRect().bottom;
      if (b - r.top < h - 2 * pad) bottom = b;
    }
    if (bottom > top + h - pad) window.scrollBy(0, bottom - (top + h) + pad);
    else if (r.top < top + pad) window.scrollBy(0, r.top - top - pad);
  }

  // bringOutputIntoView scrolls the page, where the output is below the
  // code (a phone), to the Run button and the output under it.
  function bringOutputIntoView() {
    if (!window.matchMedia || !matchMedia("(max-width: 899px)").matches) return;
    var r = ui.terminal.getBoundingClientRect(), h = window.innerHeight;
    if (r.top >= 0 && r.top + Math.min(r.height, 96) <= h) return;
    ui.controls.scrollIntoView({ block: "start" });
  }

  async function share() {
    if (!st.jobId) return;
    var url = location.origin + location.pathname + "?job=" + encodeURIComponent(st.jobId);
    ui.shareLink.value = url;
    ui.shareBox.hidden = false;
    try {
      await navigator.clipboard.writeText(url);
      message("Link copied. It opens this run's code, input and output while the server keeps the run.", true);
    } catch (e) {
      ui.shareLink.focus();
      ui.shareLink.select();
      message("Copy the link below. It opens this run's code, input and output while the server keeps the run.", true);
    }
  }

  // openShared loads a run from a share link: its code, input and output.
  async function openShared(id) {
    view.verdict({ text: "Opening the shared run…" }, "loading");
    var res, job;
    try {
      res = await fetch("/api/jobs/" + encodeURIComponent(id) + "?include=source");
      job = await res.json().catch(function () { return null; });
    } catch (e) {
      return fail(say.unreachable());
    }
    if (res.status === 404) {
      setLink("");
      return fail("This shared run is no longer kept on the server, so its code can't be shown. Runs are kept for a limited time.");
    }
    if (!res.ok || !job) return fail(say.httpError(res.status, job, res.headers.get("Retry-After")));
    st.jobId = id;
    code.set(job.code || "");
    ui.stdin.value = job.input || "";
    if (job.tests && job.tests.length) {
      setTests(job.tests);
      setCompare(job.compare || "lines", job.tolerance);
      ui.stopFirst.checked = !!job.stopOnFirstFailure;
      st.mode = "tests";
      st.testNames = job.tests.map(function (t, i) { return t.name || String(i + 1); });
      st.testsDone = 0;
      st.testLimits = job.limits || null;
      tview.start(st.testNames);
    }
    selectLanguage(job.language, job.version);
    ui.share.disabled = false;
    view.clear();
    if (/^(completed|failed|canceled)$/.test(job.status)) return finish(job);
    var gen = ++st.gen;
    st.seq = 0;
    setBusy(true);
    showProgress(job.status);
    if (job.interactive && typeof WebSocket === "function") attach(id, gen, null);
    else follow(id, gen);
  }

  // A picker's value is "language version" (version "" when unknown).
  function selectLanguage(lang, version) {
    if (!lang) return;
    var opts = [].slice.call(ui.language.options), want = lang + " " + (version || "");
    var o = opts.find(function (o) { return o.value === want; }) ||
      (!version && opts.find(function (o) { return o.value.split(" ")[0] === lang && o.dataset.default; }));
    if (!o) {
      o = new Option(((NAMES[lang] || lang) + " " + (version || "")).trim(), want);
      ui.language.add(o);
    }
    ui.language.value = o.value;
  }

  // chosen is the language and version the picker says.
  function chosen() {
    var v = ui.language.value.split(" ");
    return v[1] ? { language: v[0], version: v[1] } : { language: v[0] };
  }

  // runtimeOf finds the runtime a job ran on among those listed.
  function runtimeOf(job) {
    var list = (st.runtimes && st.runtimes.runtimes) || [];
    return list.find(function (r) { return r.language === job.language && r.version === job.version; }) ||
      { language: job.language, version: job.version || "", packages: [] };
  }

  // runtimeName is how the picker names a runtime: PyPy with its own
  // version and the Python version it implements.
  function runtimeName(r) {
    var name = NAMES[r.language] || r.language;
    if (r.implementationVersion) return name + " " + r.implementationVersion + " (Python " + r.version + ")";
    return r.version ? name + " " + r.version : name;
  }

  async function loadRuntimes() {
    var rt;
    try {
      var res = await fetch("/api/runtimes");
      if (!res.ok) return;
      rt = await res.json();
    } catch (e) {
      return message(say.unreachable());
    }
    st.runtimes = rt;
    ui.language.textContent = "";
    rt.runtimes.forEach(function (r) {
      var o = new Option(runtimeName(r), r.language + " " + r.version);
      if (r.default) o.dataset.default = "1";
      ui.language.add(o);
    });
    selectLanguage(rt.default);
    var want = (st.wantLang || "").split(" ");
    selectLanguage(want[0], want[1]);
    setupLimits(rt);
  }

  // edited keeps a draft, and drops the share link that no longer fits.
  function edited() {
    if (st.quiet) return;
    if (/[?&]job=/.test(location.search)) setLink("");
    clearTimeout(st.draftTimer);
    st.draftTimer = setTimeout(function () {
      var d = { code: code.get(), input: ui.stdin.value, language: ui.language.value,
        tests: readTests().map(function (t) { return { input: t.input, expectedOutput: t.expectedOutput }; }),
        compare: ui.compare.value, tolerance: ui.tolerance.value };
      try { localStorage.setItem(DRAFT, JSON.stringify(d)); } catch (e) { /* private mode */ }
    }, 300);
  }

  function restoreDraft() {
    var d;
    try { d = JSON.parse(localStorage.getItem(DRAFT) || "null"); } catch (e) { d = null; }
    if (!d) return;
    if (typeof d.code === "string") code.set(d.code);
    if (typeof d.input === "string") ui.stdin.value = d.input;
    if (Array.isArray(d.tests)) {
      setTests(d.tests.filter(function (t) { return t && typeof t.input === "string" && typeof t.expectedOutput === "string"; }));
    }
    if (d.compare) setCompare(d.compare, Number(d.tolerance));
    st.wantLang = d.language || "";
  }

  function setCompare(c, tol) {
    if ([].some.call(ui.compare.options, function (o) { return o.value === c; })) ui.compare.value = c;
    if (typeof tol === "number" && tol > 0) ui.tolerance.value = String(tol);
    showTolerance();
  }

  // showTolerance shows the tolerance field where numbers are compared.
  function showTolerance() {
    ui.toleranceBox.hidden = ui.compare.value !== "float";
  }

  // tolerance is the tolerance field's number, or null (and a message)
  // where it is none or negative.
  function tolerance() {
    if (ui.compare.value !== "float") return undefined;
    var v = ui.tolerance.value.trim(), n = Number(v);
    if (v === "" || !isFinite(n) || n < 0) {
      ui.tolerance.setAttribute("aria-invalid", "true");
      ui.tolerance.focus();
      message("The tolerance must be a number of at least 0, such as 1e-6 or 0.001.");
      return null;
    }
    ui.tolerance.removeAttribute("aria-invalid");
    return n;
  }

  function init() {
    ["code", "stdin", "language", "run", "stop", "share", "message", "result", "verdict",
      "stats", "output", "limits", "terminal"].forEach(function (id) { ui[id] = $(id); });
    ui.shareBox = $("share-box");
    ui.shareLink = $("share-link");
    ui.termLine = $("term-line");
    ui.termBar = $("term-bar");
    ui.termInt = $("term-int");
    ui.termEof = $("term-eof");
    ui.editorHost = $("editor-host");
    ui.controls = document.querySelector(".controls");
    ["test-list", "test-add", "run-tests", "test-results", "test-summary", "test-items", "compare",
      "tolerance", "tolerance-box", "stop-first", "limits-box", "limits-hint"].forEach(function (id) {
      ui[id.replace(/-(\w)/g, function (m, c) { return c.toUpperCase(); })] = $(id);
    });
    LIMITS.forEach(function (l) { ui["limit-" + l[0]] = $("limit-" + l[0]); });
    view = window.OnPyView(ui);
    tview = window.OnPyTestsView(ui, say);
    addTest("", "");
    if (/Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent)) {
      [].forEach.call(document.querySelectorAll(".mod-key"), function (k) { k.textContent = "⌘"; });
    }
    var job = new URLSearchParams(location.search).get("job");
    if (!job) restoreDraft();
    mountEditor();
    document.addEventListener("onpy-editor", mountEditor);
    ui.run.addEventListener("click", run);
    ui.stop.addEventListener("click", stop);
    ui.share.addEventListener("click", share);
    ui.termLine.addEventListener("keydown", lineKey);
    ui.termLine.addEventListener("input", sizeLine);
    ui.termLine.addEventListener("paste", paste);
    ui.termLine.addEventListener("focus", function () {
      keepLineVisible();
      setTimeout(keepLineVisible, 350); // after the on-screen keyboard slides in
    });
    ui.terminal.addEventListener("keydown", terminalKey);
    ui.terminal.addEventListener("click", function (e) {
      var sel = window.getSelection();
      if (e.target !== ui.termLine && st.stdinOpen && (!sel || sel.isCollapsed)) ui.termLine.focus();
    });
    ui.termInt.addEventListener("click", function () { interrupt(); });
    ui.termEof.addEventListener("click", endInput);
    if (window.visualViewport) visualViewport.addEventListener("resize", keepLineVisible);
    window.addEventListener("resize", keepLineVisible);
    ui.code.addEventListener("input", edited);
    ui.stdin.addEventListener("input", edited);
    ui.language.addEventListener("change", edited);
    ui.testList.addEventListener("input", edited);
    ui.compare.addEventListener("change", function () { showTolerance(); edited(); });
    ui.tolerance.addEventListener("input", function () { ui.tolerance.removeAttribute("aria-invalid"); edited(); });
    ui.stopFirst.addEventListener("change", edited);
    ui.testAdd.addEventListener("click", function () { addTest("", "", true); edited(); });
    ui.runTests.addEventListener("click", runTests);
    LIMITS.forEach(function (l) {
      ui["limit-" + l[0]].addEventListener("input", function (e) {
        e.target.removeAttribute("aria-invalid");
        showLimits();
      });
    });
    $("code-label").addEventListener("click", function (e) {
      if (st.editor) { e.preventDefault(); st.editor.focus(); }
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) {
        e.preventDefault();
        run();
      }
    });
    loadRuntimes().then(function () { if (job) openShared(job); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
