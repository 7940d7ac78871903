// OnPyView: what the playground shows of a run: the message line, the
// verdict and stats, and the output, stdout plain and stderr marked.
// app.js drives it; it keeps no state but the output's lengths.
(function () {
  "use strict";

  // OnPyView returns the view over the page's elements (ui holds message,
  // result, verdict, stats and output).
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
    }

    function clear() {
      ui.output.textContent = "";
      ui.stats.textContent = "";
      outLen = errLen = 0;
    }

    // append adds a piece of output, stderr in its own style, and keeps the
    // view at the bottom when it was there.
    function append(text, isErr) {
      if (!text) return;
      if (isErr) errLen += text.length; else outLen += text.length;
      var o = ui.output;
      var atEnd = o.scrollHeight - o.scrollTop - o.clientHeight < 8;
      var cls = isErr ? "err" : "out";
      var last = o.lastChild;
      if (last && last.className === cls) {
        last.firstChild.appendData(text);
      } else {
        var span = document.createElement("span");
        span.className = cls;
        span.textContent = text;
        o.appendChild(span);
      }
      if (atEnd) o.scrollTop = o.scrollHeight;
    }

    // result shows a run's whole output from its result, where the stream
    // brought something else (a reconnect that missed a piece), and says so
    // when there was none.
    function result(r) {
      if (!r) return;
      if (r.stdout.length !== outLen || r.stderr.length !== errLen) {
        clear();
        append(r.stdout, false);
        append(r.stderr, true);
      }
      if (!r.stdout && !r.stderr) {
        var none = document.createElement("span");
        none.className = "note";
        none.textContent = "(no output)";
        ui.output.appendChild(none);
      }
    }

    return { message: message, verdict: verdict, clear: clear, append: append, result: result };
  };
})();
