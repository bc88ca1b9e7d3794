"""Hub ids from the local Hugging Face cache: found offline, a missing id is a one-line exit 2,
a folder of that name wins, and --checkpoint works with a cached base model (the article's case)."""

from __future__ import annotations

import csv
import hashlib
import os
import socket
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from reportgen.cli import app
from reportgen.extraction import encode_texts, extract
from reportgen.inputs import InputText
from reportgen.loading import ModelLoadError, load_model

from conftest import SAMPLE_MODEL

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TEXT = "本日はご来店いただき、誠にありがとうございます。"


def fake_cache(hub: Path, repo_id: str, source: Path, skip: tuple[str, ...] = ()) -> Path:
    """The real cache layout: blobs named by content hash, a snapshot of symlinks, refs/main."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for file in sorted(source.iterdir()):
        if not file.is_file() or file.name in skip:
            continue
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT, encoding="utf-8")
    return snapshot


@pytest.fixture()
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)  # no folder named like the ids below
    return home


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Any attempt to open a network connection is recorded and refused."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_hub_id_loads_from_the_local_cache_offline(hf_home: Path, no_network: list[object]) -> None:
    snapshot = fake_cache(hf_home / "hub", "example-org/politeness-albert", SAMPLE_MODEL, skip=("README.md",))
    loaded = load_model("example-org/politeness-albert")
    assert loaded.info.path == "example-org/politeness-albert"
    assert any(str(snapshot) in note for note in loaded.info.notes)
    folder = load_model(SAMPLE_MODEL)
    texts = [InputText(0, TEXT, "t")]
    got = extract(loaded, encode_texts(loaded, texts, loaded.info.max_length))[0].prediction
    expected = extract(folder, encode_texts(folder, texts, folder.info.max_length))[0].prediction
    assert got == pytest.approx(expected, rel=1e-6)
    assert loaded.info.weights_sha256 == folder.info.weights_sha256
    assert no_network == []


def test_hf_hub_cache_wins_over_hf_home(hf_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere"
    fake_cache(other, "example-org/politeness-albert", SAMPLE_MODEL)
    monkeypatch.setenv("HF_HUB_CACHE", str(other))
    assert load_model("example-org/politeness-albert").info.path == "example-org/politeness-albert"


def test_missing_id_is_a_one_line_error_exit_2(hf_home: Path, tmp_path: Path, no_network: list[object]) -> None:
    fake_cache(hf_home / "hub", "example-org/politeness-albert", SAMPLE_MODEL)
    source = tmp_path / "texts.txt"
    source.write_text(TEXT + "\n", encoding="utf-8")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["run", str(source), "--model", "example-org/missing", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0] == (
        f"reportgen: error: example-org/missing: not in the local Hugging Face cache at {hf_home / 'hub'}; "
        "download it once with `huggingface-cli download example-org/missing` (or `hf download example-org/missing`)"
    )
    assert not out.exists() and no_network == []
    with pytest.raises(ModelLoadError, match="not in the local Hugging Face cache"):
        load_model("example-org/missing")


def test_a_folder_of_that_name_wins(hf_home: Path, tmp_path: Path, tiny_model: Path) -> None:
    fake_cache(hf_home / "hub", "example-org/politeness-albert", SAMPLE_MODEL)
    folder = tmp_path / "example-org" / "politeness-albert"
    folder.parent.mkdir()
    folder.symlink_to(tiny_model, target_is_directory=True)
    loaded = load_model("example-org/politeness-albert")
    assert loaded.info.num_layers == 2, "the tiny model in the folder, not the cached sample model"
    assert not any("Hugging Face cache" in note for note in loaded.info.notes)


def test_checkpoint_with_a_cached_base_model(hf_home: Path, tmp_path: Path, tiny_model: Path) -> None:
    """The article's exact case: tokenizer and config by hub name, weights from a raw state_dict."""
    from test_checkpoint_state_dict import AlbertForRegression
    from transformers import AlbertConfig, AutoTokenizer

    fake_cache(hf_home / "hub", "example-org/albert-base", tiny_model, skip=("model.safetensors",))
    config = AlbertConfig.from_pretrained(tiny_model)
    torch.manual_seed(5)
    module = AlbertForRegression(config).eval()
    checkpoint = tmp_path / "model.pt"
    torch.save(module.state_dict(), checkpoint)
    source = tmp_path / "texts.txt"
    source.write_text(TEXT + "\n", encoding="utf-8")
    table = tmp_path / "t.csv"
    out = tmp_path / "r.html"
    code, output = run_cli(
        "run", str(source), "--model", "example-org/albert-base", "--checkpoint", str(checkpoint),
        "--out", str(out), "--csv", str(table), "--methods", "cls_attention",
    )
    assert code == 0, output
    assert "example-org/albert-base" in out.read_text(encoding="utf-8")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    with torch.no_grad():
        expected = float(module(**tokenizer(TEXT, return_tensors="pt"))[0, 0])
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert float(rows[0]["prediction"]) == pytest.approx(expected, rel=1e-5, abs=1e-6)
