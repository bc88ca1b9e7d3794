"""The Python API: reportgen.explain on the article's own module, on a PreTrainedModel, as
DataFrames, inline in a (headless Chromium) notebook-like page, and without torch at import."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import AlbertConfig, AlbertForSequenceClassification, AlbertModel, AutoTokenizer
from typer.testing import CliRunner

import reportgen
import handmade
import pagedata
from reportgen.api import FAITHFULNESS_COLUMNS, TEXT_COLUMNS, TOKEN_COLUMNS, WORD_COLUMNS
from reportgen.cli import app
from reportgen.errors import InputError, ModelLoadError

TEXTS = ["本日はご来店いただき、誠にありがとうございます。", "今日は来てくれてありがとう。", "これ一つで大丈夫!munaitaカードで贅沢三昧"]
METHODS = ("cls_attention", "integrated_gradients")
IG_STEPS = 4


class AlbertForRegression(nn.Module):
    """The original article's module: ``self.albert`` plus a linear head on the pooled output;
    forward returns ``(prediction, hidden states, attentions)``."""

    def __init__(self, config: AlbertConfig) -> None:
        super().__init__()
        self.albert = AlbertModel(config)
        self.dropout = nn.Dropout(0.1)
        self.regressor = nn.Linear(config.hidden_size, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        out = self.albert(input_ids=input_ids, attention_mask=attention_mask)
        return self.regressor(self.dropout(out.pooler_output)), out.last_hidden_state, out.attentions


class HeadOnFirstToken(AlbertForRegression):
    """Not the article's layout: the head reads the [CLS] hidden state, not the pooled output."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        out = self.albert(input_ids=input_ids, attention_mask=attention_mask)
        return self.regressor(out.last_hidden_state[:, 0]), out.last_hidden_state, out.attentions


def article_module(tiny_model: Path, cls: type = AlbertForRegression, seed: int = 7) -> nn.Module:
    config = AlbertConfig.from_pretrained(tiny_model)
    torch.manual_seed(seed)  # weights unlike the tiny model's own safetensors
    return cls(config)


def test_article_module_gives_the_clis_checkpoint_numbers(tiny_model: Path, tmp_path: Path) -> None:
    module = article_module(tiny_model)
    module.train()  # as a notebook leaves it after training: explain must not change that
    checkpoint = tmp_path / "model.pt"
    torch.save(module.state_dict(), checkpoint)
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    tokens_csv, faith_csv = tmp_path / "t.csv", tmp_path / "f.csv"
    result = CliRunner().invoke(
        app,
        [
            "run", str(source), "--model", str(tiny_model), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "r.html"),
            "--csv", str(tokens_csv), "--faithfulness-csv", str(faith_csv), "--methods", ",".join(METHODS),
            "--ig-steps", str(IG_STEPS),
        ],
    )
    assert result.exit_code == 0, result.output

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    report = reportgen.explain(TEXTS, module, tokenizer, methods=METHODS, ig_steps=IG_STEPS)
    assert module.training, "explain() put the caller's module back in training mode"
    frames = report.to_pandas()

    rows = list(csv.DictReader(tokens_csv.open(encoding="utf-8")))
    tokens = frames["tokens"]
    assert len(rows) == len(tokens)
    for row, (_, api) in zip(rows, tokens.iterrows()):
        assert (int(row["text_id"]), int(row["position"]), row["token"]) == (api.text_id, api.position, api.token)
        for column in ("prediction", "cls_attention", "integrated_gradients", "ig_baseline_prediction"):
            assert float(row[column]) == pytest.approx(api[column], rel=1e-5, abs=1e-6), column
    faith = list(csv.DictReader(faith_csv.open(encoding="utf-8")))
    api_faith = frames["faithfulness"]
    assert [(int(r["text_id"]), r["method"]) for r in faith] == list(zip(api_faith.text_id, api_faith.method))
    for row, (_, api) in zip(faith, api_faith.iterrows()):
        assert float(row["comprehensiveness"]) == pytest.approx(api.comprehensiveness, rel=1e-5, abs=1e-6)

    # And both are the module's own predictions (dropout off), not some other model's.
    module.eval()
    with torch.no_grad():
        own = [float(module(**tokenizer(t, return_tensors="pt"))[0][0, 0]) for t in TEXTS]
    assert report.predictions == pytest.approx(own, rel=1e-5, abs=1e-6)
    assert any("wrapped from your AlbertForRegression" in note for note in report.data.model.notes)


def test_a_module_whose_head_is_not_on_the_pooled_output_is_refused(tiny_model: Path) -> None:
    module = article_module(tiny_model, HeadOnFirstToken)
    with pytest.raises(ModelLoadError) as err:
        reportgen.explain(TEXTS[:1], module, AutoTokenizer.from_pretrained(tiny_model), methods=("cls_attention",))
    assert "pooled output" in str(err.value) and "\n" not in str(err.value)


def test_pretrained_model_in_memory(tiny_model: Path) -> None:
    model = AlbertForSequenceClassification.from_pretrained(tiny_model)  # sdpa attention by default
    before = model.config._attn_implementation
    model.train()
    in_memory = reportgen.explain(TEXTS, model, methods=("cls_attention",))
    from_folder = reportgen.explain(TEXTS, str(tiny_model), methods=("cls_attention",))
    assert in_memory.predictions == pytest.approx(from_folder.predictions, rel=1e-6)
    a, b = in_memory.to_pandas()["tokens"], from_folder.to_pandas()["tokens"]
    assert list(a.token) == list(b.token)
    assert a.cls_attention.tolist() == pytest.approx(b.cls_attention.tolist(), abs=1e-6)
    assert model.training and model.config._attn_implementation == before, "the caller's model was left changed"
    assert "in memory" in in_memory.data.model.path and in_memory.data.model.weights_file == "in memory"


def test_bad_arguments_are_one_line_errors(tiny_model: Path) -> None:
    with pytest.raises(InputError, match="no texts found"):
        reportgen.explain(["", "  "], str(tiny_model))
    with pytest.raises(InputError, match=r"gold=: 1 scores for 2 texts"):
        reportgen.explain(TEXTS[:2], str(tiny_model), gold=[0.5])
    with pytest.raises(InputError, match="unknown method"):
        reportgen.explain(TEXTS[:1], str(tiny_model), methods="nonsense")
    with pytest.raises(ModelLoadError, match="expected a folder, a hub id"):
        reportgen.explain(TEXTS[:1], 42)


HOSTILE = '"></iframe><script>window.__reportgen_pwned = 1</script><iframe srcdoc="'


@pytest.fixture(scope="module")
def small_report(tiny_model: Path) -> reportgen.Report:
    return reportgen.explain(
        ["", TEXTS[0], HOSTILE], str(tiny_model), gold=[None, 0.5, None], methods=METHODS, ig_steps=IG_STEPS, title="API test",
        faithfulness="full",
    )


def test_to_pandas_frames_have_the_documented_columns(small_report: reportgen.Report) -> None:
    frames = small_report.to_pandas()
    assert set(frames) == {"texts", "tokens", "faithfulness", "words", "corpus"}
    texts, tokens, faith, words = frames["texts"], frames["tokens"], frames["faithfulness"], frames["words"]
    assert list(texts.columns) == list(TEXT_COLUMNS)
    assert list(tokens.columns) == [*TOKEN_COLUMNS, "integrated_gradients", "ig_baseline_prediction", "word_id"]
    fractions = small_report.data.faithfulness.fractions
    curve = [*(f"without_top_{k:g}" for k in fractions), *(f"only_top_{k:g}" for k in fractions)]
    assert list(faith.columns) == [*FAITHFULNESS_COLUMNS, *curve, "unit"]
    assert list(words.columns) == [*WORD_COLUMNS, *METHODS]
    assert words.text_id.nunique() == 2 and (words.surface == words.apply(lambda w: texts.text[w.text_id][w.start : w.end], axis=1)).all()
    assert set(tokens.word_id) - {-1} <= set(words.word_id)
    # The blank string was skipped and counted; sources keep the caller's indices.
    assert small_report.data.run.skipped_blank == 1
    assert list(texts.source) == ["texts[1]", "texts[2]"] and list(texts.text) == [TEXTS[0], HOSTILE]
    assert texts.gold[0] == 0.5 and math.isnan(texts.gold[1])
    assert texts.error[0] == pytest.approx(texts.prediction[0] - 0.5)
    assert len(tokens) == sum(texts.tokens) and tokens.is_special.dtype == bool
    assert set(faith.method) == {*METHODS, "random"} and len(faith) == 2 * 3 * 2
    # faithfulness="full" (not the default): the page gets token-resolution steps, one more each (issue 10).
    data = pagedata.payload(small_report.html())
    assert not data["faithFast"]
    steps = [pagedata.detail(data, t)["faith"]["removed"] for t in range(2)]
    assert all(s == list(range(1, len(s) + 1)) for s in steps) and max(map(len, steps)) >= 3, steps
    assert list(faith.unit) == ["token"] * 6 + ["word"] * 6
    # A report without words (--words pieces) has neither words frames nor a unit column.
    pieces = reportgen.Report(handmade.report(words="pieces")).to_pandas()
    assert set(pieces) == {"texts", "tokens", "faithfulness"}
    assert "word_id" not in pieces["tokens"] and "unit" not in pieces["faithfulness"]


def test_repr_html_shows_the_report_inside_a_sandboxed_iframe(
    tmp_path: Path, small_report: reportgen.Report, browser: object
) -> None:
    from browser import SENTINEL, visit

    assert HOSTILE.count(SENTINEL) == 1
    report = small_report
    fragment = report._repr_html_()
    assert fragment.startswith('<iframe srcdoc="') and 'sandbox="allow-scripts"' in fragment
    assert "<script" not in fragment, "the page must travel escaped inside the attribute"
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{fragment}</body></html>", encoding="utf-8")
    with visit(browser, host, wait_charts=False) as page:
        frame = page.page.wait_for_selector("iframe").content_frame()
        frame.wait_for_function("() => document.body && document.body.dataset.charts === 'done'", timeout=120_000)
        shown = frame.evaluate("() => document.body.innerText")
        assert TEXTS[0] in shown and HOSTILE in shown
        assert frame.evaluate("() => window.origin") == "null", "sandboxed: an opaque origin"
        assert frame.evaluate("() => document.querySelectorAll('.chart svg, .chart canvas').length") > 0
        assert page.sentinel() is None and frame.evaluate(f"() => window.{SENTINEL} === undefined")
        assert page.outside_requests == [] and page.attempted_requests == []
        assert page.page_errors == []


def test_import_reportgen_imports_no_torch() -> None:
    probe = [sys.executable, "-X", "importtime", "-c", "import reportgen; reportgen.explain; reportgen.Report"]
    result = subprocess.run(probe, capture_output=True, text=True, check=True)
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    assert "reportgen.api" in imported and not [m for m in imported if m == "torch" or m.startswith("torch.")]
    # The probe does see what is imported (reportgen.api above); torch would be listed the same way.


def test_public_names_have_docstrings() -> None:
    for obj in (reportgen.explain, reportgen.Report, *(getattr(reportgen.Report, n) for n in (
        "save", "save_html", "save_png", "save_svg", "save_summary", "summary", "to_pandas", "_repr_html_", "html",
    ))):
        assert obj.__doc__ and obj.__doc__.strip(), obj
