"""Issue 10 (what is predicted, sharing hygiene) and issue 13 (--faithfulness full|fast|off),
end to end on the real sample model through the CLI and the Python API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import reportgen
from conftest import ONE_THREAD
from pagedata import detail, everything, payload
from reportgen import data
from reportgen.cli import app
from reportgen.inputs import hide_paths, shown_path

TEXTS = "本日はご来店いただき、誠にありがとうございます。\n今日は来てくれてありがとう。\nえっ、マジ?!\n"
BASE = ("--methods", "cls_attention,grad_input", *ONE_THREAD)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", *args, *BASE])
    return result.exit_code, result.output


@pytest.fixture()
def private(tmp_path: Path, sample_model: Path) -> tuple[Path, Path]:
    """An input file and a model folder under a private-looking absolute folder."""
    folder = (tmp_path / "home" / "someone-private" / "project").resolve()
    folder.mkdir(parents=True)
    texts = folder / "texts.txt"
    texts.write_text(TEXTS, encoding="utf-8")
    model = folder / "my-model"
    shutil.copytree(sample_model, model)
    return texts, model


def test_absolute_paths_never_reach_the_shared_files(private: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts, model = private
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1609459200")
    out = tmp_path / "out"
    code, output = run(
        str(texts), "--model", str(model), "--out", str(out / "r.html"), "--csv", str(out / "t.csv"),
        "--faithfulness-csv", str(out / "f.csv"), "--data", str(out / "d.parquet"), "--summary", str(out / "s.md"),
        "--faithfulness", "fast",
    )
    assert code == 0, output
    secret = str(texts.parent).encode("utf-8")
    html = (out / "r.html").read_bytes()
    assert b"someone-private" not in html and secret not in html
    whole = everything(html.decode("utf-8"))  # the page's compressed blocks too
    assert "someone-private" not in whole
    for name in ("t.csv", "f.csv", "s.md"):
        assert b"someone-private" not in (out / name).read_bytes(), name
    meta = json.dumps(data.read_metadata(out / "d.parquet"), ensure_ascii=False)
    assert "someone-private" not in meta
    # Each text says whether its shaded method beats the random orders there.
    page = payload(html.decode("utf-8"))
    verdicts = [detail(page, t)["faith"]["verdict"] for t in range(3)]
    assert all(v is not None and v[0] in (0, 1) for v in verdicts)  # [beats random, score, random's]
    # Named by file name: the reader still sees which file and which model.
    assert "texts.txt:1" in whole and b"my-model" in html
    # Top tokens skip punctuation: the third text is mostly "えっ、マジ?!".
    report = data.report_from_data(data.read_data(out / "d.parquet"))
    assert all(tok not in ("、", "?", "!", "?!", "\u2423") for t in report.texts for tok in t.top_tokens)
    # render of the data file gives the same bytes.
    again = CliRunner().invoke(app, ["render", str(out / "d.parquet"), "--out", str(out / "again.html")])
    assert again.exit_code == 0, again.output
    assert (out / "again.html").read_bytes() == html


def test_show_paths_opts_in(private: tuple[Path, Path], tmp_path: Path) -> None:
    texts, model = private
    code, output = run(
        str(texts), "--model", str(model), "--out", str(tmp_path / "r.html"), "--show-paths", "--faithfulness", "off",
        "--data", str(tmp_path / "d.parquet"),
    )
    assert code == 0, output
    html = (tmp_path / "r.html").read_bytes()
    assert str(texts.parent) in everything(html.decode("utf-8"))
    # A run without faithfulness re-renders from its data file to the same bytes.
    assert data.read_metadata(tmp_path / "d.parquet")["faithfulness"] is None
    again = CliRunner().invoke(app, ["render", str(tmp_path / "d.parquet"), "--out", str(tmp_path / "again.html")])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "again.html").read_bytes() == html


def test_shown_path_rules() -> None:
    assert shown_path("data/texts.txt") == "data/texts.txt"
    assert shown_path("/home/me/data/texts.txt") == "texts.txt"
    assert shown_path("../secret/texts.txt") == "texts.txt"
    assert shown_path("~/texts.txt") == "texts.txt"
    assert shown_path("/home/me/texts.txt", show=True) == "/home/me/texts.txt"
    assert shown_path("-") == "-"
    assert hide_paths("loaded from the local Hugging Face cache: /home/me/.cache/hub/models--a--b/snapshots/abc") == (
        "loaded from the local Hugging Face cache: abc"
    )
    assert hide_paths("--out=/home/me/r.html") == "--out=r.html"
    assert hide_paths("0 = casual … 1 = polite, a/b") == "0 = casual … 1 = polite, a/b"


def test_the_sample_model_says_what_it_predicts(sample_model: Path, tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text(TEXTS, encoding="utf-8")
    code, output = run(str(texts), "--model", str(sample_model), "--out", str(tmp_path / "r.html"), "--faithfulness", "off")
    assert code == 0, output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Predicts <strong>politeness</strong> on a scale of 0 to 1: 0 = casual" in html
    assert '<span class="target">politeness</span>' in html and "on 0–1" in html
    # --faithfulness off: said so, no verdict, no table.
    assert "Faithfulness was not measured" in html and 'class="faith" data-unit' not in html
    assert "(most faithful)" not in html
    assert all(detail(payload(html), t)["faith"] is None for t in range(3))
    # The command line overrides the config.
    code, output = run(
        str(texts), "--model", str(sample_model), "--out", str(tmp_path / "o.html"), "--faithfulness", "off",
        "--target-name", "formality", "--target-range", "1,5",
    )
    assert code == 0, output
    html = (tmp_path / "o.html").read_text(encoding="utf-8")
    assert "Predicts <strong>formality</strong> on a scale of 1 to 5" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--faithfulness", "half"), "--faithfulness half: expected one of full, fast, off"),
        (("--target-range", "1"), "--target-range '1': expected LO,HI, e.g. 0,1"),
        (("--target-range", "5,1"), "--target-range: low (5) must be below high (1)"),
    ],
)
def test_bad_options_are_one_line_errors(sample_model: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text(TEXTS, encoding="utf-8")
    code, output = run(str(texts), "--model", str(sample_model), "--out", str(tmp_path / "r.html"), *args)
    assert code == 2 and output.strip() == f"reportgen: error: {message}"
    assert not (tmp_path / "r.html").exists()


def test_the_api_takes_the_same_options(sample_model: Path) -> None:
    off = reportgen.explain(TEXTS.split("\n")[:2], str(sample_model), methods="cls_attention,grad_input", faithfulness="off")
    assert off.verdict is None and off.data.faithfulness is None and off.data.run.faithfulness == "off"
    assert off.target == ("politeness", (0.0, 1.0), off.data.model.target_description)
    assert off.data.highlight == "grad_input"  # no verdict: the preferred signed method
    fast = reportgen.explain(
        TEXTS.split("\n")[:2], str(sample_model), methods="cls_attention,grad_input", faithfulness="fast", target_name="tone"
    )
    assert fast.data.faithfulness is not None and fast.data.faithfulness.mode == "fast"
    assert fast.verdict in ("clear", "tied") and fast.target[0] == "tone"
    assert "tone" in repr(fast)
