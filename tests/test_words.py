"""Words (issue 11): segmentation, token-to-word alignment, word scores and the corpus view.

The hand-checked expectations below were read off by a person from the IPAdic analyses and
the sample tokenizer's pieces; each test states what it checks and can fail.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reportgen import words as W
from reportgen.words import Word, align, aggregate_corpus, aggregate_frame, detect_mode, rebuild_offsets, segment

REPO = Path(__file__).resolve().parents[1]
SAMPLE_MODEL = REPO / "samples" / "model"


def assert_covers(text: str, words: tuple[Word, ...]) -> None:
    """Words are in order, disjoint, exact slices of the text, and leave only whitespace out."""
    covered = [False] * len(text)
    previous_end = 0
    for i, w in enumerate(words):
        assert w.index == i
        assert previous_end <= w.start < w.end <= len(text), (w, previous_end)
        assert w.surface == text[w.start : w.end]
        assert w.lemma
        for k in range(w.start, w.end):
            covered[k] = True
        previous_end = w.end
    uncovered = "".join(c for c, cov in zip(text, covered) if not cov)
    assert uncovered.isspace() or uncovered == "", repr(uncovered)
    # The wording of the same property: surfaces concatenated = the text less whitespace.
    assert "".join(text[w.start : w.end] for w in words) == "".join(
        c for c, cov in zip(text, covered) if cov
    )


def table(words):
    return [(w.surface, w.lemma) for w in words]


# --- Mode and segmentation --------------------------------------------------------------------


def test_detect_mode() -> None:
    assert detect_mode("先生がいらっしゃいました。") == "ja"
    assert detect_mode("カタカナ") == "ja"
    assert detect_mode("ｶﾀｶﾅ") == "ja"  # half-width katakana
    assert detect_mode("漢字") == "ja"
    assert detect_mode("This is English.") == "space"
    assert detect_mode("１２３ ABC") == "space"  # full-width digits alone are not Japanese script
    assert detect_mode("   \u3000\n") == "space"
    assert detect_mode("") == "space"
    with pytest.raises(ValueError):
        segment("x", "pieces")


def test_honorific_verbs_get_their_dictionary_forms() -> None:
    cases = {
        "先生がいらっしゃいました。": [
            ("先生", "先生"), ("が", "が"), ("いらっしゃい", "いらっしゃる"),
            ("まし", "ます"), ("た", "た"), ("。", "。"),
        ],
        "存じております。": [("存じ", "存じる"), ("て", "て"), ("おり", "おる"), ("ます", "ます"), ("。", "。")],
        "こちらでございます。": [("こちら", "こちら"), ("で", "だ"), ("ござい", "ござる"), ("ます", "ます"), ("。", "。")],
        "ご覧になさいますか。": [("ご覧", "ご覧"), ("に", "に"), ("なさい", "なさる"), ("ます", "ます"), ("か", "か"), ("。", "。")],
        "ご案内いたします。": [("ご", "ご"), ("案内", "案内"), ("いたし", "いたす"), ("ます", "ます"), ("。", "。")],
    }
    for text, expected in cases.items():
        words = segment(text)
        assert table(words) == expected, text
        assert_covers(text, words)


def test_casual_particles_stand_alone() -> None:
    words = segment("それはいいよね。")
    assert table(words) == [("それ", "それ"), ("は", "は"), ("いい", "いい"), ("よ", "よ"), ("ね", "ね"), ("。", "。")]
    assert [w.pos for w in words][3:5] == ["助詞", "助詞"]
    assert [(w.start, w.end) for w in words] == [(0, 2), (2, 3), (3, 5), (5, 6), (6, 7), (7, 8)]


def test_full_width_and_half_width_digits_and_latin_inside_japanese() -> None:
    text = "ご案内いたします。 Apple Watchは１２３円と123円です"
    words = segment(text)
    assert_covers(text, words)
    got = [(w.surface, w.start, w.end) for w in words]
    assert got == [
        ("ご", 0, 1), ("案内", 1, 3), ("いたし", 3, 6), ("ます", 6, 8), ("。", 8, 9),
        ("Apple", 10, 15), ("Watch", 16, 21), ("は", 21, 22),
        # IPAdic takes full-width digits one by one, half-width digits as one number.
        ("１", 22, 23), ("２", 23, 24), ("３", 24, 25), ("円", 25, 26), ("と", 26, 27),
        ("123", 27, 30), ("円", 30, 31), ("です", 31, 33),
    ]
    # An unknown word has no base form in IPAdic ("*"): the lemma falls back to the surface.
    assert words[5].lemma == "Apple"


def test_space_mode() -> None:
    text = '  Hello, world!\t"Quoted"  …  '
    words = segment(text, "space")
    assert [(w.surface, w.lemma, w.start, w.end) for w in words] == [
        ("Hello,", "hello", 2, 8), ("world!", "world", 9, 15), ('"Quoted"', "quoted", 16, 24), ("…", "…", 26, 27),
    ]
    assert segment(text) == words  # auto picks "space" for it
    assert_covers(text, words)


@pytest.mark.parametrize("text", ["", " ", "   \u3000\n\t\r\n", "\u3000\u3000", "\x1c\x1d\x85\xa0"])
@pytest.mark.parametrize("mode", ["ja", "space", "auto"])
def test_empty_after_strip_gives_no_words(text: str, mode: str) -> None:
    assert segment(text, mode) == ()
    assert align((), [(0, 0), (0, 1)], [True, False]) == ((), ())


def hostile_texts() -> list[str]:
    rng = random.Random(11)
    alphabet = (
        "あいうえおかきくけこがぎ漢字語尊敬謙譲アイウエオｶﾀｶﾅ１２３123abcXYZ"
        "。、！？!?.,「」 \u3000\t\n\r"
        "\x00\x01\x07\x1b\x7f\x85\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2066\u2069\ufeff"
        "😀👨‍👩‍👧🇯🇵\u3099\u0301é"
    )
    mixed = "".join(rng.choice(alphabet) for _ in range(5000))
    return [
        "絵文字😀👨\u200d👩\u200d👧です🇯🇵！",
        "\u200fשלום\u200e日本\u202e語\u202cです",
        "ゼロ\u200b幅\ufeffです\u2060。",
        "制御\x00文字\x01が\x7fあります\x1b[31m赤\x1b[0m",
        "改行\r\nと\tタブと\u3000全角空白",
        "か\u3099がe\u0301",
        "サロゲート\ud800です",
        "あ" * 5000,
        "x" * 5000,
        "😀" * 5000,
        "今日はいい天気ですね。" * 500,
        mixed,
        "\u3000" + "ご来店いただき" + " " * 3000 + "ありがとうございます",
    ]


@pytest.mark.parametrize("index", range(len(hostile_texts())))
def test_hostile_corpus_is_covered(index: int) -> None:
    text = hostile_texts()[index]
    for mode in ("ja", "space"):
        assert_covers(text, segment(text, mode))


def test_nul_and_surrogates_do_not_stop_the_analyser() -> None:
    text = "前\x00後\ud800です"
    words = segment(text, "ja")
    assert_covers(text, words)
    # MeCab would stop at NUL; the text after it is still analysed into its own words.
    assert [w.surface for w in words] == ["前", "\x00", "後", "\ud800", "です"]
    assert words[-1].pos == "助動詞"


def test_long_text_is_analysed_in_chunks() -> None:
    text = ("ご来店いただき誠にありがとうございます" * 300) + "\n" + ("x" * 4500) + "終わり"
    cuts = list(W._chunks(text))
    assert cuts[0][0] == 0 and cuts[-1][1] == len(text)
    assert all(b - a <= W.MAX_CHUNK for a, b in cuts)
    assert all(cuts[i][1] == cuts[i + 1][0] for i in range(len(cuts) - 1))
    words = segment(text, "ja")
    assert_covers(text, words)
    # Away from the cuts the morphemes are the analyser's: 300 repetitions of the same lemmas.
    assert sum(w.lemma == "いただく" for w in words) >= 295


def test_coverage_holds_when_the_analyser_rewrites_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "ｶﾀｶﾅと１２３円、ﾊﾝｶｸ です"

    real = W._analyse

    def normalising(chunk):  # an analyser that returns NFKC surfaces (as some do)
        return [(unicodedata.normalize("NFKC", s), lemma, pos) for s, lemma, pos in real(chunk)]

    monkeypatch.setattr(W, "_analyse", normalising)
    words = segment(text, "ja")
    assert_covers(text, words)
    assert [w.surface for w in words if w.pos] == ["と", "円", "、", "です"]
    assert "ｶﾀｶﾅ" in [w.surface for w in words]  # unlocated surfaces come back as plain runs

    monkeypatch.setattr(W, "_analyse", lambda chunk: [])  # an analyser that returned nothing
    words = segment(text, "ja")
    assert_covers(text, words)
    assert [w.surface for w in words] == ["ｶﾀｶﾅと１２３円、ﾊﾝｶｸ", "です"]

    monkeypatch.setattr(W, "_analyse", lambda chunk: [("まったく別の語", None, None), ("です", "です", "助動詞")])
    words = segment(text, "ja")
    assert_covers(text, words)


# --- Alignment ------------------------------------------------------------------------------

# The sample tokenizer's pieces and offsets for 先生がいらっしゃいました。 (read off tokenizer.json)
SENSEI = "先生がいらっしゃいました。"
SENSEI_PIECES = ["[CLS]", "\u2581", "先生が", "い", "らっ", "しゃ", "いました", "。", "[SEP]"]
SENSEI_OFFSETS = [(0, 0), (0, 1), (0, 3), (3, 4), (4, 6), (6, 8), (8, 12), (12, 13), (0, 0)]
SENSEI_SPECIAL = [True, False, False, False, False, False, False, False, True]


def test_piece_spanning_words_is_split_by_characters() -> None:
    words = segment(SENSEI)  # 先生 | が | いらっしゃい | まし | た | 。
    alignment = align(words, SENSEI_OFFSETS, SENSEI_SPECIAL, SENSEI_PIECES)
    expected = [
        (),
        ((0, 1.0),),  # lone ▁ -> the word that follows
        ((0, 2 / 3), (1, 1 / 3)),  # 先生が: 2 characters in 先生, 1 in が
        ((2, 1.0),), ((2, 1.0),), ((2, 1.0),),
        ((2, 0.25), (3, 0.5), (4, 0.25)),  # いました: い | まし | た
        ((5, 1.0),),
        (),
    ]
    assert len(alignment) == len(expected)
    for got, want in zip(alignment, expected):
        assert [j for j, _ in got] == [j for j, _ in want]
        assert [f for _, f in got] == pytest.approx([f for _, f in want])
    assert W.word_id_per_token(alignment) == (-1, 0, 0, 2, 2, 2, 3, 5, -1)
    scores = np.array([9.0, 0.3, 0.6, 1.0, 1.0, 1.0, 0.4, -0.2, 9.0])
    ws = W.word_scores(scores, alignment, len(words))
    assert ws == pytest.approx([0.3 + 0.4, 0.2, 3.1, 0.2, 0.1, -0.2])
    assert ws.sum() == pytest.approx(scores[1:-1].sum())


def test_lone_marker_without_pieces_and_at_the_end() -> None:
    words = (Word(0, "ab", "ab", 0, 2), Word(1, "cd", "cd", 3, 5))
    # Empty or whitespace-only spans attach to the following word, past the end to the last.
    alignment = align(words, [(0, 0), (2, 3), (2, 2), (5, 5), (9, 9), (1, 4)], [False] * 6)
    assert alignment[:5] == (((0, 1.0),), ((1, 1.0),), ((1, 1.0),), ((1, 1.0),), ((1, 1.0),))
    assert alignment[5] == ((0, 0.5), (1, 0.5))  # "b", " ", "c": the space counts for neither
    # A "▁" whose offset covers a character is still treated as a marker when pieces are given.
    assert align(words, [(3, 4)], [False], ["\u2581"]) == (((1, 1.0),),)
    assert align(words, [(1, 2)], [False], ["\u2581"]) == (((0, 1.0),),)
    with pytest.raises(ValueError):
        align(words, [(0, 1)], [False, True])


def synthetic_tokens(text: str, rng: random.Random):
    """Random contiguous cuts over the text, with lone markers and special tokens mixed in."""
    offsets, special, pieces = [(0, 0)], [True], ["[CLS]"]
    k = 0
    while k < len(text):
        if rng.random() < 0.15:
            offsets.append((k, k + rng.choice([0, 1])) if k < len(text) else (k, k))
            special.append(False)
            pieces.append("\u2581")
        step = rng.randint(1, 4)
        offsets.append((k, min(len(text), k + step)))
        special.append(False)
        pieces.append("\u2581" + text[k : k + step])
        k += step
    offsets.append((0, 0))
    special.append(True)
    pieces.append("[SEP]")
    return offsets, special, pieces


@pytest.mark.parametrize("index", range(len(hostile_texts())))
def test_additive_word_scores_keep_the_total(index: int) -> None:
    text = hostile_texts()[index][:1500]
    rng = random.Random(index)
    words = segment(text)
    offsets, special, pieces = synthetic_tokens(text, rng)
    alignment = align(words, offsets, special, pieces)
    matrix = W.alignment_matrix(alignment, len(words))
    rows = matrix.sum(axis=1)
    assert np.allclose(rows[np.array(special)], 0.0)
    assert np.allclose(rows[~np.array(special)], 1.0 if words else 0.0)
    scores = np.array([rng.gauss(0, 1) for _ in offsets])
    ws = W.word_scores(scores, alignment, len(words))
    if words:
        assert np.nansum(ws) == pytest.approx(scores[~np.array(special)].sum(), abs=1e-9)
        assert not np.isnan(ws).any()  # contiguous tokens reach every word


def test_words_no_token_reaches_get_nan() -> None:
    text = "一つ目の文です。二つ目の文です。"
    words = segment(text)
    # Truncated: tokens stop after the first sentence.
    offsets = [(0, 0), (0, 2), (2, 3), (3, 5), (5, 7), (7, 8), (0, 0)]
    special = [True, False, False, False, False, False, True]
    alignment = align(words, offsets, special)
    ws = W.word_scores([5.0, 1, 2, 3, 4, 5, 5.0], alignment, len(words))
    reached = ~np.isnan(ws)
    assert [w.surface for w, r in zip(words, reached) if r] == ["一つ", "目", "の", "文", "です", "。"]
    assert np.nansum(ws) == pytest.approx(15.0)
    with pytest.raises(ValueError):
        W.word_scores([0.0, -0.5, 0, 0, 0, 0, 0.0], alignment, len(words), additive=False)
    att = W.word_scores([0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0], alignment, len(words), additive=False)
    assert np.nansum(att) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        W.word_scores([1.0, 2.0], alignment, len(words))


# --- Offsets rebuilt from pieces --------------------------------------------------------------


def test_rebuild_offsets_hand_checked() -> None:
    rebuilt = rebuild_offsets(SENSEI, SENSEI_PIECES, SENSEI_SPECIAL)
    assert rebuilt == ((0, 0), (0, 0), (0, 3), (3, 4), (4, 6), (6, 8), (8, 12), (12, 13), (0, 0))
    # Normalised pieces (full-width digits, half-width katakana), a dropped zero-width space,
    # an <unk> for an emoji, whitespace skipped, lower-cased Latin.
    text = " １２３ ｶﾀｶﾅ😀\u200bです Apple"
    pieces = ["[CLS]", "\u25811", "2", "3", "\u2581", "カタ", "カナ", "<unk>", "です", "\u2581apple", "[SEP]"]
    special = [True] + [False] * 9 + [True]
    assert rebuild_offsets(text, pieces, special) == (
        (0, 0), (1, 2), (2, 3), (3, 4), (5, 5), (5, 7), (7, 9), (9, 10), (11, 13), (14, 19), (0, 0),
    )
    # Never out of the text, never backwards, even for pieces that match nothing.
    junk = rebuild_offsets("abc", ["zzz", "<unk>", "c", "\u2581", "q"], [False] * 5)
    assert all(0 <= a <= b <= 3 for a, b in junk)
    assert [a for a, _ in junk] == sorted(a for a, _ in junk)
    with pytest.raises(ValueError):
        rebuild_offsets("abc", ["a"], [False, True])


# --- The real sample tokenizer ----------------------------------------------------------------

REAL_TEXTS = [
    "先生がいらっしゃいました。",
    "お待ちしておりました。こちらでございます。",
    "そのことは存じております。ご覧になさいますか。",
    "それはいいよね。行くよ！",
    "ご案内いたします。 Apple Watchは１２３円と123円です",
    " 　ｶﾀｶﾅ😀\u200bです",
]


@pytest.fixture(scope="module")
def sample_tokenizer():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(SAMPLE_MODEL))


def test_real_pieces_align_to_words(sample_tokenizer) -> None:
    tok = sample_tokenizer
    assert tok.is_fast
    for text in REAL_TEXTS:
        enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
        pieces = tok.convert_ids_to_tokens(enc["input_ids"])
        special = [bool(s) for s in enc["special_tokens_mask"]]
        offsets = [tuple(o) for o in enc["offset_mapping"]]
        words = segment(text)
        assert_covers(text, words)
        alignment = align(words, offsets, special, pieces)
        for pairs, is_special in zip(alignment, special):
            assert (pairs == ()) == is_special
            assert sum(f for _, f in pairs) == pytest.approx(1.0 if pairs else 0.0)
        scores = np.random.default_rng(0).normal(size=len(pieces))
        ws = W.word_scores(scores, alignment, len(words))
        assert np.nansum(ws) == pytest.approx(scores[~np.array(special)].sum())
        # Rebuilt offsets (as for a slow tokenizer) give the same alignment.
        rebuilt = rebuild_offsets(text, pieces, special)
        for piece, real, again, is_special in zip(pieces, offsets, rebuilt, special):
            if not is_special and piece.replace("\u2581", ""):
                assert again == real, (text, piece)
        assert align(words, rebuilt, special, pieces) == alignment

    # Hand-checked on the real pieces: ▁ + 先生が, where 先生が spans two words.
    enc = tok(SENSEI, return_offsets_mapping=True, return_special_tokens_mask=True)
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == SENSEI_PIECES
    assert [tuple(o) for o in enc["offset_mapping"]] == SENSEI_OFFSETS


def test_slow_sentencepiece_pieces_rebuild_to_fast_offsets(sample_tokenizer) -> None:
    spm = pytest.importorskip("sentencepiece")
    processor = spm.SentencePieceProcessor(model_file=str(SAMPLE_MODEL / "spiece.model"))
    for text in REAL_TEXTS[:4]:
        pieces = processor.encode(text, out_type=str)
        rebuilt = rebuild_offsets(text, pieces, [False] * len(pieces))
        enc = sample_tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        fast_pieces = sample_tokenizer.convert_ids_to_tokens(enc["input_ids"])
        assert pieces == fast_pieces
        for piece, real, again in zip(pieces, enc["offset_mapping"], rebuilt):
            if piece.replace("\u2581", ""):
                assert again == tuple(real)


# --- Corpus view ------------------------------------------------------------------------------


def random_corpus(seed: int = 3):
    rng = np.random.default_rng(seed)
    lemmas = ["いらっしゃる", "ござる", "よ", "ね", "ます", "。", "only-once", "one-text-twice"]
    effect = {"いらっしゃる": 0.4, "ござる": 0.3, "よ": -0.3, "ね": -0.2, "ます": 0.05, "。": 0.0}
    per_text = []
    for t in range(40):
        words = []
        for lemma in lemmas[:6]:
            for _ in range(int(rng.integers(0, 3))):
                surface = lemma if rng.random() < 0.7 else lemma + "*"
                words.append((lemma, surface, float(effect[lemma] + rng.normal(0, 0.2))))
        if t == 7:
            words.append(("only-once", "only-once", 1.5))
            words += [("one-text-twice", "x", 0.5), ("one-text-twice", "y", -0.1)]
        per_text.append(words)
    return per_text


def test_corpus_aggregation_matches_direct_pandas() -> None:
    per_text = random_corpus()
    ids = [100 + i for i in range(len(per_text))]
    corpus = aggregate_corpus(per_text, ids)
    rows = [(tid, lemma, surface, s) for tid, ws in zip(ids, per_text) for lemma, surface, s in ws]
    df = pd.DataFrame(rows, columns=["text_id", "lemma", "surface", "score"])
    assert corpus.n_texts == df["text_id"].nunique()
    assert corpus.total_abs == pytest.approx(df["score"].abs().sum())
    by = {w.lemma: w for w in corpus.words}
    assert set(by) == set(df["lemma"])
    for lemma, sub in df.groupby("lemma"):
        w = by[lemma]
        assert w.n_texts == sub["text_id"].nunique()
        assert w.occurrences == len(sub)
        assert w.total == pytest.approx(sub["score"].sum())
        assert w.mean == pytest.approx(sub["score"].mean())
        assert w.share_abs == pytest.approx(sub["score"].abs().sum() / df["score"].abs().sum())
        assert w.text_ids == tuple(sorted(sub["text_id"].unique()))
        counts = sub["surface"].value_counts()
        assert w.surfaces[0] == counts.index[0] and set(w.surfaces) == set(counts.index)
        # The interval: cluster-robust (by text) standard error of the ratio mean, t(T-1).
        per = sub.groupby("text_id")["score"].agg(["sum", "size"])
        T = len(per)
        if T < 2:
            assert np.isnan(w.ci_low) and np.isnan(w.ci_high)
            continue
        resid = per["sum"] - w.mean * per["size"]
        se = np.sqrt((resid**2).sum() / (T * (T - 1))) / per["size"].mean()
        half = stats.t.ppf(0.975, T - 1) * se
        assert (w.ci_low, w.ci_high) == pytest.approx((w.mean - half, w.mean + half))
        assert w.ci_low < w.mean < w.ci_high
    assert sum(w.share_abs for w in corpus.words) == pytest.approx(1.0)
    assert by["only-once"].n_texts == 1 and np.isnan(by["only-once"].ci_low)
    assert by["one-text-twice"].surfaces == ("x", "y") and by["one-text-twice"].occurrences == 2


def test_interval_is_the_t_interval_with_one_occurrence_per_text() -> None:
    scores = [0.1, 0.5, -0.2, 0.3, 0.9, 0.4]
    corpus = aggregate_corpus([[("a", "a", s)] for s in scores])
    (w,) = corpus.words
    low, high = stats.t.interval(0.95, len(scores) - 1, loc=np.mean(scores), scale=stats.sem(scores))
    assert (w.ci_low, w.ci_high) == pytest.approx((low, high))


def test_top_lists_respect_min_texts_and_sign() -> None:
    corpus = aggregate_corpus(random_corpus())
    raising = [w.lemma for w in corpus.raising(min_texts=3)]
    lowering = [w.lemma for w in corpus.lowering(min_texts=3)]
    assert raising[:2] == ["いらっしゃる", "ござる"]
    assert lowering[:2] == ["よ", "ね"]
    assert "only-once" not in raising  # one text only
    assert "only-once" in [w.lemma for w in corpus.raising(min_texts=1)]
    assert corpus.raising(min_texts=1)[0].lemma == "only-once"
    assert all(w.mean > 0 for w in corpus.raising(min_texts=1, k=100))
    assert all(w.mean < 0 for w in corpus.lowering(min_texts=1, k=100))
    assert len(corpus.raising(min_texts=1, k=1)) == 1
    assert "。" not in [w.lemma for w in corpus.raising(1, 100, skip_symbols=True) + corpus.lowering(1, 100, skip_symbols=True)]


def test_corpus_frame_round_trip_and_bad_input() -> None:
    per_text = random_corpus()
    corpus = aggregate_corpus(per_text)
    frame = corpus.to_frame()
    assert list(frame["lemma"]) == [w.lemma for w in corpus.words]
    assert frame["share_abs"].is_monotonic_decreasing
    long = pd.DataFrame(
        [(t, lemma, s, v) for t, ws in enumerate(per_text) for lemma, s, v in ws] + [(99, "unseen", "unseen", np.nan)],
        columns=["text_id", "lemma", "surface", "ig"],
    )
    again = aggregate_frame(long, score="ig")
    # NaN rows (words the model never saw) are left out.
    pd.testing.assert_frame_equal(again.to_frame(), frame)
    assert (again.n_texts, again.total_abs) == (corpus.n_texts, corpus.total_abs)
    with pytest.raises(ValueError):
        aggregate_frame(long.assign(ig=np.inf), score="ig")
    with pytest.raises(ValueError):
        aggregate_frame(long, score="missing")
    assert aggregate_corpus([[], []]).words == ()


def test_module_imports_neither_torch_nor_the_analyser() -> None:
    code = (
        "import sys, reportgen.words; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'fugashi', 'ipadic')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_intervals_import_no_scipy() -> None:
    # scipy is a test dependency only; words' intervals used to import its t quantile.
    code = (
        "import sys\n"
        "import pandas as pd\n"
        "from reportgen.words import aggregate_frame\n"
        "frame = pd.DataFrame({'text_id': [0, 1, 2, 2], 'lemma': ['a', 'a', 'a', 'b'],\n"
        "                      'surface': ['a', 'a', 'a', 'b'], 'score': [0.1, 0.4, -0.2, 1.0]})\n"
        "[a] = [w for w in aggregate_frame(frame).words if w.lemma == 'a']\n"
        "assert a.ci_low < a.mean < a.ci_high, a\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
