"""Words: segmenting a text into words, mapping tokens to words, and the corpus view of words.

This module owns the torch-free core of word-level explanations (issue 11):

* :func:`segment` cuts a text into :class:`Word` spans: morphemes from a morphological
  analyser for Japanese (MeCab through ``fugashi`` with the ``ipadic`` dictionary, imported
  lazily on first use), whitespace-delimited words otherwise; :func:`detect_mode` picks one
  per text. Word spans are exact character offsets into the text and always cover it: every
  character outside every word is whitespace, whatever the analyser drops or does to hostile
  input (NUL, lone surrogates, control and format characters, very long texts).
* :func:`align` maps each token (its character span) onto the words it overlaps
  (:data:`SPLIT_RULE`); :func:`rebuild_offsets` recovers token spans from the pieces for
  tokenizers that give no offsets; :func:`alignment_matrix`, :func:`word_scores` and
  :func:`word_id_per_token` turn an alignment into word scores and the CSV's ``word_id``.
* :func:`aggregate_frame` / :func:`aggregate_corpus` build the corpus view: per dictionary
  form, how often and in how many texts it occurs, its mean and total signed score with a 95%
  interval (:data:`INTERVAL_RULE`), its share of |attribution|, and the lists of words that
  most raise and most lower the score.

Everything here is numpy/pandas (the interval's t quantile is :func:`reportgen.stats.t975`);
nothing imports torch or scipy, and the analyser is only imported when a Japanese text is
segmented.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import numpy as np
import pandas as pd

from reportgen.stats import t975

SPACE_MARK = "\u2581"  # SentencePiece's word-start marker

Mode = Literal["ja", "space"]
MODES = ("ja", "space")

ANALYSER = "MeCab (fugashi) with the IPAdic dictionary (ipadic package)"
"""What segments Japanese text, for the page's method notes."""

SPLIT_RULE = (
    "Each token's characters are shared among the words they fall in: a token wholly inside "
    "one word belongs to it with weight 1, and a token that spans a word boundary is split "
    "between the words in proportion to how many of its characters fall inside each "
    "(whitespace between words counts for neither). A token that covers no character of any "
    "word, such as a lone SentencePiece \u201c\u2581\u201d, belongs wholly to the word that "
    "follows it (the last word when none follows). Special tokens belong to no word."
)
"""The piece-to-word rule, worded for the page."""

ADDITIVE_RULE = (
    "For additive methods (Integrated Gradients, gradient \u00d7 input) a word's score is the "
    "sum of its tokens' scores, each weighted by the token's share in that word, so the word "
    "scores of a text add up to the same total as its token scores (completeness holds at "
    "word level)."
)

ATTENTION_RULE = (
    "For attention-style scores (non-negative weights over positions) a word's score is the "
    "sum of its tokens' weights, each weighted by the token's share in that word: the share "
    "of attention the word receives as a whole. Longer words therefore can receive more; "
    "the sum is not divided by the number of tokens."
)

INTERVAL_RULE = (
    "Mean = total score of the word / its number of occurrences. 95% interval: Student t "
    "with (texts \u2212 1) degrees of freedom around that mean, with a standard error that "
    "treats the texts as the independent units (ratio estimator, occurrences clustered by "
    "text); when every text has the word once this is the ordinary t interval of the mean. "
    "No interval for a word seen in fewer than two texts."
)

SHARE_RULE = (
    "Share of |attribution| = sum of |score| over the word's occurrences / sum of |score| over "
    "every word occurrence of every text."
)

LEMMA_RULE = (
    "Words are grouped by dictionary form: the analyser's base form for Japanese (the surface "
    "where it gives none); for whitespace-delimited words the surface in case-folded form "
    "with punctuation stripped from both ends."
)

MAX_CHUNK = 2000
"""The analyser sees at most this many characters at a time: MeCab's unknown-word handling
grows faster than linearly on long runs (a 100,000-character run of one letter takes ~8 s)."""

_WS = re.compile(r"\s+")
_NON_WS = re.compile(r"\S+")
_JAPANESE = re.compile(
    "[\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003134f]"
)


# --- Words --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Word:
    index: int
    surface: str
    """Exactly ``text[start:end]``."""
    lemma: str
    """Dictionary form where the analyser gives one, else the surface (see :data:`LEMMA_RULE`)."""
    start: int
    end: int
    pos: str | None = None
    """Part of speech from the analyser (IPAdic's first field, e.g. ``助詞``); None otherwise."""


def detect_mode(text: str) -> Mode:
    """``"ja"`` when the text has any hiragana, katakana or CJK ideograph, else ``"space"``."""
    return "ja" if _JAPANESE.search(text) else "space"


def segment(text: str, mode: str = "auto") -> tuple[Word, ...]:
    """Cut ``text`` into words; ``mode`` is ``"ja"``, ``"space"`` or ``"auto"`` (:func:`detect_mode`).

    Words are in text order, do not overlap, and every character outside them is whitespace.
    """
    if mode == "auto":
        mode = detect_mode(text)
    if mode == "space":
        spans = [(m.start(), m.end(), _space_lemma(m.group()), None) for m in _NON_WS.finditer(text)]
    elif mode == "ja":
        spans = _segment_ja(text)
    else:
        raise ValueError(f"unknown word mode {mode!r}: expected 'ja', 'space' or 'auto'")
    return tuple(
        Word(index=i, surface=text[a:b], lemma=lemma or text[a:b], start=a, end=b, pos=pos)
        for i, (a, b, lemma, pos) in enumerate(spans)
    )


def _space_lemma(surface: str) -> str:
    chars = list(surface)
    while chars and unicodedata.category(chars[0]).startswith("P"):
        chars.pop(0)
    while chars and unicodedata.category(chars[-1]).startswith("P"):
        chars.pop()
    return ("".join(chars) or surface).casefold()


class AnalyserUnavailable(RuntimeError):
    """The Japanese analyser (fugashi + ipadic) is not installed."""


@functools.lru_cache(maxsize=1)
def _tagger():
    try:
        import fugashi
        import ipadic
    except ImportError as exc:  # pragma: no cover - both are dependencies of the package
        raise AnalyserUnavailable(
            "Japanese word segmentation needs the packages fugashi and ipadic "
            "(pip install fugashi ipadic)"
        ) from exc
    return fugashi.GenericTagger(ipadic.MECAB_ARGS)


def analyser_versions() -> tuple[tuple[str, str], ...]:
    """Installed versions of the analyser's packages, for the page's environment notes."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("fugashi", "ipadic"):
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            found.append((name, "not installed"))
    return tuple(found)


def _chunks(text: str) -> Iterable[tuple[int, int]]:
    """Cut points so that no chunk is longer than MAX_CHUNK, preferring line breaks,
    then whitespace, then sentence ends; a hard cut only inside a very long unbroken run."""
    start, n = 0, len(text)
    while n - start > MAX_CHUNK:
        window = text[start : start + MAX_CHUNK]
        cut = -1
        for pattern in ("\n", None, "\u3002", "\uff01", "\uff1f", "!", "?", "."):
            if pattern is None:
                found = [m.end() for m in _WS.finditer(window)]
                cut = found[-1] if found and found[-1] < len(window) else -1
            else:
                i = window.rfind(pattern)
                cut = i + 1 if i > 0 else -1
            if cut > MAX_CHUNK // 4:
                break
        if cut <= MAX_CHUNK // 4:
            cut = MAX_CHUNK
        yield start, start + cut
        start += cut
    if start < n:
        yield start, n


def _sanitised(text: str) -> str:
    """What the analyser is given: NUL (MeCab stops at it) and lone surrogates (not UTF-8)
    become spaces, one character for one, so positions are unchanged."""
    return "".join(" " if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text)


def _analyse(chunk: str) -> list[tuple[str, str | None, str | None]]:
    """(surface, lemma, pos) per morpheme; an analyser failure leaves the chunk to the fallback."""
    tagger = _tagger()
    try:
        nodes = tagger(_sanitised(chunk))
    except Exception:  # noqa: BLE001 - any analyser failure: the gap filler still covers the text
        return []
    out = []
    for node in nodes:
        feature = node.feature
        lemma = feature[6] if len(feature) > 6 and feature[6] not in ("", "*") else None
        pos = feature[0] if feature and feature[0] not in ("", "*") else None
        out.append((node.surface, lemma, pos))
    return out


def _segment_ja(text: str) -> list[tuple[int, int, str | None, str | None]]:
    spans: list[tuple[int, int, str | None, str | None]] = []
    for chunk_start, chunk_end in _chunks(text):
        spans.extend(_locate(text, chunk_start, chunk_end, _analyse(text[chunk_start:chunk_end])))
    return spans


def _gap(text: str, a: int, b: int) -> list[tuple[int, int, str | None, str | None]]:
    """Characters the analyser did not account for: one word per whitespace-free run."""
    return [(a + m.start(), a + m.end(), None, None) for m in _NON_WS.finditer(text[a:b])]


def _locate(text, lo, hi, morphemes) -> list[tuple[int, int, str | None, str | None]]:
    """Find each morpheme's surface in ``text[lo:hi]``, left to right.

    A surface is accepted where it starts at the next non-blank character, or a little later
    (the analyser may skip characters); one that cannot be found nearby (an analyser that
    rewrites characters) is skipped, and whatever lies between located morphemes is covered
    by :func:`_gap`, so the words always cover the text.
    """
    out: list[tuple[int, int, str | None, str | None]] = []
    cursor = lo
    pending = 0  # characters of surfaces not yet located
    for surface, lemma, pos in morphemes:
        if not surface or surface.isspace():
            continue
        m = _WS.match(text, cursor, hi)
        first = m.end() if m else cursor
        limit = min(hi, first + len(surface) + 16 + 2 * pending)
        at = text.find(surface, first, limit)
        if at < 0:
            pending += len(surface)
            continue
        out.extend(_gap(text, cursor, at))
        end = at + len(surface)
        # Whitespace inside a morpheme's ends is not part of the word.
        inner = text[at:end]
        a = at + (len(inner) - len(inner.lstrip()))
        b = end - (len(inner) - len(inner.rstrip()))
        if b > a:
            out.append((a, b, lemma if (a, b) == (at, end) else None, pos))
        cursor, pending = end, 0
    out.extend(_gap(text, cursor, hi))
    return out


# --- Tokens to words ------------------------------------------------------------------------

Alignment = tuple[tuple[tuple[int, float], ...], ...]
"""Per token, the ``(word_index, fraction)`` pairs it is shared among; fractions sum to 1,
an empty tuple for a token with no word (special tokens, or a text with no words)."""


def _marker_only(piece: str) -> bool:
    return bool(piece) and not piece.replace(SPACE_MARK, "")


def align(
    words: Sequence[Word],
    offsets: Sequence[tuple[int, int]],
    special: Sequence[bool],
    pieces: Sequence[str] | None = None,
) -> Alignment:
    """Share each token among the words its character span overlaps (:data:`SPLIT_RULE`).

    ``pieces`` (the token strings) are optional: with them a lone ``▁`` piece is recognised
    whatever offset the tokenizer gave it (fast ALBERT tokenizers give it the span of the next
    character, which is the same word in all but odd cases).
    """
    if len(offsets) != len(special) or (pieces is not None and len(pieces) != len(special)):
        raise ValueError("offsets, special and pieces must have one entry per token")
    if not words:
        return tuple(() for _ in special)
    starts = np.array([w.start for w in words], dtype=np.int64)
    ends = np.array([w.end for w in words], dtype=np.int64)
    out = []
    for i, (span, is_special) in enumerate(zip(offsets, special)):
        if is_special:
            out.append(())
            continue
        a, b = int(span[0]), int(span[1])
        overlap = np.zeros(len(words), dtype=np.int64)
        if b > a and not (pieces is not None and _marker_only(pieces[i])):
            overlap = np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0, None)
        total = int(overlap.sum())
        if total == 0:
            # No character of any word: the word that follows (contains or starts after `a`).
            following = int(np.searchsorted(ends, a, side="right"))
            out.append(((min(following, len(words) - 1), 1.0),))
            continue
        hit = np.nonzero(overlap)[0]
        out.append(tuple((int(j), float(overlap[j]) / total) for j in hit))
    return tuple(out)


def alignment_matrix(alignment: Alignment, n_words: int) -> np.ndarray:
    """``(tokens, words)`` float64 weights; each row sums to 1 or is all zero."""
    matrix = np.zeros((len(alignment), n_words), dtype=np.float64)
    for i, pairs in enumerate(alignment):
        for j, fraction in pairs:
            matrix[i, j] += fraction
    return matrix


def word_scores(
    piece_scores: Sequence[float] | np.ndarray,
    alignment: Alignment,
    n_words: int,
    additive: bool = True,
) -> np.ndarray:
    """Per-word scores from per-token scores: ``float64 (n_words,)``.

    Both rules are the weighted sum of the tokens' scores (:data:`ADDITIVE_RULE`,
    :data:`ATTENTION_RULE`); ``additive`` says which one is meant and, for attention-style
    scores, requires them to be non-negative. Tokens without a word (special tokens) are left
    out whatever their score. A word no token reaches (cut off by truncation, or characters
    the tokenizer drops such as a zero-width space) gets NaN, not 0: the model never saw it.
    """
    scores = np.asarray(piece_scores, dtype=np.float64)
    if scores.shape != (len(alignment),):
        raise ValueError(f"expected {len(alignment)} token scores, got shape {scores.shape}")
    matrix = alignment_matrix(alignment, n_words)
    used = matrix.any(axis=1)
    if not additive and np.any(scores[used] < 0):
        raise ValueError("attention-style scores must be non-negative; pass additive=True for signed methods")
    out = scores[used] @ matrix[used] if used.any() else np.zeros(n_words)
    out = np.asarray(out, dtype=np.float64)
    out[~matrix.any(axis=0)] = np.nan
    return out


def word_id_per_token(alignment: Alignment) -> tuple[int, ...]:
    """Each token's word for the tokens CSV: the word holding most of it (the earlier word on
    a tie), -1 for a token with no word."""
    ids = []
    for pairs in alignment:
        if not pairs:
            ids.append(-1)
        else:
            ids.append(max(pairs, key=lambda p: (p[1], -p[0]))[0])
    return tuple(ids)


def _clusters(text: str) -> list[tuple[int, int]]:
    """Base character + following combining marks, as (start, end)."""
    out: list[tuple[int, int]] = []
    for i, c in enumerate(text):
        if out and unicodedata.combining(c) and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def _key(s: str) -> str:
    return unicodedata.normalize("NFKC", s).casefold()


def rebuild_offsets(
    text: str,
    pieces: Sequence[str],
    special: Sequence[bool],
    window: int = 16,
) -> tuple[tuple[int, int], ...]:
    """Character spans for tokens from a tokenizer that gives none (slow tokenizers).

    The pieces (``▁`` removed) are matched left to right against the text, skipping
    whitespace, both sides compared after NFKC and case folding (what SentencePiece
    normalisation and lower-casing do to the text). Special tokens get ``(0, 0)``, a lone
    ``▁`` an empty span where the next piece starts. A piece that does not match where expected is
    looked for a little further on (the tokenizer dropped a character, e.g. a zero-width
    space); one that is nowhere near (``<unk>``) gets the characters up to where the next
    piece matches, less trailing format/control characters. Not every normalisation is undone: a rebuilt span can be off in text the
    tokenizer rewrote, but spans never leave the text and never go backwards.
    """
    if len(pieces) != len(special):
        raise ValueError("pieces and special must have one entry per token")
    norm: list[str] = []  # normalised characters of the text, whitespace left out
    origin: list[tuple[int, int]] = []  # the original span each one came from
    for a, b in _clusters(text):
        key = _key(text[a:b])
        if not key or key.isspace():
            continue
        for ch in key:
            if ch.isspace():
                continue
            norm.append(ch)
            origin.append((a, b))
    flat = "".join(norm)
    n = len(flat)

    def span(k0: int, k1: int) -> tuple[int, int]:
        return (origin[k0][0], origin[k1 - 1][1]) if k1 > k0 else (_at(k0), _at(k0))

    def _at(k: int) -> int:
        return origin[k][0] if k < n else len(text)

    def keys_after(i: int) -> str | None:
        for j in range(i + 1, len(pieces)):
            if special[j]:
                continue
            key = _key(pieces[j].replace(SPACE_MARK, ""))
            if key:
                return key
        return None

    out: list[tuple[int, int]] = []
    k = 0
    for i, piece in enumerate(pieces):
        if special[i]:
            out.append((0, 0))
            continue
        key = "".join(_key(piece.replace(SPACE_MARK, "")).split())
        if not key:
            # A lone marker sits where the next piece starts (past characters the tokenizer
            # dropped or read as a space, such as a zero-width space).
            nxt = keys_after(i)
            found = flat.find(nxt, k, k + window + len(nxt)) if nxt else -1
            at = _at(found if found >= 0 else k)
            out.append((at, at))
            continue
        if flat.startswith(key, k):
            out.append(span(k, k + len(key)))
            k += len(key)
            continue
        found = flat.find(key, k, k + len(key) + window)
        if found >= 0:
            out.append(span(found, found + len(key)))
            k = found + len(key)
            continue
        nxt = keys_after(i)
        stop = flat.find(nxt, k, k + window + len(nxt)) if nxt else n
        if stop < 0:
            stop = min(k + 1, n)
        # Format and control characters before the next piece were most likely dropped by the
        # tokenizer's normaliser (zero-width space, bidi marks), not part of the unknown piece.
        while stop - 1 > k and unicodedata.category(flat[stop - 1]) in ("Cf", "Cc"):
            stop -= 1
        out.append(span(k, stop))
        k = stop
    return tuple(out)


# --- One text's words, as the pipeline computes them ----------------------------------------

WORD_MODES = ("auto", "ja", "space", "pieces")
"""``--words`` values: per-text detection, Japanese, whitespace, or no words at all (pieces only)."""


@dataclass(frozen=True, eq=False)
class TextWords:
    """One text's words and how its tokens share among them (torch-free, built after extraction)."""

    mode: Mode
    """How the text was segmented (``"ja"`` or ``"space"``)."""
    words: tuple[Word, ...]
    alignment: Alignment
    """Per token, its ``(word_index, fraction)`` pairs (see :func:`align`)."""
    offsets_rebuilt: bool = False
    """True when the tokenizer gave no offsets and :func:`rebuild_offsets` recovered them."""
    rebuilt_offsets: tuple[tuple[int, int], ...] | None = None
    """Those recovered spans (None when the tokenizer gave offsets)."""

    def __post_init__(self) -> None:
        for pairs in self.alignment:
            for j, _ in pairs:
                if not 0 <= j < len(self.words):
                    raise ValueError(f"alignment names word {j} of {len(self.words)}")

    def scores(self, token_scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """Word scores from one method's token scores (:data:`ADDITIVE_RULE` / :data:`ATTENTION_RULE`:
        the same share-weighted sum); NaN for a word no token reaches."""
        return word_scores(token_scores, self.alignment, len(self.words))

    @property
    def token_word_ids(self) -> tuple[int, ...]:
        """Each token's word for the tokens CSV (:func:`word_id_per_token`)."""
        return word_id_per_token(self.alignment)

    @property
    def word_tokens(self) -> tuple[tuple[int, ...], ...]:
        """Per word, every token position holding a share of it (what masking the word masks)."""
        out: list[list[int]] = [[] for _ in self.words]
        for i, pairs in enumerate(self.alignment):
            for j, _ in pairs:
                out[j].append(i)
        return tuple(tuple(ts) for ts in out)


def text_words(
    text: str,
    tokens: Sequence[str],
    offsets: Sequence[tuple[int, int]] | None,
    special: Sequence[bool],
    mode: str = "auto",
) -> TextWords | None:
    """Segment ``text`` (``mode``: ``auto`` detects per text; ``pieces`` gives None) and align
    its tokens to the words, rebuilding the offsets from the pieces when the tokenizer gave none."""
    if mode not in WORD_MODES:
        raise ValueError(f"unknown word mode {mode!r}: expected one of {', '.join(WORD_MODES)}")
    if mode == "pieces":
        return None
    chosen: Mode = detect_mode(text) if mode == "auto" else mode  # type: ignore[assignment]
    found = segment(text, chosen)
    rebuilt = rebuild_offsets(text, tokens, special) if offsets is None else None
    spans = rebuilt if rebuilt is not None else offsets
    return TextWords(chosen, found, align(found, spans, special, tokens), rebuilt is not None, rebuilt)


def with_words(records, mode: str = "auto"):
    """Each :class:`~reportgen.types.TextRecord` with its :class:`TextWords` set (None for ``pieces``)."""
    from dataclasses import replace

    if mode not in WORD_MODES:
        raise ValueError(f"unknown word mode {mode!r}: expected one of {', '.join(WORD_MODES)}")
    out = []
    for record in records:
        enc = record.encoded
        out.append(replace(record, words=text_words(record.item.text, enc.tokens, enc.offsets, enc.special, mode)))
    return out


# --- Corpus view ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorpusWord:
    lemma: str
    n_texts: int
    """Texts the word occurs in (at least once)."""
    occurrences: int
    mean: float
    """Mean signed score per occurrence."""
    total: float
    """Sum of the signed scores of all occurrences."""
    ci_low: float
    """95% interval of the mean (:data:`INTERVAL_RULE`); NaN below two texts."""
    ci_high: float
    share_abs: float
    """Share of all |attribution| in the corpus (:data:`SHARE_RULE`)."""
    surfaces: tuple[str, ...]
    """Surface forms seen, most frequent first."""
    text_ids: tuple[int, ...]
    """The texts containing the word, ascending."""


@dataclass(frozen=True, slots=True)
class Corpus:
    words: tuple[CorpusWord, ...]
    """One per lemma, largest share of |attribution| first (then lemma)."""
    n_texts: int
    """Texts that contributed at least one scored word."""
    total_abs: float

    def raising(self, min_texts: int = 3, k: int = 20, skip_symbols: bool = False) -> tuple[CorpusWord, ...]:
        """Words with a positive mean, highest mean first, among those in >= ``min_texts`` texts."""
        return top_words(self.words, "raise", min_texts=min_texts, k=k, skip_symbols=skip_symbols)

    def lowering(self, min_texts: int = 3, k: int = 20, skip_symbols: bool = False) -> tuple[CorpusWord, ...]:
        """Words with a negative mean, lowest mean first, among those in >= ``min_texts`` texts."""
        return top_words(self.words, "lower", min_texts=min_texts, k=k, skip_symbols=skip_symbols)

    def to_frame(self) -> pd.DataFrame:
        """The corpus table, one row per lemma; list columns joined with ``|`` / `` ``."""
        rows = [
            {
                "lemma": w.lemma,
                "n_texts": w.n_texts,
                "occurrences": w.occurrences,
                "mean": w.mean,
                "total": w.total,
                "ci_low": w.ci_low,
                "ci_high": w.ci_high,
                "share_abs": w.share_abs,
                "surfaces": "|".join(w.surfaces),
                "text_ids": " ".join(str(t) for t in w.text_ids),
            }
            for w in self.words
        ]
        columns = ["lemma", "n_texts", "occurrences", "mean", "total", "ci_low", "ci_high", "share_abs", "surfaces", "text_ids"]
        return pd.DataFrame(rows, columns=columns)


def _symbols_only(lemma: str) -> bool:
    return all(unicodedata.category(c)[0] in "PSZC" for c in lemma)


def top_words(
    words: Sequence[CorpusWord],
    direction: Literal["raise", "lower"],
    min_texts: int = 3,
    k: int = 20,
    skip_symbols: bool = False,
) -> tuple[CorpusWord, ...]:
    """The ``k`` words that most raise (positive mean, descending) or lower (negative mean,
    ascending) the score, among words seen in at least ``min_texts`` texts; ties go to the
    word seen in more texts, then by lemma. ``skip_symbols`` leaves out punctuation/symbols."""
    if direction not in ("raise", "lower"):
        raise ValueError("direction must be 'raise' or 'lower'")
    sign = 1.0 if direction == "raise" else -1.0
    chosen = [
        w
        for w in words
        if w.n_texts >= min_texts and sign * w.mean > 0 and not (skip_symbols and _symbols_only(w.lemma))
    ]
    chosen.sort(key=lambda w: (-sign * w.mean, -w.n_texts, w.lemma))
    return tuple(chosen[: max(k, 0)])


def aggregate_frame(frame: pd.DataFrame, score: str = "score") -> Corpus:
    """The corpus view from a long table: one row per word occurrence with columns
    ``text_id``, ``lemma``, ``surface`` and the score column ``score`` (the words CSV).

    Rows with a NaN score (words the model did not see) are left out; an infinite score is
    an error.
    """
    missing = {"text_id", "lemma", "surface", score} - set(frame.columns)
    if missing:
        raise ValueError(f"missing columns: {sorted(missing)}")
    data = frame[["text_id", "lemma", "surface", score]].rename(columns={score: "score"})
    data = data.assign(score=pd.to_numeric(data["score"], errors="raise").astype(np.float64))
    data = data[data["score"].notna()]
    if np.isinf(data["score"].to_numpy()).any():
        raise ValueError("infinite word score")
    if data.empty:
        return Corpus(words=(), n_texts=0, total_abs=0.0)
    data = data.assign(abs_score=data["score"].abs())
    total_abs = float(data["abs_score"].sum())

    per_text = data.groupby(["lemma", "text_id"], sort=True).agg(s=("score", "sum"), n=("score", "size")).reset_index()
    by_lemma = per_text.groupby("lemma", sort=True).agg(
        n_texts=("text_id", "size"), occurrences=("n", "sum"), total=("s", "sum")
    )
    by_lemma["mean"] = by_lemma["total"] / by_lemma["occurrences"]
    per_text = per_text.join(by_lemma[["mean", "n_texts", "occurrences"]], on="lemma")
    per_text["resid2"] = (per_text["s"] - per_text["mean"] * per_text["n"]) ** 2
    ss = per_text.groupby("lemma", sort=True)["resid2"].sum()
    t_count = by_lemma["n_texts"].to_numpy(dtype=np.float64)
    n_bar = by_lemma["occurrences"].to_numpy(dtype=np.float64) / t_count
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(ss.reindex(by_lemma.index).to_numpy() / (t_count * (t_count - 1))) / n_bar
        half = np.where(t_count >= 2, t975(np.maximum(t_count - 1, 1)) * se, np.nan)
    by_lemma["ci_low"] = by_lemma["mean"].to_numpy() - half
    by_lemma["ci_high"] = by_lemma["mean"].to_numpy() + half
    abs_by_lemma = data.groupby("lemma", sort=True)["abs_score"].sum()
    by_lemma["share_abs"] = abs_by_lemma / total_abs if total_abs > 0 else 0.0

    surface_counts = data.groupby(["lemma", "surface"], sort=False).size()
    surfaces: dict[str, list[tuple[int, str]]] = {}
    for (lemma, surface), count in surface_counts.items():
        surfaces.setdefault(lemma, []).append((-int(count), surface))
    texts = per_text.groupby("lemma", sort=True)["text_id"].agg(lambda s: tuple(sorted(int(v) for v in s)))

    words = [
        CorpusWord(
            lemma=str(lemma),
            n_texts=int(row["n_texts"]),
            occurrences=int(row["occurrences"]),
            mean=float(row["mean"]),
            total=float(row["total"]),
            ci_low=float(row["ci_low"]),
            ci_high=float(row["ci_high"]),
            share_abs=float(row["share_abs"]),
            surfaces=tuple(s for _, s in sorted(surfaces[lemma])),
            text_ids=texts[lemma],
        )
        for lemma, row in by_lemma.iterrows()
    ]
    words.sort(key=lambda w: (-w.share_abs, w.lemma))
    return Corpus(words=tuple(words), n_texts=int(data["text_id"].nunique()), total_abs=total_abs)


def aggregate_corpus(
    per_text: Sequence[Sequence[tuple[str, str, float]]],
    text_ids: Sequence[int] | None = None,
) -> Corpus:
    """The corpus view from, per text, its words as ``(lemma, surface, score)``; texts are
    numbered 0.. unless ``text_ids`` names them."""
    if text_ids is None:
        text_ids = range(len(per_text))
    elif len(text_ids) != len(per_text):
        raise ValueError("text_ids must name every text")
    rows = [
        (int(tid), lemma, surface, float(s))
        for tid, words in zip(text_ids, per_text)
        for lemma, surface, s in words
    ]
    frame = pd.DataFrame(rows, columns=["text_id", "lemma", "surface", "score"])
    return aggregate_frame(frame)
