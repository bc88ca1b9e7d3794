// reportgen page logic: decode the embedded attention, feed the chart templates, react to the
// layer/head pickers. User text reaches the charts only as data, never as code or markup.
(function () {
  "use strict";
  var payload = JSON.parse(document.getElementById("report-data").textContent);
  var RAW = payload.views[0], RENORM = payload.views[1];
  var CLS = payload.measures[0], RECEIVED = payload.measures[1];
  var OPTIONS = { actions: false, renderer: "svg", mode: "vega-lite" };
  var views = new Map();

  function decode(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    // Written little-endian by numpy ("<u2"); every browser platform in use is little-endian.
    return new Uint16Array(bytes.buffer);
  }

  function round(x) { return Math.round(x * 1e4) / 1e4; }

  // Head-averaged (head < 0) or single-head attention of one layer, n x n, row-major.
  function matrix(t, layer, head) {
    var n = t.n, size = n * n, out = new Float64Array(size);
    if (!t.q) t.q = decode(t.att);
    var heads = [];
    for (var h = 0; h < t.heads; h++) if (head < 0 || h === head) heads.push(h);
    heads.forEach(function (h) {
      var base = (layer * t.heads + h) * size;
      for (var k = 0; k < size; k++) out[k] += t.q[base + k];
    });
    var scale = payload.quantScale * heads.length;
    for (var k = 0; k < size; k++) out[k] /= scale;
    return out;
  }

  // [CLS]/[SEP] removed as keys, each row renormalised over the remaining tokens.
  function renormalise(t, m) {
    var n = t.n, out = new Float64Array(n * n);
    for (var i = 0; i < n; i++) {
      var total = 0;
      for (var j = 0; j < n; j++) if (!t.special[j]) total += m[i * n + j];
      for (var j2 = 0; j2 < n; j2++) if (!t.special[j2] && total > 0) out[i * n + j2] = m[i * n + j2] / total;
    }
    return out;
  }

  function cells(t, m, r) {
    var rows = [], n = t.n;
    for (var i = 0; i < n; i++) {
      for (var j = 0; j < n; j++) {
        rows.push({ i: i, j: j, q: t.tokens[i], k: t.tokens[j], w: round(m[i * n + j]), view: RAW });
        if (!t.special[j]) rows.push({ i: i, j: j, q: t.tokens[i], k: t.tokens[j], w: round(r[i * n + j]), view: RENORM });
      }
    }
    return rows;
  }

  function bars(t, m, r) {
    var rows = [], n = t.n;
    for (var j = 0; j < n; j++) {
      var kind = t.special[j] ? "special" : "token", sumRaw = 0, sumRe = 0;
      for (var i = 0; i < n; i++) { sumRaw += m[i * n + j]; sumRe += r[i * n + j]; }
      rows.push({ pos: j, token: t.tokens[j], kind: kind, measure: CLS, view: RAW, value: round(m[j]) });
      rows.push({ pos: j, token: t.tokens[j], kind: kind, measure: RECEIVED, view: RAW, value: round(sumRaw / n) });
      if (!t.special[j]) {
        rows.push({ pos: j, token: t.tokens[j], kind: kind, measure: CLS, view: RENORM, value: round(r[j]) });
        rows.push({ pos: j, token: t.tokens[j], kind: kind, measure: RECEIVED, view: RENORM, value: round(sumRe / n) });
      }
    }
    return rows;
  }

  function fail(el, err) {
    el.dataset.state = "error";
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = "This chart could not be drawn: " + (err && err.message ? err.message : String(err));
    el.appendChild(p);
  }

  // Each chart is its template spec plus this text's data (VL "datasets") and tokens
  // (the "tokens" parameter the axis labels read). A picker change redraws the chart.
  function show(el, template, datasets, tokens) {
    if (!el) return Promise.resolve();
    var spec = JSON.parse(JSON.stringify(template));
    spec.datasets = datasets;
    (spec.params || []).forEach(function (p) { if (p.name === "tokens") p.value = tokens; });
    var old = views.get(el);
    if (old) { old.finalize(); el.textContent = ""; }
    el.dataset.state = "drawing";
    return vegaEmbed(el, spec, OPTIONS).then(function (res) {
      views.set(el, res.view);
      el.dataset.state = "done";
    }, function (err) { fail(el, err); });
  }

  // The unit a text shows: "words" (when it has words and the reader did not pick pieces) or "pieces".
  function unitOf(section, t) {
    var pick = section.querySelector(".pick-unit");
    return t.words && (pick ? pick.value : t.unit) === "words" ? "words" : "pieces";
  }

  // One row per method and token (or word); labels are the tokens (or word surfaces).
  function methodRows(t, unit) {
    var rows = [], words = unit === "words" ? t.words : null;
    var labels = words ? words.labels : t.tokens, all = words ? words.methods : t.methods;
    payload.methodTitles.forEach(function (pair, order) {
      var scores = all[pair[0]];
      if (!scores) return;
      for (var j = 0; j < labels.length; j++) {
        if (scores.value[j] === null) continue;  // a word no token reaches: no score
        rows.push({ method: pair[1], order: order, pos: j, token: labels[j], value: scores.value[j], rel: scores.rel[j] });
      }
    });
    return rows;
  }

  function shade(rel) {
    if (rel === null || rel === undefined) return "";
    var c = rel >= 0 ? payload.shade.positive : payload.shade.negative;
    var a = Math.min(1, Math.abs(rel)) * payload.shade.maxAlpha;
    return "rgba(" + c[0] + ", " + c[1] + ", " + c[2] + ", " + a.toFixed(3) + ")";
  }

  // Recolour the text by a method, per token or per word; same colours as the server-side
  // first rendering. Hover text is set as a property: user text never becomes markup.
  function highlight(section, t, method, unit) {
    var words = unit === "words" ? t.words : null;
    var scores = words ? words.methods[method] : t.methods[method];
    if (!scores) return;
    section.querySelectorAll(".highlight [data-pos], .highlight [data-word]").forEach(function (span) {
      var key = words ? span.dataset.word : span.dataset.pos;
      if (key === undefined) { span.style.backgroundColor = ""; span.removeAttribute("title"); return; }
      var k = Number(key), value = scores.value[k];
      span.style.backgroundColor = shade(scores.rel[k]);
      var name = words ? words.labels[k] + " (" + words.lemmas[k] + ")" : t.pieces[k];
      span.title = name + ": " + (value === null ? "not seen by the model" : Number(value).toPrecision(4));
    });
  }

  function drawMethods(section, t) {
    var unit = unitOf(section, t);
    var name = section.querySelector(".unit-name");
    if (name) name.textContent = unit === "words" ? "word" : "token";
    section.querySelectorAll(".movers").forEach(function (el) { el.hidden = el.dataset.unit !== unit; });
    return show(section.querySelector('[data-chart="methods"]'), payload.specs.methods, { scores: methodRows(t, unit) },
      unit === "words" ? t.words.labels : t.tokens);
  }

  function drawAttention(section, t) {
    var layer = Number(section.querySelector(".pick-layer").value);
    var head = Number(section.querySelector(".pick-head").value);
    var m = matrix(t, layer, head), r = renormalise(t, m);
    return Promise.all([
      show(section.querySelector('[data-chart="heatmap"]'), payload.specs.heatmap, { cells: cells(t, m, r) }, t.tokens),
      show(section.querySelector('[data-chart="bars"]'), payload.specs.bars, { bars: bars(t, m, r) }, t.tokens)
    ]);
  }

  function drawText(section) {
    var t = payload.texts[Number(section.dataset.index)];
    return drawAttention(section, t).then(function () {
      return Promise.all([
        drawMethods(section, t),
        show(section.querySelector('[data-chart="waterfall"]'), payload.specs.waterfall, { steps: t.steps }, t.stepLabels),
        show(section.querySelector('[data-chart="deletion"]'), payload.specs.deletion, { curves: t.curves, band: t.band }, []),
        show(section.querySelector('[data-chart="agreement"]'), payload.specs.agreement, { agreement: t.agreement }, [])
      ]);
    });
  }

  function start() {
    var jobs = [];
    jobs.push(show(document.querySelector('[data-chart="predictions"]'), payload.specs.predictions, {}, []));
    var sections = Array.prototype.slice.call(document.querySelectorAll("section.text"));
    jobs.push(show(document.querySelector('section.methods [data-chart="agreement"]'), payload.specs.agreement, { agreement: payload.agreement }, []));
    sections.forEach(function (section) {
      var t = payload.texts[Number(section.dataset.index)];
      section.querySelectorAll(".pick-layer, .pick-head").forEach(function (select) {
        select.addEventListener("change", function () { drawAttention(section, t); });
      });
      var method = section.querySelector(".pick-method"), unit = section.querySelector(".pick-unit");
      if (method) method.addEventListener("change", function () { highlight(section, t, method.value, unitOf(section, t)); });
      if (unit) unit.addEventListener("change", function () {
        if (method) highlight(section, t, method.value, unitOf(section, t));
        drawMethods(section, t);
      });
    });
    if (payload.corpus) jobs.push(startCorpus(document.querySelector("section.corpus"), payload.corpus));
    // One text after another keeps the page responsive while long reports draw.
    var chain = Promise.resolve();
    sections.forEach(function (section) { chain = chain.then(function () { return drawText(section); }); });
    jobs.push(chain);
    Promise.all(jobs).then(function () { document.body.dataset.charts = "done"; });
  }

  // --- Words across all texts: lists, chart and the texts of a word. ---------------------------
  // Every word is user text: it only ever reaches the page through textContent and chart data.

  function cell(row, tag, text, cls) {
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
    ["word", "texts", "mean", "95% interval", "total", "share", "forms"].forEach(function (h) { cell(head, "th", h); });
    var body = table.createTBody();
    if (!rows.length) { cell(body.insertRow(), "td", "no word is seen in that many texts", "muted").colSpan = 7; return; }
    rows.forEach(function (w) {
      var tr = body.insertRow(), td = cell(tr, "td", "");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "corpus-word";
      button.textContent = w.lemma;
      button.dataset.index = String(corpus.words.indexOf(w));
      button.addEventListener("click", function () { pick(w); });
      td.appendChild(button);
      cell(tr, "td", String(w.n), "num");
      cell(tr, "td", fmt(w.mean), "num");
      cell(tr, "td", w.lo === null ? "\u2013" : fmt(w.lo) + " \u2026 " + fmt(w.hi), "num");
      cell(tr, "td", fmt(w.total), "num");
      cell(tr, "td", w.share === null ? "\u2013" : (100 * w.share).toFixed(1) + "%", "num");
      cell(tr, "td", w.surfaces.join(" \u00b7 "), "surfaces");
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
      return show(section.querySelector('[data-chart="corpus"]'), payload.specs.corpus, { words: rows }, labels);
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

  // A printed report shows everything: closed <details> would print as their summary only.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });

  start();
})();
