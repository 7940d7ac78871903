// OnPySay: the playground's words. It turns jobs, limits and HTTP errors
// into plain sentences; it has no state and touches no page element.
(function () {
  "use strict";

  // duration says a count of milliseconds: 250 ms, 2 s, 1.5 s.
  function duration(ms) {
    if (ms < 1000) return ms + " ms";
    if (ms >= 60000 && ms % 60000 === 0) return ms / 60000 + " min";
    return Math.round(ms / 10) / 100 + " s";
  }

  // bytes says a size: 900 bytes, 12.5 KiB, 8 MiB.
  function bytes(n) {
    if (n < 1024) return n + (n === 1 ? " byte" : " bytes");
    if (n < 1024 * 1024) return Math.round(n / 102.4) / 10 + " KiB";
    return Math.round(n / 104857.6) / 10 + " MiB";
  }

  // memoryKB says a memory peak given in KiB.
  function memoryKB(kb) { return bytes(kb * 1024); }

  // verdict describes how a job ended: {kind, text, detail}, kind being
  // ok, error, limit or stopped (for colour; the text says it too).
  function verdict(job) {
    var l = job.limits || {};
    var r = job.result;
    if (job.status === "canceled") {
      return { kind: "stopped", text: "■ Stopped: the run was canceled.", detail: "" };
    }
    if (job.status === "failed") {
      return {
        kind: "error", detail: "This is a problem on our side, not in your code. Please try again.",
        text: "✗ We could not run your program" + (job.error ? ": " + job.error : "."),
      };
    }
    if (!r) return { kind: "", text: "", detail: "" };
    switch (r.verdict) {
      case "ok":
        return { kind: "ok", text: "✓ Finished normally.", detail: "" };
      case "runtime_error":
        if (/\nKeyboardInterrupt\s*$/.test(r.stderr || "")) {
          return {
            kind: "error", text: "✗ Interrupted: your program stopped at a KeyboardInterrupt (Ctrl+C).",
            detail: "Where it was is in the output, in red.",
          };
        }
        if (/\nEOFError\b[^\n]*\s*$/.test(r.stderr || "")) {
          return {
            kind: "error", text: "✗ Your program asked for input after the input ended (EOFError).",
            detail: "Where it asked is in the output, in red.",
          };
        }
        return {
          kind: "error",
          text: r.signal ? "✗ Your program was killed by the signal " + r.signal + "."
            : "✗ Your program stopped with an error (exit code " + r.exitCode + ").",
          detail: r.stderr ? "The error message is in the output, in red." : "",
        };
      case "time_limit":
        return {
          kind: "limit", text: "⏱ Stopped: used more than " + (l.timeMs ? duration(l.timeMs) : "its limit") + " of CPU time.",
          detail: "It may loop forever, or need a faster way to get its answer.",
        };
      case "wall_time_limit":
        return {
          kind: "limit", text: "⏱ Stopped: ran for longer than " + (l.wallTimeMs ? duration(l.wallTimeMs) : "its limit") + ".",
          detail: "It may be waiting for input that never came (type it in the output while it runs, or give it in the Input box), or sleeping.",
        };
      case "memory_limit":
        return {
          kind: "limit", text: "▲ Stopped: used more than " + (l.memoryMB ? l.memoryMB + " MiB" : "its limit") + " of memory.",
          detail: "It may keep too much data at once, or grow a list without end.",
        };
      case "output_limit":
        return {
          kind: "limit", text: "▲ Stopped: wrote more than " + (l.outputKB ? l.outputKB + " KiB" : "its limit") + " of output.",
          detail: "The output shown is cut at that point.",
        };
    }
    return { kind: "error", text: "Ended: " + r.verdict + ".", detail: "" };
  }

  // stats says a result's exit code, times and memory.
  function stats(r) {
    if (!r) return "";
    var parts = ["Exit code " + r.exitCode];
    if (r.signal) parts.push("signal " + r.signal);
    parts.push("CPU time " + duration(r.timeMs), "wall time " + duration(r.wallTimeMs),
      "memory " + memoryKB(r.memoryKB));
    return parts.join(" · ");
  }

  // stoppedAfter says how long a run that was stopped ran, as the page
  // measured it, where the server kept no result.
  function stoppedAfter(ms) { return "Stopped after about " + duration(ms) + "."; }

  // status says what a job is doing before it ends.
  function status(s) {
    if (s === "queued") return "Waiting for a free runner…";
    if (s === "running") return "Running…";
    return "";
  }

  // limits says the limits a run gets by default; wallMs, where given, is
  // the wall time of the page's runs (interactive: they may wait for what
  // the learner types).
  function limits(l, wallMs) {
    if (!l) return "";
    return "Each run may use " + duration(l.timeMs) + " of CPU time and " + duration(wallMs || l.wallTimeMs) +
      " in all, " + l.memoryMB + " MiB of memory and " + l.outputKB + " KiB of output.";
  }

  // tooLarge says that what (code or input) is over the server's cap.
  function tooLarge(what, size, max) {
    return "Your " + what + " is " + bytes(size) + "; this server takes at most " + bytes(max) +
      " of " + what + ". Make it smaller and try again.";
  }

  // missingModule says, when an import failed, which packages the runtime
  // the run used has (r: an entry of /api/runtimes).
  function missingModule(name, r) {
    var which = (r.language === "pypy" ? "PyPy" : "Python") + (r.version ? " " + r.version : "");
    var pkgs = r.packages || [];
    return "There is no module " + name + " here. " + which + " on this server has " +
      (pkgs.length ? "these packages beyond the standard library: " + pkgs.join(", ") : "the standard library only") + ".";
  }

  // noSocket says why the output cannot be typed into.
  function noSocket() {
    return "Typing into a running program needs a WebSocket connection, which could not open here; " +
      "runs read the Input box only.";
  }

  // socketError says what the server said of a message the page sent to a
  // running program (code: its error code).
  function socketError(code, msg) {
    switch (code) {
      case "conflict":
        return "This run's input is already taken by another tab or device; this page shows its output only.";
      case "too_large":
        return "That was too much to send at once" + (msg ? " (" + msg + ")" : "") + "; it did not reach your program.";
      case "read_only":
      case "not_interactive":
        return "This run does not take typed input; this page shows its output only.";
    }
    return "The server did not take what was sent to your program" + (msg ? ": " + msg : "") + ".";
  }

  // unreachable says that the server did not answer at all.
  function unreachable() {
    return "Can't reach the server. Check your connection, then try again.";
  }

  // httpError says why the server refused a request, from the status, the
  // JSON error body (when there is one) and Retry-After.
  function httpError(status, body, retryAfter) {
    var e = (body && body.error) || {};
    var wait = retryAfter && +retryAfter > 0 ? " in " + duration(+retryAfter * 1000) : " in a moment";
    switch (status) {
      case 413:
        return "That is too large for this server" + (e.message ? " (" + e.message + ")" : "") + ".";
      case 429:
        return "You are sending runs too quickly. Please wait, and try again" + wait + ".";
      case 503:
        if (e.code === "queue_full") {
          return "The server is busy: all its runners are taken and its queue is full. Please try again" + wait + ".";
        }
        return "The server is not ready right now (it may be restarting). Please try again" + wait + ".";
      case 400:
        return "The server did not take this run: " + (e.message || "it says the request is wrong") + ".";
    }
    if (status >= 500) return "Something went wrong on the server. Please try again" + wait + ".";
    return "The server answered " + status + (e.message ? ": " + e.message : "") + ".";
  }

  // judgement says how one test went (tr: a TestResult; l: the job's
  // limits): {kind, text}, kind being ok, fail, limit or skipped.
  function judgement(tr, l) {
    l = l || {};
    switch (tr.judgement) {
      case "accepted": return { kind: "ok", text: "✓ Passed" };
      case "wrong_answer": return { kind: "fail", text: "✗ Wrong answer" };
      case "skipped": return { kind: "skipped", text: "– Skipped: an earlier test failed" };
      case "time_limit":
        return { kind: "limit", text: "⏱ Too slow: used more than " + (l.timeMs ? duration(l.timeMs) : "its limit") + " of CPU time" };
      case "wall_time_limit":
        return { kind: "limit", text: "⏱ Too slow: ran for longer than " + (l.wallTimeMs ? duration(l.wallTimeMs) : "its limit") };
      case "memory_limit":
        return { kind: "limit", text: "▲ Used more than " + (l.memoryMB ? l.memoryMB + " MiB" : "its limit") + " of memory" };
      case "output_limit":
        return { kind: "limit", text: "▲ Wrote more than " + (l.outputKB ? l.outputKB + " KiB" : "its limit") + " of output" };
      case "runtime_error":
        return {
          kind: "fail", text: tr.signal ? "✗ Killed by the signal " + tr.signal
            : "✗ Stopped with an error (exit code " + tr.exitCode + ")",
        };
    }
    return { kind: "fail", text: "✗ " + String(tr.judgement || tr.verdict || "failed").replace(/_/g, " ") };
  }

  // testStats says a test's CPU time and memory.
  function testStats(tr) {
    if (tr.judgement === "skipped") return "";
    return "CPU time " + duration(tr.timeMs || 0) + " · memory " + memoryKB(tr.memoryKB || 0);
  }

  // testsSummary says how many tests passed: "2 of 3 tests passed."
  function testsSummary(passed, total) {
    if (total && passed === total) return "✓ All " + (total === 1 ? "1 test" : total + " tests") + " passed.";
    return "✗ " + passed + " of " + total + (total === 1 ? " test" : " tests") + " passed.";
  }

  // testsProgress says how far a test run is: 1 of 3 done.
  function testsProgress(done, total) {
    return "Running the tests… " + done + " of " + total + " done.";
  }

  // LIMIT_NAMES are the limits' names and units in words.
  var LIMIT_NAMES = {
    timeMs: ["CPU time", function (v) { return duration(v); }],
    wallTimeMs: ["wall time", function (v) { return duration(v); }],
    memoryMB: ["memory", function (v) { return v + " MiB"; }],
    outputKB: ["output", function (v) { return v + " KiB"; }],
  };

  // limitOver says that a limit asked for is over the server's maximum;
  // interactive: the maximum is that of a run from the Run button.
  function limitOver(field, v, max, interactive) {
    var n = LIMIT_NAMES[field];
    return "The " + n[0] + " limit can be at most " + n[1](max) +
      (field === "wallTimeMs" ? (interactive ? " for Run" : " for this run") : "") +
      " on this server; you asked for " + n[1](v) + ". Make it smaller, or empty the box for the default.";
  }

  // limitBad says that a limit's box holds no whole number of at least 1.
  function limitBad(field) {
    return "The " + LIMIT_NAMES[field][0] + " limit must be a whole number of at least 1, or empty for the default.";
  }

  // limitsHint says the defaults and maxima of the limits box.
  function limitsHint(d, m, interactiveWall) {
    d = d || {}; m = m || {};
    var s = "Empty boxes take the server's default: " + duration(d.timeMs) + " of CPU time, " +
      duration(d.wallTimeMs) + " in all" + (interactiveWall ? " (" + duration(interactiveWall) + " for Run, which waits for typing)" : "") +
      ", " + d.memoryMB + " MiB of memory, " + d.outputKB + " KiB of output.";
    if (m.timeMs) {
      s += " The most: " + duration(m.timeMs) + ", " + duration(m.wallTimeMs) +
        (interactiveWall && interactiveWall !== m.wallTimeMs ? " (" + duration(interactiveWall) + " for Run)" : "") +
        ", " + m.memoryMB + " MiB, " + m.outputKB + " KiB.";
    }
    return s;
  }

  window.OnPySay = {
    judgement: judgement, testStats: testStats, testsSummary: testsSummary, testsProgress: testsProgress,
    limitOver: limitOver, limitBad: limitBad, limitsHint: limitsHint,
    duration: duration, bytes: bytes, verdict: verdict, stats: stats, status: status,
    limits: limits, tooLarge: tooLarge, unreachable: unreachable, httpError: httpError,
    missingModule: missingModule, stoppedAfter: stoppedAfter, noSocket: noSocket, socketError: socketError,
  };
})();
