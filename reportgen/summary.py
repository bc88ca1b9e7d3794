"""A short Markdown summary of a report, ready to paste into a ticket next to the attached report.

It gives the model, the counts, the faithfulness verdict (which explanation to trust), a table
of the texts with prediction, gold, error and the tokens that raise and lower each prediction
most, and links to the pictures (:mod:`reportgen.images`) relative to the summary file.

Everything that came from a user (texts, tokens, paths, the title) is escaped for Markdown
(:func:`escape_markdown`): table pipes, line breaks, emphasis, links, HTML and the like cannot
break the table or become markup.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

from .images import movers, prediction_name, signed_method
from .report import Mover, Report
from .visible import visible_plain

TEXT_CHARS = 60
"""Characters of each text shown in the table (the report has all of it)."""
TABLE_TOKENS = 3
"""Words (or tokens) per direction in the table."""
CORPUS_WORDS = 5
"""Words per direction in the across-texts line."""

# Every ASCII character CommonMark or GitHub-flavoured Markdown may treat as syntax; each is
# escaped with a backslash (valid for any ASCII punctuation in CommonMark).
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~&$:])")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u0085\u2028\u2029\v\f]")


def escape_markdown(text: object, limit: int | None = None) -> str:
    """User text as one line of literal Markdown, safe inside a table cell.

    Line breaks become ``⏎`` (a table row is one line), tabs a space, invisible and control
    characters visible stand-ins, and Markdown punctuation (``|`` included) is backslash-escaped.
    ``limit`` cuts the text (before escaping) with an ellipsis.
    """
    raw = _LINE_BREAKS.sub("⏎", str(text)).replace("\t", " ")
    raw = visible_plain(raw)
    if limit is not None and len(raw) > limit:
        raw = raw[: limit - 1] + "…"
    return _SPECIAL.sub(r"\\\1", raw)


def _link(target: Path, base: Path) -> str:
    """``target`` relative to the folder of ``base``, as a percent-encoded URL path."""
    relative = os.path.relpath(Path(target).resolve(), Path(base).resolve().parent)
    return quote(Path(relative).as_posix(), safe="/._-~")


def _number(value: float | None, fmt: str = ".4g") -> str:
    return "" if value is None else format(value, fmt)


def verdict(report: Report) -> str:
    """One sentence: the most faithful explanation method and how clearly it beats chance."""
    view = report.faithfulness
    if view is None or view.best is None:
        return "Faithfulness was not measured."
    shown = report.highlight if view.verdict == "tied" and report.highlight in view.tied else view.best
    best = next((s for s in view.summary if s.method == shown), None)
    title = report.method(shown).title
    if view.verdict == "tied":
        names = ", ".join(escape_markdown(report.method(n).title) for n in view.tied)
        lead = f"No single most faithful explanation: {names} are tied; shaded by **{escape_markdown(title)}**"
    else:
        lead = f"Most faithful explanation: **{escape_markdown(title)}**"
    if best is None:
        return lead + "."
    sentence = (
        f"{lead} (comprehensiveness {best.mean_comprehensiveness:.3f}, "
        f"sufficiency {best.mean_sufficiency:.3f}"
    )
    if best.beats_random is not None:
        sentence += f"; beats the random order on {best.beats_random:.0%} of texts"
    sentence += ")."
    if best.beats_random is not None and best.beats_random < 0.5:
        sentence += " It beats the random order on fewer than half of the texts: treat every highlight with caution."
    return sentence


def summary_markdown(report: Report, pictures: Sequence[Path] = (), summary_path: Path | None = None) -> str:
    """The summary as Markdown.

    ``pictures`` are the written picture files (``overview`` and ``text-NNN`` as named by
    :func:`reportgen.images.file_names`); they are linked relative to ``summary_path``'s folder
    (or as given when ``summary_path`` is None).
    """
    model = report.model
    run = report.run
    links = {Path(p).stem: (_link(p, summary_path) if summary_path is not None else quote(Path(p).as_posix(), safe="/._-~")) for p in pictures}
    lines = [f"## {escape_markdown(run.title)}", ""]
    described = f"{model.architecture}, {model.num_layers} layers, {model.num_heads} heads, {model.num_parameters:,} parameters, {model.task}"
    lines.append(f"- **Model:** {escape_markdown(model.path)} ({escape_markdown(described)})")
    if model.checkpoint:
        lines.append(f"- **Checkpoint:** {escape_markdown(model.checkpoint)}")
    lines.append(f"- **Weights:** {escape_markdown(model.weights_file)}, sha256 {model.weights_sha256[:12]}")
    if model.target_name:
        scale = f" on {model.target_range[0]:g} to {model.target_range[1]:g}" if model.target_range else ""
        meaning = f": {escape_markdown(model.target_description)}" if model.target_description else ""
        lines.append(f"- **Predicts:** {escape_markdown(model.target_name)}{scale}{meaning}")
    counts = f"{len(report.texts)} text{'s' if len(report.texts) != 1 else ''}"
    if run.skipped_blank:
        counts += f", {run.skipped_blank} blank skipped"
    if report.truncated_count:
        counts += f", {report.truncated_count} truncated to {run.max_length} tokens"
    if report.ig_warnings:
        counts += f", {report.ig_warnings} with an inexact Integrated Gradients sum"
    lines.append(f"- **Texts:** {counts}")
    version = dict(run.versions).get("reportgen")
    lines.append(f"- **Run:** {run.created}" + (f", reportgen {escape_markdown(version)}" if version else ""))
    lines.append(f"- **Faithfulness:** {verdict(report)}")
    corpus = report.corpus
    if corpus is not None and corpus.words:
        raising, lowering = corpus.raising(k=CORPUS_WORDS), corpus.lowering(k=CORPUS_WORDS)
        if raising or lowering:
            lines.append(
                f"- **Across texts** ({escape_markdown(report.method(corpus.method).title)}, mean per occurrence, "
                f"words in at least {corpus.default_min_texts} text{'s' if corpus.default_min_texts != 1 else ''}): "
                f"raise {_corpus(raising)}; lower {_corpus(lowering)}"
            )
    lines.append("")
    if "overview" in links:
        lines += [f"![Predictions of every text]({links['overview']})", ""]

    method = signed_method(report)
    column = report.method(method)
    name = prediction_name(report) if model.task == "regression" else "prediction (p)"
    header = ["#", "text", escape_markdown(name), "gold", "error"]
    if column.signed:
        header += [f"raise ({escape_markdown(column.title)})", "lower"]
    else:
        header += [f"highest {escape_markdown(column.title)}"]
    with_pictures = any(k.startswith("text-") for k in links)
    if with_pictures:
        header.append("card")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] * len(header)) + "|")
    stems = {t.text_id: s for s, t in zip(_text_stems(report, links), report.texts)}
    for text in report.texts:
        found = movers(text, method, TABLE_TOKENS)
        up, down = found.up, found.down
        prediction = (
            f"{escape_markdown(text.predicted_label)} ({text.prediction:.3f})"
            if model.task == "classification"
            else _number(text.prediction)
        )
        row = [
            str(text.text_id),
            escape_markdown(text.text, TEXT_CHARS) + (" ✂" if text.truncated else ""),
            prediction,
            _number(text.gold),
            _number(text.error, "+.3g"),
            _tokens(up),
        ]
        if column.signed:
            row.append(_tokens(down))
        if with_pictures:
            stem = stems.get(text.text_id)
            row.append(f"[card]({links[stem]})" if stem in links else "")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    units = {movers(t, method, 1).unit for t in report.texts}
    listed = (
        "Listed are words (morphemes for Japanese, space-separated otherwise)"
        + (" or, for texts without words, the tokenizer's pieces" if "pieces" in units else "")
        if "words" in units
        else "Listed are the tokenizer's pieces"
    )
    lines.append(
        f"{listed}, scored by {escape_markdown(column.title)}"
        + (" (signed: raise pushes the prediction up, lower pushes it down)." if column.signed else ".")
        + (" ✂ marks a truncated text." if report.truncated_count else "")
        + " The attached HTML report has every text, method and attention map."
    )
    return "\n".join(lines) + "\n"


def _text_stems(report: Report, links: dict[str, str]) -> list[str]:
    """The picture stem of each text (``text-007``), whatever zero-padding the folder used."""
    stems = []
    for text in report.texts:
        found = next((k for k in links if k.startswith("text-") and k[5:].isdigit() and int(k[5:]) == text.text_id), "")
        stems.append(found)
    return stems


def _corpus(words: Sequence[object]) -> str:
    return ", ".join(f"{escape_markdown(w.lemma, 16)} {w.mean:+.3g} ({w.n_texts})" for w in words) or "none"  # type: ignore[attr-defined]


def _tokens(tokens: Sequence[Mover]) -> str:
    return ", ".join(f"{escape_markdown(t.label, 16)} {t.value:+.3g}" for t in tokens)


__all__ = ["escape_markdown", "summary_markdown", "verdict"]
