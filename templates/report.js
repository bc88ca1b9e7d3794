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

  function methodRows(t) {
    var rows = [];
    payload.methodTitles.forEach(function (pair, order) {
      var scores = t.methods[pair[0]];
      if (!scores) return;
      for (var j = 0; j < t.n; j++) {
        rows.push({ method: pair[1], order: order, pos: j, token: t.tokens[j], value: scores.value[j], rel: scores.rel[j] });
      }
    });
    return rows;
  }

  function shade(rel) {
    var c = rel >= 0 ? payload.shade.positive : payload.shade.negative;
    var a = Math.min(1, Math.abs(rel)) * payload.shade.maxAlpha;
    return "rgba(" + c[0] + ", " + c[1] + ", " + c[2] + ", " + a.toFixed(3) + ")";
  }

  // Recolour the text by another method; same colours as the server-side first rendering.
  function highlight(section, t, method) {
    var scores = t.methods[method];
    if (!scores) return;
    section.querySelectorAll(".highlight .tok[data-pos]").forEach(function (span) {
      var pos = Number(span.dataset.pos);
      span.style.backgroundColor = shade(scores.rel[pos]);
      span.title = t.pieces[pos] + ": " + Number(scores.value[pos]).toPrecision(4);
    });
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
        show(section.querySelector('[data-chart="methods"]'), payload.specs.methods, { scores: methodRows(t) }, t.tokens),
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
      var method = section.querySelector(".pick-method");
      if (method) method.addEventListener("change", function () { highlight(section, t, method.value); });
    });
    // One text after another keeps the page responsive while long reports draw.
    var chain = Promise.resolve();
    sections.forEach(function (section) { chain = chain.then(function () { return drawText(section); }); });
    jobs.push(chain);
    Promise.all(jobs).then(function () { document.body.dataset.charts = "done"; });
  }

  // A printed report shows everything: closed <details> would print as their summary only.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });

  start();
})();
