"""The data file (issue 13, item 2): written, read back bit for bit, rendered byte for byte.

Hand-made records cover the numbers and edge cases fast; one test runs the real pipeline on the
sample model and checks that the report rendered from the data file equals the direct run's
report byte for byte.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import handmade
from reportgen import budget, data
from reportgen.agreement import agreement
from reportgen.errors import InputError
from reportgen.export import faithfulness_csv, tokens_csv, words_csv
from reportgen.inputs import InputText
from reportgen.budget import with_display
from reportgen.render import render_html
from reportgen.report import build_report
from reportgen.types import (
    DeletionCurve,
    EncodedText,
    Faithfulness,
    FaithfulnessReport,
    TextExtraction,
    TextRecord,
    TokenScores,
)

# --- helpers -------------------------------------------------------------------------------


def handmade_run(methods=handmade.METHODS, with_faithfulness=True, with_agreement=True, words="auto"):
    """Records, faithfulness report and agreement exactly as the pipeline hands them over."""
    names = {m.name for m in methods}
    keep = names | {"random"}
    records = [
        dataclasses.replace(
            r,
            scores={m.name: r.scores[m.name] for m in methods},
            faithfulness={k: v for k, v in r.faithfulness.items() if k in keep},
            word_faithfulness={k: v for k, v in r.word_faithfulness.items() if k in keep},
        )
        for r in handmade.records(with_faithfulness, with_agreement=False, words=words)
    ]
    faith = None
    if with_faithfulness:
        report = handmade.faithfulness_report(with_words=words != "pieces")
        by_word = report.by_word
        if by_word is not None:
            by_word = dataclasses.replace(by_word, per_text=tuple(f for r in records for f in r.word_faithfulness.values()))
        faith = dataclasses.replace(
            report, per_text=tuple(f for r in records for f in r.faithfulness.values()), by_word=by_word
        )
    agreed = None
    if with_agreement:
        agreed = agreement([r.encoded.special for r in records], {m.name: [r.scores[m.name] for r in records] for m in methods})
        records = [dataclasses.replace(r, agreement=a) for r, a in zip(records, agreed.per_text)]
    return records, faith, agreed


def write(records, faith, agreed, methods=handmade.METHODS, attention="all", run=handmade.RUN, model=handmade.MODEL):
    return data.write_data(
        None, run, model, methods, records, faithfulness=faith, agreement=agreed, ig_tolerance=0.05, attention=attention
    )


def same_array(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def same_value(a, b) -> bool:
    """Equal, with floats compared bit for bit (NaN, -0.0) and arrays by dtype, shape and bytes."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and same_array(a, b)
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (float, int)) and isinstance(b, (float, int)) and np.float64(a).tobytes() == np.float64(b).tobytes()
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) or hasattr(a, "keys"):
        return list(a.keys()) == list(b.keys()) and all(same_value(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(
            same_value(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    return a == b and type(a) is type(b)


def stored_form(records) -> tuple:  # noqa: ANN001
    """Records as a data file keeps them: without the page's coded attention (``display``),
    which ``render`` codes again from the stored heads (``budget.with_display``)."""
    return tuple(dataclasses.replace(r, display=None) for r in records)


def assert_same(a, b, where="") -> None:
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
        return
    assert same_value(a, b), f"{where}: {a!r} != {b!r}"


# --- round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize("words", ["auto", "pieces"])
def test_round_trip_is_bit_identical_and_renders_the_same_bytes(words: str) -> None:
    records, faith, agreed = handmade_run(words=words)
    assert (records[0].words is not None) == (words != "pieces")
    stored = data.read_data(write(records, faith, agreed))
    assert stored.schema_version == data.SCHEMA_VERSION == 2
    assert stored.attention == "all"
    assert stored.run == handmade.RUN and stored.model == handmade.MODEL
    assert stored.methods == handmade.METHODS
    assert stored.ig_tolerance == 0.05
    assert_same(stored_form(records), stored.records, "records")
    assert_same(faith, stored.faithfulness, "faithfulness")
    assert_same(agreed, stored.agreement, "agreement")
    # The direct run codes the page's attention from the same quantised heads (as the pipeline
    # does while it extracts), here without a size limit.
    direct = render_html(
        build_report(
            handmade.RUN, handmade.MODEL, with_display(records, None), handmade.METHODS,
            faithfulness=faith, agreement=agreed, ig_tolerance=0.05,
        )
    )
    assert data.render_data(write(records, faith, agreed)) == direct


def test_writing_is_deterministic() -> None:
    records, faith, agreed = handmade_run()
    assert write(records, faith, agreed) == write(records, faith, agreed)


def odd_record(text_id: int, *, offsets: bool) -> TextRecord:
    """A classification text with awkward strings and every odd float in every numeric field."""
    pieces = ("[CLS]", "▁a\x00b", "😀", "\n", "[SEP]")
    n = len(pieces)
    rng = np.random.default_rng(text_id)
    heads = rng.random((2, 3, n, n))
    encoded = EncodedText(
        text_id=text_id,
        input_ids=(2, 2**40, 7, 0, 3),
        tokens=pieces,
        offsets=((0, 0), (0, 3), (3, 5), (5, 6), (0, 0)) if offsets else None,
        special=(True, False, False, False, True),
        truncated=False,
        full_length=n,
    )
    odd = np.array([math.nan, -0.0, math.inf, -math.inf, 5e-324])
    curve = DeletionCurve((0.5, 1.0), (1, 3), (math.nan, -0.0), (math.inf, 1e308), (0.0, math.nan))
    return TextRecord(
        item=InputText(text_id, "a\x00b😀\n\"quoted\", <b>&amp;", f"in.jsonl:{text_id + 1}", None),
        extraction=TextExtraction(
            encoded=encoded,
            output=np.array([0.1, -2.5, math.nan]),
            prediction=0.4,
            predicted_label="クラス,\"1\"",
            layer_mean=heads.mean(axis=1).astype(np.float32),
            heads_q=np.rint(heads * 65535).astype(np.uint16),
        ),
        scores={
            "grad_input": TokenScores("grad_input", text_id, odd.copy()),
            "integrated_gradients": TokenScores("integrated_gradients", text_id, odd[::-1].copy(), -0.0, math.nan, math.inf, steps=3),
        },
        faithfulness={
            "grad_input": Faithfulness(text_id, "grad_input", math.nan, -0.0, math.inf, 1.0, False, 0.0, 0.4, curve),
            "random": Faithfulness(text_id, "random", 0.1, 0.2, 0.3, 0.4, True, 2.0, 0.4, curve, math.nan, 0.0),
        },
        agreement=None,
    )


def test_odd_values_strings_and_missing_parts_survive_exactly() -> None:
    records = [odd_record(0, offsets=True), odd_record(1, offsets=False)]
    methods = [handmade.METHODS[1], handmade.METHODS[2]]
    model = dataclasses.replace(handmade.MODEL, task="classification", labels=("a", "クラス,\"1\"", "c"), notes=("n1",))
    run = dataclasses.replace(handmade.RUN, title="t\u2028\"<x>\"", versions=(("python", "3"), ("pyarrow", "x")))
    faith = FaithfulnessReport(
        per_text=tuple(f for r in records for f in r.faithfulness.values()),
        summary=(handmade.faithfulness_report().summary[0].__class__("grad_input", math.nan, -math.inf, math.nan, 1, None, 0, False),),
        best=None,
        fractions=(0.5, 1.0),
        rules=(),
    )
    stored = data.read_data(write(records, faith, None, methods=methods, run=run, model=model))
    assert_same(stored_form(records), stored.records, "records")
    assert_same(faith, stored.faithfulness, "faithfulness")
    assert stored.agreement is None
    assert stored.records[1].encoded.offsets is None
    assert stored.run == run and stored.model == model


def test_no_texts_round_trips() -> None:
    stored = data.read_data(write([], None, None))
    assert stored.records == () and stored.faithfulness is None and stored.agreement is None


def test_write_to_a_path_or_a_buffer(tmp_path: Path) -> None:
    records, faith, agreed = handmade_run()
    target = tmp_path / "sub" / "run.parquet"
    content = data.write_data(target, handmade.RUN, handmade.MODEL, handmade.METHODS, records, faithfulness=faith, agreement=agreed, ig_tolerance=0.05)
    assert target.read_bytes() == content
    buffer = io.BytesIO()
    data.write_data(buffer, handmade.RUN, handmade.MODEL, handmade.METHODS, records, faithfulness=faith, agreement=agreed, ig_tolerance=0.05)
    assert buffer.getvalue() == content
    assert data.read_data(target).source == str(target)


def _without_heads(records):  # noqa: ANN001, ANN202
    return [
        dataclasses.replace(r, extraction=dataclasses.replace(r.extraction, heads_q=np.zeros((0, 0, *r.extraction.heads_q.shape[2:]), np.uint16)))
        for r in records
    ]


def test_rows_streamed_one_row_group_at_a_time_give_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run writes its data file from records without heads (the metadata) and the same texts'
    full records read back one chunk at a time (``rows``): the bytes are those of the file
    written from the full records, and each row group is in the file before the next text is
    read (so no more than a row group's heads are held)."""
    records, faith, agreed = handmade_run()
    whole = write(records, faith, agreed)
    monkeypatch.setattr(data, "ROW_GROUP_TEXTS", 1)
    sink = pa.BufferOutputStream()
    written_when_read: list[int] = []

    def rows():  # noqa: ANN202
        for r in records:
            yield r
            written_when_read.append(sink.tell())  # what the file holds when the next text is asked for

    header = data.data_header(
        handmade.RUN, handmade.MODEL, handmade.METHODS, _without_heads(records), faithfulness=faith,
        agreement=agreed, ig_tolerance=0.05, heads=False,
    )
    data.write_rows(sink, header, rows())  # as a run writes its data file
    assert len(written_when_read) == len(records) == 2
    assert written_when_read[1] > written_when_read[0] + 1000  # the first text's row group, written before the run ends
    one_group_each = sink.getvalue().to_pybytes()
    assert pq.ParquetFile(pa.BufferReader(one_group_each)).num_row_groups == 2
    monkeypatch.undo()
    light = _without_heads(records)
    assert data.write_data(None, handmade.RUN, handmade.MODEL, handmade.METHODS, light, faithfulness=faith,
                           agreement=agreed, ig_tolerance=0.05, rows=iter(records)) == whole
    # Rows of other texts (or too few) contradict the metadata: refused, not stored.
    with pytest.raises(ValueError, match="row 0 is text 1"):
        data.write_data(None, handmade.RUN, handmade.MODEL, handmade.METHODS, light, faithfulness=faith,
                        agreement=agreed, ig_tolerance=0.05, rows=iter(records[::-1]))
    with pytest.raises(ValueError, match="hold 1 texts"):
        data.write_data(None, handmade.RUN, handmade.MODEL, handmade.METHODS, light, faithfulness=faith,
                        agreement=agreed, ig_tolerance=0.05, rows=iter(records[:1]))
    # Without rows, records without heads cannot make a file that re-renders the report.
    with pytest.raises(ValueError, match="attention shapes"):
        write(light, faith, agreed)
    # read_data(heads=False) leaves the heads out and nothing else.
    assert_same(stored_form(light), data.read_data(whole, heads=False).records, "records")


def test_inconsistent_inputs_are_refused_not_silently_stored() -> None:
    records, faith, agreed = handmade_run()
    other = dataclasses.replace(faith, per_text=faith.per_text[:-1])
    with pytest.raises(ValueError, match="faithfulness"):
        write(records, other, agreed)
    with pytest.raises(ValueError, match="agreement"):
        write(records, faith, dataclasses.replace(agreed, per_text=agreed.per_text[:1]))
    with pytest.raises(InputError, match="--data-attention 'heads'"):
        write(records, faith, agreed, attention="heads")
    bad = dataclasses.replace(records[0].extraction, layer_mean=records[0].extraction.layer_mean.astype(np.float64))
    with pytest.raises(ValueError, match="float32"):
        write([dataclasses.replace(records[0], extraction=bad)], None, None)


def test_a_field_the_schema_does_not_store_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stands in for a field added to TextRecord later: set, but unknown to the schema.
    known = data._KNOWN[TextRecord] - {"agreement"}
    monkeypatch.setitem(data._KNOWN, TextRecord, known)
    records, faith, agreed = handmade_run()
    with pytest.raises(ValueError, match=r"TextRecord\.agreement: not stored by data file schema 2"):
        write(records, faith, agreed)
    # Left at its default, the unknown field is no loss.
    unset, faith2, _ = handmade_run(with_agreement=False)
    data.read_data(write(unset, faith2, None))


# --- attention modes -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["mean", "last", "none"])
def test_lighter_attention_modes_store_what_they_say_and_refuse_to_render(mode: str) -> None:
    records, faith, agreed = handmade_run()
    full = write(records, faith, agreed)
    content = write(records, faith, agreed, attention=mode)
    assert len(content) < len(full)
    stored = data.read_data(content)
    assert stored.attention == mode
    for original, back in zip(records, stored.records):
        x, y = original.extraction, back.extraction
        n = len(x.encoded.tokens)
        if mode == "mean":
            assert same_array(y.layer_mean, x.layer_mean)
            assert y.heads_q.shape == (0, 0, n, n)
        elif mode == "last":
            assert same_array(y.layer_mean, x.layer_mean[-1:])
            assert same_array(y.heads_q, x.heads_q[-1:])
        else:
            assert y.layer_mean.shape == (0, n, n) and y.heads_q.shape == (0, 0, n, n)
        # Everything else is whole in every mode.
        assert_same(original.scores, back.scores)
        assert_same(original.faithfulness, back.faithfulness)
    tables = data.read_tables(content)
    layers = {"mean": set(), "last": {handmade.LAYERS - 1}, "none": set()}[mode]
    assert set(tables["attention"]["layer"]) == layers
    with pytest.raises(InputError, match=f"stored with --data-attention {mode}; a report needs every attention head"):
        data.report_from_data(stored)


# --- version and file errors ---------------------------------------------------------------


def with_metadata(content: bytes, change) -> bytes:
    table = pq.read_table(pa.BufferReader(content))
    meta = json.loads(table.schema.metadata[data.METADATA_KEY])
    change(meta)
    table = table.replace_schema_metadata({data.METADATA_KEY: json.dumps(meta).encode()})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def one_line_error(tmp_path: Path, content: bytes, name: str = "run.parquet") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(data.SchemaError) as info:
        data.read_data(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message[len(f"{path}: ") :]


def test_an_unknown_schema_version_is_refused_in_one_line(tmp_path: Path) -> None:
    content = with_metadata(write(*handmade_run()), lambda m: m.update(schema_version=7))
    assert one_line_error(tmp_path, content) == "data file schema version 7; this reportgen reads version 2"
    with pytest.raises(data.SchemaError, match="schema version 7"):
        data.render_data(content)


def test_a_missing_schema_version_is_refused(tmp_path: Path) -> None:
    content = with_metadata(write(*handmade_run()), lambda m: m.pop("schema_version"))
    assert one_line_error(tmp_path, content) == "data file without a schema version; this reportgen reads version 2"


def test_files_that_are_not_reportgen_data_files(tmp_path: Path) -> None:
    assert one_line_error(tmp_path, "text,gold\nこんにちは,1\n".encode()) == "not a reportgen data file (not a Parquet file)"
    assert one_line_error(tmp_path, b"") == "not a reportgen data file (not a Parquet file)"
    plain = io.BytesIO()
    pd.DataFrame({"text": ["a"]}).to_parquet(plain)
    assert one_line_error(tmp_path, plain.getvalue()) == "not a reportgen data file (a Parquet file without reportgen metadata)"
    foreign = with_metadata(write(*handmade_run()), lambda m: m.update(format="something-else"))
    assert one_line_error(tmp_path, foreign) == "not a reportgen data file (unknown metadata format)"
    assert isinstance(data.SchemaError("x"), InputError)


def test_truncated_and_corrupt_files(tmp_path: Path) -> None:
    content = write(*handmade_run())
    for cut in (len(content) // 2, len(content) - 1, 6):
        assert one_line_error(tmp_path, content[:cut]) == "truncated or corrupt data file (the Parquet footer is missing)"
    # A footer length that points outside the file.
    broken = content[:-8] + (len(content) * 2).to_bytes(4, "little") + b"PAR1"
    assert one_line_error(tmp_path, broken).startswith("truncated or corrupt data file (")
    # Data pages overwritten (the footer intact): caught while decoding.
    middle = bytearray(content)
    middle[100:3000] = bytes(2900)
    assert one_line_error(tmp_path, bytes(middle)).startswith(("corrupt data file (", "truncated or corrupt data file ("))
    # Metadata that contradicts the rows.
    lying = with_metadata(content, lambda m: m.update(texts=3))
    assert one_line_error(tmp_path, lying) == "corrupt data file (2 texts, the metadata says 3)"


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        data.read_data(tmp_path / "absent.parquet")


# --- tables for readers and the CSV views ---------------------------------------------------


def test_pandas_reads_the_texts_table_and_read_tables_reads_each_table() -> None:
    records, faith, agreed = handmade_run()
    content = write(records, faith, agreed)
    texts = pd.read_parquet(io.BytesIO(content))
    assert list(texts.text_id) == [0, 1] and list(texts.text) == list(handmade.TEXTS)
    assert texts.gold[1] is None or pd.isna(texts.gold[1])
    tables = data.read_tables(content)
    assert set(tables.tables) == set(data.TABLES)
    tokens = tables["tokens"]
    assert len(tokens) == sum(len(p) for p in handmade.PIECES)
    assert list(tokens.piece) == [p for ps in handmade.PIECES for p in ps]
    np.testing.assert_array_equal(tokens.grad_input.to_numpy(dtype=float), np.concatenate(handmade.SCORES["grad_input"]))
    assert tokens.start.isna().sum() == 0
    attention = tables["attention"]
    assert len(attention) == 2 * handmade.LAYERS * handmade.HEADS
    first = np.frombuffer(attention.weights[0], dtype="<u2").reshape(7, 7)
    assert same_array(first, records[0].extraction.heads_q[0, 0])
    means = tables["attention_mean"]
    assert list(means.layer) == [0, 1, 0, 1]
    last = np.frombuffer(means.weights[3], dtype="<f4").reshape(4, 4)
    assert same_array(last.astype(np.float32), records[1].extraction.layer_mean[1])
    assert len(tables["agreement"]) == 2 * 3 * 3
    # Words: MeCab's お茶 / を / どうぞ and the truncated text's 7 words, joined to the tokens by word_id.
    words = tables["words"]
    assert list(words[words.text_id == 0].surface) == ["お茶", "を", "どうぞ"]
    assert list(tokens[tokens.text_id == 0].word_id) == list(records[0].words.token_word_ids)
    np.testing.assert_array_equal(
        words[words.text_id == 0].grad_input.to_numpy(dtype=float), records[0].words.scores(records[0].scores["grad_input"].scores)
    )
    alignment = tables["alignment"]
    assert alignment.groupby("text_id").size().to_dict() == {
        r.text_id: sum(len(p) for p in r.words.alignment) for r in records
    }
    assert set(tables["word_faithfulness"].unit) == {"word"}
    assert tables.metadata["schema_version"] == 2
    only = data.read_tables(content, tables=["tokens"])
    assert set(only.tables) == {"texts", "tokens"}
    with pytest.raises(InputError, match="no table 'corpus'"):
        data.read_tables(content, tables=["corpus"])


@pytest.mark.parametrize(
    "methods, with_faithfulness, words",
    [
        (handmade.METHODS, True, "auto"),
        ((handmade.METHODS[0], handmade.METHODS[1]), True, "auto"),
        (handmade.METHODS, False, "auto"),
        (handmade.METHODS, True, "pieces"),
    ],
)
def test_the_csv_exports_are_views_of_the_tables(methods, with_faithfulness: bool, words: str) -> None:
    records, faith, agreed = handmade_run(methods, with_faithfulness, words=words)
    report = build_report(handmade.RUN, handmade.MODEL, records, list(methods), faithfulness=faith, agreement=agreed, ig_tolerance=0.05)
    tables = data.read_tables(write(records, faith, agreed, methods=methods))
    assert data.frame_csv(data.tokens_frame(tables)) == tokens_csv(report)
    assert data.frame_csv(data.words_frame(tables)) == words_csv(report)
    assert data.frame_csv(data.faithfulness_frame(tables)) == faithfulness_csv(report)


def test_the_csv_views_carry_the_stored_values() -> None:
    records, faith, agreed = handmade_run()
    tables = data.read_tables(write(records, faith, agreed))
    frame = data.tokens_frame(tables)
    direct = pd.read_csv(io.BytesIO(tokens_csv(build_report(handmade.RUN, handmade.MODEL, records, handmade.METHODS, faithfulness=faith, agreement=agreed))))
    assert list(frame.columns) == list(direct.columns)
    for column in ("cls_attention", "mean_received", "grad_input", "integrated_gradients", "ig_baseline_prediction"):
        np.testing.assert_allclose(frame[column].to_numpy(dtype=float), direct[column].to_numpy(dtype=float), rtol=1e-7)
    assert frame.gold.isna().tolist() == direct.gold.isna().tolist()


# --- the real pipeline ---------------------------------------------------------------------


def test_render_of_the_data_file_equals_the_direct_report_byte_for_byte(
    sample_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reportgen import pipeline

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1609459200")
    captured = {}
    real_build_report = pipeline.build_report

    def capture(*args, **kwargs):
        captured["args"], captured["kwargs"] = args, kwargs
        return real_build_report(*args, **kwargs)

    monkeypatch.setattr(pipeline, "build_report", capture)
    texts = tmp_path / "texts.csv"
    texts.write_text(
        "text,gold\n本日はご来店いただき、誠にありがとうございます。,0.9\n今日は来てくれてありがとう。,0.2\n"
        "\"ご注文の商品は明日発送いたします。<b>&</b>\",\n" + "あいうえお" * 30 + ",0.5\n",
        encoding="utf-8",
    )
    out = tmp_path / "direct.html"
    options = pipeline.RunOptions(
        inputs=(str(texts),),
        model_dir=sample_model,
        out=out,
        label_column="gold",
        methods=("cls_attention", "grad_input", "integrated_gradients"),
        ig_steps=4,
        # Short enough to truncate the long text (and keep its deletion steps few): the test is
        # about the round trip, not about long texts.
        max_length=24,
        words="auto",
        data=tmp_path / "run.parquet",
    )
    pipeline.run_report(options)
    run, model, records, methods = captured["args"]
    kwargs = captured["kwargs"]
    assert any(r.encoded.truncated for r in records)
    # Words and whole-word faithfulness travel too (Japanese texts: MeCab words).
    assert all(r.words is not None and r.word_faithfulness for r in records)
    assert kwargs["faithfulness"].by_word is not None
    # The report is built from records without heads and with the last layer's head mean only,
    # even with a data file: the file streams every head and layer from the run's part files as
    # it writes (memory does not grow with texts x layers x heads x tokens^2).
    assert all(r.extraction.heads_q.shape[:2] == (0, 0) and r.extraction.layer_mean.shape[0] == 1 for r in records)
    written = tmp_path / "run.parquet"
    stored = data.read_data(written)
    assert all(r.extraction.heads_q.shape[:2] == (model.num_layers, model.num_heads) for r in stored.records)
    assert all(r.extraction.layer_mean.shape[0] == model.num_layers for r in stored.records)
    last_layer = [
        dataclasses.replace(r, extraction=dataclasses.replace(r.extraction, layer_mean=r.extraction.layer_mean[-1:]))
        for r in data.read_data(written, heads=False).records
    ]
    assert_same(stored_form(records), tuple(last_layer), "records")
    # The same numbers as one file written from the records with their heads, byte for byte.
    assert data.write_data(None, run, model, methods, stored.records, **kwargs) == written.read_bytes()
    # The run's default --max-size (10 MB) shapes the page; render is given the same.
    html = data.render_data(written, budget.max_bytes(budget.DEFAULT_MAX_MB))
    assert html.encode("utf-8") == out.read_bytes()
    content = written.read_bytes()
    # The CSV exports of the direct run are views of the same tables.
    report = real_build_report(run, model, records, methods, **kwargs)
    tables = data.read_tables(content)
    assert data.frame_csv(data.tokens_frame(tables)) == tokens_csv(report)
    assert data.frame_csv(data.words_frame(tables)) == words_csv(report)
    assert data.frame_csv(data.faithfulness_frame(tables)) == faithfulness_csv(report)


# --- the schema is the documented one --------------------------------------------------------

EXPECTED_SCHEMA = """
text_id int64
text string
source string
gold double
prediction double
predicted_label string
output list<item: double>
truncated bool
full_length int64
words_mode string
words_offsets_rebuilt bool
M_baseline_prediction double
M_delta double
M_delta_relative double
M_steps int64
tokens list<item: struct<position: int32, piece: string, start: int32, end: int32, is_special: bool, input_id: int64, word_id: int32, rebuilt_start: int32, rebuilt_end: int32, attention_cls: float, attention_received: float, M: double>>
words list<item: struct<word_id: int64, surface: string, lemma: string, start: int64, end: int64, pos: string, M: double>>
alignment list<item: struct<position: int32, word_id: int32, share: double>>
faithfulness list<item: struct<method: string, comprehensiveness: double, sufficiency: double, comprehensiveness_raw: double, sufficiency_raw: double, normalised: bool, normaliser: double, prediction: double, comprehensiveness_std: double, sufficiency_std: double, unit: string, fractions: list<item: double>, removed: list<item: int64>, without_top: list<item: double>, only_top: list<item: double>, without_top_std: list<item: double>, content: int64>>
word_faithfulness list<item: struct<method: string, comprehensiveness: double, sufficiency: double, comprehensiveness_raw: double, sufficiency_raw: double, normalised: bool, normaliser: double, prediction: double, comprehensiveness_std: double, sufficiency_std: double, unit: string, fractions: list<item: double>, removed: list<item: int64>, without_top: list<item: double>, only_top: list<item: double>, without_top_std: list<item: double>, content: int64>>
attention list<item: struct<layer: int32, head: int32, weights: large_binary>>
attention_mean list<item: struct<layer: int32, weights: large_binary>>
agreement list<item: struct<method_a: string, method_b: string, rho: double>>
"""


def test_the_schema_is_version_2_and_every_column_is_documented() -> None:
    # Fields of TokenScores, Faithfulness and Word are picked up from their annotations: a new
    # one changes this schema. Then bump SCHEMA_VERSION, update docs/data-file.md and this list.
    schema = data._schema(["M"], ["M"])
    assert [f"{f.name} {f.type}" for f in schema] == EXPECTED_SCHEMA.strip().splitlines()
    assert data.SCHEMA_VERSION == 2
    doc = (Path(__file__).resolve().parents[1] / "docs" / "data-file.md").read_text(encoding="utf-8")
    assert "Schema version: **2**" in doc

    def documented(name: str) -> str:
        return "<method>" + name[1:] if name == "M" or name.startswith("M_") else name

    for field in schema:
        assert f"`{documented(field.name)}`" in doc or f"**{field.name}**" in doc, field.name
        if pa.types.is_list(field.type) and pa.types.is_struct(field.type.value_type):
            for child in field.type.value_type:
                assert f"`{documented(child.name)}`" in doc, f"{field.name}.{child.name}"
    for key in data.read_metadata(write(*handmade_run())):
        assert f"`{key}`" in doc, key


def test_cli_data_file_and_render_give_the_same_report_and_csv(
    sample_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from reportgen.cli import app

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1609459200")
    texts = tmp_path / "texts.txt"
    texts.write_text("本日はご来店いただき、誠にありがとうございます。\n今日は来てくれてありがとう。\n", encoding="utf-8")
    runner = CliRunner()
    base = ["--model", str(sample_model), "--methods", "cls_attention,grad_input", "--threads", "1"]

    def files(folder: Path) -> list[str]:
        # Every file a run can write besides the data file, into one folder (the summary links
        # the pictures by a path relative to it).
        return ["--out", str(folder / "r.html"), "--csv", str(folder / "t.csv"), "--faithfulness-csv", str(folder / "f.csv"),
                "--words-csv", str(folder / "w.csv"), "--svg", str(folder / "pictures"), "--summary", str(folder / "s.md")]

    first = runner.invoke(app, ["run", str(texts), *base, *files(tmp_path / "a"), "--data", str(tmp_path / "a.parquet")])
    assert first.exit_code == 0, first.output
    # render writes each of them from the data file alone, byte for byte the run's.
    again = runner.invoke(app, ["render", str(tmp_path / "a.parquet"), *files(tmp_path / "b")])
    assert again.exit_code == 0, again.output
    written = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(written) == 9 and sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()) == written
    for name in written:
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
    (tmp_path / "a.csv").write_bytes((tmp_path / "a" / "t.csv").read_bytes())
    # Not a data file: one line, exit 2, nothing written.
    bad = runner.invoke(app, ["render", str(tmp_path / "a.csv"), "--out", str(tmp_path / "c.html")])
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines() == [f"reportgen: error: {tmp_path / 'a.csv'}: not a reportgen data file (not a Parquet file)"]
    assert not (tmp_path / "c.html").exists()
    # A bad --data-attention is refused before any model work.
    refused = runner.invoke(app, ["run", str(texts), *base, "--out", str(tmp_path / "d.html"),
                                  "--data", str(tmp_path / "d.parquet"), "--data-attention", "some"])
    assert refused.exit_code == 2 and "--data-attention" in refused.output
    assert not (tmp_path / "d.html").exists()
