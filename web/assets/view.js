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

    return { message: message, verdict: verdict, clear: clear, append: append, echo: echo, result: result };
  };
})();
