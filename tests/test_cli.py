"""The CLI end to end with Typer's runner: every input format, the CSV export, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import handmade
from conftest import ONE_THREAD
from reportgen import __version__, data
from reportgen.cli import app
from reportgen.export import TOKEN_COLUMNS
from reportgen.extraction import encode_texts, extract
from reportgen.inputs import InputText
from reportgen.loading import load_model

from pagedata import payload, texts_in

TEXTS = ["本日はご来店いただき、誠にありがとうございます。", "今日は来てくれてありがとう。", "ご注文の商品は明日発送いたします。"]
# Tests of input reading and option handling run one cheap method: the explanation methods
# (gradients, Integrated Gradients and their faithfulness) are tested on their own elsewhere.
CHEAP = ("--methods", "cls_attention")


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str]:
    if args and args[0] == "run":
        args = (*args, *ONE_THREAD)
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.output


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def texts_of(rows: list[dict[str, str]]) -> dict[int, str]:
    return {int(r["text_id"]): r["text"] for r in rows}


@pytest.mark.parametrize("fmt", ["txt", "csv", "tsv", "jsonl", "stdin"])
def test_every_input_format(fmt: str, tiny_model: Path, tmp_path: Path) -> None:
    out, table = tmp_path / "r.html", tmp_path / "t.csv"
    stdin = None
    if fmt == "txt":
        source = tmp_path / "in.txt"
        source.write_text(TEXTS[0] + "\n\n  \n" + "\n".join(TEXTS[1:]) + "\n", encoding="utf-8")
        extra: list[str] = [str(source)]
    elif fmt in ("csv", "tsv"):
        source = tmp_path / f"in.{fmt}"
        with source.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="," if fmt == "csv" else "\t")
            writer.writerow(["id", "body", "score"])
            for i, text in enumerate(TEXTS):
                writer.writerow([i, text, i / 2])
        extra = [str(source), "--text-column", "body", "--label-column", "score"]
    elif fmt == "jsonl":
        source = tmp_path / "in.jsonl"
        source.write_text("\n".join(json.dumps({"text": t, "gold": 0.5}, ensure_ascii=False) for t in TEXTS), encoding="utf-8")
        extra = [str(source), "--label-column", "gold"]
    else:
        stdin = "\n".join(TEXTS) + "\n"
        extra = ["-"]
    code, output = invoke("run", *extra, "--model", str(tiny_model), "--out", str(out), "--csv", str(table), *CHEAP, stdin=stdin)
    assert code == 0, output
    assert str(out) in output and str(table) in output
    rows = read_rows(table)
    assert texts_of(rows) == dict(enumerate(TEXTS))
    html = out.read_text(encoding="utf-8")
    assert texts_in(html) == TEXTS
    if fmt == "txt":
        assert "2 blank lines skipped" in html
    if fmt in ("txt", "stdin"):
        assert {r["gold"] for r in rows} == {""}
        assert payload(html)["overview"]["gold"] == [None] * len(TEXTS)
        assert 'data-gold="0"' in html  # the overview table has no gold or error column
    else:
        golds = {int(r["text_id"]): float(r["gold"]) for r in rows}
        assert golds == ({0: 0.0, 1: 0.5, 2: 1.0} if fmt in ("csv", "tsv") else {0: 0.5, 1: 0.5, 2: 0.5})
        # The page shows each gold score beside the prediction with the signed error
        # (prediction - gold), in the overview table and in the text's own heading; both are
        # drawn by the page's script from the overview data.
        assert 'data-gold="1"' in html
        overview = payload(html)["overview"]
        assert overview["gold"] == [golds[i] for i in range(len(TEXTS))]
        predictions = {int(r["text_id"]): float(r["prediction"]) for r in rows}
        assert overview["prediction"] == pytest.approx([predictions[i] for i in range(len(TEXTS))], abs=1e-6)


def test_csv_export_schema_and_values(tiny_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS), encoding="utf-8")
    table = tmp_path / "t.csv"
    code, output = invoke("run", str(source), "--model", str(tiny_model), "--out", str(tmp_path / "r.html"), "--csv", str(table))
    assert code == 0, output
    rows = read_rows(table)
    assert tuple(rows[0].keys())[: len(TOKEN_COLUMNS)] == TOKEN_COLUMNS
    for required in ("text_id", "text", "position", "token", "is_special", "cls_attention", "mean_received", "prediction"):
        assert required in rows[0]

    # Independent numbers: one text at a time, straight from the extraction's raw attention.
    loaded = load_model(tiny_model)
    for text_id, text in enumerate(TEXTS):
        mine = [r for r in rows if int(r["text_id"]) == text_id]
        [enc] = encode_texts(loaded, [InputText(text_id, text, "x")], 64)
        [res] = extract(loaded, [enc], batch_size=1)
        last = res.layer_mean[-1]
        assert [int(r["position"]) for r in mine] == list(range(len(enc.tokens)))
        assert [r["token"] for r in mine] == list(enc.tokens)
        assert [int(r["is_special"]) for r in mine] == [int(s) for s in enc.special]
        np.testing.assert_allclose([float(r["cls_attention"]) for r in mine], last[0], rtol=1e-5)
        np.testing.assert_allclose([float(r["mean_received"]) for r in mine], last.mean(axis=0), rtol=1e-5)
        assert [float(r["prediction"]) for r in mine] == pytest.approx([res.prediction] * len(mine), rel=1e-6)


def test_classification_model_runs_end_to_end(tiny_classifier: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS), encoding="utf-8")
    out = tmp_path / "r.html"
    code, output = invoke("run", str(source), "--model", str(tiny_classifier), "--out", str(out))
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    assert "classification" in html and "class_" in html


def test_version_and_help() -> None:
    code, output = invoke("--version")
    assert code == 0 and __version__ in output
    code, output = invoke("run", "--help")
    assert code == 0
    for option in ("--model", "--checkpoint", "--out", "--csv", "--text-column", "--label-column", "--max-length", "--batch-size", "--device", "--title", "--max-size"):
        assert option in output


def in_a_fresh_process(*args: str) -> tuple[int, list[str]]:
    """``reportgen ARGS`` run in a new interpreter: its exit code and the torch and transformers
    modules it imported."""
    code, heavy, _ = in_a_fresh_process_with_error(*args)
    return code, heavy


def in_a_fresh_process_with_error(*args: str) -> tuple[int, list[str], str]:
    """What :func:`in_a_fresh_process` returns, and the last line the command wrote to stderr."""
    probe = (
        "import json, sys\n"
        "code = 0\n"
        "from reportgen.cli import app\n"
        "try:\n"
        f"    app({list(args)!r}, prog_name='reportgen')\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers'))\n"
        "print(json.dumps([code, heavy]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    code, heavy = json.loads(result.stdout.splitlines()[-1])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return code, heavy, lines[-1] if lines else ""


def test_help_version_and_bad_usage_import_no_torch(tmp_path: Path) -> None:
    # torch takes seconds to import (transformers' ALBERT more): the CLI imports it only to run a model.
    for args, expected in ((["--help"], 0), (["run", "--help"], 0), (["--version"], 0), (["run", "--bogus"], 2)):
        assert in_a_fresh_process(*args) == (expected, []), args


def test_bad_run_input_is_refused_before_torch(tmp_path: Path) -> None:
    # A wrong file, model folder or option is refused before the model's code is imported, so
    # the one-line error comes at once, not after the seconds torch takes.
    source = tmp_path / "in.txt"
    source.write_text(TEXTS[0], encoding="utf-8")
    no_config = tmp_path / "no-config"
    no_config.mkdir()
    out = ("--out", str(tmp_path / "r.html"))
    cases = [
        (["run", str(tmp_path / "missing.txt")], "missing.txt: no such file"),
        (["run", str(source), "--model", str(tmp_path / "nowhere")], "nowhere: model folder not found"),
        (["run", str(source), "--model", str(source)], "in.txt: is a file; --model takes the model's folder"),
        (["run", str(source), "--model", str(no_config)], "no-config: no config.json"),
        (["run", str(source), "--methods", "bogus"], "--methods: unknown method 'bogus'"),
        (["run", str(source), "--target-range", "1,0"], "--target-range: low (1) must be below high (0)"),
        (["run", str(source), "--device", "tpu"], "--device 'tpu': expected auto, cpu or cuda"),
    ]
    for args, message in cases:
        code, heavy, error = in_a_fresh_process_with_error(*args, *out)
        assert (code, heavy) == (2, []), args
        assert error.startswith("reportgen: error: ") and message in error, (args, error)
    assert not (tmp_path / "r.html").exists()


def test_render_of_a_data_file_imports_no_torch(tmp_path: Path) -> None:
    source, out = tmp_path / "d.parquet", tmp_path / "r.html"
    data.write_data(
        source, handmade.RUN, handmade.MODEL, handmade.METHODS, handmade.records(with_faithfulness=False, with_agreement=False),
        faithfulness=None, agreement=None, ig_tolerance=0.05,
    )
    assert in_a_fresh_process("render", str(source), "--out", str(out)) == (0, [])
    assert texts_in(out.read_text(encoding="utf-8")) == list(handmade.TEXTS)


def test_default_out_is_a_new_file_under_reports(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.txt"
    source.write_text(TEXTS[0], encoding="utf-8")
    code, output = invoke("run", str(source), "--model", str(tiny_model), *CHEAP)
    assert code == 0, output
    written = list((tmp_path / "reports").glob("report-*.html"))
    assert len(written) == 1 and str(written[0].relative_to(tmp_path)) in output


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "missing.txt"], "missing.txt: no such file"),
        (["run", "{empty}"], "no texts found"),
        (["run", "{source}", "--batch-size", "0"], "batch-size"),
        (["run", "{source}", "--device", "tpu"], "--device"),
        (["run", "{source}", "--model", "{nowhere}"], "model folder not found"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args: list[str], message: str, tiny_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text(TEXTS[0], encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    filled = [
        a.format(source=source, empty=empty, nowhere=tmp_path / "nowhere")
        for a in args
    ]
    if "--model" not in filled:
        filled += ["--model", str(tiny_model)]
    code, output = invoke(*filled, "--out", str(tmp_path / "r.html"))
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output
    assert not (tmp_path / "r.html").exists()


def test_max_size_is_kept_declared_and_refused_when_impossible(tiny_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    # Texts of different lengths: the longest must lose detail first.
    source.write_text("\n".join([TEXTS[0] * 3, *TEXTS]) + "\n", encoding="utf-8")
    whole = tmp_path / "whole.html"
    code, output = invoke("run", str(source), "--model", str(tiny_model), "--out", str(whole), "--max-size", "0", "--no-gradients")
    assert code == 0, output
    assert "(--max-size 0): every text in full detail" in output
    size = whole.stat().st_size
    # A budget a few kB short of the full report.
    limit = (size - 3000) / 1e6
    out, table = tmp_path / "small.html", tmp_path / "t.csv"
    code, output = invoke(
        "run", str(source), "--model", str(tiny_model), "--out", str(out), "--csv", str(table),
        "--max-size", f"{limit:.6f}", "--no-gradients",
    )
    assert code == 0, output
    assert out.stat().st_size <= limit * 1e6
    assert "longest texts lose detail first" in output and "full detail needs --max-size" in output
    html = out.read_text(encoding="utf-8")
    assert "longest texts lose detail first" in html and "--csv still writes every number" in html
    assert {int(r["text_id"]) for r in read_rows(table)} == {0, 1, 2, 3}
    code, output = invoke("run", str(source), "--model", str(tiny_model), "--out", str(tmp_path / "no.html"), "--max-size", "0.1")
    assert code == 2 and "--max-size 0.1: too small" in output and "Traceback" not in output
    assert not (tmp_path / "no.html").exists()
