"""``--words`` and ``--words-csv`` through the CLI (issue 11), on the tiny model with cheap methods."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from reportgen.cli import app

CHEAP = ["--methods", "cls_attention,grad_input"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_words_csv_and_its_corpus_table_are_written(tiny_model: Path, texts_file: Path, tmp_path: Path) -> None:
    out, words, tokens = tmp_path / "r.html", tmp_path / "words.csv", tmp_path / "tokens.csv"
    result = CliRunner().invoke(
        app, ["run", str(texts_file), "--model", str(tiny_model), "--out", str(out), "--csv", str(tokens),
              "--words-csv", str(words), *CHEAP],
    )
    assert result.exit_code == 0, result.output
    corpus = tmp_path / "words.corpus.csv"
    assert str(corpus) in result.output.splitlines()
    rows, table, token_rows = _rows(words), _rows(corpus), _rows(tokens)
    assert {r["text_id"] for r in rows} == {"0", "1", "2", "3"}
    assert rows[0]["surface"] == "本日" and rows[0]["mode"] == "ja" and "grad_input" in rows[0]
    assert {r["lemma"] for r in table} == {r["lemma"] for r in rows if r["grad_input"]}
    assert {r["method"] for r in table} == {"grad_input"}
    # Each token's word_id names a word of its own text (or -1 for [CLS]/[SEP]).
    ids = {(r["text_id"], r["word_id"]) for r in rows}
    for r in token_rows:
        assert r["word_id"] == "-1" if r["is_special"] == "1" else (r["text_id"], r["word_id"]) in ids
    html = out.read_text(encoding="utf-8")
    assert 'id="corpus"' in html and 'class="pick-unit"' in html


def test_words_pieces_turns_words_off_and_a_bad_mode_is_refused(tiny_model: Path, texts_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        app, ["run", str(texts_file), "--model", str(tiny_model), "--out", str(out), "--words", "pieces", *CHEAP]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert 'id="corpus"' not in html and 'class="pick-unit"' not in html and "data-word=" not in html
    result = CliRunner().invoke(app, ["run", str(texts_file), "--model", str(tiny_model), "--out", str(tmp_path / "x.html"), "--words", "kanji"])
    assert result.exit_code == 2 and "--words kanji" in result.output and "pieces" in result.output
    assert not (tmp_path / "x.html").exists()
