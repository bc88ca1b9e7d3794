"""Issue 14: how the report behaves in a browser, and what generating it costs.

Builds reports with ``reportgen.pipeline.run_report`` (each in a fresh process, recording its
peak RSS) and opens each in headless Chromium, recording:

* file bytes;
* first chart painted: ``performance.now()`` at the first animation frame after the first
  ``.chart[data-state=done]`` exists (the overview chart), from navigation start;
* the Vega bundle's evaluation (marked by a setter on ``window.vegaEmbed``, which the bundle
  assigns last), and the longest main-thread task that starts after it (``longtask``
  PerformanceObserver registered before load, ``buffered``), at load and while scrolling
  through the overview's first page of texts, opening each text's detail on the way (every
  chart of it drawn before the next text, scrolled to: a chart below the window waits for that);
* JS heap after load (CDP ``Performance.getMetrics`` ``JSHeapUsedSize``, as found and after a
  forced garbage collection), and the same after scrolling;
* a deep link to a text in the middle of the report, whose detail (attention and method parts)
  the reader opens as soon as its section is there: time from navigation start until its section
  (the answer part) is drawn, until every chart of its detail in the window is drawn (those
  below it wait until scrolled to), and how long its own drawing took (``data-draw-ms``); then
  the reader scrolls through the detail at once, and the time until every chart of it is drawn;
* what the size budget kept (the CLI's line).

Cases (``--cases``): ``demo`` (the bundled texts, every method), ``keico1000`` (1,000 KeiCO
sentences), ``aozora20`` (20 novel paragraphs truncated to 512 tokens), ``base100`` (100 KeiCO
sentences on an ALBERT-base-shaped model with random weights and the sample tokenizer),
``mem128`` (10 novel paragraphs at 128 tokens on that model, every method: generation memory
only). The cases other than ``demo`` and ``mem128`` run the cheap methods
``cls_attention,grad_input`` (faithfulness and agreement included) to keep the run short; the
page's size and speed depend on the token count and the model's shape, hardly on the methods.

``--code DIR`` builds the reports with another checkout (e.g. the commit before issue 14) for a
before/after comparison on the same machine; its pages are measured the same way.

``--faithfulness fast`` (or ``off``) cuts the generation of the large cases: the deletion
measurement is most of their run time, and the page draws the same charts from fewer steps
(``off``: no deletion chart). ``--keep DIR`` keeps each case's report and data file
(``CASE.parquet``, every attention head); ``--render`` then rebuilds the reports from those data
files as ``reportgen render`` does (no model) instead of generating them, so a
change to the page can be measured again without the hours of generation.

    PYTHONPATH=. python bench/bench_page.py --out bench/out/page.json
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import REPO, SAMPLE_MODEL, begin, finish, markdown_table, write_json

CHEAP = "cls_attention,grad_input"
KEICO = REPO / "samples/data/keico/keico_corpus.csv"
AOZORA = REPO / "samples/data/aozora/wagahaiwa_nekodearu.txt"
CASES = ("demo", "keico1000", "aozora20", "base100", "mem128")

INIT_SCRIPT = """
window.__bench = {longtasks: [], bundleEnd: null, firstChart: null, target: null, targetDrawn: null, targetDetail: null};
function openCharts(s) {
  return Array.prototype.concat.apply([], Array.prototype.map.call(s.querySelectorAll("details.more[open]"), function (d) {
    return Array.prototype.slice.call(d.querySelectorAll(".chart"));
  }));
}
function chartDone(c) { return c.dataset.state === "done" || c.dataset.state === "error"; }
function outOfView(c) { var r = c.getBoundingClientRect(); return r.top >= window.innerHeight || r.bottom <= 0; }
// What the reader sees of a text section's open parts drawn: each chart in the window done (or
// failed); a chart below the window waits until scrolled to (data-state "waiting").
var detailDrawn = window.__benchDetailDrawn = function (s) {
  return s.dataset.state === "drawn" && Array.prototype.every.call(s.querySelectorAll("details.more[open]"), function (d) { return d.dataset.drawn === "1"; }) &&
    openCharts(s).every(function (c) { return chartDone(c) || (c.dataset.state === "waiting" && outOfView(c)); });
};
// Every chart of its open parts drawn, the reader scrolling to each waiting one in turn.
window.__benchAllDrawn = function (s) {
  if (!detailDrawn(s)) return false;
  var next = openCharts(s).filter(function (c) { return !chartDone(c); })[0];
  if (next) { if (next.dataset.state === "waiting") next.scrollIntoView({block: "center"}); return false; }
  if (window.__bench.everyChart === undefined) window.__bench.everyChart = performance.now();
  return true;
};
try {
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) { window.__bench.longtasks.push([e.startTime, e.duration]); });
  }).observe({type: "longtask", buffered: true});
} catch (e) { window.__bench.noLongtask = String(e); }
(function () {
  var embed;
  Object.defineProperty(window, "vegaEmbed", {
    configurable: true,
    get: function () { return embed; },
    set: function (v) { embed = v; if (window.__bench.bundleEnd === null) window.__bench.bundleEnd = performance.now(); }
  });
})();
(function poll() {
  var b = window.__bench;
  if (b.firstChart === null && document.querySelector && document.querySelector('.chart[data-state="done"]')) {
    requestAnimationFrame(function () { if (b.firstChart === null) b.firstChart = performance.now(); });
  }
  if (b.target && (b.targetDrawn === null || b.targetDetail === null)) {
    var s = document.getElementById(b.target);
    // The reader opens the text's detail (its attention and method parts) as soon as it is there.
    // (When, and on which state of the section: opened on its answer, a part is drawn after it.)
    if (s && !s.dataset.benchOpened) { s.dataset.benchOpened = "1"; b.partsOpened = performance.now(); b.openedAt = s.dataset.state; s.querySelectorAll("details.more").forEach(function (d) { d.open = true; }); }
    // Its answer part (the shaded text, the walk to f(x)) is shown once the section is filled.
    if (s && b.targetDrawn === null && (["ready", "drawing", "drawn"].indexOf(s.dataset.state) >= 0 || (!s.dataset.state && s.querySelector('[data-chart="heatmap"][data-state="done"]')))) {
      b.targetDrawn = performance.now();
    }
    if (s && b.targetDetail === null && b.targetDrawn !== null && detailDrawn(s)) b.targetDetail = performance.now();
  }
  if (b.firstChart === null || (b.target && (b.targetDrawn === null || b.targetDetail === null))) requestAnimationFrame(poll);
})();
"""


# --------------------------------------------------------------------------- inputs


def write_inputs(folder: Path) -> dict[str, Path]:
    with KEICO.open(encoding="utf-8", newline="") as handle:
        sentences = [row["本文"].strip() for row in csv.DictReader(handle) if row["本文"].strip()]
    paragraphs = [line.strip() for line in AOZORA.read_text(encoding="utf-8").splitlines() if len(line) > 1400]
    files = {
        "keico1000": sentences[:1000],
        "base100": sentences[:100],
        "aozora20": paragraphs[:20],
        "mem128": paragraphs[20:30],
    }
    paths = {}
    for name, lines in files.items():
        path = folder / f"{name}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths[name] = path
    return paths


def case_options(case: str, inputs: dict[str, Path], base_model: Path | None, out: Path, faithfulness: str) -> dict[str, Any]:
    common = {"out": out, "force": True, "faithfulness": faithfulness}
    if case != "mem128":
        # The data file re-renders the page (--render); mem128 measures generation memory alone.
        common["data"] = out.with_suffix(".parquet")
    if case == "demo":
        return {**common, "inputs": (str(REPO / "samples/texts.txt"),), "model_dir": SAMPLE_MODEL, "title": "demo"}
    if case in ("keico1000", "aozora20"):
        return {**common, "inputs": (str(inputs[case]),), "model_dir": SAMPLE_MODEL, "methods": tuple(CHEAP.split(","))}
    if case == "base100":
        return {**common, "inputs": (str(inputs[case]),), "model_dir": base_model, "methods": tuple(CHEAP.split(","))}
    if case == "mem128":
        return {**common, "inputs": (str(inputs[case]),), "model_dir": base_model, "max_length": 128}
    raise SystemExit(f"unknown case {case}")


# --------------------------------------------------------------------------- generation (child)


def generate(code: str, options: dict[str, Any], threads: int) -> dict[str, Any]:
    """In a fresh process: run one report with the checkout at ``code``; seconds and peak RSS."""
    sys.path.insert(0, code)
    for name in [m for m in sys.modules if m == "reportgen" or m.startswith("reportgen.")]:
        del sys.modules[name]
    import torch

    torch.set_num_threads(threads)
    import dataclasses

    import reportgen
    from reportgen.pipeline import RunOptions, run_report

    fields = {f.name for f in dataclasses.fields(RunOptions)}
    # Where runs set their own torch threads (--threads), give them the benchmark's count.
    options = {**options, "threads": threads}
    kwargs = {k: (Path(v) if k in ("out", "model_dir") else v) for k, v in options.items() if k in fields}
    before = _status_mib("VmRSS")
    start = time.perf_counter()
    result = run_report(RunOptions(**kwargs))
    seconds = time.perf_counter() - start
    fit = getattr(result, "fit", None)
    return {
        "code": str(Path(reportgen.__file__).resolve().parent.parent),
        "seconds": round(seconds, 1),
        "rss_before_mib": round(before),
        "peak_rss_mib": round(_status_mib("VmHWM")),
        "texts": result.texts,
        "budget": fit.summary_line() if fit is not None else "(no size budget in this version)",
        "rungs": list(fit.rungs) if fit is not None else None,
    }


def render(code: str, out: Path) -> dict[str, Any]:
    """In a fresh process: the report at ``out`` rebuilt from ``out``'s kept data file (``--render``)."""
    sys.path.insert(0, code)
    from reportgen.pipeline import Outputs, render_data_file

    start = time.perf_counter()
    result = render_data_file(out.with_suffix(".parquet"), Outputs(out=out, force=True))
    return {
        "code": code,
        "rendered_from": str(out.with_suffix(".parquet")),
        "render_seconds": round(time.perf_counter() - start, 1),
        "texts": result.texts,
        "budget": result.fit.summary_line() if result.fit is not None else "-",
    }


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------- browser


def measure_page(path: Path, deep_link: int | None, scroll_texts: int, timeout_s: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO / "tests"))
    from browser import CHROMIUM, LAUNCH_ARGS

    out: dict[str, Any] = {"file_bytes": path.stat().st_size}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            out.update(_load_and_scroll(browser, path, scroll_texts, timeout_s))
            if deep_link is not None:
                out.update(_deep_link(browser, path, deep_link, timeout_s))
        finally:
            browser.close()
    return out


def _context(browser: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)[:200]))
    page.add_init_script(INIT_SCRIPT)
    return context, page, errors


def _heap_mb(page: Any, collect: bool = False) -> float:
    """``JSHeapUsedSize`` from CDP ``Performance.getMetrics`` (after a full GC with ``collect``)."""
    cdp = page.context.new_cdp_session(page)
    if collect:
        cdp.send("HeapProfiler.enable")
        cdp.send("HeapProfiler.collectGarbage")
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return round(metrics["JSHeapUsedSize"] / 1e6, 1)


def _tasks(page: Any, since: float | None = None) -> dict[str, Any]:
    bench = page.evaluate("() => window.__bench")
    end = bench["bundleEnd"] or 0.0
    tasks = bench["longtasks"]
    bundle = [d for s, d in tasks if s <= end <= s + d + 1]
    after = [d for s, d in tasks if s > end and (since is None or s >= since)]
    return {
        "bundle_evaluated_ms": round(end),
        "bundle_task_ms": round(max(bundle)) if bundle else None,
        "longest_task_after_bundle_ms": round(max(after)) if after else 0,
        "tasks_over_200ms_after_bundle": sum(1 for d in after if d > 200),
        "first_chart_ms": round(bench["firstChart"]) if bench["firstChart"] is not None else None,
        "longtask_api": bench.get("noLongtask", "ok"),
    }


def _load_and_scroll(browser: Any, path: Path, scroll_texts: int, timeout_s: float) -> dict[str, Any]:
    context, page, errors = _context(browser)
    out: dict[str, Any] = {}
    try:
        start = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="load", timeout=timeout_s * 1000)
        try:
            page.wait_for_function("() => document.body.dataset.charts === 'done'", timeout=timeout_s * 1000)
            out["charts_done_s"] = round(time.perf_counter() - start, 2)
        except Exception:  # noqa: BLE001 - a page that never finishes is a result too
            out["charts_done_s"] = f"> {timeout_s:.0f}"
        page.wait_for_timeout(1000)
        load = _tasks(page)
        out.update({f"load_{k}" if k.startswith(("longest", "tasks_over")) else k: v for k, v in load.items()})
        out["heap_after_load_mb"] = _heap_mb(page)
        out["heap_after_load_gc_mb"] = _heap_mb(page, collect=True)
        count = page.evaluate("() => document.querySelectorAll('section.text').length")
        scroll_start = page.evaluate("() => performance.now()")
        for k in range(min(count, scroll_texts)):
            # Scrolled to, and its detail opened as a reader would: its charts are drawn now.
            page.evaluate(f"() => {{ const s = document.querySelectorAll('section.text')[{k}]; s.scrollIntoView(); s.querySelectorAll('details.more').forEach(d => {{ d.open = true; }}); }}")
            try:
                page.wait_for_function(
                    f"() => {{ const s = document.querySelectorAll('section.text')[{k}]; return s.dataset.state === 'summary' || window.__benchAllDrawn(s); }}",
                    timeout=60_000,
                )
            except Exception:  # noqa: BLE001
                pass
        page.wait_for_timeout(1000)
        scrolled = _tasks(page, since=scroll_start)
        out["scrolled_texts"] = min(count, scroll_texts)
        out["scroll_longest_task_ms"] = scrolled["longest_task_after_bundle_ms"]
        out["scroll_tasks_over_200ms"] = scrolled["tasks_over_200ms_after_bundle"]
        out["heap_after_scroll_mb"] = _heap_mb(page)
        out["heap_after_scroll_gc_mb"] = _heap_mb(page, collect=True)
        out["live"] = page.evaluate("() => window.reportgenPage ? [reportgenPage.liveTexts(), reportgenPage.liveViews()] : null")
        out["page_errors"] = errors[:5]
    finally:
        context.close()
    return out


def _deep_link(browser: Any, path: Path, index: int, timeout_s: float) -> dict[str, Any]:
    context, page, errors = _context(browser)
    target = f"text-{index}"
    page.add_init_script(f"window.__bench_target = {json.dumps(target)};")
    page.add_init_script("if (window.__bench) window.__bench.target = window.__bench_target;")
    try:
        page.goto(path.resolve().as_uri() + "#" + target, wait_until="load", timeout=timeout_s * 1000)
        page.wait_for_function("() => window.__bench.targetDetail !== null", timeout=timeout_s * 1000)
        bench = page.evaluate("() => window.__bench")
        # Then the reader scrolls through the opened parts: every chart of them drawn.
        page.wait_for_function(f"() => window.__benchAllDrawn(document.getElementById({json.dumps(target)}))", timeout=timeout_s * 1000, polling=50)
        every_ms = page.evaluate("() => window.__bench.everyChart")
        own = page.evaluate(f"() => {{ const s = document.getElementById({json.dumps(target)}); return s && s.dataset.drawMs ? Number(s.dataset.drawMs) : null; }}")
        tasks = _tasks(page)
        return {
            "deep_link_text": index,
            "deep_link_drawn_ms": round(bench["targetDrawn"]),
            "deep_link_after_bundle_ms": round(bench["targetDrawn"] - (bench["bundleEnd"] or 0)),
            "deep_link_own_draw_ms": own,
            "deep_link_detail_ms": round(bench["targetDetail"]),
            # When the reader's stand-in opened the parts, and whether the text's answer was drawn by then.
            "deep_link_parts_opened_ms": round(bench["partsOpened"]) if bench.get("partsOpened") is not None else None,
            "deep_link_parts_opened_on": bench.get("openedAt"),
            "deep_link_every_chart_ms": round(every_ms),
            "deep_link_longest_task_ms": tasks["longest_task_after_bundle_ms"],
            "deep_link_errors": errors[:5],
        }
    except Exception as err:  # noqa: BLE001
        # Where it stopped: the section, its charts and what the page had marked.
        state = page.evaluate(f"""() => {{ const s = document.getElementById({json.dumps(target)});
            return {{bench: window.__bench && [window.__bench.targetDrawn, window.__bench.targetDetail], section: s && s.dataset.state,
                     charts: s ? Array.from(s.querySelectorAll('.chart')).map(c => [c.dataset.chart, c.dataset.state || '', Math.round(c.getBoundingClientRect().top)]) : null}}; }}""")
        return {"deep_link_text": index, "deep_link_drawn_ms": f"not drawn: {str(err)[:80]}", "deep_link_state": state, "deep_link_errors": errors[:5]}
    finally:
        context.close()


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose reportgen builds the reports")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="keep the reports in this folder")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--faithfulness", default="full", choices=("full", "fast", "off"),
                        help="--faithfulness of the generated reports (fast or off: shorter generation)")
    parser.add_argument("--render", action="store_true",
                        help="rebuild each report from the data file a previous run kept in --keep (no model)")
    parser.add_argument("--scroll-texts", type=int, default=25, help="texts to scroll through after load")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a page")
    parser.add_argument("--out", type=Path, default=Path("bench/out/page.json"))
    args = parser.parse_args()
    if args.render and args.keep is None:
        parser.error("--render needs --keep DIR: the folder where a generating run kept its data files")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    info = begin(args.threads)
    results: dict[str, Any] = {"machine": info, "code": str(args.code.resolve()), "cases": {}}
    with tempfile.TemporaryDirectory(prefix="reportgen-page-") as workdir:
        folder = args.keep or Path(workdir)
        folder.mkdir(parents=True, exist_ok=True)
        inputs = write_inputs(folder)
        base_model = None
        if not args.render and any(c in ("base100", "mem128") for c in cases):
            from benchlib import load_models

            base_model = load_models(["sample", "base"], folder)["base"].folder
        context = multiprocessing.get_context("spawn")
        for case in cases:
            if args.render and case == "mem128":
                print("[mem128] skipped: --render rebuilds pages, and mem128 measures generation memory (no page, no data file)", flush=True)
                continue
            out = folder / f"{case}.html"
            with context.Pool(1) as pool:
                if args.render:
                    print(f"[{case}] rendering from {out.with_suffix('.parquet')} ...", flush=True)
                    generated = pool.apply(render, (str(args.code.resolve()), out))
                else:
                    options = case_options(case, inputs, base_model, out, args.faithfulness)
                    print(f"[{case}] generating with {args.code} ...", flush=True)
                    generated = pool.apply(generate, (str(args.code.resolve()), options, args.threads))
            print(f"[{case}] {generated}", flush=True)
            row: dict[str, Any] = {"generation": generated}
            if not args.no_browser and case != "mem128":
                deep = generated["texts"] // 2 if generated["texts"] > 1 else 0
                row["page"] = measure_page(out, deep, args.scroll_texts, args.timeout)
                print(f"[{case}] {row['page']}", flush=True)
            results["cases"][case] = row
    finish(info)
    write_json(args.out, results)
    print(table(results))


def table(results: dict[str, Any]) -> str:
    headers = ["case", "texts", "file", "budget outcome", "first chart", "bundle task", "longest task after bundle (load / scroll)",
               "JS heap (load / scroll)", "deep link: answer / detail in the window / every chart, scrolled through (its own draw)", "generation", "peak RSS"]
    rows = []
    for case, row in results["cases"].items():
        g, p = row["generation"], row.get("page", {})
        rows.append([
            case, g["texts"], f"{p['file_bytes'] / 1e6:.2f} MB" if p else "-", g["budget"],
            f"{p.get('first_chart_ms')} ms" if p else "-",
            f"{p.get('bundle_task_ms')} ms" if p else "-",
            f"{p.get('load_longest_task_after_bundle_ms')} / {p.get('scroll_longest_task_ms')} ms" if p else "-",
            f"{p.get('heap_after_load_mb')} / {p.get('heap_after_scroll_mb')} MB" if p else "-",
            f"{p.get('deep_link_drawn_ms')} / {p.get('deep_link_detail_ms')} / {p.get('deep_link_every_chart_ms')} ms ({p.get('deep_link_own_draw_ms')} ms)" if p else "-",
            f"{g['seconds']} s" if "seconds" in g else f"rendered in {g['render_seconds']} s",
            f"{g['peak_rss_mib']} MiB" if "peak_rss_mib" in g else "-",
        ])
    return markdown_table(headers, rows)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
