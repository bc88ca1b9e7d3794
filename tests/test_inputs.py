"""Bad input gets a one-line error naming the problem and exit code 2; good input is read exactly.

Error cases go through the CLI (in process): the exit code, a single ``reportgen: error: ...``
line on stderr that names the file and the line or column, no traceback, no report written.
Property tests (hypothesis) check that every reader returns any Unicode text as it was written.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import ONE_THREAD
from reportgen.cli import app
from reportgen.inputs import InputError, read_inputs

OK = "本日はご来店いただき、誠にありがとうございます。"
# Runs that get past the input stage use one cheap method: these tests are about reading input
# and writing output; the explanation methods are tested on their own elsewhere.
CHEAP = ("--methods", "cls_attention")


def run_cli(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    if args and args[0] == "run":
        args = (*args, *ONE_THREAD)
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code: int, stderr: str, *fragments: str) -> None:
    assert code == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("reportgen: error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def write(path: Path, data: str | bytes) -> str:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


# name -> (files to write, extra CLI args, fragments the one-line message must hold)
BAD_INPUTS: dict[str, tuple[dict[str, str | bytes], list[str], list[str]]] = {
    "missing file": ({}, ["{d}/missing.txt"], ["missing.txt: no such file"]),
    "a folder": ({}, ["{d}"], ["is a folder"]),
    "only blank lines": ({"e.txt": "\n  \n\u3000\r\n\t\n"}, ["{d}/e.txt"], ["e.txt: no texts found", "after skipping 4 blank"]),
    "empty file": ({"e.txt": ""}, ["{d}/e.txt"], ["e.txt: no texts found"]),
    "only a BOM": ({"e.txt": "\ufeff\n"}, ["{d}/e.txt"], ["no texts found"]),
    "undecodable bytes": (
        {"bad.txt": OK.encode() + b"\nfine\nbroken \xff\xfe here\n"},
        ["{d}/bad.txt"],
        ["bad.txt: line 3, byte 8", "cannot decode as utf-8", "0xff", "--encoding"],
    ),
    "utf-16 read as utf-8": ({"u16.txt": "\ufeffこんにちは\n".encode("utf-16-le")}, ["{d}/u16.txt"], ["u16.txt: line 1, byte 1", "--encoding"]),
    "cp932 read as utf-8": ({"sj.txt": OK.encode("cp932")}, ["{d}/sj.txt"], ["sj.txt: line 1", "--encoding"]),
    "unknown encoding": ({"a.txt": OK}, ["{d}/a.txt", "--encoding", "klingon-8"], ["--encoding 'klingon-8': unknown encoding"]),
    "csv without the column": (
        {"a.csv": "id,body,score\n1,hello,0.5\n"},
        ["{d}/a.csv"],
        ["a.csv: no column 'text' (--text-column)", "columns are: 'id', 'body', 'score'"],
    ),
    "tsv without the label column": (
        {"a.tsv": "text\tscore\nhello\t1\n"},
        ["{d}/a.tsv", "--label-column", "gold"],
        ["a.tsv: no column 'gold' (--label-column)", "columns are: 'text', 'score'"],
    ),
    "empty csv": ({"a.csv": ""}, ["{d}/a.csv"], ["a.csv: empty file", "header row"]),
    "malformed csv row": ({"a.csv": 'text\n"ok"\n"bad"x\n'}, ["{d}/a.csv"], ["a.csv: line 3: malformed"]),
    "csv label not a number": ({"a.csv": "text,gold\nhello,1.5\nbye,high\n"}, ["{d}/a.csv", "--label-column", "gold"], ["a.csv: line 3: label 'gold' is not a number: 'high'"]),
    "csv label infinite": ({"a.csv": "text,gold\nhello,inf\n"}, ["{d}/a.csv", "--label-column", "gold"], ["a.csv: line 2", "not a finite number"]),
    "jsonl without the field": (
        {"a.jsonl": '{"text": "ok"}\n{"body": "x", "id": 2}\n'},
        ["{d}/a.jsonl"],
        ["a.jsonl: line 2: no field 'text' (--text-column)", "fields are: 'body', 'id'"],
    ),
    "malformed jsonl": ({"a.jsonl": '{"text": "ok"}\n\n{"text": "unterminated}\n'}, ["{d}/a.jsonl"], ["a.jsonl: line 3: malformed JSON", "column"]),
    "jsonl not an object": ({"a.jsonl": '["text"]\n'}, ["{d}/a.jsonl"], ["a.jsonl: line 1: expected a JSON object, got list"]),
    "jsonl text not a string": ({"a.jsonl": '{"text": 12}\n'}, ["{d}/a.jsonl"], ["a.jsonl: line 1: field 'text' is not a string"]),
    "jsonl nested too deeply": ({"a.jsonl": '{"text": "a", "x": ' + "[" * 100_000 + "\n"}, ["{d}/a.jsonl"], ["a.jsonl: line 1: malformed JSON"]),
    "jsonl integer too long": ({"a.jsonl": '{"text": "a", "gold": ' + "9" * 5000 + "}\n"}, ["{d}/a.jsonl", "--label-column", "gold"], ["a.jsonl: line 1"]),
    "jsonl lone surrogate": ({"a.jsonl": '{"text": "ok \\ud800 bad"}\n'}, ["{d}/a.jsonl"], ["a.jsonl: line 1", "lone surrogate \\ud800 at character 4"]),
    "jsonl label true": ({"a.jsonl": '{"text": "a", "gold": true}\n'}, ["{d}/a.jsonl", "--label-column", "gold"], ["line 1: label 'gold' is not a number: true"]),
    "jsonl label huge float": ({"a.jsonl": '{"text": "a", "gold": 1e999}\n'}, ["{d}/a.jsonl", "--label-column", "gold"], ["line 1", "not a finite number"]),
    "label column on txt": ({"a.txt": OK}, ["{d}/a.txt", "--label-column", "gold"], ["a.txt: --label-column needs a .csv, .tsv or .jsonl input"]),
    "newline in a file name": ({"a\nb.txt": ""}, ["{d}/a\nb.txt"], ["a\\nb.txt: no texts found"]),
    "max length above the model's": ({"a.txt": OK}, ["{d}/a.txt", "--max-length", "100000"], ["--max-length 100000", "at most 64"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_one_line_exit_2(case: str, tiny_model: Path, tmp_path: Path) -> None:
    files, args, fragments = BAD_INPUTS[case]
    for name, data in files.items():
        write(tmp_path / name, data)
    out = tmp_path / "out" / "report.html"
    argv = [a.replace("{d}", str(tmp_path)) for a in args]
    code, stdout, stderr = run_cli("run", *argv, "--model", str(tiny_model), "--out", str(out))
    assert_one_line_error(code, stderr, *fragments)
    assert stdout == ""
    assert not out.exists() and not out.parent.exists()


def test_empty_stdin(tiny_model: Path, tmp_path: Path) -> None:
    code, _, stderr = run_cli("run", "-", "--model", str(tiny_model), "--out", str(tmp_path / "r.html"), stdin=b"\n\n")
    assert_one_line_error(code, stderr, "<stdin>: no texts found (after skipping 2 blank)")


def test_existing_out_needs_force(tiny_model: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "a.txt", OK)
    out = tmp_path / "r.html"
    out.write_text("previous report", encoding="utf-8")
    code, _, stderr = run_cli("run", source, "--model", str(tiny_model), "--out", str(out))
    assert_one_line_error(code, stderr, "r.html: already exists; pass --force")
    assert out.read_text(encoding="utf-8") == "previous report"
    code, stdout, stderr = run_cli("run", source, "--model", str(tiny_model), "--out", str(out), "--force", *CHEAP)
    assert code == 0, stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("target", ["folder", "same"])
def test_bad_output_targets(target: str, tiny_model: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "a.txt", OK)
    if target == "folder":
        (tmp_path / "r.html").mkdir()
        args, fragment = ["--out", str(tmp_path / "r.html")], "r.html: is a folder"
    else:
        args, fragment = ["--out", str(tmp_path / "r.html"), "--csv", str(tmp_path / "r.html")], "must name different files"
    code, _, stderr = run_cli("run", source, "--model", str(tiny_model), *args)
    assert_one_line_error(code, stderr, fragment)


def test_encoding_override_reads_the_file(tiny_model: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "sj.txt", (OK + "\r\n今日は来てくれてありがとう。\r\n").encode("cp932"))
    table = tmp_path / "t.csv"
    code, _, stderr = run_cli(
        "run", source, "--encoding", "cp932", "--model", str(tiny_model), "--out", str(tmp_path / "r.html"), "--csv", str(table),
        *CHEAP,
    )
    assert code == 0, stderr
    with table.open(encoding="utf-8", newline="") as handle:
        texts = {r["text"] for r in csv.DictReader(handle)}
    assert texts == {OK, "今日は来てくれてありがとう。"}


def test_over_long_text_is_truncated_and_marked(tiny_model: Path, tmp_path: Path) -> None:
    long = "あいうえお" * 1000 + "THE-END"
    source = write(tmp_path / "a.txt", OK + "\n" + long + "\n")
    out, table = tmp_path / "r.html", tmp_path / "t.csv"
    code, _, stderr = run_cli("run", source, "--model", str(tiny_model), "--out", str(out), "--csv", str(table), *CHEAP)
    assert code == 0, stderr
    assert "1 truncated" in stderr
    with table.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["text_id"] == "1"]
    assert len(rows) == 64 and {r["truncated"] for r in rows} == {"1"}
    assert rows[0]["text"] == long, "the CSV keeps the whole text"
    from pagedata import detail, payload

    data = payload(out.read_text(encoding="utf-8"))
    assert data["overview"]["truncated"] == [0, 1] and data["overview"]["fullLength"][1] > 64
    dropped = "".join(run if isinstance(run, str) else run[0] for run in detail(data, 1)["dropped"])
    assert dropped.endswith("THE-END") and len(dropped) > 4_000


def test_messages_are_single_lines_for_every_reader_error(tmp_path: Path) -> None:
    # Values in a message (column names, keys) never break the line.
    path = write(tmp_path / "a.csv", '"te\nxt",other\n1,2\n')
    with pytest.raises(InputError) as err:
        read_inputs([path])
    assert "\n" not in str(err.value) and "'te\\nxt'" in str(err.value)


# --- property tests: every reader returns any Unicode text exactly ------------------------------

ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda t: t.strip() != "")
TEXT_LISTS = st.lists(ANY_TEXT, min_size=1, max_size=6)
_FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FAST
@given(texts=TEXT_LISTS, crlf=st.booleans(), bom=st.booleans())
def test_txt_round_trip(texts: list[str], crlf: bool, bom: bool, tmp_path: Path) -> None:
    # One text per line: a text cannot hold a line feed, nor end in a CR (that reads as CRLF),
    # nor start the file with a BOM (that reads as the file's byte-order mark).
    texts = [t.replace("\n", " ").rstrip("\r") or "x" for t in texts]
    texts = [t if t.strip() else "x" for t in texts]
    if texts[0].startswith("\ufeff"):
        texts[0] = "x" + texts[0]
    sep = "\r\n" if crlf else "\n"
    data = ("\ufeff" if bom else "") + sep.join(texts) + sep
    path = write(tmp_path / "in.txt", data)
    got = read_inputs([path])
    assert [t.text for t in got.texts] == texts
    assert [t.source for t in got.texts] == [f"{path}:{i + 1}" for i in range(len(texts))]


@_FAST
@given(texts=TEXT_LISTS, delimiter=st.sampled_from([",", "\t"]), labels=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=6, max_size=6))
def test_csv_round_trip(texts: list[str], delimiter: str, labels: list[float], tmp_path: Path) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["id", "text", "gold"])
    for i, text in enumerate(texts):
        writer.writerow([i, text, repr(labels[i])])
    path = write(tmp_path / ("in.csv" if delimiter == "," else "in.tsv"), buffer.getvalue())
    got = read_inputs([path], label_column="gold")
    assert [t.text for t in got.texts] == texts
    assert [t.gold for t in got.texts] == labels[: len(texts)]


@_FAST
@given(texts=TEXT_LISTS, ascii_only=st.booleans())
def test_jsonl_round_trip(texts: list[str], ascii_only: bool, tmp_path: Path) -> None:
    data = "\n".join(json.dumps({"text": t, "n": i}, ensure_ascii=ascii_only) for i, t in enumerate(texts))
    path = write(tmp_path / "in.jsonl", data)
    got = read_inputs([path])
    assert [t.text for t in got.texts] == texts


@_FAST
@given(texts=TEXT_LISTS)
def test_stdin_and_other_encodings_round_trip(texts: list[str]) -> None:
    texts = [t.replace("\n", " ").rstrip("\r") for t in texts]
    texts = ["x" + t if not t.strip() or t.startswith("\ufeff") else t for t in texts]
    data = "\n".join(texts)
    assert [t.text for t in read_inputs(["-"], stdin=io.BytesIO(data.encode("utf-8"))).texts] == texts
    assert [t.text for t in read_inputs(["-"], stdin=io.BytesIO(data.encode("utf-16")), encoding="utf-16").texts] == texts
