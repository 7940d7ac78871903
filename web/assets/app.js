// The playground: run the code, stream its output, say how it ended, share
// it. It needs only the page, say.js and view.js: the code box is a textarea
// until the CodeMirror bundle (editor.js) arrives, if it ever does.
(function () {
  "use strict";
  var say = window.OnPySay;
  var ui = {};
  var view;
  var st = {
    runtimes: null, editor: null, jobId: "", es: null, busy: false, gen: 0,
    lost: false, quiet: false, wantLang: "", draftTimer: 0,
  };
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
    var text = say.status(status);
    if (text) view.verdict({ text: text }, status);
  }

  function setBusy(busy) {
    var hadFocus = document.activeElement;
    st.busy = busy;
    ui.run.disabled = busy;
    ui.stop.disabled = !busy || !st.jobId;
    ui.share.disabled = !st.jobId;
    if (busy && hadFocus === ui.run) ui.stop.focus();
    if (!busy && hadFocus === ui.stop) ui.run.focus();
  }

  function fail(text) {
    setBusy(false);
    message(text);
    view.verdict({ text: "Not run." }, "idle");
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
    var gen = ++st.gen;
    if (st.es) st.es.close();
    st.jobId = "";
    setBusy(true);
    view.clear();
    view.verdict({ text: "Sending…" }, "sending");
    var res, body;
    try {
      res = await fetch("/api/jobs", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({ code: src, input: input }, chosen())),
      });
      body = await res.json().catch(function () { return null; });
    } catch (e) {
      if (gen === st.gen) fail(say.unreachable());
      return;
    }
    if (gen !== st.gen) return;
    if (!res.ok || !body || !body.jobId) {
      return fail(say.httpError(res.status, body, res.headers.get("Retry-After")));
    }
    st.jobId = body.jobId;
    setLink(st.jobId);
    ui.stop.disabled = false;
    ui.share.disabled = false;
    showProgress(body.status);
    follow(st.jobId, gen);
  }

  // follow streams a job's events until its result.
  function follow(id, gen) {
    var es = new EventSource("/api/jobs/" + encodeURIComponent(id) + "/events");
    st.es = es;
    function on(type, fn) {
      es.addEventListener(type, function (e) {
        if (gen !== st.gen) return es.close();
        var d;
        try { d = JSON.parse(e.data); } catch (err) { return; }
        fn(d);
      });
    }
    on("status", function (d) { showProgress(d.status); });
    on("stdout", function (d) { view.append(d.text, false); });
    on("stderr", function (d) { view.append(d.text, true); });
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
    st.es = null;
    st.lost = false;
    view.result(job.result);
    if (ui.message.classList.contains("info")) message("");
    var missing = job.result && /ModuleNotFoundError: No module named '([^'.]+)/.exec(job.result.stderr || "");
    if (missing) message(say.missingModule(missing[1], runtimeOf(job)), true);
    view.verdict(say.verdict(job), "done");
    ui.stats.textContent = say.stats(job.result);
    setBusy(false);
  }

  async function stop() {
    if (!st.busy || !st.jobId) return;
    ui.stop.disabled = true;
    try {
      var res = await fetch("/api/jobs/" + encodeURIComponent(st.jobId), { method: "DELETE" });
      if (!res.ok) message(say.httpError(res.status, await res.json().catch(function () { return null; })));
    } catch (e) {
      message(say.unreachable());
      ui.stop.disabled = false;
    }
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
    selectLanguage(job.language, job.version);
    ui.share.disabled = false;
    view.clear();
    if (/^(completed|failed|canceled)$/.test(job.status)) return finish(job);
    var gen = ++st.gen;
    setBusy(true);
    showProgress(job.status);
    follow(id, gen);
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
    ui.limits.textContent = say.limits(rt.defaultLimits);
  }

  // edited keeps a draft, and drops the share link that no longer fits.
  function edited() {
    if (st.quiet) return;
    if (/[?&]job=/.test(location.search)) setLink("");
    clearTimeout(st.draftTimer);
    st.draftTimer = setTimeout(function () {
      var d = { code: code.get(), input: ui.stdin.value, language: ui.language.value };
      try { localStorage.setItem(DRAFT, JSON.stringify(d)); } catch (e) { /* private mode */ }
    }, 300);
  }

  function restoreDraft() {
    var d;
    try { d = JSON.parse(localStorage.getItem(DRAFT) || "null"); } catch (e) { d = null; }
    if (!d) return;
    if (typeof d.code === "string") code.set(d.code);
    if (typeof d.input === "string") ui.stdin.value = d.input;
    st.wantLang = d.language || "";
  }

  function init() {
    ["code", "stdin", "language", "run", "stop", "share", "message", "result", "verdict",
      "stats", "output", "limits"].forEach(function (id) { ui[id] = $(id); });
    ui.shareBox = $("share-box");
    ui.shareLink = $("share-link");
    view = window.OnPyView(ui);
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
    ui.code.addEventListener("input", edited);
    ui.stdin.addEventListener("input", edited);
    ui.language.addEventListener("change", edited);
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
