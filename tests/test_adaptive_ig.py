"""Adaptive Integrated Gradients, forced steps unchanged, and gradient passes sized by memory.

* Adaptive IG (``ig_steps=None``) meets its stop rule on every sample text, with fewer than 32
  steps on most, and reuses every point of a level in the next (nested Clenshaw-Curtis).
* Forced steps give bit-identical results to a copy of the algorithm as it was before adaptive
  steps and memory budgets existed (kept below, verbatim apart from names).
* The memory estimate per row against hand arithmetic and against the bytes autograd really
  saves; rows per pass never grow with length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
import torch

from methods_fixtures import make_context, sample_texts
from reportgen.forward import length_sorted_batches, padded_batches
from reportgen.logits import output_logits
from reportgen.methods import MethodContext
from reportgen.methods import integrated_gradients as ig_module
from reportgen.methods.base import DEFAULT_MEMORY_BUDGET, explained_index, explained_value
from reportgen.methods.gradients import (
    BACKWARD_OVERHEAD,
    activation_bytes_per_row,
    budget_batches,
    rows_per_pass,
)
from reportgen.methods.integrated_gradients import (
    INTEGRATED_GRADIENTS,
    baseline_ids,
    clenshaw_curtis,
    quadrature,
    stop_tolerance,
)

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- the algorithm before this change


def _old_path_gradients(ctx, starts, alphas, weights):
    """``reportgen.methods.gradients.path_gradients`` as of commit b69a5cd (fixed 2 x batch rows),
    with the model's forward as it is now (``output_logits``, checked against the model's own
    forward and gradients in tests/test_forward.py): this compares the batching and the sums."""
    loaded = ctx.loaded
    targets = ctx.targets
    table = loaded.model.get_input_embeddings()
    with torch.no_grad():
        ends = [table(torch.tensor([list(e.input_ids)], dtype=torch.long))[0] for e in ctx.encoded]
    steps = len(alphas)
    grad_sums = [torch.zeros_like(end, dtype=torch.float64) for end in ends]
    values = [np.zeros(steps) for _ in ends]
    jobs = [(t, k) for t in range(len(ends)) for k in range(steps)]
    per_pass = max(1, ctx.batch_size * 2)
    encoded = ctx.encoded
    for batch in padded_batches(loaded, [encoded[t].input_ids for t, _ in jobs], per_pass):
        chunk = [jobs[i] for i in batch.indices]
        inputs = batch.inputs
        with torch.no_grad():
            embeds = loaded.model.get_input_embeddings()(inputs["input_ids"])
        for row, (t, k) in enumerate(chunk):
            n = len(ends[t])
            embeds[row, :n] = starts[t] + float(alphas[k]) * (ends[t] - starts[t])
        embeds.requires_grad_(True)
        with torch.enable_grad():
            logits = output_logits(loaded.model, {"inputs_embeds": embeds, "attention_mask": inputs["attention_mask"]})
            target = torch.tensor([targets[t] for t, _ in chunk], dtype=torch.long)
            f = explained_value(logits, target)
            (grad,) = torch.autograd.grad(f.sum(), embeds)
        f_np = f.detach().double().cpu().numpy()
        for row, (t, k) in enumerate(chunk):
            n = len(ends[t])
            grad_sums[t] += float(weights[k]) * grad[row, :n].double()
            values[t][k] = f_np[row]
    return [
        (grad_sums[t].cpu().numpy(), values[t], starts[t].double().cpu().numpy(), ends[t].double().cpu().numpy())
        for t in range(len(ends))
    ]


def _old_integrated_gradients(ctx, steps: int) -> list[tuple[np.ndarray, float, float]]:
    """``(scores, f(baseline), delta)`` per text, as ``IntegratedGradients.compute`` was at b69a5cd."""
    pad_id = ctx.loaded.tokenizer.pad_token_id
    table = ctx.loaded.model.get_input_embeddings()
    with torch.no_grad():
        starts = [
            table(torch.tensor([baseline_ids(e.input_ids, e.special, pad_id)], dtype=torch.long))[0]
            for e in ctx.encoded
        ]
    nodes, weights = quadrature(steps)
    alphas = np.concatenate([nodes, [0.0, 1.0]])
    path_weights = np.concatenate([weights, [0.0, 0.0]])
    out = []
    for weighted, values, start, end in _old_path_gradients(ctx, starts, alphas, path_weights):
        scores = (weighted * (end - start)).sum(axis=1)
        f_baseline, f_x = float(values[-2]), float(values[-1])
        out.append((scores, f_baseline, float(scores.sum()) - (f_x - f_baseline)))
    return out


@pytest.fixture(scope="module")
def sample_ctx(sample_model: Path) -> MethodContext:
    return make_context(sample_model, sample_texts(REPO / "samples" / "texts.txt"), batch_size=16, ig_steps=None)


def _with(ctx: MethodContext, **changes) -> MethodContext:
    fields = dict(batch_size=ctx.batch_size, ig_steps=ctx.ig_steps, memory_budget=ctx.memory_budget)
    fields.update(changes)
    return MethodContext(ctx.loaded, ctx.extractions, **fields)


# ---------------------------------------------------------------- forced steps: bit-identical


@pytest.mark.parametrize("budget", [DEFAULT_MEMORY_BUDGET, None])
def test_forced_steps_are_bit_identical_to_the_old_algorithm(sample_ctx: MethodContext, budget) -> None:
    # 8 texts in batches of 3: passes of 6 rows mix texts and hold padding.
    ctx = MethodContext(sample_ctx.loaded, sample_ctx.extractions[:8], 3, ig_steps=5, memory_budget=budget)
    new = INTEGRATED_GRADIENTS.compute(ctx)
    old = _old_integrated_gradients(ctx, 5)
    for scores, (old_scores, old_baseline, old_delta) in zip(new, old):
        assert scores.scores.tobytes() == old_scores.tobytes()
        assert scores.baseline_prediction == old_baseline and scores.delta == old_delta
        assert scores.steps == 5


def test_a_small_budget_changes_only_the_batching(sample_ctx: MethodContext) -> None:
    ctx = _with(MethodContext(sample_ctx.loaded, sample_ctx.extractions[:4], 4), ig_steps=4)
    one_row = activation_bytes_per_row(ctx.loaded.model.config, 40)  # about 2 rows of the short texts per pass
    small = INTEGRATED_GRADIENTS.compute(_with(ctx, memory_budget=one_row))
    for a, b in zip(INTEGRATED_GRADIENTS.compute(ctx), small):
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-7)
        assert a.baseline_prediction == pytest.approx(b.baseline_prediction, abs=1e-6)


# ---------------------------------------------------------------- adaptive


def test_adaptive_meets_the_tolerance_on_every_sample_text(sample_ctx: MethodContext, monkeypatch) -> None:
    evaluated: list[int] = []
    real_rows = ig_module.gradient_rows

    def counting(ctx, starts, ends, jobs, visit):
        evaluated.append(len(jobs))
        return real_rows(ctx, starts, ends, jobs, visit)

    monkeypatch.setattr(ig_module, "gradient_rows", counting)
    results = INTEGRATED_GRADIENTS.compute(sample_ctx)
    assert len(results) == len(sample_ctx.extractions) == 25
    steps = [r.steps for r in results]
    for scores, extraction in zip(results, sample_ctx.extractions):
        # f(x) from the extraction pass, not from the method's own bookkeeping.
        f_x = float(extraction.output[explained_index(sample_ctx.loaded, extraction)])
        error = abs(float(scores.scores.sum()) - (f_x - scores.baseline_prediction))
        assert error <= stop_tolerance(f_x, scores.baseline_prediction, 0.01) + 1e-6, (scores.text_id, scores.steps)
        assert abs(scores.delta) <= stop_tolerance(f_x, scores.baseline_prediction, 0.01)
        assert scores.delta_relative <= 0.01 or abs(f_x - scores.baseline_prediction) < 1e-3
        assert scores.steps in (8, 16, 32, 64, 128)
        assert np.all(scores.scores[np.array(extraction.encoded.special)] == 0.0)
    assert sum(s < 32 for s in steps) > len(steps) / 2, steps
    # Nested levels: every text costs exactly steps + 1 model rows, none evaluated twice.
    assert sum(evaluated) == sum(s + 1 for s in steps), (evaluated, steps)
    # One batched call per level (8, 16, ...) up to the highest level any text needed.
    assert len(evaluated) == int(np.log2(max(steps) // 8)) + 1, (evaluated, steps)


def test_adaptive_agrees_with_many_forced_steps(sample_ctx: MethodContext) -> None:
    """Where adaptive stops, its token values agree with many Gauss-Legendre steps to the tolerance.

    Texts 2 and 7 stop at 8 steps with the largest token errors measured (1.1% in L1 against 128
    steps); 24 Gauss-Legendre steps are within 1e-5 of 128 on them.
    """
    ctx = MethodContext(sample_ctx.loaded, (sample_ctx.extractions[2], sample_ctx.extractions[7]), 16)
    adaptive = INTEGRATED_GRADIENTS.compute(ctx)
    forced = INTEGRATED_GRADIENTS.compute(_with(ctx, ig_steps=24))
    for a, f in zip(adaptive, forced):
        assert a.baseline_prediction == pytest.approx(f.baseline_prediction, abs=1e-5)
        # L1 error of the token values, relative to their L1 size: 1.1% at most measured.
        assert np.abs(a.scores - f.scores).sum() <= 0.02 * np.abs(f.scores).sum(), a.text_id


def test_tighter_tolerance_uses_more_steps_and_a_cap(sample_ctx: MethodContext) -> None:
    ctx = MethodContext(sample_ctx.loaded, sample_ctx.extractions[:3], 16)
    loose = INTEGRATED_GRADIENTS.compute(ctx)
    tight = INTEGRATED_GRADIENTS.compute(MethodContext(ctx.loaded, ctx.extractions, 16, ig_tolerance=1e-9, ig_max_steps=16))
    for a, b in zip(loose, tight):
        assert b.steps == 16 >= a.steps  # 1e-9 is out of reach: every text stops at the cap
        assert abs(b.delta) <= abs(a.delta) + 1e-9


def test_clenshaw_curtis_rule() -> None:
    for steps in (8, 16, 128):
        nodes, weights = clenshaw_curtis(steps)
        assert nodes[0] == 0.0 and nodes[-1] == 1.0 and np.all(np.diff(nodes) > 0)
        assert weights.sum() == pytest.approx(1.0, abs=1e-14) and np.all(weights > 0)
        # Exact up to degree steps + 1; a smooth non-polynomial to rounding.
        assert weights @ nodes ** (steps + 1) == pytest.approx(1 / (steps + 2), rel=1e-12)
        assert weights @ np.exp(nodes) == pytest.approx(np.e - 1, rel=1e-13)
        # Nested: level N's nodes are the even-indexed nodes of level 2N.
        np.testing.assert_allclose(clenshaw_curtis(2 * steps)[0][::2], nodes, atol=1e-15)


def test_stop_tolerance_and_floor() -> None:
    assert stop_tolerance(1.0, 0.0, 0.01) == pytest.approx(0.01)
    assert stop_tolerance(7.3, 7.3, 0.01) == pytest.approx(7.3e-5)  # f(x) == f(baseline): the floor
    assert stop_tolerance(0.0, 0.0, 0.01) == 1e-6


def test_context_validation() -> None:
    # The fields are checked before any model is touched, so no model is needed here.
    assert MethodContext(None, (), 4).adaptive and not MethodContext(None, (), 4, 32).adaptive
    with pytest.raises(ValueError, match="power of two"):
        MethodContext(None, (), 4, ig_max_steps=100)
    with pytest.raises(ValueError, match="power of two"):
        MethodContext(None, (), 4, ig_max_steps=4)
    with pytest.raises(ValueError, match="ig_tolerance"):
        MethodContext(None, (), 4, ig_tolerance=0.0)
    with pytest.raises(ValueError, match="memory_budget"):
        MethodContext(None, (), 4, memory_budget=0)
    with pytest.raises(ValueError, match="ig_steps"):
        MethodContext(None, (), 4, ig_steps=0)


# ---------------------------------------------------------------- memory budget


class _Config:
    hidden_size = 768
    num_hidden_layers = 12
    num_attention_heads = 12
    intermediate_size = 3072
    embedding_size = 128


def test_activation_bytes_by_hand() -> None:
    # 12 layers x 128 tokens x (9 x 768 + 5 x 3072 + 12 x 128) floats x 1.5, + 2 x 128 x 128, x 4 bytes.
    per_token_layer = 9 * 768 + 5 * 3072 + 12 * 128
    expected = int((12 * 128 * per_token_layer * 1.5 + 2 * 128 * 128) * 4)
    assert activation_bytes_per_row(_Config(), 128) == expected == 219_545_600
    # 1 GiB holds 4 such rows; a 16-token row fits 40 times over, so the 32-row cap applies.
    assert rows_per_pass(_Config(), 128, 1 << 30, 32) == 4
    assert rows_per_pass(_Config(), 16, 1 << 30, 32) == 32
    assert rows_per_pass(_Config(), 512, 1 << 30, 32) == 1
    assert rows_per_pass(_Config(), 512, 1, 32) == 1  # one row always runs
    assert rows_per_pass(_Config(), 512, None, 32) == 32  # no budget: the old fixed count


def test_rows_per_pass_never_grow_with_length() -> None:
    for budget in (1 << 26, 1 << 30, 1 << 33):
        rows = [rows_per_pass(_Config(), n, budget, 64) for n in range(1, 513)]
        assert all(a >= b for a, b in zip(rows, rows[1:]))
        assert 1 <= min(rows) and max(rows) <= 64
        sizes = [activation_bytes_per_row(_Config(), n) for n in range(1, 513)]
        assert all(a < b for a, b in zip(sizes, sizes[1:]))


def test_budget_batches_cut_by_the_longest_row() -> None:
    lengths = [5, 40, 7, 40, 12, 3, 9]
    # Constant rows: exactly the old length-sorted batching.
    assert budget_batches(lengths, lambda n: 3) == length_sorted_batches(lengths, 3)
    # Long rows one per pass, short rows four: each batch sized by its first (widest) row.
    batches = budget_batches(lengths, lambda n: 1 if n > 10 else 4)
    assert batches == [[1], [3], [4], [6, 2, 0, 5]]
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))


def test_estimate_matches_the_bytes_autograd_saves(tiny_model: Path) -> None:
    """The formula without its backward overhead against every tensor autograd keeps (tiny ALBERT)."""
    ctx = make_context(tiny_model)
    model = ctx.loaded.model
    params = {p.data_ptr() for p in model.parameters()}
    for length in (8, 48):
        saved: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            if t.data_ptr() not in params:
                saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        rows = 3
        embeds = torch.randn(rows, length, model.config.embedding_size, requires_grad=True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(inputs_embeds=embeds, attention_mask=torch.ones(rows, length, dtype=torch.long))
        per_row = sum(saved.values()) / rows
        estimate = activation_bytes_per_row(model.config, length) / BACKWARD_OVERHEAD
        assert 0.85 * estimate <= per_row <= 1.1 * estimate, (length, per_row, estimate)


def test_passes_follow_the_budget(sample_ctx: MethodContext, monkeypatch) -> None:
    from reportgen.methods import gradients

    sizes: list[tuple[int, int]] = []
    real = gradients.pad_batch

    def spy(loaded, rows: Sequence[Sequence[int]]):
        sizes.append((len(rows), max(len(r) for r in rows)))
        return real(loaded, rows)

    monkeypatch.setattr(gradients, "pad_batch", spy)
    ctx = MethodContext(sample_ctx.loaded, sample_ctx.extractions[:6], 16, ig_steps=2)
    config = ctx.loaded.model.config
    budget = 3 * activation_bytes_per_row(config, 40)
    INTEGRATED_GRADIENTS.compute(_with(ctx, memory_budget=budget))
    assert sizes and all(rows == rows_per_pass(config, width, budget, 32) for rows, width in sizes[:-1])
    assert all(rows * activation_bytes_per_row(config, width) <= budget or rows == 1 for rows, width in sizes)
