"""Texts in chunks: the same numbers as one computation, a killed run resumed, the progress line.

The kill test forks the real CLI (as tests/test_crash_safety.py does) with one text per chunk,
SIGKILLs it once some chunks are on disk, resumes it with ``--resume`` and compares every file
with an uninterrupted run's, byte for byte.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reportgen import pipeline
from reportgen.cli import app
from reportgen.engine import DEFAULT_CHUNK_SIZE, LocalEngine, PartStore, encode_part, parts_folder
from reportgen.inputs import read_inputs
from reportgen.loading import load_model
from reportgen.progress import TextProgress, clock_text

from test_crash_safety import fork_cli, kill_when

TEXTS = [
    "本日はご来店いただき、誠にありがとうございます。",
    "今日は来てくれてありがとう。",
    "ご注文の商品は明日発送いたします。",
    "頼まれたもの、明日送るね。",
    "お客様のご意見をお聞かせください。",
    "意見を聞かせてよ。",
]
CHEAP = ["--methods", "cls_attention,rollout,grad_input", "--threads", "1"]
EPOCH = "1764000000"


@pytest.fixture()
def texts(tmp_path: Path) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


def test_one_chunk_is_what_chunks_of_three_compute(tiny_model: Path, texts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same texts, chunk size 3 against the default (one chunk): every per-text number agrees and
    the aggregates computed at the end (faithfulness table, best method, mean agreement) are the
    same. (Not bit for bit: other texts share a forward pass, see docs/data-file.md; runs with
    the same chunk size are byte-identical, which the resume test checks.)"""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    loaded = load_model(tiny_model, None, "cpu")
    inputs = read_inputs((str(texts),))
    methods = ("cls_attention", "rollout", "grad_input", "integrated_gradients")
    whole = pipeline.compute(loaded, inputs, pipeline.ExplainOptions(methods=methods, ig_steps=8))
    chunked = pipeline.compute(loaded, inputs, pipeline.ExplainOptions(methods=methods, ig_steps=8, chunk_size=3))
    assert len(TEXTS) <= DEFAULT_CHUNK_SIZE
    assert [r.text_id for r in chunked.records] == list(range(len(TEXTS)))
    for a, b in zip(whole.records, chunked.records):
        assert np.array_equal(a.extraction.heads_q, b.extraction.heads_q)
        assert a.extraction.prediction == pytest.approx(b.extraction.prediction, abs=1e-6)
        for name in methods:
            np.testing.assert_allclose(a.scores[name].scores, b.scores[name].scores, atol=1e-6)
        assert a.faithfulness.keys() == b.faithfulness.keys()
    assert whole.faithfulness is not None and chunked.faithfulness is not None
    assert [s.method for s in whole.faithfulness.summary] == [s.method for s in chunked.faithfulness.summary]
    assert whole.faithfulness.best == chunked.faithfulness.best
    assert len(chunked.faithfulness.per_text) == len(whole.faithfulness.per_text)
    assert whole.faithfulness.by_word is not None and chunked.faithfulness.by_word is not None
    assert whole.agreement is not None and chunked.agreement is not None
    np.testing.assert_allclose(whole.agreement.mean, chunked.agreement.mean, atol=1e-6)
    assert np.array_equal(whole.agreement.counts, chunked.agreement.counts)
    for a, b in zip(whole.faithfulness.per_text, chunked.faithfulness.per_text):
        assert (a.text_id, a.method) == (b.text_id, b.method)
        assert a.comprehensiveness_raw == pytest.approx(b.comprehensiveness_raw, abs=1e-6)
    for a, b in zip(whole.faithfulness.summary, chunked.faithfulness.summary):
        assert a.score == pytest.approx(b.score, abs=1e-6) and a.texts == b.texts


class BackwardsEngine(LocalEngine):
    """The local engine's chunks, handed over last first, half of them as part-file bytes: what an
    engine with several workers (Ray's actor pool) may do."""

    def run(self, todo, methods, options, max_length, header, progress):  # noqa: ANN001, ANN201
        done = list(super().run(todo, methods, options, max_length, header, progress))
        for k, (index, result) in enumerate(reversed(done)):
            yield index, encode_part(result, header) if k % 2 else result


def test_chunks_handed_over_in_any_order_give_the_records_in_input_order(tiny_model: Path, texts: Path) -> None:
    loaded = load_model(tiny_model, None, "cpu")
    inputs = read_inputs((str(texts),))
    options = pipeline.ExplainOptions(methods=("cls_attention", "grad_input"), chunk_size=2)
    ordered = pipeline.compute(loaded, inputs, options)
    shuffled = pipeline.compute(loaded, inputs, options, engine=BackwardsEngine(loaded))
    assert [r.text_id for r in shuffled.records] == [r.text_id for r in ordered.records] == list(range(len(TEXTS)))
    for a, b in zip(ordered.records, shuffled.records):
        assert a.item == b.item
        assert np.array_equal(a.extraction.heads_q, b.extraction.heads_q)
        np.testing.assert_array_equal(a.scores["grad_input"].scores, b.scores["grad_input"].scores)
    assert ordered.faithfulness is not None and shuffled.faithfulness is not None
    assert ordered.faithfulness.best == shuffled.faithfulness.best


def run_cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def outputs(folder: Path) -> list[str]:
    return ["--out", str(folder / "r.html"), "--csv", str(folder / "t.csv"), "--faithfulness-csv", str(folder / "f.csv"),
            "--data", str(folder / "d.parquet")]


def test_a_killed_run_resumes_to_the_files_of_an_uninterrupted_run(
    tiny_model: Path, texts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    # The paths are part of the recorded command line: both runs use the same names, in turn.
    work = tmp_path / "work"
    work.mkdir()
    args = ["run", str(texts), "--model", str(tiny_model), *outputs(work), "--chunk-size", "1", *CHEAP]
    code, log = run_cli(args)
    assert code == 0, log
    assert "6/6 texts" in log and "already done" not in log
    assert not parts_folder(work / "d.parquet").exists()  # cleaned up at the end
    expected = {p.name: p.read_bytes() for p in work.iterdir()}
    for p in work.iterdir():
        p.unlink()

    parts = parts_folder(work / "d.parquet")
    pid, _marker, child_log = fork_cli("none", args, tmp_path)
    kill_when(pid, child_log, lambda: len(list(parts.glob("chunk-*.parquet"))) >= 2, "two written chunks")
    done = len(list(parts.glob("chunk-*.parquet")))
    assert 2 <= done < len(TEXTS), "the kill came after the run finished its chunks"
    assert not (work / "r.html").exists() and not (work / "d.parquet").exists()

    code, log = run_cli([*args, "--resume"])
    assert code == 0, log
    # The chunks on disk were reused, not computed again.
    assert f"{done} texts already done (resumed)" in log
    assert {p.name: p.read_bytes() for p in work.iterdir()} == expected
    assert not parts.exists()


def test_a_run_drops_every_record_before_the_page_and_keeps_no_heads(
    tiny_model: Path, texts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end of a run holds no text's heads (with ``--data`` too: the file reads them back from
    the parts) and no record once the report is built: memory grows with the page's budget,
    not with texts x layers x heads x tokens^2 (issue 13 item 3, issue 14 item 6)."""
    import gc
    import weakref

    seen: dict[str, object] = {}
    real_build_report, real_render = pipeline.build_report, pipeline.Outputs.render

    def build_report(run, model, records, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen["heads"] = [r.extraction.heads_q.shape for r in records]
        seen["layers"] = [r.extraction.layer_mean.shape[0] for r in records]
        seen["records"] = [weakref.ref(r) for r in records]
        return real_build_report(run, model, records, *args, **kwargs)

    def render(self, report):  # noqa: ANN001, ANN202
        gc.collect()
        seen["alive"] = sum(ref() is not None for ref in seen["records"])  # type: ignore[union-attr]
        return real_render(self, report)

    monkeypatch.setattr(pipeline, "build_report", build_report)
    monkeypatch.setattr(pipeline.Outputs, "render", render)
    out = tmp_path / "r.html"
    pipeline.run_report(pipeline.RunOptions(
        inputs=(str(texts),), model_dir=tiny_model, out=out, methods=("cls_attention", "rollout"), threads=1,
        data=tmp_path / "r.parquet", chunk_size=2,
    ))
    assert len(seen["heads"]) == len(TEXTS)  # type: ignore[arg-type]
    assert all(shape[:2] == (0, 0) for shape in seen["heads"])  # type: ignore[union-attr]
    assert seen["layers"] == [1] * len(TEXTS)  # the last layer's head mean only: what the report reads
    assert seen["alive"] == 0
    # The data file still holds every head, read back from the parts as it was written.
    from reportgen.data import read_data

    stored = read_data(tmp_path / "r.parquet")
    assert all(r.extraction.heads_q.shape[0] > 0 and r.extraction.heads_q.shape[1] > 0 for r in stored.records)


def test_freed_memory_is_handed_back_after_every_chunk(tiny_model: Path, texts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each chunk starts from the memory the last one started from (glibc keeps freed blocks in
    its heap otherwise, and a run's peak would creep up chunk by chunk)."""
    from reportgen import engine

    calls = []
    monkeypatch.setattr(engine, "release_freed_memory", lambda: calls.append(1) or True)
    loaded = load_model(tiny_model, None, "cpu")
    pipeline.compute(loaded, read_inputs((str(texts),)), pipeline.ExplainOptions(methods=("cls_attention",), chunk_size=2))
    assert len(calls) == 3  # 6 texts in chunks of 2
    assert engine.release_freed_memory() in (True, False)  # glibc or not: never raises


def test_resume_refuses_other_options_with_one_line(tiny_model: Path, texts: Path, tmp_path: Path) -> None:
    data = tmp_path / "d.parquet"
    # A folder of parts as a killed run with other options leaves it.
    PartStore(parts_folder(data), "another run's fingerprint", resume=False)
    args = ["run", str(texts), "--model", str(tiny_model), "--out", str(tmp_path / "r.html"), "--data", str(data), *CHEAP]
    code, log = run_cli([*args, "--resume"])
    assert code == 2
    assert log.strip().splitlines() == [
        f"reportgen: error: --resume: {parts_folder(data)} was written by a run with other inputs, model or options; "
        "run without --resume to start again"
    ]
    assert not (tmp_path / "r.html").exists()
    code, log = run_cli(["run", str(texts), "--model", str(tiny_model), "--out", str(tmp_path / "r.html"), "--resume", *CHEAP])
    assert code == 2 and "--resume needs --data" in log


def test_progress_without_a_terminal_is_one_line_per_chunk() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = TextProgress(stream, tty=False, clock=lambda: now[0])
    progress.start(1000, "texts")
    progress.resumed(200)
    now[0] = 10.0
    progress.advance(100)
    progress.stop()
    assert stream.getvalue().splitlines() == [
        "reportgen: 200 texts already done (resumed)",
        # Resumed texts count as done, not towards the rate: 100 texts in 10 s, 700 left.
        "reportgen: 300/1000 texts, 10.00 texts/s, 1:10 left",
    ]


def test_progress_on_a_terminal_redraws_one_line() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = TextProgress(stream, tty=True, clock=lambda: now[0])
    progress.start(4, "texts")
    progress.stage("attention")
    now[0] = 2.0
    progress.advance(2)
    progress.stop()
    drawn = stream.getvalue()
    assert "\n" not in drawn and drawn.count("\r") >= 3
    assert "[attention]" in drawn and "2/4 texts, 1.00 texts/s, 0:02 left" in drawn
    assert drawn.endswith("\r\x1b[2K")  # the line is cleared at the end
    assert clock_text(3725) == "1:02:05" and clock_text(float("nan")) == "?"


def test_quiet_silences_the_progress(tiny_model: Path, texts: Path, tmp_path: Path) -> None:
    args = ["run", str(texts), "--model", str(tiny_model), "--out", str(tmp_path / "r.html"), "--methods", "cls_attention",
            "--threads", "1"]
    code, log = run_cli(args)
    assert code == 0 and "6/6 texts" in log
    code, log = run_cli([*args, "--force", "--quiet"])
    assert code == 0, log
    assert "texts/s" not in log


def test_chunks_close_at_the_text_count_or_the_attention_budget() -> None:
    from reportgen.engine import ATTENTION_BUDGET, plan_chunks

    assert plan_chunks([10] * 5, 16, 2) == [range(0, 2), range(2, 4), range(4, 5)]
    # 128-token texts on a base-size model (12 x 12 heads): the budget closes chunks long before 256 texts.
    spans = plan_chunks([128] * 200, 144, 256)
    assert all(144 * 128 * 128 * len(s) <= ATTENTION_BUDGET for s in spans) and len(spans) == 4
    assert [len(s) for s in spans] == [56, 56, 56, 32]
    # One text above the budget is a chunk of its own, never an empty chunk.
    assert plan_chunks([4000, 5], 144, 256) == [range(0, 1), range(1, 2)]
    assert plan_chunks([], 16, 256) == []
