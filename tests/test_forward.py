"""Memory-bounded batches (issue 14 item 6): a pass that keeps attention maps runs fewer long rows."""

from __future__ import annotations

import pytest

from reportgen.forward import length_sorted_batches, memory_sorted_batches


def test_memory_batches_cut_by_budget_longest_first() -> None:
    lengths = [4, 10, 10, 2, 4]
    # 10 bytes per token: rows of 10 cost 100, so a 250-byte budget holds two of them.
    batches = memory_sorted_batches(lengths, max_rows=8, row_bytes=lambda n: 10 * n, budget=250)
    assert batches == [[1, 2], [0, 4, 3]]
    assert [i for b in batches for i in b] == [i for b in length_sorted_batches(lengths, 8) for i in b]


def test_memory_batches_keep_one_row_over_budget_and_max_rows() -> None:
    assert memory_sorted_batches([50, 50], max_rows=8, row_bytes=lambda n: 1000, budget=10) == [[0], [1]]
    assert memory_sorted_batches([1, 1, 1], max_rows=2, row_bytes=lambda n: 0) == [[0, 1], [2]]
    with pytest.raises(ValueError):
        memory_sorted_batches([1], max_rows=0, row_bytes=lambda n: 0)


# --- The output alone (reportgen.logits): the faithfulness pass's forward -----------------------


def _rows_with_padding(vocab: int, mask_id: int, lengths: list[int]) -> list[list[int]]:
    """Rows of several lengths (so batches are padded), some positions masked as faithfulness does."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for n in lengths:
        ids = [2] + [int(v) for v in rng.integers(5, vocab, size=n - 2)] + [3]
        for p in rng.choice(np.arange(1, n - 1), size=(n - 2) // 2, replace=False):
            ids[int(p)] = mask_id
        rows.append(ids)
    return rows


def _compare_with_model(model, rows, pad_id: int = 0) -> float:  # noqa: ANN001 - a transformers model
    import torch

    from reportgen.forward import pad_rows
    from reportgen.logits import output_logits

    inputs = pad_rows(rows, pad_id)
    with torch.inference_mode():
        direct = output_logits(model, inputs)
        reference = model(**inputs).logits
        # Each row alone, unpadded: padding must not enter a number.
        alone = torch.cat([model(input_ids=torch.tensor([r])).logits for r in rows])
    assert direct.shape == reference.shape
    return max(float((direct - reference).abs().max()), float((direct - alone).abs().max()))


@pytest.mark.parametrize("shape", [dict(), dict(num_hidden_groups=2, inner_group_num=2, num_hidden_layers=4), dict(num_labels=3)])
def test_output_logits_equal_the_models_own_forward(shape: dict) -> None:
    import torch
    from transformers import AlbertConfig, AlbertForSequenceClassification

    from reportgen.logits import uses_direct_path

    torch.manual_seed(0)
    config = AlbertConfig(
        vocab_size=60, embedding_size=16, hidden_size=32, num_attention_heads=4, intermediate_size=48,
        max_position_embeddings=40, initializer_range=0.3, **{"num_hidden_layers": 3, **shape},
    )
    # Wide random weights: the outputs move with every input and every layer (the default init's
    # near-constant outputs would hide a layer run in the wrong order).
    model = AlbertForSequenceClassification(config).eval()
    assert uses_direct_path(model)  # else this test would compare the model with itself
    rows = _rows_with_padding(60, 4, [12, 7, 30, 3, 12])
    assert _compare_with_model(model, rows) < 1e-5


def test_output_logits_on_the_sample_model(sample_model) -> None:  # noqa: ANN001 - a path fixture
    from reportgen.loading import load_model
    from reportgen.logits import uses_direct_path

    loaded = load_model(sample_model, device="cpu")
    assert uses_direct_path(loaded.model)
    rows = _rows_with_padding(len(loaded.tokenizer), int(loaded.tokenizer.mask_token_id), [40, 17, 17, 9, 64])
    assert _compare_with_model(loaded.model, rows) < 1e-5


def test_output_logits_fall_back_to_the_model_where_the_direct_path_does_not_apply() -> None:
    import torch
    from transformers import AlbertConfig, AlbertForSequenceClassification

    from reportgen.logits import output_logits, uses_direct_path

    torch.manual_seed(0)
    model = AlbertForSequenceClassification(AlbertConfig(
        vocab_size=30, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
    ))
    assert not uses_direct_path(model.train())  # dropout: only the model's own forward reproduces it
    model.eval()
    model.classifier = torch.nn.Sequential(torch.nn.Linear(16, 1))  # another head: not the pooled linear one
    assert not uses_direct_path(model)
    ids = torch.tensor([[2, 7, 8, 3]])
    with torch.inference_mode():
        assert torch.equal(output_logits(model, {"input_ids": ids}), model(input_ids=ids).logits)


def test_output_logits_gradients_equal_the_models_own(sample_model) -> None:  # noqa: ANN001 - a path fixture
    """The gradient methods' pass: word embeddings in, the same outputs and the same gradients."""
    import torch

    from reportgen.forward import pad_batch
    from reportgen.loading import load_model
    from reportgen.logits import output_logits

    loaded = load_model(sample_model, device="cpu")
    rows = _rows_with_padding(len(loaded.tokenizer), int(loaded.tokenizer.mask_token_id), [20, 9, 14])
    inputs = pad_batch(loaded, rows)
    table = loaded.model.get_input_embeddings()
    grads, outputs = [], []
    for run in (lambda e: output_logits(loaded.model, {"inputs_embeds": e, "attention_mask": inputs["attention_mask"]}),
                lambda e: loaded.model(inputs_embeds=e, attention_mask=inputs["attention_mask"]).logits):
        embeds = table(inputs["input_ids"]).detach().requires_grad_(True)
        logits = run(embeds)
        (grad,) = torch.autograd.grad(logits[:, 0].sum(), embeds)
        outputs.append(logits.detach())
        grads.append(grad * inputs["attention_mask"][:, :, None])  # padding's gradient is never read
    assert float((outputs[0] - outputs[1]).abs().max()) < 1e-5
    scale = float(grads[1].abs().max())
    assert scale > 0 and float((grads[0] - grads[1]).abs().max()) < 1e-4 * scale


def test_tanh_gelu_without_autograd_equals_the_fused_kernel() -> None:
    """The sigmoid form faithfulness uses is the same function to float32 rounding, saturation
    included (large |x|, where x**3 overflows to infinity)."""
    import torch
    import torch.nn.functional as F

    from reportgen.logits import _tanh_gelu

    x = torch.cat([torch.linspace(-12, 12, 20001), torch.tensor([-1e20, -1e13, -50.0, 50.0, 1e13, 1e20, 0.0])])
    reference = F.gelu(x.double(), approximate="tanh")
    with torch.inference_mode():
        fast = _tanh_gelu(x.clone())
    assert float((fast.double() - reference).abs().max()) <= 2e-6
    # With autograd on, the fused kernel itself (its backward is PyTorch's).
    y = x.clone().requires_grad_()
    assert torch.equal(_tanh_gelu(y), F.gelu(y, approximate="tanh"))
