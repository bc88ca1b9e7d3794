"""The Python API: explain a model's predictions from a script or a notebook.

::

    import reportgen

    report = reportgen.explain(["本日はご来店いただき、誠にありがとうございます。"], model, tokenizer)
    report                                  # in a notebook: the whole report, inline
    report.save_html("report.html")
    report.save_png("pictures")             # one card per text + overview.png
    frames = report.to_pandas()             # {"texts", "tokens", "faithfulness"}: DataFrames

:func:`explain` takes the model as a folder or a hub id in the local cache (as ``--model``), a
loaded ``transformers`` model, or the original article's own module (an encoder such as
``self.albert`` plus one linear head); see :func:`reportgen.loading.borrow_model`. It runs the
same computation as the CLI (:func:`reportgen.pipeline.build`), so the numbers are the same.
This module imports no torch until :func:`explain` is called.
"""

from __future__ import annotations

import functools
import html
import math
import numbers
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .budget import DEFAULT_MAX_MB
from .errors import InputError
from .inputs import InputSet, InputText
from .types import DEFAULT_FAITHFULNESS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .pipeline import Progress
    from .report import Report as ReportModel

PYTHON_SOURCE = "<python>"
"""What the report names as the input when texts come from Python."""

TEXT_COLUMNS = (
    "text_id", "text", "source", "prediction", "predicted_label", "gold", "error", "truncated", "tokens", "top_tokens",
)
"""``to_pandas()["texts"]``: one row per text. ``prediction`` is the regression output (or the
predicted class's probability, with ``predicted_label``); ``error`` = prediction - gold;
``tokens`` counts the tokens the model saw ([CLS]/[SEP] included); ``top_tokens`` are the
highest-|score| tokens by the report's highlight method."""
TOKEN_COLUMNS = (
    "text_id", "position", "token", "label", "is_special", "cls_attention", "mean_received", "prediction", "gold", "truncated",
)
"""``to_pandas()["tokens"]``: one row per token per text (special tokens included), as ``--csv``
writes it: ``token`` is the tokenizer's piece, ``label`` the text it covers. Then one column
per other method run (``rollout``, ``attn_norm``, ``grad_input``, ``integrated_gradients``,
``grad_rollout``), ``ig_baseline_prediction`` when Integrated Gradients ran, and ``word_id`` (the
word holding most of the token, -1 for none) when the report has words."""
FAITHFULNESS_COLUMNS = (
    "text_id", "method", "comprehensiveness", "sufficiency", "comprehensiveness_raw", "sufficiency_raw",
    "normalised", "normaliser", "prediction", "comprehensiveness_std", "sufficiency_std",
)
"""``to_pandas()["faithfulness"]``: one row per text and method (``random`` is the random-order
reference), as ``--faithfulness-csv`` writes it, then the deletion curve ``without_top_K`` and
``only_top_K`` for each fraction K; when whole words were measured too, a column ``unit``
(``token`` or ``word``) and the word rows after the token rows."""
WORD_COLUMNS = ("text_id", "word_id", "surface", "lemma", "start", "end", "pos", "mode")
"""``to_pandas()["words"]`` (when the report has words): one row per word per text, as
``--words-csv`` writes it, then one column per method run (the word's score, NaN where no token
reaches the word)."""
ATTENTION_METHODS = ("cls_attention", "mean_received")


class Report:
    """A finished report: save it, picture it, read it as DataFrames, or show it in a notebook.

    ``data`` is the report model itself (:class:`reportgen.report.Report`: plain frozen data).
    Saving overwrites existing files unless ``force=False``; every save is crash-safe (a file
    is complete or absent, never half-written). The page keeps within ``max_size`` MB (the size
    its attention was coded for by :func:`explain`; 0: no limit), as ``reportgen run --max-size``.
    """

    def __init__(self, data: ReportModel, max_size: float = DEFAULT_MAX_MB) -> None:
        self.data = data
        self.max_size = max_size

    def __repr__(self) -> str:
        faith = self.data.faithfulness
        verdict = ""
        if faith is not None and faith.best and faith.verdict in ("clear", "single"):
            verdict = f", most faithful {faith.best}"
        elif faith is not None and faith.verdict == "tied":
            verdict = f", tied: {', '.join(faith.tied)}"
        elif faith is None:
            verdict = ", faithfulness not measured"
        target = self.data.model.target_name
        return (
            f"<reportgen.Report: {len(self.data.texts)} texts, model {self.data.model.path}"
            + (f" ({target})" if target else "")
            + f", methods {', '.join(m.name for m in self.data.methods)}"
            + verdict
            + ">"
        )

    @property
    def target(self) -> tuple[str | None, tuple[float, float] | None, str | None]:
        """What is predicted: ``(name, (low, high), description)``, each None when unknown."""
        m = self.data.model
        return m.target_name, m.target_range, m.target_description

    @property
    def verdict(self) -> str | None:
        """``clear``, ``tied``, ``single`` or ``none`` (see ``reportgen.types.FaithfulnessReport``);
        None when faithfulness was not measured (``faithfulness="off"``)."""
        return self.data.faithfulness.verdict if self.data.faithfulness else None

    def __len__(self) -> int:
        return len(self.data.texts)

    @property
    def predictions(self) -> list[float]:
        """Each text's prediction, in input order."""
        return [t.prediction for t in self.data.texts]

    @functools.cached_property
    def _html(self) -> str:
        from .pipeline import Outputs

        return Outputs(max_size=self.max_size).render(self.data).html

    def html(self) -> str:
        """The self-contained report page, as a string."""
        return self._html

    def _write(self, force: bool, **paths: Path | str | None) -> tuple[Path, ...]:
        from .pipeline import Outputs

        chosen = {name: Path(path) for name, path in paths.items() if path is not None}
        return Outputs(force=force, max_size=self.max_size, **chosen).write(self.data)

    def save(
        self,
        out: Path | str | None = None,
        *,
        csv: Path | str | None = None,
        faithfulness_csv: Path | str | None = None,
        png: Path | str | None = None,
        svg: Path | str | None = None,
        summary: Path | str | None = None,
        force: bool = True,
    ) -> list[Path]:
        """Write any of the CLI's files at once, as ``reportgen run`` does; the paths written."""
        return list(self._write(force, out=out, csv=csv, faithfulness_csv=faithfulness_csv, png=png, svg=svg, summary=summary))

    def save_html(self, path: Path | str, *, force: bool = True) -> Path:
        """Write the HTML report; returns its path."""
        return self._write(force, out=path)[0]

    def save_png(self, folder: Path | str, *, force: bool = True) -> list[Path]:
        """Write ``overview.png`` and one card per text (``text-NNN.png``) into ``folder``."""
        return list(self._write(force, png=folder))

    def save_svg(self, folder: Path | str, *, force: bool = True) -> list[Path]:
        """Write the same pictures as :meth:`save_png`, as SVG."""
        return list(self._write(force, svg=folder))

    def save_summary(self, path: Path | str, *, pictures: Iterable[Path | str] = (), force: bool = True) -> Path:
        """Write the Markdown ticket summary, linking ``pictures`` (e.g. what :meth:`save_png` returned)."""
        from .output import PlannedFile, check_target, write_all
        from .summary import summary_markdown

        target = Path(path)
        check_target(target, force)
        content = summary_markdown(self.data, [Path(p) for p in pictures], target)
        write_all([PlannedFile(target, content.encode("utf-8"))], force=force)
        return target

    def summary(self, pictures: Iterable[Path | str] = ()) -> str:
        """The Markdown ticket summary as a string (picture links as given)."""
        from .summary import summary_markdown

        return summary_markdown(self.data, [Path(p) for p in pictures])

    def to_pandas(self) -> dict[str, pd.DataFrame]:
        """The report's numbers as DataFrames: ``texts``, ``tokens`` and ``faithfulness``, and
        where the report has words, ``words`` and ``corpus`` (one row per dictionary form).

        Columns: :data:`TEXT_COLUMNS`, :data:`TOKEN_COLUMNS` (then one per method),
        :data:`FAITHFULNESS_COLUMNS` (then the deletion curve) and :data:`WORD_COLUMNS` (then
        one per method). Missing values are NaN/None.
        """
        import pandas as pd

        data = self.data
        extra = [m.name for m in data.methods if m.name not in ATTENTION_METHODS]
        with_ig = any(t.integrated_gradients is not None for t in data.texts)
        with_words = any(t.words is not None for t in data.texts)
        texts, tokens = [], []
        for text in data.texts:
            texts.append(
                (
                    text.text_id, text.text, text.source, text.prediction, text.predicted_label, _nan(text.gold),
                    _nan(text.error), text.truncated, len(text.tokens), list(text.top_tokens),
                )
            )
            values = {s.method: s.values for s in text.scores}
            ig = text.integrated_gradients
            word_ids = text.words.token_word if text.words is not None else (-1,) * len(text.tokens)
            for token in text.tokens:
                tokens.append(
                    (
                        text.text_id, token.position, token.piece, token.label, token.special,
                        text.cls_attention[token.position], text.mean_received[token.position],
                        text.prediction, _nan(text.gold), text.truncated,
                        *(values[name][token.position] for name in extra),
                        *([_nan(ig.baseline_prediction if ig else None)] if with_ig else []),
                        *([word_ids[token.position]] if with_words else []),
                    )
                )
        token_columns = list(TOKEN_COLUMNS) + extra + (["ig_baseline_prediction"] if with_ig else []) + (["word_id"] if with_words else [])
        fractions = data.faithfulness.fractions if data.faithfulness else ()
        curve_columns = [f"without_top_{k:g}" for k in fractions] + [f"only_top_{k:g}" for k in fractions]
        measured = [(t.text_id, [s.faithfulness for s in t.scores] + [t.random_reference]) for t in data.texts]
        measured += [
            (t.text_id, [s.faithfulness for s in t.words.scores] + [t.words.random_reference])
            for t in data.texts
            if t.words is not None
        ]
        word_units = any(t.words is not None and t.words.random_reference is not None for t in data.texts)
        faithful = [
            (
                text_id, f.method, f.comprehensiveness, f.sufficiency, f.comprehensiveness_raw,
                f.sufficiency_raw, f.normalised, f.normaliser, f.prediction, _nan(f.comprehensiveness_std),
                _nan(f.sufficiency_std), *f.curve.at_fractions(fractions)[0], *f.curve.at_fractions(fractions)[1],
                *([f.unit] if word_units else []),
            )
            for text_id, results in measured
            for f in results
            if f is not None
        ]
        frames = {
            "texts": pd.DataFrame(texts, columns=list(TEXT_COLUMNS)),
            "tokens": pd.DataFrame(tokens, columns=token_columns),
            "faithfulness": pd.DataFrame(
                faithful, columns=list(FAITHFULNESS_COLUMNS) + curve_columns + (["unit"] if word_units else [])
            ),
        }
        if with_words:
            methods = [m.name for m in data.methods]
            words = []
            for text in data.texts:
                if text.words is None:
                    continue
                scores = {s.method: s.values for s in text.words.scores}
                words += [
                    (
                        text.text_id, w.index, w.surface, w.lemma, w.start, w.end, w.pos, text.words.mode,
                        *(scores[name][w.index] for name in methods),
                    )
                    for w in text.words.words
                ]
            frames["words"] = pd.DataFrame(words, columns=list(WORD_COLUMNS) + methods)
            if data.corpus is not None:
                frames["corpus"] = data.corpus.to_frame()
        return frames

    def _repr_html_(self) -> str:
        """The whole page in a sandboxed ``<iframe srcdoc>``: its script and CSP apply as in a file."""
        title = html.escape(self.data.run.title, quote=True)
        return (
            f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" sandbox="allow-scripts" title="{title}" '
            'style="width: 100%; height: 900px; border: 1px solid #d1d5db; border-radius: 4px;"></iframe>'
        )


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def explain(
    texts: str | os.PathLike[str] | Iterable[str] | Iterable[os.PathLike[str]],
    model: Any,
    tokenizer: Any = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    gold: Sequence[float | None] | None = None,
    methods: Sequence[str] | str | None = None,
    gradients: bool = True,
    ig_steps: int | None = None,
    max_length: int | None = None,
    batch_size: int = 16,
    device: str = "auto",
    title: str | None = None,
    words: str = "auto",
    max_size: float = DEFAULT_MAX_MB,
    text_column: str = "text",
    label_column: str | None = None,
    encoding: str = "utf-8",
    faithfulness: str = DEFAULT_FAITHFULNESS,
    target_name: str | None = None,
    target_range: tuple[float, float] | None = None,
    show_paths: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Explain ``model``'s predictions on ``texts``; the options mirror ``reportgen run``'s.

    ``texts``: a list of strings (blank ones are skipped and counted), one string, or one or
    more files (``pathlib.Path``: .txt, .csv/.tsv with ``text_column``/``label_column``, .jsonl).
    ``gold``: a gold score per string text (None where unknown).

    ``model``: a model folder or a hub id in the local Hugging Face cache (``checkpoint`` then
    may name an article-style ``state_dict``); a loaded ``transformers`` sequence-classification
    model; or a ``torch.nn.Module`` holding an encoder (``.albert`` or any ``PreTrainedModel``
    submodule) and one linear head on the pooled output, like the article's ``AlbertForRegression``.
    ``tokenizer`` is needed only for a model in memory that does not say where it came from.

    ``methods`` (names or a comma-separated string), ``gradients``, ``ig_steps``,
    ``max_length``, ``batch_size``, ``device``, ``title``, ``words`` (``auto``, ``ja``,
    ``space`` or ``pieces``), ``max_size`` (MB, default 10; 0: no limit), ``faithfulness``
    (``full``, ``fast`` or ``off``), ``target_name``, ``target_range`` (``(lo, hi)``) and
    ``show_paths`` are the CLI's options. Errors the
    user can fix raise :class:`reportgen.errors.ReportgenError` with a one-line message.
    """
    from . import pipeline
    from .loading import borrow_model, load_model

    if isinstance(methods, str):
        methods = tuple(m.strip() for m in methods.split(",") if m.strip())
    options = pipeline.ExplainOptions(
        methods=tuple(methods) if methods is not None else None,
        gradients=gradients,
        ig_steps=ig_steps,
        max_length=max_length,
        batch_size=batch_size,
        title=title if title is not None else pipeline.DEFAULT_TITLE,
        command=f"reportgen.explain(..., model={_describe_model(model, show_paths)})",
        words=words,
        faithfulness=faithfulness,
        target_name=target_name,
        target_range=tuple(target_range) if target_range is not None else None,  # type: ignore[arg-type]
        show_paths=show_paths,
        max_size=max_size,
        keep_heads=False,  # a Report writes no data file: heads go straight to the page's store
    )
    pipeline.check_options(options)
    inputs = _inputs(texts, gold, text_column, label_column, encoding)
    if isinstance(model, (str, os.PathLike)):
        if tokenizer is not None:
            raise InputError("tokenizer=: only for a model in memory; a folder or hub id brings its own tokenizer")
        loaded = load_model(model, checkpoint, device)
        return Report(pipeline.build(loaded, inputs, options, progress), max_size)
    if checkpoint is not None:
        raise InputError("checkpoint=: only with a model folder or hub id; a model in memory already has its weights")
    with borrow_model(model, tokenizer, device) as loaded:
        return Report(pipeline.build(loaded, inputs, options, progress), max_size)


def _describe_model(model: Any, show_paths: bool = False) -> str:
    if isinstance(model, (str, os.PathLike)):
        from .inputs import shown_path

        return repr(shown_path(str(model), show_paths))
    return f"<{type(model).__name__}>"


def _inputs(
    texts: Any, gold: Sequence[float | None] | None, text_column: str, label_column: str | None, encoding: str
) -> InputSet:
    from .inputs import read_inputs

    if isinstance(texts, os.PathLike):
        texts = [texts]
    elif isinstance(texts, str):
        texts = [texts]
    else:
        texts = list(texts)
    if texts and all(isinstance(t, os.PathLike) for t in texts):
        if gold is not None:
            raise InputError("gold=: only with texts given as strings; for files use label_column=")
        return read_inputs([os.fspath(t) for t in texts], text_column=text_column, label_column=label_column, encoding=encoding)
    if not all(isinstance(t, str) for t in texts):
        bad = next(t for t in texts if not isinstance(t, str))
        raise InputError(f"texts: expected strings (or files as pathlib.Path), got {type(bad).__name__}")
    if gold is not None and len(gold) != len(texts):
        raise InputError(f"gold=: {len(gold)} scores for {len(texts)} texts")
    kept: list[InputText] = []
    skipped = 0
    for index, text in enumerate(texts):
        bad = next((c for c in text if "\ud800" <= c <= "\udfff"), None)
        if bad is not None:
            raise InputError(f"texts[{index}]: holds a lone surrogate \\u{ord(bad):04x}, which is not valid Unicode")
        if not text.strip():
            skipped += 1
            continue
        score = None if gold is None else gold[index]
        if score is not None:
            if isinstance(score, bool) or not isinstance(score, numbers.Real) or not math.isfinite(float(score)):
                raise InputError(f"gold[{index}]: not a finite number: {score!r}")
            score = float(score)
        kept.append(InputText(len(kept), text, f"texts[{index}]", score))
    if not kept:
        raise InputError(f"texts: no texts found (after skipping {skipped} blank)")
    return InputSet(texts=tuple(kept), skipped_blank=skipped, sources=(PYTHON_SOURCE,))


__all__ = ["FAITHFULNESS_COLUMNS", "TEXT_COLUMNS", "TOKEN_COLUMNS", "WORD_COLUMNS", "Report", "explain"]
