// monit web console: live logs and live job output over Server-Sent
// Events. No inline scripts (CSP default-src 'self'). Rendering is
// batched per animation frame and bounded, so a fast stream never
// freezes the tab: lines the page cannot keep up with are dropped and
// shown as a skip marker.
"use strict";

(function () {
  var MAX_PENDING = 2000;   // lines waiting to be drawn
  var PER_FRAME = 200;      // lines drawn per animation frame at most
  var FRAME_MS = 4;         // time spent drawing per frame at most
  var MAX_SHOWN = 1000;     // lines kept on the page

  function liveLog(list) {
    var pending = [];
    var skipped = 0;
    var paused = false;
    var scheduled = false;
    var status = document.getElementById("status");
    var pauseBtn = document.getElementById("pause");
    var clearBtn = document.getElementById("clear");
    var total = 0;

    function setStatus(text) { if (status) status.textContent = text; }

    var skippedTotal = 0;
    function skip(n) {
      skipped += n;
      skippedTotal += n;
    }

    function add(lines, serverSkipped) {
      if (serverSkipped > 0) { pending.push({ skip: serverSkipped }); skippedTotal += serverSkipped; }
      for (var i = 0; i < lines.length; i++) pending.push(lines[i]);
      if (pending.length > MAX_PENDING) {
        var drop = pending.length - MAX_PENDING;
        var dropped = 0;
        for (var j = 0; j < drop; j++) {
          // A marker already counted folds into the next one.
          if (pending[j].skip) skipped += pending[j].skip; else dropped++;
        }
        pending.splice(0, drop);
        skip(dropped);
      }
      schedule();
    }

    function schedule() {
      if (!scheduled && !paused) {
        scheduled = true;
        requestAnimationFrame(draw);
      }
    }

    var markers = 0;
    function marker(n) {
      markers++;
      var li = document.createElement("li");
      li.className = "skip";
      li.textContent = "… " + n + " lines skipped (the page fell behind) …";
      return li;
    }

    // Follow the end unless the reader scrolled up; known from scroll
    // events, so drawing never has to ask for layout.
    var stick = true;
    list.addEventListener("scroll", function () {
      stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    }, { passive: true });

    function draw() {
      scheduled = false;
      if (paused) return;
      var start = performance.now();
      var frag = document.createDocumentFragment();
      if (skipped > 0) { frag.appendChild(marker(skipped)); skipped = 0; }
      var n = Math.min(pending.length, PER_FRAME);
      var i = 0;
      for (; i < n; i++) {
        if ((i & 31) === 31 && performance.now() - start > FRAME_MS) break;
        var l = pending[i];
        if (l.skip) { frag.appendChild(marker(l.skip)); continue; }
        var li = document.createElement("li");
        li.className = "lv-" + l.level;
        var t = document.createElement("time"); t.textContent = l.time;
        var lv = document.createElement("span"); lv.className = "lv"; lv.textContent = l.level;
        var src = document.createElement("span"); src.className = "src"; src.textContent = l.node + " " + l.source;
        li.appendChild(t); li.appendChild(document.createTextNode(" "));
        li.appendChild(lv); li.appendChild(document.createTextNode(" "));
        li.appendChild(src); li.appendChild(document.createTextNode(" " + l.message));
        frag.appendChild(li);
        total++;
      }
      pending.splice(0, i);
      list.appendChild(frag);
      // Counters for whoever measures the page (benches/web.rs).
      list.setAttribute("data-shown", String(total));
      list.setAttribute("data-skipped", String(skippedTotal));
      list.setAttribute("data-markers", String(markers));
      var extra = list.childElementCount - MAX_SHOWN;
      while (extra-- > 0) list.removeChild(list.firstElementChild);
      if (stick) list.scrollTop = 1e9;
      if (pending.length > 0) schedule();
    }

    if (pauseBtn) {
      pauseBtn.addEventListener("click", function () {
        paused = !paused;
        pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
        pauseBtn.textContent = paused ? "Resume" : "Pause";
        setStatus(paused ? "paused: new lines are held (the oldest are skipped past " + MAX_PENDING + ")" : "following");
        if (!paused) schedule();
      });
    }
    if (clearBtn) {
      clearBtn.addEventListener("click", function () {
        while (list.firstChild) list.removeChild(list.firstChild);
      });
    }

    var es = new EventSource(list.getAttribute("data-src"));
    es.addEventListener("open", function () { setStatus(paused ? "paused" : "following"); });
    es.addEventListener("lines", function (ev) {
      var batch;
      try { batch = JSON.parse(ev.data); } catch (e) { return; }
      add(batch.lines || [], batch.skipped || 0);
    });
    es.addEventListener("error", function (ev) {
      if (ev.data) { setStatus("error: " + ev.data); es.close(); }
      else setStatus("reconnecting…");
    });
  }

  function liveJob(pre) {
    var status = document.getElementById("status");
    var es = new EventSource(pre.getAttribute("data-src"));
    var pending = [];
    var scheduled = false;
    function draw() {
      scheduled = false;
      var frag = document.createDocumentFragment();
      for (var i = 0; i < pending.length; i++) {
        var o = pending[i];
        if (o.skipped > 0) {
          var gap = document.createElement("span");
          gap.className = "skip";
          gap.textContent = "… " + o.skipped + " pieces of output skipped (the page fell behind; the full record shows when the job ends) …\n";
          frag.appendChild(gap);
        }
        var lines = o.data.split(/(?<=\n)/);
        for (var j = 0; j < lines.length; j++) {
          if (lines[j] === "") continue;
          var span = document.createElement("span");
          if (o.stream === "stderr") span.className = "stderr";
          span.textContent = o.node + ": " + lines[j] + (lines[j].endsWith("\n") ? "" : "\n");
          frag.appendChild(span);
        }
      }
      pending = [];
      pre.appendChild(frag);
      pre.scrollTop = pre.scrollHeight;
    }
    es.addEventListener("output", function (ev) {
      var o;
      try { o = JSON.parse(ev.data); } catch (e) { return; }
      pending.push(o);
      if (!scheduled) { scheduled = true; requestAnimationFrame(draw); }
    });
    es.addEventListener("done", function (ev) {
      es.close();
      if (status) status.textContent = "finished: " + ev.data;
      // Show the stored record (states, exit codes).
      setTimeout(function () { window.location.reload(); }, 300);
    });
    es.addEventListener("error", function (ev) {
      if (ev.data) { es.close(); if (status) status.textContent = "error: " + ev.data; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var log = document.getElementById("log");
    if (log && log.getAttribute("data-src")) liveLog(log);
    var out = document.getElementById("output");
    if (out && out.getAttribute("data-src")) liveJob(out);
  });
})();
