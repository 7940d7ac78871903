// OnPyView: what the playground shows of a run: the message line, the
// verdict and stats, and the output, a terminal: stdout plain, stderr marked,
// what the learner typed echoed in place, and the line being typed at its
// end. app.js drives it; it keeps no state but the output's lengths.
(function () {
  "use strict";

  // OnPyView returns the view over the page's elements (ui holds message,
  // result, verdict, stats, output, terminal and termLine).
  window.OnPyView = function (ui) {
    var outLen = 0, errLen = 0;

    function message(text, info) {
      ui.message.textContent = text || "";
      ui.message.hidden = !text;
      ui.message.classList.toggle("info", !!info);
    }

    // verdict shows v ({text, detail, kind}) and marks the result with the
    // run's state (idle, sending, queued, running, done) and kind.
    function verdict(v, state) {
      ui.verdict.textContent = v.text || "";
      if (v.detail) {
        var d = document.createElement("span");
        d.className = "detail";
        d.textContent = " " + v.detail;
        ui.verdict.appendChild(d);
      }
      ui.result.dataset.state = state;
      ui.result.dataset.kind = v.kind || "";
      if (state !== "done") delete ui.result.dataset.verdict;
    }

    function clear() {
      ui.output.textContent = "";
      ui.stats.textContent = "";
      outLen = errLen = 0;
    }

    // atEnd says whether the terminal shows its last line.
    function atEnd() {
      var t = ui.terminal;
      return t.scrollHeight - t.scrollTop - t.clientHeight < 8;
    }

    // add adds text in the class cls (out, err or in) to the output, and
    // keeps the terminal at its bottom when it was there.
    function add(text, cls) {
      if (!text) return;
      var end = atEnd();
      var last = ui.output.lastChild;
      if (last && last.className === cls) {
        last.firstChild.appendData(text);
      } else {
        var span = document.createElement("span");
        span.className = cls;
        span.textContent = text;
        ui.output.appendChild(span);
      }
      if (end) ui.terminal.scrollTop = ui.terminal.scrollHeight;
    }

    // append adds a piece of the program's output, stderr in its own style.
    function append(text, isErr) {
      if (!text) return;
      if (isErr) errLen += text.length; else outLen += text.length;
      add(text, isErr ? "err" : "out");
    }

    // echo shows what the learner typed (or ^C), in place, as a terminal
    // does: the program's stdin is a pipe, which echoes nothing.
    function echo(text) { add(text, "in"); }

    // result shows a run's whole output from its result, where the stream
    // brought something else (a reconnect that missed a piece), and says so
    // when there was none.
    function result(r) {
      if (!r) return;
      var so = r.stdout || "", se = r.stderr || "";
      if (so.length !== outLen || se.length !== errLen) {
        clear();
        append(so, false);
        append(se, true);
      }
      if (!so && !se) {
        var none = document.createElement("span");
        none.className = "note";
        var shown = ui.output.textContent;
        none.textContent = (shown && !/\n$/.test(shown) ? "\n" : "") + "(no output)";
        ui.output.appendChild(none);
      }
    }

    // note shows a remark in the output, in the muted style.
    function note(text) {
      var n = document.createElement("span");
      n.className = "note";
      n.textContent = text;
      ui.output.appendChild(n);
    }

    return { message: message, verdict: verdict, clear: clear, append: append, echo: echo, result: result, note: note };
  };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // OnPyTestsView returns the view of a test run: a summary and one item
  // per test, each saying how it went as its result arrives (ui holds
  // testResults, testSummary and testItems; say is OnPySay).
  window.OnPyTestsView = function (ui, say) {
    function item(name) {
      var li = ui.testItems.querySelector('[data-name="' + CSS.escape(name) + '"]');
      if (!li) {
        li = el("li", "test-item");
        li.dataset.name = name;
        ui.testItems.appendChild(li);
      }
      return li;
    }

    // start shows the tests named names as waiting.
    function start(names) {
      ui.testResults.hidden = false;
      ui.testResults.dataset.state = "running";
      ui.testItems.textContent = "";
      summary("Sending the tests…", "");
      names.forEach(function (n) {
        var li = item(n);
        li.dataset.judgement = "pending";
        li.appendChild(el("p", "test-head")).append(el("span", "test-name", "Test " + n), " ",
          el("span", "test-verdict", "waiting"));
      });
    }

    function summary(text, kind) {
      ui.testSummary.textContent = text;
      ui.testSummary.dataset.kind = kind || "";
    }

    // box shows a labelled piece of text (expected, got, stderr).
    function box(label, text, cls) {
      var d = el("div", "test-box " + (cls || ""));
      d.appendChild(el("span", "test-box-label", label));
      d.appendChild(el("pre", "test-text", text));
      return d;
    }

    // show shows how the test tr (a TestResult) went; l: the job's limits.
    function show(tr, l) {
      var li = item(tr.name), j = say.judgement(tr, l);
      li.textContent = "";
      li.dataset.judgement = tr.judgement;
      li.dataset.kind = j.kind;
      var head = li.appendChild(el("p", "test-head"));
      head.append(el("span", "test-name", "Test " + tr.name), " ", el("span", "test-verdict", j.text));
      var stats = say.testStats(tr);
      if (stats) li.appendChild(el("p", "test-stats", stats));
      if (tr.diff) {
        var d = li.appendChild(el("div", "test-diff"));
        d.appendChild(el("p", "test-line", "Line " + tr.diff.line + ":"));
        d.appendChild(box("expected", tr.diff.expected, "expected"));
        d.appendChild(box("got", tr.diff.got, "got"));
      }
      if (tr.judgement === "runtime_error" && tr.stderr) {
        li.appendChild(box("stderr", tr.stderr, "stderr"));
      }
    }

    // done marks the test run as ended, with its summary.
    function done(text, kind) {
      ui.testResults.dataset.state = "done";
      summary(text, kind);
    }

    function clear() {
      ui.testResults.hidden = true;
      ui.testResults.dataset.state = "idle";
      ui.testItems.textContent = "";
      summary("", "");
    }

    return { start: start, summary: summary, show: show, done: done, clear: clear };
  };
})();
