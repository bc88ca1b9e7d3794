// reportgen page logic. The page data is one JSON block: an overview of every text. Each text's
// compressed blocks (its detail, the codes of the heatmap it opens with, every attention code it
// keeps) follow this script in hidden elements of their own (each text's #detail-N and #view-N,
// then every #attention-N), and are inflated with the browser's own
// DecompressionStream only when the text is opened. Nothing per text is drawn at load: a text's
// charts are drawn when its section comes into view, each chart's steps (spec parsed, view set
// up, dataflow run, marks drawn) in tasks of their own, and at most LIVE_TEXTS texts keep their
// charts (the farthest are finalised); a deep link's text is drawn first. User text reaches the
// page only as data: textContent, canvas text and Vega datasets, never as markup or code.
//
// This script runs before the blocks and the Vega bundle are parsed (see base.html.j2): the
// overview table and a deep-linked text's answer (plain page elements) are shown while the rest
// of the file is still being parsed; the page runs the bundle (an inert element) when it first
// draws a Vega chart (loadVega), so that a deep-linked text's charts follow its answer at once.
(function () {
  "use strict";
  // In a task of its own, so that the parser's work and the page's are never one long task.
  setTimeout(main, 0);
  function main() {
    var payload = JSON.parse(document.getElementById("report-data").textContent);
    var ov = payload.overview;
    var COUNT = ov.id.length;
    var RAW = payload.views[0], RENORM = payload.views[1];
    var OPTIONS = { actions: false, renderer: "svg", mode: "vega" };
    var FULL = 0, LAYERS = 1, LAST = 2, NO_MATRIX = 3, SUMMARY = 4;
    var PAGE_SIZE = 50;       // overview rows and text sections per page
    var LIVE_TEXTS = 6;       // texts whose charts stay drawn at once
    var VIEW_MARGIN = 200;    // px around the viewport in which a text or a chart counts as in view
    var TOKEN_STEP = 13;      // px per token on the bar charts' axes (charts.TOKEN_STEP)
    var ZOOM = 24;            // tokens per side of the heatmap's zoom window
    var LABEL_CELL = 9;       // smallest heatmap cell (px) that gets token labels
    var TAIL_SHOWN = 200;     // characters of a truncated text's unseen end shown until asked for all
    var methodNames = payload.methodTitles.map(function (p) { return p[0]; });
    var indexOf = new Map();
    ov.id.forEach(function (id, i) { indexOf.set(id, i); });

    // ---- scheduling: each chart is drawn in its own task, so the page never freezes ----------
    function nextTask() {
      if (window.scheduler && typeof window.scheduler.yield === "function") return window.scheduler.yield();
      return new Promise(function (resolve) {
        var channel = new MessageChannel();
        channel.port1.onmessage = function () { resolve(); };
        channel.port2.postMessage(null);
      });
    }

    // ---- compressed blocks: base64 zlib streams, inflated by the browser --------------------
    function fromBase64(text) {
      if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
      var bin = atob(text), bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return bytes;
    }
    // Written to the stream directly and read back chunk by chunk: every step is a promise of
    // the same task (no Blob, whose reading takes several tasks; while the file is still being
    // parsed each task waits behind a long parser task, which delayed a deep link's answer).
    function inflate(text) {
      var stream = new DecompressionStream("deflate"), writer = stream.writable.getWriter();
      writer.write(fromBase64(text)).catch(function () { return null; });  // errors reach the reader
      writer.close().catch(function () { return null; });
      var reader = stream.readable.getReader(), chunks = [], size = 0;
      return (function read() {
        return reader.read().then(function (part) {
          if (!part.done) { chunks.push(part.value); size += part.value.length; return read(); }
          var out = new Uint8Array(size), at = 0;
          chunks.forEach(function (c) { out.set(c, at); at += c.length; });
          return out;
        });
      })();
    }
    function inflateJSON(text) {
      return inflate(text).then(function (bytes) { return JSON.parse(new TextDecoder().decode(bytes)); });
    }

    // Text N's blocks are the elements #detail-N, #view-N and #attention-N (base64; empty when
    // the text keeps none). While the file is still being parsed, a block is read once the parser has
    // passed its element (an element after it exists), which a MutationObserver reports as the
    // parser adds them.
    var waiting = new Map();   // element id -> resolve functions waiting for it
    var parsing = null;        // the MutationObserver, while blocks are waited for
    function parsed(id) {
      var e = document.getElementById(id);
      if (document.readyState !== "loading") return e;
      return e && (e.nextElementSibling || e.parentNode.nextElementSibling) ? e : null;
    }
    function flushWaiting() {
      waiting.forEach(function (resolves, id) {
        var e = parsed(id);
        if (!e && document.readyState === "loading") return;
        waiting.delete(id);
        resolves.forEach(function (resolve) { resolve(e); });
      });
      if (!waiting.size && parsing) { parsing.disconnect(); parsing = null; }
    }
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", flushWaiting);
    // The element (Promise) once the parser has passed it; null if the page has none.
    function whenParsed(id) {
      var e = parsed(id);
      return e || document.readyState !== "loading" ? Promise.resolve(e) : new Promise(function (resolve) {
        if (!waiting.has(id)) waiting.set(id, []);
        waiting.get(id).push(resolve);
        if (!parsing) {
          parsing = new MutationObserver(flushWaiting);
          parsing.observe(document.body, { childList: true, subtree: true });
        }
      });
    }
    // The block's text (Promise), null when the text keeps none.
    function blockOf(kind, index) {
      return whenParsed(kind + "-" + index).then(function (element) { return element && element.textContent ? element.textContent : null; });
    }
    var details = new Map();   // text index -> Promise of its TextData (small; kept)
    function detail(index) {
      if (ov.rung[index] > NO_MATRIX) return Promise.resolve(null);
      if (!details.has(index)) {
        details.set(index, blockOf("detail", index).then(function (block) { return block ? inflateJSON(block) : null; }));
      }
      return details.get(index);
    }
    var attention = new Map(); // block id -> Promise of {rung, codes}; dropped when released
    // The codes of text ``index``'s attention block, or with ``view`` of its view block: the last
    // layer's head mean, the heatmap a text opens with. The view follows the text's detail in the
    // file, so that heatmap need not wait until the parser reaches the attention blocks (most of
    // the file); any other layer or head is in the attention block. At the last-layer rung the
    // view is all the text has.
    function codes(index, view) {
      if (ov.rung[index] >= NO_MATRIX) return Promise.resolve(null);
      var whole = !view && ov.rung[index] !== LAST, id = (whole ? "attention-" : "view-") + index;
      if (!attention.has(id)) {
        attention.set(id, blockOf(whole ? "attention" : "view", index).then(function (block) {
          return block ? inflate(block).then(function (bytes) { return { rung: whole ? ov.rung[index] : LAST, codes: bytes }; }) : null;
        }));
      }
      return attention.get(id);
    }

    // Codes are round(255 * sqrt(w)): w = (q / 255)^2.
    var WEIGHT = new Float64Array(256);
    for (var q = 0; q < 256; q++) WEIGHT[q] = (q / 255) * (q / 255);

    // ---- numbers as the reader sees them ------------------------------------------------------
    function round4(x) { return Math.round(x * 1e4) / 1e4; }
    function fixed(v, digits) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }
    function signed(v, digits) { return v === null || v === undefined ? "–" : (v >= 0 ? "+" : "") + Number(v).toFixed(digits); }
    function sig(v) { return v === null || v === undefined ? "–" : String(Number(Number(v).toPrecision(3))); }
    // In a table column: 3 significant digits with their trailing zeros (0.390 above 0.386, not
    // 0.39), except where that would need an exponent.
    function tableSig(v) {
      if (v === null || v === undefined) return "–";
      var a = Math.abs(v);
      return a >= 1000 || (a !== 0 && a < 1e-3) ? sig(v) : Number(v).toPrecision(3);
    }
    function signedSig(v) { return v === null || v === undefined ? "–" : (v >= 0 ? "+" : "") + sig(v); }
    function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
    function errorOf(i) { return ov.gold[i] === null || ov.prediction[i] === null ? null : ov.prediction[i] - ov.gold[i]; }
    function predictionText(i) {
      return ov.label[i] !== null ? ov.label[i] + " p=" + fixed(ov.prediction[i], 3) : fixed(ov.prediction[i], 4);
    }
    function el(tag, className, text) {
      var e = document.createElement(tag);
      if (className) e.className = className;
      if (text !== undefined && text !== null) e.textContent = text;
      return e;
    }
    // The first ``limit`` characters of ``runs`` (a stand-in counts as one), and how many are left.
    function firstChars(runs, limit) {
      var out = [], left = limit, rest = 0;
      runs.forEach(function (run) {
        var size = typeof run === "string" ? Array.from(run).length : 1;
        if (left <= 0) { rest += size; return; }
        if (size <= left) { out.push(run); left -= size; return; }
        out.push(Array.from(run).slice(0, left).join(""));
        rest += size - left;
        left = 0;
      });
      return { runs: out, rest: rest };
    }
    // A run of user text: a plain string, or [stand-in, title] for a hidden or control character.
    function appendRuns(parent, runs) {
      runs.forEach(function (run) {
        if (typeof run === "string") { parent.appendChild(document.createTextNode(run)); return; }
        var stand = el("span", "ctl", run[0]);
        stand.title = run[1];
        parent.appendChild(stand);
      });
    }

    // ---- Vega charts -------------------------------------------------------------------------
    var views = new Map();     // chart element -> live Vega view
    var drawings = new Map();  // chart element -> the token of the drawing under way in it
    function fail(box, err) {
      box.dataset.state = "error";
      box.appendChild(el("p", "error", "This chart could not be drawn: " + (err && err.message ? err.message : String(err))));
    }
    function release(box) {
      drawings.delete(box);  // a drawing under way stops at its next step
      if (waitingCharts.delete(box)) near.unobserve(box);
      var old = views.get(box);
      if (old) { old.finalize(); views.delete(box); }
    }

    // An open part's Vega charts are drawn when they come within VIEW_MARGIN of the window, not
    // all at once when the part is opened: a long text's charts reach thousands of px below its
    // answer, and charts out of view drawn first would delay those the reader looks at (a deep
    // link opens its text at the top of the window). ``drawNear`` draws each of its charts that is
    // near now (one layout read for all) and leaves the others waiting (data-state "waiting")
    // until the reader scrolls to them.
    var waitingCharts = new Map();  // chart element -> function that draws it, until it comes near
    var nearChain = Promise.resolve();
    function drawWaiting(box) {
      var draw = waitingCharts.get(box);
      if (!draw) return;
      waitingCharts.delete(box);
      near.unobserve(box);
      // One after the other: charts drawn side by side interleave their steps, all done late.
      nearChain = nearChain.then(function () { return box.isConnected ? draw() : null; }).catch(function (err) {
        if (window.console) console.error("reportgen: chart could not be drawn:", err);
      }).then(checkSoon);
    }
    var near = new IntersectionObserver(function (entries) {
      entries.forEach(function (change) { if (change.isIntersecting) drawWaiting(change.target); });
    }, { rootMargin: VIEW_MARGIN + "px 0px" });
    function isNear(box) {
      var r = box.getBoundingClientRect();
      return r.bottom >= -VIEW_MARGIN && r.top <= window.innerHeight + VIEW_MARGIN;
    }
    // The observer alone is not enough: it was seen (Chromium 156, about 1 deep link in 30) never
    // to report a waiting chart that a scroll had brought into the window, which stayed undrawn.
    // After a scroll, and after each waiting chart is drawn (the ones below move), the waiting
    // charts (a handful: only open parts of live texts have any) are also checked directly.
    var checking = false;
    function checkSoon() {
      if (checking || !waitingCharts.size) return;
      checking = true;
      requestAnimationFrame(function () {
        checking = false;
        var boxes = [];
        waitingCharts.forEach(function (draw, box) { boxes.push(box); });
        boxes.filter(isNear).forEach(drawWaiting);
      });
    }
    window.addEventListener("scroll", checkSoon, { passive: true });
    // ``steps``: [chart element, function that draws it]; drawn one after the other, each in a
    // task of its own. Resolves once those near now are drawn.
    function drawNear(section, steps) {
      steps = steps.filter(function (step) { return step[0]; });
      var now = steps.map(function (step) { return isNear(step[0]); });  // read before any is drawn
      var chain = Promise.resolve();
      steps.forEach(function (step, k) {
        chain = chain.then(nextTask).then(function () {
          if (!section.isConnected) return null;
          if (now[k]) return step[1]();
          release(step[0]);
          step[0].textContent = "";
          step[0].dataset.state = "waiting";
          waitingCharts.set(step[0], step[1]);
          near.observe(step[0]);
          return null;
        });
      });
      return chain;
    }

    // vegaEmbed parses a spec, sets up its view, runs its dataflow and draws its marks in one
    // task; here each is a task of its own, so that one chart never freezes the page for their sum.
    // vegaEmbed still parses the spec (and adds its stylesheet, tooltip handler and hover), but
    // builds a Parsed stand-in that keeps what the view would get; the real view is built and
    // run in the next tasks. The bundle exports no vega, so the View class is the one of the
    // first chart (warmUp, a tiny one drawn by vegaEmbed in full), which also pays for
    // compiling Vega's own code, in tasks of its own.
    function Parsed(runtime, options) { this.runtime = runtime; this.options = options; this.handler = null; this.hovers = false; }
    Parsed.prototype.addSignalListener = function () { return this; };
    Parsed.prototype.tooltip = function (handler) { this.handler = handler; return this; };
    Parsed.prototype.hover = function () { this.hovers = true; return this; };
    Parsed.prototype.initialize = function () { return this; };
    Parsed.prototype.runAsync = function () { return Promise.resolve(this); };
    var PARSE_ONLY = Object.assign({ viewClass: Parsed }, OPTIONS);
    var embedding = null;      // Promise of the View class, once the first chart is drawn
    // The Vega bundle is an inert element (#vega-bundle, right after this script) that the page
    // runs itself when it first draws a Vega chart: a deep-linked text's answer is shown (painted)
    // first, then the bundle runs, while the parser reads the blocks, and the text's charts
    // follow; they need not wait until the whole file is parsed. Run as an inline script added
    // to the page (the page's policy allows inline scripts), once.
    var vegaReady = null;
    function loadVega() {
      if (!vegaReady) vegaReady = whenParsed("vega-bundle").then(function (inert) {
        return afterPaint().then(function () {
          var script = document.createElement("script");
          script.textContent = inert.textContent;
          document.head.appendChild(script);  // runs now
        });
      });
      return vegaReady;
    }
    // After the next frame is painted: a long task (the bundle's) does not hold back what the
    // page has just shown.
    // (A hidden tab paints no frame: then after 100 ms.)
    function afterPaint() {
      return new Promise(function (resolve) {
        var done = false;
        function go() { if (!done) { done = true; setTimeout(resolve, 0); } }
        requestAnimationFrame(go);
        setTimeout(go, 100);
      });
    }
    function warmUp() {
      if (embedding) return embedding;
      var box = document.createElement("div");
      var spec = { width: 10, height: 10, data: [{ name: "d", values: [{ x: 1 }] }],
        scales: [{ name: "x", type: "linear", domain: { data: "d", field: "x" }, range: "width" }],
        axes: [{ orient: "bottom", scale: "x" }],
        marks: [{ type: "rect", from: { data: "d" }, encode: { enter: { x: { scale: "x", field: "x" }, width: { value: 1 }, y: { value: 0 }, height: { value: 1 } } } }] };
      // Parsed first, then drawn in full: Vega's code for each half is compiled in a task of its own.
      embedding = loadVega().then(nextTask).then(function () {
        return vegaEmbed(box, spec, PARSE_ONLY);
      }).then(nextTask).then(function () {
        return vegaEmbed(box, spec, OPTIONS);
      }).then(function (res) {
        res.view.finalize();
        return res.view.constructor;
      });
      return embedding;
    }
    // ``current()`` says whether the drawing is still wanted after each step.
    function embed(box, spec, current) {
      var View, parsed, view = null;
      function wanted() {
        if (current()) return true;
        if (view) view.finalize();
        return false;
      }
      return warmUp().then(function (cls) {
        View = cls;
        return nextTask();
      }).then(function () {
        return wanted() ? vegaEmbed(box, spec, PARSE_ONLY) : null;
      }).then(function (res) {
        if (!res || !wanted()) return null;
        parsed = res.view;
        return nextTask();
      }).then(function () {
        if (!parsed || !wanted()) return null;
        view = new View(parsed.runtime, parsed.options);
        if (parsed.handler) view.tooltip(parsed.handler);
        if (parsed.hovers) view.hover();
        return nextTask();
      }).then(function () {
        // The dataflow runs before the view has a renderer: drawing its marks is the next task.
        return view && wanted() ? view.runAsync().then(nextTask) : null;
      }).then(function () {
        return view && wanted() ? view.initialize(box).runAsync() : null;
      }).then(function () { return view && wanted() ? view : null; });
    }

    // Each chart is its template (a Vega spec) plus this text's data (the values of its named
    // data sources) and tokens (the "tokens" signal the axis labels read).
    // ``title`` names what the chart shows (method; layer and head; view): the chart draws it
    // itself, so a screenshot of the chart alone carries it.
    function show(box, template, datasets, tokens, title) {
      if (!box) return Promise.resolve(null);
      var spec = JSON.parse(JSON.stringify(template));
      (spec.data || []).forEach(function (d) { if (Object.prototype.hasOwnProperty.call(datasets, d.name)) d.values = datasets[d.name]; });
      (spec.signals || []).forEach(function (s) {
        if (s.name === "tokens") s.value = tokens;
        if (s.name === "chartTitle") s.value = title || "";
      });
      box.dataset.title = title || "";
      release(box);
      box.textContent = "";
      box.dataset.state = "drawing";
      var token = {};
      drawings.set(box, token);
      return embed(box, spec, function () { return drawings.get(box) === token; }).then(function (view) {
        if (!view) return null;  // released, or drawn again, before it was done
        drawings.delete(box);
        views.set(box, view);
        box.dataset.state = "done";
        box.style.minHeight = "";
        return view;
      }, function (err) {
        if (drawings.get(box) !== token) return null;
        drawings.delete(box);
        fail(box, err);
        return null;
      });
    }

    // ---- the overview: every text, sorted, filtered, paged -------------------------------------
    var texts = null, lowered = null; // each text as shown (first characters), for the snippet and search
    var view = { key: "id", dir: 1, filter: "", range: null, page: 0, rows: [] };
    var KEYS = {
      id: function (i) { return ov.id[i]; },
      text: function (i) { return texts ? texts[i] : ""; },
      prediction: function (i) { return ov.prediction[i]; },
      gold: function (i) { return ov.gold[i]; },
      error: function (i) { var e = errorOf(i); return e === null ? null : Math.abs(e); },
      tokens: function (i) { return ov.tokens[i]; },
      top: function (i) { return ov.top[i].join(" "); },
      flags: function (i) { return ov.rung[i] * 4 + ov.truncated[i] * 2 + ov.igWarn[i]; }
    };
    var collator = new Intl.Collator(document.documentElement.lang || undefined);
    function compareBy(key, dir) {
      var get = KEYS[key];
      return function (a, b) {
        var x = get(a), y = get(b);
        if (x === null || x === undefined) return y === null || y === undefined ? a - b : 1;
        if (y === null || y === undefined) return -1;
        var c = typeof x === "string" ? collator.compare(x, y) : x - y;
        return c !== 0 ? dir * c : a - b;
      };
    }
    function matches(i, needle) {
      if (!needle) return true;
      if (("#" + ov.id[i]) === needle) return true;
      if (lowered && lowered[i].indexOf(needle) >= 0) return true;
      return ov.top[i].join(" ").toLowerCase().indexOf(needle) >= 0;
    }
    function inRange(i) {
      if (!view.range) return true;
      var v = view.range.field === "gold" ? ov.gold[i] : ov.prediction[i];
      return v !== null && v >= view.range.lo && (v < view.range.hi || (view.range.last && v <= view.range.hi));
    }
    function computeRows() {
      var needle = view.filter.trim().toLowerCase(), rows = [];
      for (var i = 0; i < COUNT; i++) if (matches(i, needle) && inRange(i)) rows.push(i);
      rows.sort(compareBy(view.key, view.dir));
      view.rows = rows;
      var pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
      if (view.page >= pages) view.page = pages - 1;
    }
    function pageRows() { return view.rows.slice(view.page * PAGE_SIZE, (view.page + 1) * PAGE_SIZE); }

    var table = document.querySelector("table.texts");
    function flagsOf(i) {
      var flags = [];
      if (ov.truncated[i]) flags.push(["cut", "truncated from " + ov.fullLength[i] + " tokens"]);
      if (ov.igWarn[i]) flags.push(["IG", "Integrated Gradients did not converge within 5%"]);
      if (ov.rung[i] > FULL) flags.push([ov.rung[i] === SUMMARY ? "summary only" : "reduced", "--max-size: " + payload.budget.rungNames[ov.rung[i]]]);
      return flags;
    }
    function renderTable() {
      var body = table.tBodies[0];
      body.textContent = "";
      var hasGold = table.dataset.gold === "1";
      pageRows().forEach(function (i) {
        var tr = el("tr");
        tr.dataset.index = String(i);
        var idCell = el("td");
        var link = el("a", null, String(ov.id[i]));
        link.href = "#text-" + ov.id[i];
        idCell.appendChild(link);
        tr.appendChild(idCell);
        var snippet = el("td", "snippet");
        snippet.lang = "ja";
        var shown = texts ? texts[i] : "";
        snippet.textContent = Array.from(shown).length > 80 ? Array.from(shown).slice(0, 80).join("") + "…" : shown;
        tr.appendChild(snippet);
        tr.appendChild(el("td", "num", predictionText(i)));
        if (hasGold) {
          tr.appendChild(el("td", "num", fixed(ov.gold[i], 4)));
          tr.appendChild(el("td", "num", signed(errorOf(i), 4)));
        }
        tr.appendChild(el("td", "num", String(ov.tokens[i])));
        var top = el("td");
        top.lang = "ja";
        // A signed method's top tokens carry their direction, as the text's shading does.
        ov.top[i].forEach(function (tok, k) {
          var sign = ov.topSign[i][k], chip = sign ? directionChip(sign > 0) : el("span", "chip");
          chip.appendChild(document.createTextNode(tok));
          if (sign) {
            chip.style.backgroundColor = rgb(sign > 0 ? payload.shade.positive : payload.shade.negative, 0.16);
            chip.title = sign > 0 ? "raises the score" : "lowers the score";
          }
          top.appendChild(chip);
        });
        tr.appendChild(top);
        var flagCell = el("td");
        flagsOf(i).forEach(function (f) { var s = el("span", "flag", f[0]); s.title = f[1]; flagCell.appendChild(s); flagCell.appendChild(document.createTextNode(" ")); });
        tr.appendChild(flagCell);
        body.appendChild(tr);
      });
      table.querySelectorAll("th[data-sort]").forEach(function (th) {
        th.setAttribute("aria-sort", th.dataset.sort === view.key ? (view.dir > 0 ? "ascending" : "descending") : "none");
      });
      var pages = Math.max(1, Math.ceil(view.rows.length / PAGE_SIZE));
      var first = view.rows.length ? view.page * PAGE_SIZE + 1 : 0;
      var last = Math.min(view.rows.length, (view.page + 1) * PAGE_SIZE);
      document.querySelectorAll(".ov-status").forEach(function (s) {
        s.textContent = "texts " + first + "–" + last + " of " + view.rows.length + (view.rows.length !== COUNT ? " shown (" + COUNT + " in all)" : "") + " · page " + (view.page + 1) + " of " + pages;
      });
      document.querySelectorAll(".ov-prev").forEach(function (b) { b.disabled = view.page === 0; });
      document.querySelectorAll(".ov-next").forEach(function (b) { b.disabled = view.page >= pages - 1; });
      var range = document.querySelector(".ov-range");
      if (range) {
        range.hidden = !view.range;
        if (view.range) range.querySelector("span").textContent = view.range.field + " in [" + fixed(view.range.lo, 3) + ", " + fixed(view.range.hi, 3) + (view.range.last ? "]" : ")");
      }
    }
    function refresh(keepSections) {
      computeRows();
      renderTable();
      if (!keepSections) return renderSections();
      return Promise.resolve();
    }

    // ---- text sections: the texts of the overview's current page, in its order ----------------
    var list = document.getElementById("text-list");
    var shell = document.getElementById("text-template");
    var sections = new Map();  // text index -> its section element (current page only)
    var live = [];             // sections whose charts are drawn, oldest first
    var generation = 0;        // bumped whenever the page of sections is rebuilt

    function slot(section, name) { return section.querySelector('[data-slot="' + name + '"]'); }

    function heading(section, i) {
      slot(section, "anchor").textContent = "#" + ov.id[i];
      slot(section, "anchor").href = "#text-" + ov.id[i];
      slot(section, "prediction").textContent = predictionText(i);
      if (ov.gold[i] !== null) slot(section, "gold").textContent = " gold " + fixed(ov.gold[i], 4) + ", error " + signed(errorOf(i), 4);
      var rung = ov.rung[i];
      if (rung > FULL) {
        var note = slot(section, "budget");
        note.hidden = false;
        note.textContent = payload.budget.maxMb
          ? "Left out to fit --max-size " + payload.budget.maxMb + " MB: " + payload.budget.leftOut[rung] +
            ". --max-size " + payload.budget.fullMb + " (or 0) keeps every text in full detail; --csv has every number."
          : "Not in this report: " + payload.budget.leftOut[rung] + ".";
      }
    }

    function newSection(i) {
      var section = shell.content.firstElementChild.cloneNode(true);
      section.id = "text-" + ov.id[i];
      section.dataset.index = String(i);
      section.dataset.state = "shell";
      heading(section, i);
      var n = ov.tokens[i];
      // Reserve about the charts' height, so that drawing does not move what the reader sees.
      section.querySelectorAll(".chart").forEach(function (box) {
        var kind = box.dataset.chart;
        box.style.minHeight = (kind === "heatmap" ? Math.min(700, 120 + 13 * n) : kind === "methods" ? 60 + 70 * methodNames.length : 200) + "px";
      });
      if (ov.rung[i] === SUMMARY) {
        section.querySelector(".text-detail").remove();
        section.querySelectorAll("details.more").forEach(function (d) { d.remove(); });
        var start = el("p", "highlight", texts ? texts[i] : "");
        start.lang = "ja";
        section.appendChild(start);
        section.dataset.state = "summary";
      }
      return section;
    }

    // The text itself, shaded by a method's scores (same colours as the charts' diverging scale).
    function isSigned(method) { return payload.methodSigned[methodNames.indexOf(method)] === 1; }
    function methodTitle(method) { var k = methodNames.indexOf(method); return k >= 0 ? payload.methodTitles[k][1] : method; }
    function rgb(c, a) { return "rgba(" + c[0] + ", " + c[1] + ", " + c[2] + ", " + a.toFixed(3) + ")"; }
    // A chip for something that raises (red) or lowers (blue) the score: movers, top tokens.
    function directionChip(up) {
      var chip = el("span", up ? "chip up" : "chip down");
      chip.style.borderColor = rgb(up ? payload.shade.positive : payload.shade.negative, 0.6);
      return chip;
    }
    // Signed methods: red up, blue down; never-negative ones: green from 0 (theme.py).
    function shade(rel, signed) {
      if (rel === null || rel === undefined) return "";
      var c = signed === false ? payload.shade.sequential : rel >= 0 ? payload.shade.positive : payload.shade.negative;
      var a = Math.min(1, Math.abs(rel)) * payload.shade.maxAlpha;
      return "rgba(" + c[0] + ", " + c[1] + ", " + c[2] + ", " + a.toFixed(3) + ")";
    }
    // The unit a text shows: "words" (when it has words and the reader did not pick pieces) or "pieces".
    function unitOf(section, t) {
      var pick = section.querySelector(".pick-unit");
      return t.words && (pick ? pick.value : t.unit) === "words" ? "words" : "pieces";
    }
    // Recolour the text by a method, per token or per word. Hover text is set as a property:
    // user text never becomes markup.
    function highlight(section, t, method, unit) {
      var words = unit === "words" ? t.words : null;
      var scores = words ? words.methods[method] : t.methods[method];
      if (!scores) return;
      section.querySelectorAll(".highlight [data-pos], .highlight [data-word]").forEach(function (span) {
        var key = words ? span.dataset.word : span.dataset.pos;
        if (key === undefined) { span.style.backgroundColor = ""; span.removeAttribute("title"); return; }
        var k = Number(key), value = scores.value[k];
        span.style.backgroundColor = shade(scores.rel[k], isSigned(method));
        var name = words ? words.labels[k] + " (" + words.lemmas[k] + ")" : t.pieces[k];
        span.title = name + ": " + (value === null ? "not seen by the model" : Number(value).toPrecision(4));
      });
      colourKey(section, method, words ? "words" : "pieces");
      textVerdict(section, t, method);
    }
    // The colour key beside the text: which method, which way each colour points, and the score
    // at full colour (the method's report-wide scale).
    function colourKey(section, method, unit) {
      var box = slot(section, "key");
      if (!box) return;
      var k = methodNames.indexOf(method), signed = isSigned(method);
      var scale = payload.methodScales[k] ? payload.methodScales[k][unit === "words" && payload.methodScales[k][1] !== null ? 1 : 0] : null;
      var a = payload.shade.maxAlpha;
      box.textContent = "";
      box.dataset.method = method;
      box.dataset.signed = signed ? "1" : "0";
      box.setAttribute("aria-label", "Colour key: " + methodTitle(method));
      box.appendChild(el("div", "key-title", "Shaded by " + methodTitle(method) + (unit === "words" ? ", per word" : ", per token")));
      var ramp = el("div", "key-ramp");
      ramp.style.backgroundImage = signed
        ? "linear-gradient(to right, " + rgb(payload.shade.negative, a) + ", rgba(255, 255, 255, 0), " + rgb(payload.shade.positive, a) + ")"
        : "linear-gradient(to right, rgba(255, 255, 255, 0), " + rgb(payload.shade.sequential, a) + ")";
      box.appendChild(ramp);
      var ends = el("div", "key-ends");
      if (signed) {
        ends.appendChild(el("span", "key-down", "pulls the score down" + (scale ? " (−" + sig(scale) + ")" : "")));
        ends.appendChild(el("span", null, "0"));
        ends.appendChild(el("span", "key-up", "pushes it up" + (scale ? " (+" + sig(scale) + ")" : "")));
      } else {
        ends.appendChild(el("span", null, "0"));
        ends.appendChild(el("span", "key-up", "more weight" + (scale ? " (" + sig(scale) + ")" : "") + "; never negative, no direction"));
      }
      box.appendChild(ends);
    }
    // Does the shaded method beat the random orders on this text, and by how much?
    function textVerdict(section, t, method) {
      var box = slot(section, "verdict");
      if (!box) return;
      var k = methodNames.indexOf(method), f = t.faith;
      var comp = f ? f.comprehensiveness[k] : null, suff = f ? f.sufficiency[k] : null;
      if (!f || comp === null || suff === null || f.random[0] === null || f.random[2] === null) { box.hidden = true; return; }
      var mine = comp - suff, random = f.random[0] - f.random[2], beats = mine > random;
      if (method === payload.highlight && f.verdict) { beats = f.verdict[0] === 1; mine = f.verdict[1]; random = f.verdict[2]; }
      box.hidden = false;
      box.className = "text-verdict" + (beats ? " beats" : " flag");
      box.dataset.beats = beats ? "1" : "0";
      box.textContent = "On this text " + methodTitle(method) + " (the shaded method) " +
        (beats ? "beats random orders by " + fixed(mine - random, 2) : "does no better than random orders") +
        ": comprehensiveness − sufficiency " + fixed(mine, 2) + " against " + fixed(random, 2) + " for random token orders" +
        (beats ? "." : "; read its shading with care here.");
    }
    // Top movers by the report's signed default method, one list per unit (the picked one shown).
    function fillMovers(section, t) {
      var box = section.querySelector(".movers-box");
      if (!box) return;
      t.movers.forEach(function (group) {
        var div = el("div", "movers");
        div.dataset.unit = group.unit;
        var title = payload.methodTitles.filter(function (p) { return p[0] === group.method; })[0];
        div.appendChild(el("div", "movers-title", "What moved the score most (" + (group.unit === "words" ? "words" : "tokens") + ", by " + (title ? title[1] : group.method) + ")"));
        [["up", "raise it: "], ["down", "lower it: "]].forEach(function (side) {
          var part = el("div", side[0], side[1]);
          if (!group[side[0]].length) part.appendChild(el("span", "na", "–"));
          group[side[0]].forEach(function (m) {
            var chip = directionChip(side[0] === "up");
            chip.appendChild(el("span", "mover-label", m[0]));
            chip.appendChild(el("span", "mover-value", " " + (m[1] >= 0 ? "+" : "") + Number(m[1]).toPrecision(3)));
            part.appendChild(chip);
            part.appendChild(document.createTextNode(" "));
          });
          div.appendChild(part);
        });
        box.appendChild(div);
      });
    }
    function showUnit(section, t) {
      var unit = unitOf(section, t);
      section.querySelectorAll(".movers").forEach(function (m) { m.hidden = m.dataset.unit !== unit; });
      var name = slot(section, "methods-unit");
      if (name) name.textContent = !t.words ? "token by token" : unit === "words" ? "by word" : "by token";
      return unit;
    }

    function fillShell(section, t) {
      var i = Number(section.dataset.index);
      slot(section, "source").textContent = t.source;
      slot(section, "count").textContent = plural(t.n, "token");
      if (ov.truncated[i]) {
        var cut = slot(section, "truncated");
        cut.hidden = false;
        cut.textContent = " · truncated from " + ov.fullLength[i] + " tokens: the struck-out end was not seen by the model";
      }
      var p = section.querySelector("p.highlight");
      p.textContent = "";
      t.spans.forEach(function (span, k) {
        var part = el("span", span[0] >= 0 ? "tok" : "gap");
        if (span[0] >= 0) part.dataset.pos = String(span[0]);
        if (t.spanWord[k] >= 0) part.dataset.word = String(t.spanWord[k]);
        appendRuns(part, span.slice(1));
        p.appendChild(part);
      });
      if (t.dropped.length) {
        var dropped = el("span", "dropped");
        dropped.title = "cut: beyond the model's " + t.n + "-token limit";
        // A long unseen end shows its start until the reader asks for all of it: thousands of
        // struck-out characters would push the text's charts far down and cost the page their layout.
        var head = firstChars(t.dropped, TAIL_SHOWN);
        if (head.rest < TAIL_SHOWN / 2) head = { runs: t.dropped, rest: 0 };
        appendRuns(dropped, head.runs);
        p.appendChild(dropped);
        if (head.rest) {
          var all = el("button", "show-dropped", "… show the other " + head.rest.toLocaleString("en") + " characters the model did not see");
          all.type = "button";
          all.addEventListener("click", function () {
            dropped.textContent = "";
            appendRuns(dropped, t.dropped);
            all.remove();
          });
          p.appendChild(all);
        }
      }
      var picker = section.querySelector(".pick-method"), unitPick = section.querySelector(".pick-unit");
      if (t.words) {
        section.querySelectorAll(".for-words").forEach(function (e) { e.hidden = false; });
        unitPick.options[0].textContent = "words (" + (t.words.mode === "ja" ? "morphemes" : "space-delimited") + ")";
        unitPick.value = t.unit;
        unitPick.addEventListener("change", function () {
          var unit = showUnit(section, t);
          highlight(section, t, picker.value, unit);
          drawWalk(section, t, unit);
          if (partDrawn(section, "scores")) drawMethods(section, t, tokenWindow(section, t));
        });
      } else {
        section.querySelectorAll(".for-words").forEach(function (e) { e.remove(); });
      }
      fillMovers(section, t);
      var unit = showUnit(section, t);
      highlight(section, t, picker.value, unit);
      picker.addEventListener("change", function () { highlight(section, t, picker.value, unitOf(section, t)); });
      if (t.ig && t.methods.integrated_gradients) {
        drawWalk(section, t, unit);
        var ig = slot(section, "ig");
        ig.textContent = "Attributions sum to " + fixed(t.ig.explained - t.ig.baseline + t.ig.delta, 4) + ", convergence delta " + signedSig(t.ig.delta) +  // 3 significant digits: it is often under 1e-4
          " (" + (t.ig.deltaRelative === null ? "–" : (100 * t.ig.deltaRelative).toFixed(1)) + "% of |f(x) − f(baseline)|)" +
          (t.ig.steps ? ", " + t.ig.steps + " integration steps." : ".");
        if (t.ig.warn) ig.appendChild(el("span", "flag", " Warning: the delta exceeds 5% of the difference; raise --ig-steps for exact attributions."));
      } else {
        section.querySelectorAll(".for-ig").forEach(function (e) { e.remove(); });
      }
      if (!t.faith) section.querySelectorAll(".for-faith").forEach(function (e) { e.remove(); });
      if (!t.agreement) section.querySelectorAll(".for-agreement").forEach(function (e) { e.remove(); });
      setupPickers(section, t);
      section.dataset.state = "ready";
    }
    // A part opened or closed (the reader's click, or a script setting ``open``). Watched as a
    // change of the ``open`` attribute, not with the "toggle" event: that event is queued as a
    // task, and while the texts of the page are being filled (one task each) Chromium 156 was
    // seen to hold it back until they all were, 150 to 500 ms after a deep-linked text's answer.
    // A part opened before its text is filled is drawn with it (drawSection reads openParts).
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        var part = record.target, section = part.closest("section.text");
        if (!part.classList.contains("more") || !section || section.dataset.state === "shell" || section.dataset.state === "summary") return;
        // Drawn now if the text is in view (a reader opens what they see), else when it comes into view.
        // In view is read here, not only from the observer: its first report on a section comes
        // with a later frame, which the parser can hold back for hundreds of ms while the file
        // loads (a deep-linked text opened right after its answer would wait for it).
        if (part.open) {
          if (distance(section) <= VIEW_MARGIN) visible.add(section);
          request(section, true);
        } else releasePart(section, part);
      });
    }).observe(list, { subtree: true, attributes: true, attributeFilter: ["open"] });

    // Integrated Gradients from f(baseline) to f(x) as a compact walk (page elements, drawn with
    // the text, so it prints): the WALK_ITEMS largest contributions in text order, the rest as one.
    var WALK_ITEMS = 12;
    function drawWalk(section, t, unit) {
      var box = slot(section, "walk");
      if (!box) return;
      var words = unit === "words" && t.words && t.words.methods.integrated_gradients ? t.words : null;
      var values = words ? words.methods.integrated_gradients.value : t.methods.integrated_gradients.value;
      var labels = words ? words.labels : t.tokens, items = [], j;
      for (j = 0; j < values.length; j++) {
        if ((!words && t.special[j]) || values[j] === null) continue;
        items.push({ k: j, label: labels[j], value: values[j] });
      }
      var keep = new Set(items.slice().sort(function (a, b) { return Math.abs(b.value) - Math.abs(a.value) || a.k - b.k; })
        .slice(0, WALK_ITEMS).map(function (x) { return x.k; }));
      var rows = [{ label: "f(baseline)", total: true, value: t.ig.baseline }], running = t.ig.baseline, rest = 0, others = 0;
      items.forEach(function (x) {
        if (!keep.has(x.k)) { rest += x.value; others += 1; return; }
        rows.push({ label: x.label, start: running, end: running + x.value, value: x.value });
        running += x.value;
      });
      if (others) { rows.push({ label: others + " other " + (words ? "word" : "token") + (others === 1 ? "" : "s"), start: running, end: running + rest, value: rest, rest: true }); running += rest; }
      rows.push({ label: "f(x)", total: true, value: t.ig.explained });
      var lo = Infinity, hi = -Infinity;
      rows.forEach(function (r) {
        (r.total ? [r.value] : [r.start, r.end]).forEach(function (v) { lo = Math.min(lo, v); hi = Math.max(hi, v); });
      });
      var span = hi - lo || 1;
      function pct(v) { return (100 * (v - lo) / span).toFixed(2) + "%"; }
      box.textContent = "";
      box.setAttribute("aria-label", "Integrated Gradients walk from f(baseline) to f(x)");
      box.appendChild(el("div", "walk-title", "Integrated Gradients, from f(baseline) = " + fixed(t.ig.baseline, 3) + " to f(x) = " + fixed(t.ig.explained, 3) +
        ": the " + Math.min(WALK_ITEMS, items.length) + " largest " + (words ? "word" : "token") + " contributions, in text order"));
      var grid = el("div", "walk-rows");
      rows.forEach(function (r) {
        var row = el("div", "walk-row" + (r.total ? " total" : r.rest ? " rest" : ""));
        var label = el("span", "walk-label", r.label);
        label.title = r.label;
        label.lang = "ja";
        row.appendChild(label);
        var track = el("span", "walk-track"), bar = el("span", "walk-bar");
        if (r.total) {
          bar.style.left = "calc(" + pct(r.value) + " - 1px)";
          bar.style.width = "3px";
          bar.style.backgroundColor = payload.shade.total;
        } else {
          bar.style.left = pct(Math.min(r.start, r.end));
          bar.style.width = "max(2px, " + (100 * Math.abs(r.value) / span).toFixed(2) + "%)";
          bar.style.backgroundColor = rgb(r.value >= 0 ? payload.shade.positive : payload.shade.negative, 1);
        }
        track.appendChild(bar);
        row.appendChild(track);
        row.appendChild(el("span", "walk-value", r.total ? fixed(r.value, 3) : signed(r.value, 3)));
        grid.appendChild(row);
      });
      box.appendChild(grid);
      var key = el("div", "walk-key");
      key.appendChild(el("span", "key-up", "■ raises the score"));
      key.appendChild(el("span", "key-down", "■ lowers it"));
      key.appendChild(el("span", "key-total", "| f(baseline), f(x)"));
      key.querySelector(".key-up").style.color = rgb(payload.shade.positive, 1);
      key.querySelector(".key-down").style.color = rgb(payload.shade.negative, 1);
      box.appendChild(key);
    }

    function renderSections() {
      generation += 1;
      var mine = generation;
      live.slice().forEach(releaseSection);
      live = [];
      sections.forEach(function (section) { observer.unobserve(section); });
      sections.clear();
      visible.clear();
      queue = [];
      list.textContent = "";
      var rows = pageRows();
      // The sections after the text being opened are built once it is drawn: those before it are
      // built now, since they place it.
      var first = pinned !== null && rows.indexOf(pinned) >= 0;
      var split = first ? rows.indexOf(pinned) + 1 : rows.length;
      function build(part) {
        var fragment = document.createDocumentFragment();
        part.forEach(function (i) {
          var section = newSection(i);
          sections.set(i, section);
          fragment.appendChild(section);
        });
        list.appendChild(fragment);
      }
      build(rows.slice(0, split));
      // Fill each shell with its text (small blocks), yielding between texts; the text being
      // opened first (while the file is still being parsed, each waits for its block), and the
      // others only once it is drawn, with the parts the reader opened: filling them would share
      // the main thread with its charts.
      var chain = Promise.resolve();
      var order = first ? [pinned].concat(rows.filter(function (i) { return i !== pinned; })) : rows;
      order.forEach(function (i, k) {
        // The opened text is watched at once: a part the reader opens once its answer is there
        // is drawn when it is in view (the observer says so), not after the other texts.
        if (first && k === 1) chain = chain.then(function () {
          var opened = sections.get(order[0]);
          if (mine === generation && opened && ov.rung[order[0]] !== SUMMARY) observer.observe(opened);
          return settled();
        }).then(function () { if (mine === generation) build(rows.slice(split)); });
        chain = chain.then(function () {
          if (mine !== generation) return null;
          var section = sections.get(i);
          if (!section || section.dataset.state !== "shell") return null;
          return detail(i).then(function (t) {
            if (mine === generation && t && section.dataset.state === "shell") fillShell(section, t);
            keepPinned();
            return nextTask();
          });
        });
      });
      return chain.then(function () {
        if (mine !== generation) return;
        rows.forEach(function (i) { if (ov.rung[i] !== SUMMARY) observer.observe(sections.get(i)); });
        document.body.dataset.texts = "done";
      });
    }

    // ---- drawing on demand, with a bound on live views -------------------------------------------
    var visible = new Set();
    var queue = [];
    var drawing = false;
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (change) {
        var section = change.target;
        if (change.isIntersecting) {
          visible.add(section);
          request(section, false);
        } else {
          visible.delete(section);
        }
      });
    }, { rootMargin: VIEW_MARGIN + "px 0px" });

    function request(section, urgent) {
      if (section.dataset.state === "drawing" || (section.dataset.state === "drawn" && !openParts(section).length)) return drawNext();
      var at = queue.indexOf(section);
      if (at >= 0) queue.splice(at, 1);
      if (urgent) queue.unshift(section); else queue.push(section);
      return drawNext();
    }
    var idle = Promise.resolve();
    // Resolves once the sections in view (as the observer sees them after layout) are drawn.
    function frames() {
      return new Promise(function (resolve) { requestAnimationFrame(function () { requestAnimationFrame(function () { resolve(); }); }); });
    }
    function settled() { return idle.then(function () { return drawing ? settled() : null; }); }
    function drawNext() {
      if (drawing) return idle;
      drawing = true;
      idle = (function loop() {
        var section = queue.shift();
        if (!section) { drawing = false; return Promise.resolve(); }
        // A section scrolled out of reach before its turn is skipped (unless asked for directly).
        if (!section.isConnected || (!visible.has(section) && section.dataset.want !== "1")) return loop();
        return drawSection(section).then(loop, function (err) {
          if (window.console) console.error("reportgen: text could not be drawn:", err);
          return loop();
        });
      })();
      return idle;
    }

    function distance(section) {
      var r = section.getBoundingClientRect();
      if (r.bottom < 0) return -r.bottom;
      if (r.top > window.innerHeight) return r.top - window.innerHeight;
      return 0;
    }
    function makeRoom() {
      while (live.length >= LIVE_TEXTS) {
        var far = live.slice().sort(function (a, b) { return distance(b) - distance(a); })[0];
        if (!far) return;
        releaseSection(far);
      }
    }
    function releaseCharts(root) {
      var boxes = Array.prototype.slice.call(root.querySelectorAll(".chart"));
      // Every height is read before any chart is emptied: a read after a change forces a layout.
      var heights = boxes.map(function (box) { return box.getBoundingClientRect().height; });
      boxes.forEach(function (box, k) {
        release(box);
        if (box.dataset.state) {
          box.textContent = "";
          box.style.minHeight = Math.max(40, Math.round(heights[k])) + "px";
          box.dataset.state = "released";
        }
      });
    }
    // A closed part's charts are finalised at once: only what the reader has open stays live.
    function releasePart(section, part) {
      releaseCharts(part);
      delete part.dataset.drawn;
      if (part.dataset.part === "attention") {
        attentionDrawing.delete(section);
        ["view-", "attention-"].forEach(function (kind) { attention.delete(kind + section.dataset.index); });
      }
    }
    var attentionDrawing = new WeakMap();  // section -> its latest attention drawing (drawAttention)
    function partDrawn(section, name) {
      var part = section.querySelector('details.more[data-part="' + name + '"]');
      return !!(part && part.open && part.dataset.drawn === "1");
    }
    function releaseSection(section) {
      section.querySelectorAll("details.more").forEach(function (part) { releasePart(section, part); });
      var at = live.indexOf(section);
      if (at >= 0) live.splice(at, 1);
      if (section.dataset.state === "drawn" || section.dataset.state === "drawing") section.dataset.state = "ready";
    }

    function drawSection(section) {
      var i = Number(section.dataset.index);
      section.dataset.want = "";
      return detail(i).then(function (t) {
        if (!t || !section.isConnected) return null;
        if (section.dataset.state === "shell") fillShell(section, t);
        if (section.dataset.state !== "ready" && section.dataset.state !== "drawn") return null;
        var parts = openParts(section);
        if (section.dataset.state === "drawn" && !parts.length) return null;
        if (live.indexOf(section) < 0) { makeRoom(); live.push(section); }
        section.dataset.state = "drawing";
        var started = performance.now();
        // Only the parts the reader has open are drawn, and of them only the charts near the
        // window (drawNear); the answer above them is drawn with the text.
        var chain = Promise.resolve();
        parts.forEach(function (part) {
          chain = chain.then(function () {
            part.dataset.drawn = "1";
            return part.dataset.part === "attention" ? drawAttention(section, t, false, true) : drawScores(section, t);
          });
        });
        return chain.then(function () {
          if (section.dataset.state === "drawing") {
            keepPinned();
            section.dataset.state = "drawn";
            section.dataset.drawMs = String(Math.round(performance.now() - started));
            if (openParts(section).length) request(section, true);  // opened while drawing
          }
        });
      });
    }
    function openParts(section) {
      return Array.prototype.filter.call(section.querySelectorAll("details.more"), function (part) {
        return part.open && part.dataset.drawn !== "1";
      });
    }

    // ---- attention: matrices from the codes, the canvas heatmap, the bar charts ----------------
    function matrix(t, att, layer, head) {
      var n = t.n, size = n * n, out = new Float64Array(size), source = att.codes, H = payload.heads, base, k, h;
      if (att.rung === FULL) {
        if (head >= 0) {
          base = (layer * H + head) * size;
          for (k = 0; k < size; k++) out[k] = WEIGHT[source[base + k]];
        } else {
          for (h = 0; h < H; h++) {
            base = (layer * H + h) * size;
            for (k = 0; k < size; k++) out[k] += WEIGHT[source[base + k]];
          }
          for (k = 0; k < size; k++) out[k] /= H;
        }
      } else {
        // At LAYERS the block holds every layer but the last (whose mean is the view, drawn from
        // the view block), in order.
        base = att.rung === LAYERS ? layer * size : 0;
        for (k = 0; k < size; k++) out[k] = WEIGHT[source[base + k]];
      }
      return out;
    }
    // [CLS]/[SEP] removed as keys, each row renormalised over the remaining tokens.
    function renormalise(t, m) {
      var n = t.n, out = new Float64Array(n * n);
      for (var i = 0; i < n; i++) {
        var total = 0, j;
        for (j = 0; j < n; j++) if (!t.special[j]) total += m[i * n + j];
        if (total > 0) for (j = 0; j < n; j++) if (!t.special[j]) out[i * n + j] = m[i * n + j] / total;
      }
      return out;
    }

    // Tokens the bar charts show at once: as many as fit the section's width with the raw and
    // renormalised panels side by side (a slider moves the window over a longer text).
    // Every section is as wide as the list of texts: its width is read once (until the window is
    // resized), since each read after a text is filled forces a layout of the page.
    var listWidth = 0;
    window.addEventListener("resize", function () { listWidth = 0; });
    function windowSize() {
      if (!listWidth) listWidth = list.clientWidth;
      return Math.max(12, Math.floor(((listWidth || 1100) - 170) / (2 * TOKEN_STEP)));
    }

    function setupPickers(section, t) {
      var i = Number(section.dataset.index), rung = ov.rung[i];
      var layerPick = section.querySelector(".pick-layer"), headPick = section.querySelector(".pick-head");
      var L = payload.layers, H = payload.heads;
      function option(select, value, label, selected) {
        var o = el("option", null, label);
        o.value = String(value);
        o.selected = !!selected;
        select.appendChild(o);
      }
      for (var layer = 0; layer < L; layer++) {
        if (rung === LAST && layer !== L - 1) continue;
        option(layerPick, layer, (layer + 1) + (layer === L - 1 ? " (last)" : ""), layer === L - 1);
      }
      option(headPick, -1, "mean of " + H + " heads", true);
      if (rung === FULL) for (var h = 0; h < H; h++) option(headPick, h, String(h + 1));
      layerPick.disabled = layerPick.options.length < 2;
      headPick.disabled = headPick.options.length < 2;
      if (rung >= NO_MATRIX) {
        section.querySelectorAll(".for-heatmap, .attention-controls").forEach(function (e) { e.remove(); });
      }
      var redraw = function () { if (partDrawn(section, "attention")) drawAttention(section, t); };
      layerPick.addEventListener("change", redraw);
      headPick.addEventListener("change", redraw);
      var size = windowSize();
      section.dataset.window = String(size);
      if (t.n > size) {
        var box = section.querySelector(".token-window");
        box.hidden = false;
        var range = box.querySelector(".pick-window");
        range.max = String(t.n - size);
        range.value = "0";
        var label = slot(section, "window");
        var update = function () { label.textContent = "tokens " + (Number(range.value) + 1) + "–" + (Number(range.value) + size) + " of " + t.n; };
        update();
        range.addEventListener("input", update);
        range.addEventListener("change", function () {
          (partDrawn(section, "attention") ? drawAttention(section, t, true) : Promise.resolve()).then(function () {
            return partDrawn(section, "scores") ? drawScores(section, t) : null;
          });
        });
      }
    }
    function tokenWindow(section, t) {
      var range = section.querySelector(".pick-window"), size = Number(section.dataset.window) || t.n;
      var start = t.n > size && range ? Number(range.value) : 0;
      return [start, Math.min(t.n, start + size)];
    }

    // The bar charts' values over the token window: ``series[measure][view]``, measures [CLS]
    // attention and attention received, views raw and renormalised (null: a [CLS]/[SEP] token,
    // removed in the renormalised view). From the matrix shown (m, r), or for the last layer's mean
    // over heads exactly from the detail block (t.bars).
    function barValues(t, m, r, win) {
      var out = { pos: [], series: [[[], []], [[], []]] }, n = t.n;
      for (var j = win[0]; j < win[1]; j++) {
        var cls, rec, clsRe, recRe;
        if (m) {
          var sumRaw = 0, sumRe = 0;
          for (var i = 0; i < n; i++) { sumRaw += m[i * n + j]; sumRe += r[i * n + j]; }
          cls = round4(m[j]); rec = round4(sumRaw / n); clsRe = round4(r[j]); recRe = round4(sumRe / n);
        } else {
          cls = t.bars.cls[j]; rec = t.bars.received[j]; clsRe = t.bars.clsRenorm[j]; recRe = t.bars.receivedRenorm[j];
        }
        out.pos.push(j);
        out.series[0][0].push(cls);
        out.series[1][0].push(rec);
        out.series[0][1].push(t.special[j] ? null : clsRe);
        out.series[1][1].push(t.special[j] ? null : recRe);
      }
      return out;
    }

    // "layer 12 (last), mean of 12 heads": what an attention chart shows, for its title.
    function layerHead(layer, head) {
      var L = payload.layers, H = payload.heads;
      return "layer " + (layer + 1) + (layer === L - 1 ? " (last)" : "") + " of " + L + ", " + (head < 0 ? "mean of " + H + " heads" : "head " + (head + 1) + " of " + H);
    }
    function windowNote(t, win) { return win[0] > 0 || win[1] < t.n ? " · tokens " + (win[0] + 1) + "–" + win[1] + " of " + t.n : ""; }
    function barsTitle(t, win, which) {
      return "[CLS] attention and attention received · " + which + " · raw and without [CLS]/[SEP] (renormalised)" + windowNote(t, win);
    }
    // ``opening``: drawn with its part, each chart when it comes near (drawNear); otherwise for a
    // picker the reader moved, at once. The heatmap waits for the text's view or attention block,
    // which the parser may still be reading.
    function drawAttention(section, t, barsOnly, opening) {
      var i = Number(section.dataset.index);
      var heatBox = section.querySelector('[data-chart="heatmap"]');
      var barsBox = section.querySelector('[data-chart="bars"]');
      var win = tokenWindow(section, t), L = payload.layers;
      // A picked layer or head is drawn once its block is read (the view block, smaller, comes
      // sooner than the attention block): a drawing for an earlier pick, or for a part closed
      // since, must not land after a later one. A move of the bars' window (barsOnly) supersedes
      // the bars of a pick still waiting for its block, not its heatmap.
      var ticket = {}, before = attentionDrawing.get(section);
      attentionDrawing.set(section, { heat: barsOnly && before ? before.heat : ticket, bars: ticket });
      function current(chart) { var now = attentionDrawing.get(section); return !!now && now[chart] === ticket; }
      function barsWanted() { return current("bars"); }
      function exactBars() {
        return barChart(barsBox, t, barValues(t, null, null, win), barsTitle(t, win, layerHead(L - 1, -1)), barsWanted);
      }
      if (ov.rung[i] >= NO_MATRIX) return opening ? drawNear(section, [[barsBox, exactBars]]) : nextTask().then(exactBars);
      var layer = Number(section.querySelector(".pick-layer").value);
      var head = Number(section.querySelector(".pick-head").value);
      // The last layer's mean over heads (the view a text opens with) is in the detail block
      // exactly (t.bars, as for a text that keeps no matrix): its bars need no attention block,
      // and its heatmap is drawn from the view block.
      var exact = layer === L - 1 && head < 0;
      function heat() {
        return codes(i, exact).then(function (att) {
          var drawHeat = !barsOnly && current("heat"), drawBars = !exact && current("bars");
          if (!section.isConnected || (!drawHeat && !drawBars)) return null;
          // Below the no-matrix rung a text always has its blocks: one that cannot be read is said
          // so in the heatmap's place (left blank, the part would look drawn).
          if (!att) {
            if (drawHeat) { heatBox.textContent = ""; fail(heatBox, new Error("this text's attention " + (exact ? "view" : "block") + " could not be read (close and open this part to try again)")); }
            return null;
          }
          var m = matrix(t, att, layer, head), r = renormalise(t, m), which = layerHead(layer, head);
          return (drawHeat ? heatmap(heatBox, t, m, r, which) : Promise.resolve()).then(function () {
            return exact ? null : nextTask().then(function () {
              return barChart(barsBox, t, barValues(t, m, r, win), barsTitle(t, win, which), barsWanted);
            });
          });
        });
      }
      if (opening) return drawNear(section, exact ? [[heatBox, heat], [barsBox, exactBars]] : [[heatBox, heat]]);
      if (!exact) return heat();
      return barsOnly ? nextTask().then(exactBars) : Promise.all([nextTask().then(exactBars), heat()]);
    }

    // The heatmap is painted on canvases: one pixel block per cell, whatever the text's length.
    var LUT = null;
    function colourTable() {
      if (LUT) return LUT;
      var stops = payload.heat.map(function (hex) {
        return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
      });
      LUT = new Uint8ClampedArray(256 * 3);
      for (var k = 0; k < 256; k++) {
        var x = k / 255 * (stops.length - 1), a = Math.min(stops.length - 2, Math.floor(x)), f = x - a;
        for (var c = 0; c < 3; c++) LUT[3 * k + c] = Math.round(stops[a][c] + f * (stops[a + 1][c] - stops[a][c]));
      }
      return LUT;
    }
    // One tooltip (text only) for the page's canvases: the heatmap's cells and the bar charts' bars.
    var tip = null;
    function tooltip() {
      if (!tip) { tip = el("div", "hm-tip"); tip.hidden = true; document.body.appendChild(tip); }
      return tip;
    }
    function showTip(event, text) {
      var box = tooltip();
      box.textContent = text;
      box.hidden = false;
      box.style.left = Math.min(window.innerWidth - 240, event.clientX + 14) + "px";
      box.style.top = (event.clientY + 14) + "px";
    }
    // A token's label cut to at most 12 characters and to ``room`` px (with "…"): a long token
    // (one piece can hold a whole phrase) would otherwise run off the canvas's edge.
    var SLANT = Math.PI / 3;   // column labels rise at 60°
    function fitted(ctx, label, room) {
      var chars = Array.from(label), keep = chars.length > 12 ? 11 : chars.length;
      var text = keep < chars.length ? chars.slice(0, keep).join("") + "…" : label;
      while (keep > 1 && ctx.measureText(text).width > room) {
        keep -= 1;
        text = chars.slice(0, keep).join("") + "…";
      }
      return text;
    }
    var FONT = '11px system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Yu Gothic UI", "Meiryo", "Noto Sans CJK JP", sans-serif';

    // One panel: rows [q0, q1) x columns [k0, k1) of matrix w (n x n), coloured on [0, top].
    function panel(t, w, view, q0, q1, k0, k1, width, top, onPick) {
      var rows = q1 - q0, cols = k1 - k0, span = Math.max(rows, cols);
      var labelled = Math.floor((width - 90) / span) >= LABEL_CELL;
      var gutter = labelled ? 90 : 0;
      var canvas = document.createElement("canvas");
      var ctx = canvas.getContext("2d");
      // Labels are fitted first: the slanted column labels of the last columns reach past the
      // cells, so the canvas is made that much wider (and the cells that much smaller).
      var rowLabels = [], colLabels = [], colReach = [], reach = 0;  // how far right each column label reaches; the most
      if (labelled) {
        ctx.font = FONT;
        for (var a = q0; a < q1; a++) rowLabels.push(fitted(ctx, t.tokens[a], gutter - 6));
        for (var b = k0; b < k1; b++) {
          colLabels.push(fitted(ctx, t.tokens[b], (gutter - 6) / Math.sin(SLANT)));
          colReach.push(ctx.measureText(colLabels[b - k0]).width * Math.cos(SLANT));
          reach = Math.max(reach, colReach[b - k0]);
        }
      }
      var cell = Math.max(1, Math.min(22, Math.floor((width - gutter - Math.ceil(reach)) / span)));
      var right = 0;
      colReach.forEach(function (by, b) { right = Math.max(right, (b + 0.5 - cols) * cell + by); });
      var cssW = gutter + cols * cell + Math.ceil(right), cssH = gutter + rows * cell, ratio = window.devicePixelRatio || 1;
      canvas.width = Math.round(cssW * ratio);  // resets the context (its font too)
      canvas.height = Math.round(cssH * ratio);
      canvas.style.width = cssW + "px";
      canvas.style.height = cssH + "px";
      canvas.className = "hm-canvas";
      canvas.dataset.view = view;
      ctx.scale(ratio, ratio);
      var lut = colourTable(), n = t.n;
      var image = new ImageData(cols, rows), data = image.data;
      for (var i = q0; i < q1; i++) {
        for (var j = k0; j < k1; j++) {
          var o = 4 * ((i - q0) * cols + (j - k0));
          if (view === RENORM && t.special[j]) { data[o + 3] = 0; continue; }
          var level = top > 0 ? Math.min(255, Math.round(255 * w[i * n + j] / top)) : 0;
          data[o] = lut[3 * level]; data[o + 1] = lut[3 * level + 1]; data[o + 2] = lut[3 * level + 2]; data[o + 3] = 255;
        }
      }
      var cells = document.createElement("canvas");
      cells.width = cols; cells.height = rows;
      cells.getContext("2d").putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(cells, gutter, gutter, cols * cell, rows * cell);
      if (labelled) {
        ctx.font = FONT;
        ctx.fillStyle = "#1a202c";
        ctx.textAlign = "right";
        ctx.textBaseline = "middle";
        rowLabels.forEach(function (label, a) { ctx.fillText(label, gutter - 4, gutter + (a + 0.5) * cell); });
        colLabels.forEach(function (label, b) {
          ctx.save();
          ctx.translate(gutter + (b + 0.5) * cell, gutter - 4);
          ctx.rotate(-SLANT);
          ctx.textAlign = "left";
          ctx.fillText(label, 0, 0);
          ctx.restore();
        });
      }
      function cellAt(event) {
        var box = canvas.getBoundingClientRect();
        var x = event.clientX - box.left - gutter, y = event.clientY - box.top - gutter;
        if (x < 0 || y < 0) return null;
        var i = q0 + Math.floor(y / cell), j = k0 + Math.floor(x / cell);
        return i < q1 && j < k1 ? [i, j] : null;
      }
      canvas.addEventListener("mousemove", function (event) {
        var at = cellAt(event), box = tooltip();
        if (!at) { box.hidden = true; return; }
        var i = at[0], j = at[1];
        var value = view === RENORM && t.special[j] ? "removed ([CLS]/[SEP])" : w[i * n + j].toFixed(4);
        showTip(event, "query: " + t.tokens[i] + " (" + i + ")\nkey: " + t.tokens[j] + " (" + j + ")\nweight: " + value);
      });
      canvas.addEventListener("mouseleave", function () { tooltip().hidden = true; });
      if (onPick) canvas.addEventListener("click", function (event) { var at = cellAt(event); if (at) onPick(at[0], at[1]); });
      return { canvas: canvas, labelled: labelled };
    }
    function legend(top) {
      var box = el("div", "hm-legend");
      var bar = document.createElement("canvas");
      bar.width = 160; bar.height = 10;
      var ctx = bar.getContext("2d"), lut = colourTable();
      for (var x = 0; x < 160; x++) {
        var level = Math.round(255 * x / 159);
        ctx.fillStyle = "rgb(" + lut[3 * level] + "," + lut[3 * level + 1] + "," + lut[3 * level + 2] + ")";
        ctx.fillRect(x, 0, 1, 10);
      }
      box.appendChild(el("span", null, "0 "));
      box.appendChild(bar);
      box.appendChild(el("span", null, " " + top.toFixed(3) + " (attention weight; never negative)"));
      return box;
    }
    function maxOf(t, weights, view) {
      var top = 0, n = t.n;
      for (var k = 0; k < weights.length; k++) if (weights[k] > top && !(view === RENORM && t.special[k % n])) top = weights[k];
      return top;
    }
    function heatmap(box, t, m, r, which) {
      box.textContent = "";
      box.dataset.state = "drawing";
      var width = Math.max(240, box.clientWidth || 900);
      var each = width >= 560 ? Math.floor((width - 24) / 2) : width;
      var panels = el("div", "hm-panels");
      var zoomBox = el("div", "hm-zoom");
      var state = { q: 0, k: 0 };
      var tops = [maxOf(t, m, RAW), maxOf(t, r, RENORM)];
      var needZoom = false;
      function drawZoom() {
        zoomBox.textContent = "";
        var span = Math.min(ZOOM, t.n);
        var controls = el("div", "controls");
        [["query tokens from", "q"], ["key tokens from", "k"]].forEach(function (pair) {
          var label = el("label", null, pair[0] + " ");
          var input = el("input");
          input.type = "number"; input.min = "1"; input.max = String(t.n - span + 1); input.value = String(state[pair[1]] + 1);
          input.className = "zoom-" + pair[1];
          input.addEventListener("change", function () {
            state[pair[1]] = Math.max(0, Math.min(t.n - span, Math.round(Number(input.value) || 1) - 1));
            drawZoom();
          });
          label.appendChild(input);
          controls.appendChild(label);
        });
        controls.appendChild(el("span", "muted", " (" + span + " × " + span + " tokens; click a cell above to move here)"));
        zoomBox.appendChild(controls);
        var row = el("div", "hm-panels");
        [[m, RAW, tops[0]], [r, RENORM, tops[1]]].forEach(function (spec) {
          var p = el("div", "hm-panel");
          p.appendChild(el("div", "hm-title", "Attention, " + which + " · " + spec[1] + " · zoom"));
          p.appendChild(panel(t, spec[0], spec[1], state.q, state.q + span, state.k, state.k + span, each, spec[2], null).canvas);
          row.appendChild(p);
        });
        zoomBox.appendChild(row);
      }
      function pick(i, j) {
        var span = Math.min(ZOOM, t.n);
        state.q = Math.max(0, Math.min(t.n - span, i - Math.floor(span / 2)));
        state.k = Math.max(0, Math.min(t.n - span, j - Math.floor(span / 2)));
        drawZoom();
      }
      // One panel per task (a 512-token panel has a quarter of a million cells); a drawing
      // started over, or released, stops this one at its next step.
      var token = {};
      drawings.set(box, token);
      function current() { return drawings.get(box) === token; }
      var chain = Promise.resolve();
      [[m, RAW, tops[0]], [r, RENORM, tops[1]]].forEach(function (spec, k) {
        chain = chain.then(k ? nextTask : null).then(function () {
          if (!current()) return;
          var p = el("div", "hm-panel");
          p.appendChild(el("div", "hm-title", "Attention, " + which + " · " + spec[1]));
          var drawn = panel(t, spec[0], spec[1], 0, t.n, 0, t.n, each, spec[2], pick);
          needZoom = needZoom || !drawn.labelled;
          p.appendChild(drawn.canvas);
          p.appendChild(legend(spec[2]));
          panels.appendChild(p);
        });
      });
      return chain.then(function () {
        if (!current()) return;
        drawings.delete(box);
        box.appendChild(el("p", "muted small hm-help", needZoom
          ? "Rows: attending (query) token; columns: attended-to (key) token. Hover a cell for its weight; click one to read its neighbourhood with labels below."
          : "Rows: attending (query) token; columns: attended-to (key) token. Hover a cell for its weight."));
        box.appendChild(panels);
        if (needZoom) { box.appendChild(zoomBox); drawZoom(); }
        box.dataset.state = "done";
        box.style.minHeight = "";
      });
    }

    // ---- [CLS] attention and attention received: bar charts on canvases -----------------------
    // Painted by the page, as the heatmap is, not by Vega: they open with a text's attention part,
    // in the first window of a deep link, where Vega's first chart would cost the bundle's
    // evaluation and its cold code (about 300 ms here) and four canvases cost a few ms. The layout
    // is the article's: rows [CLS] attention and attention received, columns raw and renormalised,
    // one bar per token of the window (TOKEN_STEP px), each panel on its own value axis from 0.
    var BAR_PLOT = 110;     // px: a panel's plot height
    var BAR_AXIS = 62;      // px left of the bars: the row's title and the value axis
    var BAR_LABEL = 90;     // px: the longest token label below the bars
    var BAR_TOP = 8;        // px above the plot, for the top tick's label
    // A value axis: its top (the maximum rounded up to a step of 1, 2 or 5 x 10^k, four steps or
    // fewer from 0), that step, and the decimals its labels need (two at least).
    function valueAxis(max) {
      if (!(max > 0)) return [1, 0.25, 2];
      var raw = max / 4, power = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10)), step = power;
      [1, 2, 5, 10].some(function (f) { step = f * power; return step >= raw - 1e-12; });
      return [Math.ceil(max / step - 1e-9) * step, step, Math.max(2, Math.ceil(-Math.log(step) / Math.LN10 - 1e-9))];
    }
    function barPanel(t, data, measure, view, rowTitle, labelled) {
      var values = data.series[measure][view], count = values.length;
      var canvas = document.createElement("canvas"), ctx = canvas.getContext("2d");
      var labels = [], reach = 0;
      if (labelled) {
        ctx.font = FONT;
        data.pos.forEach(function (j) {
          var label = fitted(ctx, t.tokens[j], BAR_LABEL);
          labels.push(label);
          reach = Math.max(reach, ctx.measureText(label).width * Math.sin(SLANT));
        });
      }
      var max = 0;
      values.forEach(function (v) { if (v !== null && v > max) max = v; });
      var axis = valueAxis(max), top = axis[0], step = axis[1];
      var cssW = BAR_AXIS + count * TOKEN_STEP + 8, cssH = BAR_TOP + BAR_PLOT + (labelled ? Math.ceil(reach) + 10 : 16);
      var ratio = window.devicePixelRatio || 1;
      canvas.width = Math.round(cssW * ratio);  // resets the context (its font too)
      canvas.height = Math.round(cssH * ratio);
      canvas.style.width = cssW + "px";
      canvas.style.height = cssH + "px";
      canvas.className = "bar-canvas";
      canvas.dataset.measure = payload.measures[measure];
      canvas.dataset.view = payload.views[view];
      ctx.scale(ratio, ratio);
      ctx.font = FONT;
      var base = BAR_TOP + BAR_PLOT;
      function y(v) { return base - v / top * BAR_PLOT; }
      // Grid and value axis: ticks at 0, step, ... top.
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (var k = 0; k * step <= top + 1e-9; k++) {
        var at = Math.round(y(k * step)) + 0.5;
        ctx.fillStyle = "#e2e8f0";
        ctx.fillRect(BAR_AXIS, at - 0.5, count * TOKEN_STEP, 1);
        ctx.fillStyle = "#1a202c";
        ctx.fillText((k * step).toFixed(axis[2]), BAR_AXIS - 5, at);
      }
      if (rowTitle) {
        ctx.save();
        ctx.translate(9, BAR_TOP + BAR_PLOT / 2);
        ctx.rotate(-Math.PI / 2);
        ctx.textAlign = "center";
        ctx.fillText(rowTitle, 0, 0);
        ctx.restore();
      }
      values.forEach(function (v, b) {
        if (v === null) return;
        ctx.fillStyle = t.special[data.pos[b]] ? payload.barColours[0] : payload.barColours[1];
        var h = Math.max(0, v) / top * BAR_PLOT;
        ctx.fillRect(BAR_AXIS + b * TOKEN_STEP + 1, base - h, TOKEN_STEP - 2, h);
      });
      ctx.fillStyle = "#888";
      ctx.fillRect(BAR_AXIS, base, count * TOKEN_STEP, 1);
      if (labelled) {
        ctx.fillStyle = "#1a202c";
        ctx.textAlign = "right";
        labels.forEach(function (label, b) {
          ctx.save();
          ctx.translate(BAR_AXIS + (b + 0.5) * TOKEN_STEP, base + 6);
          ctx.rotate(-SLANT);
          ctx.fillText(label, 0, 0);
          ctx.restore();
        });
      }
      // Hover anywhere in a token's column (its bar or its label) for the token and its value.
      canvas.addEventListener("mousemove", function (event) {
        var box = canvas.getBoundingClientRect(), scale = box.width / cssW || 1;
        var b = Math.floor(((event.clientX - box.left) / scale - BAR_AXIS) / TOKEN_STEP);
        if (b < 0 || b >= count) { tooltip().hidden = true; return; }
        var j = data.pos[b], v = values[b];
        showTip(event, "token: " + t.tokens[j] + " (" + j + ")\n" + payload.measures[measure] + ", " + payload.views[view] + ": " +
          (v === null ? "removed ([CLS]/[SEP])" : v.toFixed(4)));
      });
      canvas.addEventListener("mouseleave", function () { tooltip().hidden = true; });
      // What was drawn, for tests and the curious: positions, values, axis top, geometry.
      canvas.drawn = { pos: data.pos.slice(), values: values.slice(), top: top, left: BAR_AXIS, step: TOKEN_STEP, plotTop: BAR_TOP, plotHeight: BAR_PLOT, labels: labels };
      return canvas;
    }
    // ``wanted()``: whether this drawing is still the latest for its text (drawAttention).
    function barChart(box, t, data, title, wanted) {
      if (!box || !wanted()) return Promise.resolve(null);
      release(box);
      box.textContent = "";
      box.dataset.title = title;
      box.appendChild(el("div", "hm-title", title));
      var columns = el("div", "hm-panels");
      [0, 1].forEach(function (view) {
        var column = el("div", "hm-panel");
        column.appendChild(el("div", "bar-view", payload.views[view]));
        [0, 1].forEach(function (measure) {
          column.appendChild(barPanel(t, data, measure, view, view === 0 ? payload.measures[measure] : null, measure === 1));
        });
        columns.appendChild(column);
      });
      box.appendChild(columns);
      var key = el("div", "hm-legend");
      [[payload.barColours[0], "[CLS]/[SEP]"], [payload.barColours[1], "token (attention weight)"]].forEach(function (pair) {
        var swatch = el("span", "swatch");
        swatch.style.background = pair[0];
        key.appendChild(swatch);
        key.appendChild(el("span", null, pair[1]));
      });
      box.appendChild(key);
      box.dataset.state = "done";
      box.style.minHeight = "";
      return Promise.resolve(null);
    }

    // ---- the other charts of a text ----------------------------------------------------------
    // One row per method and token (or word) of the window; labels are the tokens (or word surfaces).
    function methodRows(t, win, unit) {
      var rows = [], words = unit === "words" ? t.words : null;
      var labels = words ? words.labels : t.tokens, all = words ? words.methods : t.methods;
      payload.methodTitles.forEach(function (pair, order) {
        var scores = all[pair[0]], signed = payload.methodSigned[order] === 1;
        if (!scores) return;
        for (var j = win[0]; j < win[1]; j++) {
          if (scores.value[j] === null) continue;  // a word no token reaches: no score
          rows.push({ method: pair[1], order: order, pos: j, token: labels[j], value: scores.value[j], rel: scores.rel[j], signed: signed });
        }
      });
      return rows;
    }
    // The method bars of the unit shown; words take a window of as many words as tokens.
    function drawMethods(section, t, win) {
      var unit = showUnit(section, t);
      if (unit === "words") {
        var count = t.words.labels.length, size = win[1] - win[0];
        var start = Math.max(0, Math.min(win[0], count - size));
        win = [start, Math.min(count, start + size)];
      }
      var note = win[0] > 0 || win[1] < (unit === "words" ? t.words.labels.length : t.n)
        ? " · " + (unit === "words" ? "words " : "tokens ") + (win[0] + 1) + "–" + win[1] + " of " + (unit === "words" ? t.words.labels.length : t.n) : "";
      return show(section.querySelector('[data-chart="methods"]'), payload.specs.methods, { scores: methodRows(t, win, unit) },
        unit === "words" ? t.words.labels : t.tokens, "Every method's scores, " + (unit === "words" ? "by word" : "by token") + ", each ÷ its report-wide scale" + note);
    }
    // Integrated Gradients as a walk: f(baseline), each content token's share, f(x).
    function waterfall(t, win) {
      var values = t.methods.integrated_gradients.value, labels = ["f(baseline)"], rows = [];
      var running = t.ig.baseline;
      rows.push({ step: 0, label: "f(baseline)", start: t.ig.baseline, end: t.ig.baseline, value: t.ig.baseline, kind: "total", pos: -1 });
      for (var j = 0; j < t.n; j++) {
        if (t.special[j]) continue;
        var v = values[j] || 0;
        labels.push(t.tokens[j]);
        rows.push({ step: rows.length, label: t.tokens[j], start: round4(running), end: round4(running + v), value: v, kind: v >= 0 ? "up" : "down", pos: j });
        running += v;
      }
      labels.push("f(x)");
      rows.push({ step: rows.length, label: "f(x)", start: t.ig.explained, end: t.ig.explained, value: t.ig.explained, kind: "total", pos: t.n });
      var shown = rows.filter(function (row) { return row.pos >= win[0] - (win[0] === 0 ? 1 : 0) && row.pos < win[1] + (win[1] === t.n ? 1 : 0); });
      return { rows: shown, labels: labels };
    }
    function deletionRows(t) {
      var rows = [], band = [], f = t.faith;
      payload.methodTitles.forEach(function (pair, order) {
        var curve = f.without[order];
        if (!curve) return;
        rows.push({ method: pair[1], order: order, reference: false, pct: 0, f: f.f0 });
        curve.forEach(function (v, k) { rows.push({ method: pair[1], order: order, reference: false, pct: 100 * f.removed[k] / f.content, f: v }); });
      });
      var title = "random order (mean)", last = payload.methodTitles.length;
      rows.push({ method: title, order: last, reference: true, pct: 0, f: f.f0 });
      band.push({ pct: 0, lo: f.f0, hi: f.f0 });
      f.randomMean.forEach(function (v, k) {
        rows.push({ method: title, order: last, reference: true, pct: 100 * f.removed[k] / f.content, f: v });
        var sd = f.randomStd[k];
        if (sd !== null && v !== null) band.push({ pct: 100 * f.removed[k] / f.content, lo: v - sd, hi: v + sd });
      });
      return { curves: rows, band: band };
    }
    function agreementRows(methods, rho, texts) {
      var rows = [], m = methods.length;
      for (var a = 0; a < m; a++) for (var b = 0; b < m; b++) {
        var value = rho[a * m + b];
        if (value !== null) rows.push({ a: methodTitle(methods[a]), b: methodTitle(methods[b]), rho: value, texts: texts ? texts[a * m + b] : 1 });
      }
      return rows;
    }
    function faithTable(section, t) {
      var body = section.querySelector("table.faith tbody");
      if (!body) return;
      body.textContent = "";
      var byWord = t.faith.words;
      if (byWord && section.querySelectorAll("table.faith thead th").length === 3) {
        var head = section.querySelector("table.faith thead tr");
        head.appendChild(el("th", null, "comprehensiveness, whole words"));
        head.appendChild(el("th", null, "sufficiency, whole words"));
      }
      payload.methodTitles.forEach(function (pair, order) {
        if (t.faith.comprehensiveness[order] === null) return;
        var tr = el("tr");
        tr.appendChild(el("td", null, pair[1]));
        tr.appendChild(el("td", "num", tableSig(t.faith.comprehensiveness[order])));
        tr.appendChild(el("td", "num", tableSig(t.faith.sufficiency[order])));
        if (byWord) {
          tr.appendChild(el("td", "num", tableSig(byWord.comprehensiveness[order])));
          tr.appendChild(el("td", "num", tableSig(byWord.sufficiency[order])));
        }
        body.appendChild(tr);
      });
      var random = t.faith.random, tr = el("tr", "muted");
      tr.appendChild(el("td", null, "random (mean ± sd)"));
      tr.appendChild(el("td", "num", tableSig(random[0]) + " ± " + tableSig(random[1])));
      tr.appendChild(el("td", "num", tableSig(random[2]) + " ± " + tableSig(random[3])));
      if (byWord) {
        tr.appendChild(el("td", "num", tableSig(byWord.random[0]) + " ± " + tableSig(byWord.random[1])));
        tr.appendChild(el("td", "num", tableSig(byWord.random[2]) + " ± " + tableSig(byWord.random[3])));
      }
      body.appendChild(tr);
      var f = t.faith, steps = f.removed, last = steps[steps.length - 1];
      var counted = steps.length > 4 && last === steps.length ? "1, 2, 3, …, " + last : steps.join(", ");
      slot(section, "normaliser").textContent = "Steps: the top " + counted + (steps.length === 1 && last === 1 ? " token" : " tokens") +
        (payload.faithFast ? " (--faithfulness fast: the 1, 5, 10, 20 and 50% steps only)" : "") + ". " +
        (f.normalised
          ? "Divided by the largest change any masked input of this text caused, " + fixed(f.normaliser, 4) + ", so every value lies between 0 and 1."
          : "Not normalised: the largest change any masked input caused, " + fixed(f.normaliser, 4) + ", is too small to divide by.");
    }

    function drawScores(section, t) {
      var win = tokenWindow(section, t);
      var chart = function (name) { return section.querySelector('[data-chart="' + name + '"]'); };
      var steps = [
        [chart("methods"), function () { return drawMethods(section, t, win); }]
      ];
      if (t.ig && t.methods.integrated_gradients) {
        steps.push([chart("waterfall"), function () {
          var walk = waterfall(t, win);
          return show(chart("waterfall"), payload.specs.waterfall, { steps: walk.rows }, walk.labels,
            "Integrated Gradients, every token: from f(baseline) = " + fixed(t.ig.baseline, 3) + " to f(x) = " + fixed(t.ig.explained, 3) + windowNote(t, win));
        }]);
      }
      if (t.faith) {
        faithTable(section, t);  // a table (page elements): filled with the part
        steps.push([chart("deletion"), function () {
          return show(chart("deletion"), payload.specs.deletion, deletionRows(t), [],
            "Deletion curves: the output as each method's top tokens are replaced by [MASK] (grey: random orders)");
        }]);
      }
      if (t.agreement) {
        steps.push([chart("agreement"), function () {
          return show(chart("agreement"), payload.specs.agreement,
            { agreement: agreementRows(payload.agreementMethods, t.agreement, null) }, [], "Agreement of the methods' token rankings on this text (Spearman ρ)");
        }]);
      }
      return drawNear(section, steps);
    }

    // ---- opening a text: a row click, a deep link (#text-917) ------------------------------------
    // The text being opened stays at the top while the sections above it take their real height
    // (they are filled and laid out only now), until the reader scrolls.
    var pinned = null;
    function keepPinned() {
      var target = pinned === null ? null : sections.get(pinned);
      if (target) target.scrollIntoView({ block: "start" });
    }
    ["wheel", "keydown", "touchstart", "mousedown"].forEach(function (kind) {
      window.addEventListener(kind, function () { pinned = null; }, { passive: true });
    });
    function openText(index, scroll) {
      var position = view.rows.indexOf(index);
      if (position < 0) {
        view.filter = ""; view.range = null;
        var input = document.querySelector(".ov-filter");
        if (input) input.value = "";
        computeRows();
        position = view.rows.indexOf(index);
      }
      var page = Math.floor(position / PAGE_SIZE);
      if (scroll) pinned = index;  // before the sections are rebuilt: they fill this one first
      // Before the overview's texts are read (a deep link at load), the table waits for them: it
      // is drawn once they are (showTexts), not also now, which would cost a layout of its rows
      // (Japanese text shaping, about 100 ms for 50 rows) before the linked text's answer.
      var ready = page === view.page && sections.has(index) ? Promise.resolve()
        : (view.page = page, texts === null ? (computeRows(), renderSections()) : refresh(false));
      var section = sections.get(index);
      if (section) {
        section.dataset.want = "1";
        if (scroll) section.scrollIntoView({ block: "start" });
        request(section, true);
      }
      return ready.then(function () {
        var target = sections.get(index);
        if (!target) return null;
        target.dataset.want = "1";
        if (scroll) target.scrollIntoView({ block: "start" });
        return request(target, true);
      }).then(function () { keepPinned(); pinned = null; });
    }
    // The text a #text-N link names (its index), or null.
    function linked() {
      var match = /^#text-(\d+)$/.exec(window.location.hash);
      return match && indexOf.has(Number(match[1])) ? indexOf.get(Number(match[1])) : null;
    }
    function fromHash() {
      var index = linked();
      return index === null ? null : openText(index, true);
    }

    // ---- wiring ------------------------------------------------------------------------------
    function wireOverview() {
      table.querySelectorAll("th[data-sort] button").forEach(function (button) {
        button.addEventListener("click", function () {
          var key = button.parentNode.dataset.sort;
          if (view.key === key) view.dir = -view.dir; else { view.key = key; view.dir = key === "error" || key === "flags" ? -1 : 1; }
          view.page = 0;
          refresh(false);
        });
      });
      var timer = null, input = document.querySelector(".ov-filter");
      if (input) input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { view.filter = input.value; view.page = 0; refresh(false); }, 150);
      });
      document.querySelectorAll(".ov-prev").forEach(function (b) { b.addEventListener("click", function () { if (view.page > 0) { view.page -= 1; refresh(false); } }); });
      document.querySelectorAll(".ov-next").forEach(function (b) { b.addEventListener("click", function () { view.page += 1; refresh(false); }); });
      var clear = document.querySelector(".ov-range button");
      if (clear) clear.addEventListener("click", function () { view.range = null; view.page = 0; refresh(false); });
      table.tBodies[0].addEventListener("click", function (event) {
        var row = event.target.closest("tr");
        if (!row) return;
        event.preventDefault();
        var i = Number(row.dataset.index);
        if (window.location.hash === "#text-" + ov.id[i]) openText(i, true);
        else window.location.hash = "text-" + ov.id[i];
      });
    }

    // Each chart kind's first drawing also pays for compiling the Vega code it needs; doing
    // that once per kind with one row of data, in idle time after load, keeps the reader's
    // first scroll from paying it in one long task.
    var SAMPLE_ROWS = {
      methods: { scores: [{ method: "", order: 0, pos: 0, token: "", value: 0, rel: 0, signed: true }] },
      waterfall: { steps: [{ step: 0, label: "", start: 0, end: 0, value: 0, kind: "total" }] },
      deletion: { curves: [{ method: "", order: 0, reference: false, pct: 0, f: 0 }], band: [{ pct: 0, lo: 0, hi: 0 }] },
      agreement: { agreement: [{ a: "", b: "", rho: 0, texts: 1 }] }
    };
    function idleTask() {
      return new Promise(function (resolve) {
        if (window.requestIdleCallback) window.requestIdleCallback(function () { resolve(); }, { timeout: 500 });
        else setTimeout(resolve, 50);
      });
    }
    function warmCharts() {
      var chain = Promise.resolve();
      Object.keys(SAMPLE_ROWS).forEach(function (kind) {
        chain = chain.then(idleTask).then(function () {
          var spec = JSON.parse(JSON.stringify(payload.specs[kind]));
          (spec.data || []).forEach(function (d) { if (SAMPLE_ROWS[kind][d.name]) d.values = SAMPLE_ROWS[kind][d.name]; });
          return embed(document.createElement("div"), spec, function () { return true; }).then(function (view) { view.finalize(); }, function () { return null; });
        });
      });
      return chain;
    }

    function overviewChart() {
      var box = document.querySelector('[data-chart="overview"]');
      var rows = [];
      for (var i = 0; i < COUNT; i++) rows.push({ id: "#" + ov.id[i], text: ov.id[i], prediction: ov.prediction[i], gold: ov.gold[i] });
      var name = payload.predictionLabel;
      return show(box, payload.specs.overview, { predictions: rows }, [],
        (COUNT > 40 ? "How the " : "The ") + name + (payload.target.range ? " (scale " + payload.target.range[0] + "–" + payload.target.range[1] + ")" : "") + " of " + (COUNT > 40 ? "the " + COUNT + " texts is distributed" : "every text")).then(function (chart) {
        if (!chart) return;
        chart.addEventListener("click", function (event, item) {
          var datum = item && item.datum;
          if (!datum) return;
          if (datum.text !== undefined && indexOf.has(datum.text)) { window.location.hash = "text-" + datum.text; return; }
          var keys = Object.keys(datum), end = keys.filter(function (k) { return /^bin_.*_end$/.test(k); })[0];
          if (!end) return;
          var lo = datum[end.slice(0, -4)], hi = datum[end];
          var top = Math.max.apply(null, ov.prediction.concat(ov.gold).filter(function (v) { return v !== null; }));
          view.range = { field: datum.series === "gold" ? "gold" : "prediction", lo: lo, hi: hi, last: hi >= top };
          view.page = 0;
          refresh(false);
          document.getElementById("overview").scrollIntoView({ block: "start" });
        });
      });
    }

    // --- Words across all texts: lists, chart and the texts of a word. ---------------------------
    // Every word is user text: it only ever reaches the page through textContent and chart data.

    function tableCell(row, tag, text, cls) {
      var el = document.createElement(tag);
      el.textContent = text;
      if (cls) el.className = cls;
      row.appendChild(el);
      return el;
    }

    function fmt(x, digits) { return x === null || x === undefined ? "\u2013" : (x >= 0 ? "+" : "") + Number(x).toPrecision(digits || 3); }

    function wordTable(table, rows, corpus, pick) {
      table.textContent = "";
      var head = table.createTHead().insertRow();
      // The forms seen go under the word, not in a column of their own: beside six other columns
      // (two tables side by side) such a column was squeezed to a character or two per line.
      ["word (forms seen)", "texts", "mean", "95% interval", "total", "share"].forEach(function (h) { tableCell(head, "th", h); });
      var body = table.createTBody();
      if (!rows.length) { tableCell(body.insertRow(), "td", "no word is seen in that many texts", "muted").colSpan = 6; return; }
      rows.forEach(function (w) {
        var tr = body.insertRow(), td = tableCell(tr, "td", "");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "corpus-word";
        button.textContent = w.lemma;
        button.dataset.index = String(corpus.words.indexOf(w));
        button.addEventListener("click", function () { pick(w); });
        td.appendChild(button);
        // (Nothing when the only form seen is the word itself.)
        if (w.surfaces.length > 1 || w.surfaces[0] !== w.lemma) td.appendChild(el("div", "surfaces", w.surfaces.join(" \u00b7 ")));
        tableCell(tr, "td", String(w.n), "num");
        tableCell(tr, "td", fmt(w.mean), "num");
        tableCell(tr, "td", w.lo === null ? "\u2013" : fmt(w.lo) + " \u2026 " + fmt(w.hi), "num");
        tableCell(tr, "td", fmt(w.total), "num");
        tableCell(tr, "td", w.share === null ? "\u2013" : (100 * w.share).toFixed(1) + "%", "num");
      });
    }

    function startCorpus(section, corpus) {
      if (!section) return Promise.resolve();
      var minInput = section.querySelector(".corpus-min"), find = section.querySelector(".corpus-find");
      var listOut = section.querySelector(".corpus-texts"), previews = new Map();
      corpus.texts.forEach(function (entry) { previews.set(entry.id, entry.preview); });

      function pick(w) {
        listOut.textContent = "";
        var h = document.createElement("h3");
        h.textContent = "Texts containing \u201c" + w.lemma + "\u201d (" + w.ids.length + "; as " + w.surfaces.join(", ") + ")";
        listOut.appendChild(h);
        var ul = document.createElement("ul");
        ul.className = "corpus-text-list";
        w.ids.forEach(function (id) {
          var li = document.createElement("li"), a = document.createElement("a");
          a.href = "#text-" + id;
          a.textContent = "#" + id;
          li.appendChild(a);
          var span = document.createElement("span");
          span.textContent = " " + (previews.get(id) || "");
          li.appendChild(span);
          ul.appendChild(li);
        });
        listOut.appendChild(ul);
        listOut.dataset.lemma = w.lemma;
      }

      function chosen(direction, min) {
        var sign = direction === "raise" ? 1 : -1;
        return corpus.words.filter(function (w) { return w.n >= min && w.mean !== null && sign * w.mean > 0; })
          .sort(function (a, b) { return sign * (b.mean - a.mean) || b.n - a.n || (a.lemma < b.lemma ? -1 : a.lemma > b.lemma ? 1 : 0); })
          .slice(0, corpus.k);
      }

      function refresh() {
        var min = Math.max(1, Math.floor(Number(minInput.value)) || 1);
        var up = chosen("raise", min), down = chosen("lower", min);
        wordTable(section.querySelector(".corpus-raise"), up, corpus, pick);
        wordTable(section.querySelector(".corpus-lower"), down, corpus, pick);
        var rows = [], labels = [];
        up.concat(down.slice().reverse()).forEach(function (w, rank) {
          labels.push(w.lemma);
          rows.push({ rank: rank, word: w.lemma, mean: w.mean, lo: w.lo, hi: w.hi, n: w.n, dir: w.mean > 0 ? "raises" : "lowers" });
        });
        return show(section.querySelector('[data-chart="corpus"]'), payload.specs.corpus, { words: rows }, labels,
          "Words that raise and lower the score most, by " + corpus.title + " (mean per occurrence, 95% interval; in at least " + min + " texts)");
      }

      function search() {
        var q = find.value.trim(), box = section.querySelector(".corpus-found");
        if (!q) { box.hidden = true; return; }
        var found = corpus.words.filter(function (w) {
          return w.lemma.indexOf(q) >= 0 || w.surfaces.some(function (s) { return s.indexOf(q) >= 0; });
        }).slice(0, 50);
        wordTable(section.querySelector(".corpus-matches"), found, corpus, pick);
        box.hidden = false;
      }

      minInput.addEventListener("input", refresh);
      find.addEventListener("input", search);
      return refresh();
    }

    function start() {
      wireOverview();
      computeRows();
      // A deep link's page of the table is drawn once the overview's texts are read (showTexts).
      if (linked() === null) renderTable();
      function showTexts() {
        return inflateJSON(ov.texts).then(function (all) {
          texts = all;
          lowered = all.map(function (s) { return s.toLowerCase(); });
          renderTable();
          // Texts kept as their overview row only show their start (built before it was here).
          sections.forEach(function (section, i) {
            if (ov.rung[i] === SUMMARY) section.querySelector("p.highlight").textContent = texts[i];
          });
        });
      }
      // One after the other, the overview first: each chart's steps are tasks of their own, and
      // charts drawn side by side would interleave them and all be done late.
      function pageCharts() {
        var corpus = document.querySelector("section.corpus");
        var mean = document.querySelector('section.methods [data-chart="agreement"]');
        return nextTask().then(overviewChart).then(function () {
          if (!mean || !payload.agreement) return null;
          return show(mean, payload.specs.agreement, { agreement: agreementRows(payload.agreementMethods, payload.agreement.rho, payload.agreement.texts) }, [],
            "Agreement of the methods' token rankings, mean over texts (Spearman ρ)");
        }).then(function () {
          return corpus && payload.corpus ? startCorpus(corpus, payload.corpus) : null;
        });
      }
      // A deep link opens its text before anything else is drawn (the reader came for it), without
      // waiting for the Vega bundle; the overview's texts (search, snippets: the table is drawn
      // with them) follow, and the page-wide charts (out of view, above) once the text's charts are
      // drawn: drawn beside them, they would interleave their steps and delay them. Otherwise the
      // overview's charts come first, the texts after.
      var ready = linked() !== null
        ? fromHash().then(showTexts).then(frames).then(settled).then(pageCharts)
        : Promise.all([showTexts(), pageCharts()]).then(renderSections);
      ready.then(frames).then(settled).then(function () {
        document.body.dataset.charts = "done";
        return warmCharts();
      });
      window.addEventListener("hashchange", fromHash);
    }

    // Printing: each text prints its answer part (drawn with the text, not on demand, so it is
    // there whether or not the reader scrolled to it); the attention and method parts print only
    // where the reader opened them and they are drawn (report.css). The run details and the
    // "how to read" notes print open.
    window.addEventListener("beforeprint", function () {
      document.querySelectorAll("header details.meta").forEach(function (d) { d.open = true; });
    });

    // For tests and the curious: the codes a text's attention block (or, with ``view``, its view
    // block) holds, as the page decodes them.
    window.reportgenPage = {
      attentionCodes: function (index, view) { return codes(index, view).then(function (att) { return att ? { rung: att.rung, codes: Array.from(att.codes) } : null; }); },
      liveTexts: function () { return live.length; },
      liveViews: function () { return views.size; },
      open: function (index) { return openText(index, true); }
    };

    start();
  }
})();
