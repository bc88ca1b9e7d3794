"""Shared fixtures: tiny, seeded, real ALBERT checkpoints built on disk, and the sample model.

The tiny models use a real SentencePiece unigram model trained here on a small Japanese
corpus, so tokenisation, special tokens and offsets behave exactly as with a user's model.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_MODEL = REPO / "samples" / "model"
SAMPLE_TEXTS = REPO / "samples" / "texts.txt"

ONE_THREAD = ("--threads", "1")
"""Options for every ``reportgen run`` the tests make. By default a run sets torch's threads, for
its whole process, to the machine's physical cores; on a shared 2-core machine two threads
spin-wait for each other and runs take several times longer. No test here is about the thread
count (``--threads`` and its default have their own tests)."""

CORPUS = """\
本日はご来店いただき、誠にありがとうございます。
今日は来てくれてありがとう。
お手数ですが、こちらの書類にご記入いただけますでしょうか。
悪いけど、この紙に書いてくれる？
ご注文の商品は明日発送いたします。
頼まれたもの、明日送るね。
大変申し訳ございませんが、本日の受付は終了いたしました。
ごめん、今日はもう終わりだよ。
今すぐ申し込みで最大五万ポイントもらえる。
これ一つで大丈夫、カードで贅沢三昧。
お客様のご意見をお聞かせください。
意見を聞かせてよ。
新しいスマートフォンが発売されました。
週末はぜひ当店へお越しくださいませ。
週末は店に来てね。
会議の資料を送付させていただきます。
会議の資料、送っとくよ。
ご不明な点がございましたら、お気軽にお問い合わせください。
わからないことがあったら聞いてね。
無料体験は今月末までです。
吾輩は猫である。名前はまだ無い。
どこで生れたかとんと見当がつかぬ。
メロスは激怒した。必ず、かの邪智暴虐の王を除かなければならぬと決意した。
えたいの知れない不吉な塊が私の心を始終圧えつけていた。
Thank you for your order. We will ship it tomorrow.
"""


def _train_spm(folder: Path) -> Path:
    import sentencepiece as spm

    lines = [line for line in CORPUS.splitlines() if line.strip()] * 4
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=str(folder / "spiece"),
        vocab_size=320,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    (folder / "spiece.vocab").unlink()
    return folder / "spiece.model"


def build_tiny_albert(folder: Path, num_labels: int = 1, seed: int = 0) -> Path:
    """A 2-layer, 2-head ALBERT with random (seeded) weights and a real tokenizer, saved as HF files."""
    import torch
    from transformers import AlbertConfig, AlbertForSequenceClassification, AlbertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    spm_dir = folder.parent / f"{folder.name}-spm"
    spm_dir.mkdir(exist_ok=True)
    spm_file = _train_spm(spm_dir)
    # Built through from_pretrained so the SentencePiece vocabulary is really converted.
    tokenizer = AlbertTokenizer.from_pretrained(str(spm_dir), keep_accents=True, do_lower_case=False)
    tokenizer.model_max_length = 64
    torch.manual_seed(seed)
    config = AlbertConfig(
        vocab_size=len(tokenizer),
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=num_labels,
        problem_type="regression" if num_labels == 1 else "single_label_classification",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        classifier_dropout_prob=0.0,
        pad_token_id=0,
    )
    if num_labels > 1:
        config.id2label = {i: f"class_{i}" for i in range(num_labels)}
        config.label2id = {v: k for k, v in config.id2label.items()}
    model = AlbertForSequenceClassification(config).eval()
    # Spread the random init so attention is not near-uniform (tests then see real structure).
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("query.weight", "key.weight")):
                param.mul_(8.0)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    shutil.copy(spm_file, folder / "spiece.model")
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_albert(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_albert(tmp_path_factory.mktemp("tinycls") / "model", num_labels=3, seed=1)


@pytest.fixture(scope="session")
def sample_model() -> Path:
    assert (SAMPLE_MODEL / "config.json").is_file(), f"bundled sample model missing at {SAMPLE_MODEL}"
    return SAMPLE_MODEL


@pytest.fixture()
def texts_file(tmp_path: Path) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text(
        "本日はご来店いただき、誠にありがとうございます。\n"
        "\n"
        "今日は来てくれてありがとう。\n"
        "[無料]今すぐ申し込みで最大50,000ポイントもらえる[munaitaカード]\n"
        "これ一つで大丈夫!munaitaカードで贅沢三昧\n",
        encoding="utf-8",
    )
    return path


# --- which worker runs what (pytest-xdist, --dist loadfile in pyproject.toml) ----------------------

DEMO_FILES = {"test_packaging.py", "test_report_browser.py", "test_answer_first.py"}
"""Test files that read the demo report (:func:`wheel_demo`, the slowest fixture): one worker runs
them all, so the demo is made once and no other worker waits for it."""


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadfile``, with the files in :data:`DEMO_FILES` as one unit of work."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class DemoFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return "demo report" if Path(file).name in DEMO_FILES else file

    return DemoFilesTogether(config, log)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium per test process (tests/browser.py); each test opens its own page."""
    from browser import chromium

    with chromium() as b:
        yield b


# --- the wheel and the demo run from it (shared: both are slow and only read afterwards) ----------


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built with hatchling exactly as ``pip install .`` builds it."""
    from hatchling.builders.wheel import WheelBuilder

    out = tmp_path_factory.mktemp("wheel")
    built = list(WheelBuilder(str(REPO)).build(directory=str(out), versions=["standard"]))
    assert len(built) == 1
    return Path(built[0])


@dataclass(frozen=True)
class WheelDemo:
    site: Path
    """Where the wheel was unpacked (the only place ``reportgen`` is imported from)."""
    work: Path
    """The folder ``reportgen demo`` ran in, far from the repository."""
    result: "subprocess.CompletedProcess[str]"

    @property
    def reports(self) -> list[Path]:
        return sorted((self.work / "reports").glob("report-*.html"))


@pytest.fixture(scope="session")
def wheel_demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> WheelDemo:
    """``reportgen demo`` run by a fresh interpreter from the unpacked wheel, in an empty folder.

    The packaging test checks the run; the browser tests open the report it wrote (the demo
    report, made by the same code): one demo run serves both. It is the slowest fixture of the
    suite, so pytest-xdist's workers share it: the first worker to need it runs it in the folder
    all the workers' temporary folders sit in, holding a lock; the others wait for the lock and
    read what it left.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "wheel-demo"
    with (shared / "wheel-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = root / "result.json"
        if not saved.exists():
            _run_wheel_demo(request.getfixturevalue("wheel"), root, saved)
        run = json.loads(saved.read_text(encoding="utf-8"))
    result = subprocess.CompletedProcess(run["args"], run["returncode"], run["stdout"], run["stderr"])
    return WheelDemo(site=root / "site", work=root / "elsewhere", result=result)


def _run_wheel_demo(wheel: Path, root: Path, saved: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)  # what a worker that failed part-way left
    site, work = root / "site", root / "elsewhere"
    zipfile.ZipFile(wheel).extractall(site)
    work.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "HF_HUB_OFFLINE": "1",
        "SOURCE_DATE_EPOCH": "1764000000",
    }
    # One torch thread (see ONE_THREAD for why), not one pinned CPU: the system may then run the
    # demo on whichever core the other test worker leaves free.
    code = f"import sys; from reportgen.cli import app; sys.argv = ['reportgen', 'demo', *{list(ONE_THREAD)!r}]; app()"
    args = [sys.executable, "-c", code]
    result = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    # Written last: its presence says the run finished (whatever its exit code).
    saved.write_text(
        json.dumps({"args": args, "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}),
        encoding="utf-8",
    )


@pytest.fixture(scope="session")
def demo_report(wheel_demo: WheelDemo) -> Path:
    """The demo report (see :func:`wheel_demo`)."""
    assert wheel_demo.result.returncode == 0, wheel_demo.result.stderr
    [report] = wheel_demo.reports
    return report

