"""Explanation methods against independent computations.

Rollout against a hand-computed example and an explicit-loop reference; norm-based attention
against a per-head brute force written here from the model's weights; gradient × input against
plain autograd on each unpadded text; Integrated Gradients against Captum and for completeness;
the explained scalar never squashed (a model whose output is 7.3 reports 7.3).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from methods_fixtures import make_context, sample_texts, with_batch_size
from reportgen.extraction import extract
from reportgen.methods import REGISTRY, MethodContext, delta_warning, resolve, run_methods
from reportgen.methods.attn_norm import ATTN_NORM, last_attention
from reportgen.methods.base import explained_index
from reportgen.methods.grad_input import GRAD_INPUT
from reportgen.methods.grad_rollout import GRAD_ROLLOUT, gradient_rollout
from reportgen.methods.integrated_gradients import INTEGRATED_GRADIENTS, baseline_ids, quadrature
from reportgen.methods.rollout import ROLLOUT, attention_rollout, rollout_products

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_ctx(tiny_model: Path) -> MethodContext:
    return make_context(tiny_model)


@pytest.fixture(scope="module")
def classifier_ctx(tiny_classifier: Path) -> MethodContext:
    return make_context(tiny_classifier)


# ---------------------------------------------------------------- registry


def test_registry_order_and_infos() -> None:
    assert list(REGISTRY) == [
        "cls_attention", "mean_received", "rollout", "attn_norm", "grad_input", "integrated_gradients",
        "grad_rollout",
    ]
    for name, method in REGISTRY.items():
        assert method.info.name == name
        assert method.info.description.strip() and method.info.title.strip()
    assert {n for n, m in REGISTRY.items() if m.info.needs_gradients} == {
        "grad_input", "integrated_gradients", "grad_rollout",
    }
    assert {n for n, m in REGISTRY.items() if m.info.signed} == {"grad_input", "integrated_gradients"}


def test_resolve_selects_in_display_order_and_rejects_unknown() -> None:
    assert [m.info.name for m in resolve(None, True)] == list(REGISTRY)
    assert [m.info.name for m in resolve(None, False)] == ["cls_attention", "mean_received", "rollout", "attn_norm"]
    assert [m.info.name for m in resolve(["integrated_gradients", "rollout"], True)] == [
        "rollout", "integrated_gradients",
    ]
    with pytest.raises(ValueError) as err:
        resolve(["rollout", "lime"], True)
    message = str(err.value)
    assert "'lime'" in message and "integrated_gradients" in message and "\n" not in message
    with pytest.raises(ValueError, match="no-gradients"):
        resolve(["grad_input"], False)


def test_every_method_gives_one_float_vector_per_token(tiny_ctx: MethodContext) -> None:
    results = run_methods(resolve(None), tiny_ctx)
    assert list(results) == list(REGISTRY)
    for name, per_text in results.items():
        assert [s.text_id for s in per_text] == [e.text_id for e in tiny_ctx.encoded]
        for scores, enc in zip(per_text, tiny_ctx.encoded):
            assert scores.method == name
            assert scores.scores.dtype == np.float64 and scores.scores.shape == (len(enc.input_ids),)
            assert np.all(np.isfinite(scores.scores))
            if REGISTRY[name].info.needs_gradients:
                assert np.all(scores.scores[np.array(enc.special)] == 0.0)
            if not REGISTRY[name].info.signed:
                assert np.all(scores.scores >= 0.0)


# ---------------------------------------------------------------- attention views


def test_attention_views_match_unpadded_transformers(tiny_ctx: MethodContext) -> None:
    model = tiny_ctx.loaded.model
    results = run_methods(resolve(["cls_attention", "mean_received"]), tiny_ctx)
    for t, enc in enumerate(tiny_ctx.encoded):
        with torch.no_grad():
            att = model(input_ids=torch.tensor([enc.input_ids]), output_attentions=True).attentions[-1][0]
        att = att.double().numpy()  # (heads, n, n), no padding at all
        np.testing.assert_allclose(results["cls_attention"][t].scores, att[:, 0, :].mean(0), atol=1e-6)
        np.testing.assert_allclose(results["mean_received"][t].scores, att.mean(0).mean(0), atol=1e-6)


# ---------------------------------------------------------------- rollout


def test_rollout_hand_computed_three_tokens_two_layers() -> None:
    a1 = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    a2 = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    # Mixed: [[.75,.25,0],[0,1,0],[0,0,1]] and [[.5,.25,.25],[.5,.5,0],[0,0,1]]; product row 0 by hand:
    # .5*[.75,.25,0] + .25*[0,1,0] + .25*[0,0,1] = [.375, .375, .25]
    rolled = attention_rollout(np.stack([a1, a2]))
    np.testing.assert_allclose(rolled[0], [0.375, 0.375, 0.25], atol=1e-12)
    np.testing.assert_allclose(rolled[1], [0.5 * 0.75 + 0.5 * 0.0, 0.5 * 0.25 + 0.5 * 1.0, 0.0], atol=1e-12)
    # Rows that do not sum to 1 (padding sliced off) are renormalised before mixing.
    np.testing.assert_allclose(attention_rollout(np.stack([a1 * 0.8, a2 * 0.9]))[0], [0.375, 0.375, 0.25])


def _rollout_loops(layer_mean: np.ndarray) -> list[list[list[float]]]:
    """Reference: explicit Python loops, nothing vectorised."""
    layers, n = layer_mean.shape[0], layer_mean.shape[1]
    result = None
    for layer in range(layers):
        mixed = []
        for i in range(n):
            total = sum(float(layer_mean[layer, i, j]) for j in range(n))
            mixed.append([0.5 * float(layer_mean[layer, i, j]) / total + (0.5 if i == j else 0.0) for j in range(n)])
        if result is None:
            result = mixed
        else:
            result = [[sum(mixed[i][k] * result[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    assert result is not None
    return result


def test_rollout_matches_loop_reference_and_rows_stay_stochastic(tiny_ctx: MethodContext) -> None:
    rng = np.random.default_rng(3)
    raw = rng.random((4, 6, 6)) ** 3
    layer_mean = raw / raw.sum(-1, keepdims=True)
    np.testing.assert_allclose(attention_rollout(layer_mean), _rollout_loops(layer_mean), atol=1e-12)
    for product in rollout_products(layer_mean):
        np.testing.assert_allclose(product.sum(axis=1), 1.0, atol=1e-12)
    # And on the model's own attention, through the registered method.
    results = ROLLOUT.compute(tiny_ctx)
    for scores, extraction in zip(results, tiny_ctx.extractions):
        reference = _rollout_loops(extraction.layer_mean.astype(np.float64))
        np.testing.assert_allclose(scores.scores, reference[0], atol=1e-9)
        for product in rollout_products(extraction.layer_mean):
            np.testing.assert_allclose(product.sum(axis=1), 1.0, atol=1e-9)
        assert scores.scores.sum() == pytest.approx(1.0, abs=1e-9)


# ---------------------------------------------------------------- attn_norm


def _last_layer_by_hand(x: torch.Tensor, query, key, value, output, heads: int) -> np.ndarray:
    """Per head, from the weights: ``|| sum_h softmax(q k^T / sqrt(d))[0, j] (x_j W_V^h + b_V^h) W_O^h ||``."""
    x = x.double()
    d = x.shape[-1] // heads
    total = torch.zeros_like(x)
    for h in range(heads):
        rows = slice(h * d, (h + 1) * d)
        q = x @ query.weight[rows].double().T + query.bias[rows].double()
        k = x @ key.weight[rows].double().T + key.bias[rows].double()
        v = x @ value.weight[rows].double().T + value.bias[rows].double()
        alpha = torch.softmax(q @ k.T / math.sqrt(d), dim=-1)
        total += alpha[0].unsqueeze(1) * (v @ output.weight[:, rows].double().T)
    return total.norm(dim=-1).detach().numpy()


def _attn_norm_brute_force(model, input_ids: tuple[int, ...]) -> np.ndarray:
    """Every ALBERT layer but the last run by hand from the shared layer; the last one per head."""
    albert = model.albert
    layer = albert.encoder.albert_layer_groups[0].albert_layers[0]
    att = layer.attention
    with torch.no_grad():
        x = albert.embeddings(torch.tensor([input_ids]))
        x = albert.encoder.embedding_hidden_mapping_in(x)
        for _ in range(model.config.num_hidden_layers - 1):
            x = layer(x, None)
        return _last_layer_by_hand(x[0], att.query, att.key, att.value, att.dense, model.config.num_attention_heads)


def test_attn_norm_matches_per_head_brute_force(tiny_ctx: MethodContext) -> None:
    model = tiny_ctx.loaded.model
    assert model.config.num_hidden_layers >= 2, "a single layer would not test which call is kept"
    results = ATTN_NORM.compute(tiny_ctx)  # batches of 4 texts of different lengths: padding present
    for scores, enc in zip(results, tiny_ctx.encoded):
        reference = _attn_norm_brute_force(model, enc.input_ids)
        np.testing.assert_allclose(scores.scores, reference, rtol=1e-4, atol=1e-6)


def test_attn_norm_on_a_bert_model(tiny_ctx: MethodContext) -> None:
    """A BERT layer stack (one module per layer) is located too; input from hidden_states[-2]."""
    from dataclasses import replace

    from transformers import BertConfig, BertForSequenceClassification

    from reportgen.loading import LoadedModel

    torch.manual_seed(5)
    config = BertConfig(
        vocab_size=len(tiny_ctx.loaded.tokenizer), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, num_labels=1, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, attn_implementation="eager",
    )
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("query.weight", "key.weight")):
                param.mul_(8.0)
    info = replace(tiny_ctx.loaded.info, model_type="bert", num_layers=3, num_heads=4)
    loaded = LoadedModel(model, tiny_ctx.loaded.tokenizer, info, "cpu")
    extractions = extract(loaded, list(tiny_ctx.encoded), batch_size=4)
    ctx = MethodContext(loaded, tuple(extractions), 4, 4)
    layer = model.bert.encoder.layer[-1].attention
    for scores, enc in zip(ATTN_NORM.compute(ctx), ctx.encoded):
        with torch.no_grad():
            x = model(input_ids=torch.tensor([enc.input_ids]), output_hidden_states=True).hidden_states[-2][0]
        reference = _last_layer_by_hand(x, layer.self.query, layer.self.key, layer.self.value, layer.output.dense, 4)
        np.testing.assert_allclose(scores.scores, reference, rtol=1e-4, atol=1e-6)


def test_attn_norm_rejects_unknown_architectures() -> None:
    class Config:
        model_type = "gpt2"

    class Model:
        config = Config()
        base_model = object()

    with pytest.raises(ValueError, match="gpt2"):
        last_attention(Model())


# ---------------------------------------------------------------- gradients


def _autograd_grad_input(model, enc, target: int) -> np.ndarray:
    ids = torch.tensor([enc.input_ids])
    embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    f = model(inputs_embeds=embeds).logits[0, target]
    (grad,) = torch.autograd.grad(f, embeds)
    values = (grad[0] * embeds[0]).sum(-1).detach().double().numpy()
    values[np.array(enc.special)] = 0.0
    return values


@pytest.mark.parametrize("which", ["tiny_ctx", "classifier_ctx"])
def test_grad_input_matches_plain_autograd(which: str, request: pytest.FixtureRequest) -> None:
    ctx = request.getfixturevalue(which)
    results = GRAD_INPUT.compute(ctx)
    for scores, enc, extraction in zip(results, ctx.encoded, ctx.extractions):
        target = explained_index(ctx.loaded, extraction)
        reference = _autograd_grad_input(ctx.loaded.model, enc, target)
        np.testing.assert_allclose(scores.scores, reference, rtol=1e-4, atol=1e-7)
        assert np.any(scores.scores != 0.0) or len(enc.input_ids) <= 2


def test_gradient_methods_do_not_depend_on_batching(tiny_ctx: MethodContext) -> None:
    one = with_batch_size(tiny_ctx, 1)
    for method in (GRAD_INPUT, INTEGRATED_GRADIENTS, ATTN_NORM, GRAD_ROLLOUT):
        batched, alone = method.compute(tiny_ctx), method.compute(one)
        for a, b in zip(batched, alone):
            np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-7)


def test_ig_matches_a_plain_trapezoid_loop(classifier_ctx: MethodContext) -> None:
    """Reference: one text at a time, no padding, 129-point trapezoid rule, written here."""
    ctx = classifier_ctx
    model = ctx.loaded.model
    table = model.get_input_embeddings()
    pad = ctx.loaded.tokenizer.pad_token_id
    alphas = np.linspace(0.0, 1.0, 129)
    weights = np.full(129, 1 / 128)
    weights[[0, -1]] /= 2
    for scores, enc, extraction in zip(INTEGRATED_GRADIENTS.compute(ctx), ctx.encoded, ctx.extractions):
        target = explained_index(ctx.loaded, extraction)
        with torch.no_grad():
            x = table(torch.tensor([enc.input_ids]))[0]
            b = table(torch.tensor([[i if s else pad for i, s in zip(enc.input_ids, enc.special)]]))[0]
        # All 129 points of the path in one batch: rows do not interact (no padding, no dropout),
        # so the gradient of the summed outputs is each point's own gradient.
        points = (b + torch.tensor(alphas, dtype=x.dtype)[:, None, None] * (x - b)).requires_grad_(True)
        (grads,) = torch.autograd.grad(model(inputs_embeds=points).logits[:, target].sum(), points)
        total = (torch.tensor(weights)[:, None, None] * grads.double()).sum(0)
        reference = (total * (x - b).double()).sum(-1).numpy()
        np.testing.assert_allclose(scores.scores, reference, rtol=2e-3, atol=1e-8)


def test_ig_matches_captum(classifier_ctx: MethodContext) -> None:
    from captum.attr import LayerIntegratedGradients

    ctx = classifier_ctx
    model = ctx.loaded.model
    results = INTEGRATED_GRADIENTS.compute(ctx)

    def forward(ids: torch.Tensor, target: int) -> torch.Tensor:
        return model(input_ids=ids).logits[:, target]

    lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
    pad = ctx.loaded.tokenizer.pad_token_id
    for scores, enc, extraction in zip(results, ctx.encoded, ctx.extractions):
        target = explained_index(ctx.loaded, extraction)
        ids = torch.tensor([enc.input_ids])
        base = torch.tensor([baseline_ids(enc.input_ids, enc.special, pad)])
        attr = lig.attribute(
            ids, baselines=base, additional_forward_args=(target,), n_steps=ctx.ig_steps, method="gausslegendre"
        )
        reference = attr[0].sum(-1).detach().double().numpy()
        np.testing.assert_allclose(scores.scores, reference, rtol=1e-3, atol=1e-6)


def test_quadrature_integrates_polynomials_exactly() -> None:
    nodes, weights = quadrature(8)
    assert weights.sum() == pytest.approx(1.0)
    assert np.all((nodes > 0) & (nodes < 1))
    assert float(weights @ nodes**7) == pytest.approx(1 / 8)


def _check_completeness(ctx: MethodContext, tolerance: float) -> float:
    results = INTEGRATED_GRADIENTS.compute(ctx)
    worst = 0.0
    for scores, extraction in zip(results, ctx.extractions):
        f_x = float(extraction.output[explained_index(ctx.loaded, extraction)])
        difference = f_x - scores.baseline_prediction
        # Independent of the method's own bookkeeping: f(x) from the extraction pass.
        error = abs(scores.scores.sum() - difference)
        assert abs(scores.delta) == pytest.approx(error, abs=1e-5)
        assert delta_warning(scores) == (scores.delta_relative > 0.05)
        if abs(difference) > 1e-7:  # the tiny models' outputs move by ~1e-5
            assert error <= tolerance * abs(difference), (scores.text_id, error, difference)
            worst = max(worst, error / abs(difference))
        assert np.all(scores.scores[np.array(extraction.encoded.special)] == 0.0)
    return worst


def test_ig_completeness_tiny_and_classifier(tiny_ctx: MethodContext, classifier_ctx: MethodContext) -> None:
    _check_completeness(tiny_ctx, 0.05)
    _check_completeness(classifier_ctx, 0.05)


def test_ig_completeness_sample_model(sample_model: Path) -> None:
    texts = sample_texts(REPO / "samples" / "texts.txt")[:8]
    ctx = make_context(sample_model, texts, batch_size=8, ig_steps=32)
    worst = _check_completeness(ctx, 0.05)
    assert worst < 0.05


def test_gradient_rollout_matches_loop_reference() -> None:
    rng = np.random.default_rng(1)
    layers, heads, n = 3, 2, 4
    att = rng.random((layers, heads, n, n))
    grad = rng.normal(size=(layers, heads, n, n))
    relevance = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    for layer in range(layers):
        bar = [[sum(max(att[layer, h, i, j] * grad[layer, h, i, j], 0.0) for h in range(heads)) / heads
                for j in range(n)] for i in range(n)]
        step = [[sum(bar[i][k] * relevance[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
        relevance = [[relevance[i][j] + step[i][j] for j in range(n)] for i in range(n)]
    expected = np.array(relevance) - np.eye(n)
    np.testing.assert_allclose(gradient_rollout(att, grad), expected, atol=1e-12)


def test_grad_rollout_against_unpadded_autograd(classifier_ctx: MethodContext) -> None:
    ctx = classifier_ctx
    model = ctx.loaded.model
    for scores, enc, extraction in zip(GRAD_ROLLOUT.compute(ctx), ctx.encoded, ctx.extractions):
        out = model(input_ids=torch.tensor([enc.input_ids]), output_attentions=True)
        target = explained_index(ctx.loaded, extraction)
        # Raises if the returned maps were copies outside the graph; nonzero shows they are used.
        grads = torch.autograd.grad(out.logits[0, target], list(out.attentions))
        assert all(float(g.abs().sum()) > 0 for g in grads)
        att = torch.stack(out.attentions)[:, 0].detach().double().numpy()
        grad = torch.stack(grads)[:, 0].double().numpy()
        expected = gradient_rollout(att, grad)[0]
        expected[np.array(enc.special)] = 0.0
        np.testing.assert_allclose(scores.scores, expected, rtol=1e-4, atol=1e-9)


# ---------------------------------------------------------------- the explained scalar


@pytest.fixture(scope="module")
def model_7_3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import build_tiny_albert
    from transformers import AutoModelForSequenceClassification

    folder = build_tiny_albert(tmp_path_factory.mktemp("seven") / "model", seed=2)
    model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(7.3)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def test_regression_output_is_never_squashed(model_7_3: Path) -> None:
    from reportgen.faithfulness import evaluate_faithfulness

    ctx = make_context(model_7_3, batch_size=4, ig_steps=4)
    assert ctx.loaded.info.task == "regression"
    seven = float(np.float32(7.3))
    results = run_methods(resolve(["grad_input", "integrated_gradients"]), ctx)
    for extraction, ig in zip(ctx.extractions, results["integrated_gradients"]):
        assert extraction.prediction == pytest.approx(seven, abs=1e-6)
        assert ig.baseline_prediction == pytest.approx(seven, abs=1e-6)
        assert np.allclose(ig.scores, 0.0)
    report = evaluate_faithfulness(ctx.loaded, ctx.extractions, results, batch_size=4)
    for item in report.per_text:
        assert item.prediction == pytest.approx(seven, abs=1e-6)
        assert all(v == pytest.approx(seven, abs=1e-6) for v in item.curve.without_top + item.curve.only_top)


def test_classifier_explains_the_predicted_logit(classifier_ctx: MethodContext) -> None:
    results = INTEGRATED_GRADIENTS.compute(classifier_ctx)
    for scores, extraction in zip(results, classifier_ctx.extractions):
        target = int(np.argmax(extraction.output))
        assert explained_index(classifier_ctx.loaded, extraction) == target
        # The attributions sum to a difference of LOGITS (probabilities would be bounded by 1).
        f_x = float(extraction.output[target])
        assert scores.scores.sum() == pytest.approx(f_x - scores.baseline_prediction, abs=1e-3)
