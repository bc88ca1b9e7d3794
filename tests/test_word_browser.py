"""Words in a real headless Chromium (issue 11): the words / pieces switch recolours the text and
redraws the method bars; a word of the corpus view lists exactly the texts that contain it; a
hostile word is shown, never run.

The report comes from the sample model on a few texts (cheap methods, no faithfulness), built by
calling the stages directly; the expected texts of a word are read from the words CSV.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import torch

from browser import SENTINEL, visit
from reportgen.export import words_csv
from reportgen.extraction import encode_texts, extract
from reportgen.inputs import InputText
from reportgen.loading import load_model
from reportgen.methods import MethodContext, resolve, run_methods
from reportgen.render import render_html
from reportgen.report import RunInfo, build_report
from reportgen.types import TextRecord
from reportgen.words import with_words

HOSTILE_WORD = f"<img src=x onerror=\"window.{SENTINEL}='corpus'\">"
TEXTS = (
    "ご注文いただき、誠にありがとうございます。",
    "注文ありがとね。",
    "ご不便をおかけして申し訳ございません。",
    "不便かけてごめんね。",
    "ぜひ一度、店舗にお越しくださいませ。",
    f"これは {HOSTILE_WORD} です",
    f"それも {HOSTILE_WORD} だよ",
    "Thank you very much for your order.",
)


@pytest.fixture(scope="module")
def word_report(sample_model: Path, tmp_path_factory: pytest.TempPathFactory):
    torch.set_num_threads(1)
    loaded = load_model(sample_model, device="cpu")
    items = [InputText(i, t, f"t:{i}") for i, t in enumerate(TEXTS)]
    extractions = extract(loaded, encode_texts(loaded, items, 64), batch_size=8)
    methods = resolve(["cls_attention", "grad_input"])
    scores = run_methods(methods, MethodContext(loaded, tuple(extractions), 8, None))
    records = [TextRecord(i, x, scores={n: s[k] for n, s in scores.items()}) for k, (i, x) in enumerate(zip(items, extractions))]
    report = build_report(
        RunInfo("words", "2026-01-01T00:00:00+00:00", "test", (), ("t",), 0, 64, 8, "cpu"),
        loaded.info, with_words(records), [m.info for m in methods],
    )
    out = tmp_path_factory.mktemp("words") / "report.html"
    out.write_text(render_html(report), encoding="utf-8")
    table = pd.read_csv(io.BytesIO(words_csv(report)), keep_default_na=False, na_values=[""])
    return report, out, table


def texts_of(table: pd.DataFrame, lemma: str) -> list[str]:
    rows = table[(table.lemma == lemma) & table.grad_input.notna()]
    return [f"#text-{t}" for t in sorted(set(rows.text_id))]


def test_switch_words_pieces_and_the_corpus_lists_the_right_texts(word_report, browser: object) -> None:
    report, out, table = word_report
    with visit(browser, out, timeout_ms=180_000) as page:
        assert page.page_errors == [] and page.console_errors == [] and page.outside_requests == []
        states = page.chart_states()
        assert states and set(states.values()) <= {"done", ""}, states  # drawn, or not yet in view

        # Japanese texts open on words. Text 4 has words of several pieces (店+舗, お+越+し); text 0
        # has a piece over several words (ありがとうございます = ありがとう / ござい / ます).
        for index in (0, 4):
            page.open_text(index)  # drawn on demand, as a deep link does
            section = page.page.locator(f"#text-{index}")
            assert section.locator(".pick-unit").input_value() == "words"
            spans = section.locator(".highlight [data-pos]")
            pos = [int(p) for p in spans.evaluate_all("es => es.map(e => e.dataset.pos)")]
            word = spans.evaluate_all("es => es.map(e => e.dataset.word)")
            as_words = spans.evaluate_all("es => es.map(e => e.style.backgroundColor)")
            titles = spans.evaluate_all("es => es.map(e => e.title)")
            labels_before = page.svg_texts(f'#text-{index} [data-chart="methods"]')
            section.locator(".pick-unit").select_option("pieces")
            page.page.wait_for_function(
                f"() => document.querySelector('#text-{index} [data-chart=\"methods\"]').dataset.state === 'done'"
            )
            as_pieces = spans.evaluate_all("es => es.map(e => e.style.backgroundColor)")
            assert as_pieces != as_words, "the switch must recolour the text"
            assert spans.evaluate_all("es => es.map(e => e.title)") != titles
            pairs = list(zip(range(len(pos) - 1), range(1, len(pos))))
            one_word = [(a, b) for a, b in pairs if word[a] == word[b] and pos[a] != pos[b]]
            one_piece = [(a, b) for a, b in pairs if pos[a] == pos[b] and word[a] != word[b]]
            # Pieces of one word share its colour as words; one piece over two words shares it as pieces.
            assert all(as_words[a] == as_words[b] for a, b in one_word)
            assert all(as_pieces[a] == as_pieces[b] for a, b in one_piece)
            if index == 4:
                assert one_word and any(as_pieces[a] != as_pieces[b] for a, b in one_word)
            else:
                assert one_piece and any(as_words[a] != as_words[b] for a, b in one_piece)
            assert page.svg_texts(f'#text-{index} [data-chart="methods"]') != labels_before  # bars per token now
            assert section.locator('.movers[data-unit="pieces"]').is_visible()
            assert not section.locator('.movers[data-unit="words"]').is_visible()

        # The corpus: the most raising word lists exactly its texts (from the words CSV).
        corpus = page.page.locator("section.corpus")
        corpus.locator(".corpus-min").fill("1")
        first = corpus.locator(".corpus-raise button.corpus-word").first
        lemma = first.inner_text()
        first.click()
        links = corpus.locator(".corpus-texts a").evaluate_all("es => es.map(e => e.getAttribute('href'))")
        assert links == texts_of(table, lemma), lemma
        # Any word, through the search box: ございます' dictionary form ござる is in texts 0 and 2.
        corpus.locator(".corpus-find").fill("ござる")
        corpus.locator(".corpus-matches button.corpus-word", has_text="ござる").first.click()
        links = corpus.locator(".corpus-texts a").evaluate_all("es => es.map(e => e.getAttribute('href'))")
        assert links == texts_of(table, "ござる") == ["#text-0", "#text-2"]
        # Its forms seen (ござい of ございます) stand under the word, not in a squeezed column of
        # their own; a word seen only as itself shows no forms line.
        matches = corpus.locator(".corpus-matches")
        assert matches.locator("thead th").all_inner_texts() == ["word (forms seen)", "texts", "mean", "95% interval", "total", "share"]
        row = matches.locator("tbody tr", has=page.page.locator("button.corpus-word", has_text="ござる")).first
        assert "ござい" in row.locator("td").first.locator(".surfaces").inner_text()
        seen = table[table.grad_input.notna()].groupby("lemma").surface.agg(set)
        alone = {lemma: forms == {lemma} for lemma, forms in seen.items()}
        shown = corpus.locator(".corpus-raise tbody tr").evaluate_all(
            "rs => rs.map(r => [r.querySelector('button').textContent, !!r.cells[0].querySelector('.surfaces')])"
        )
        assert shown and all(has != alone[lemma] for lemma, has in shown), shown
        page.page.locator(".corpus-texts a").first.click()
        assert page.page.evaluate("() => location.hash") == "#text-0"

        # A hostile word is data: listed, shown literally, never run.
        corpus.locator(".corpus-find").fill("onerror")
        matches = corpus.locator(".corpus-matches button.corpus-word")
        assert matches.count() >= 1 and any("onerror" in t for t in matches.all_inner_texts())
        matches.first.click()
        assert page.sentinel() is None and page.dialogs == [] and page.page_errors == []
        assert page.page.query_selector("section.corpus img") is None
