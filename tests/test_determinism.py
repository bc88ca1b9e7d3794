"""Reproducible output: with SOURCE_DATE_EPOCH set, two runs write byte-identical HTML and CSV.

The two runs are separate processes (different hash seeds), in two folders, on the same
command line, with every method the CLI runs by default. They run side by side, one torch
thread each (``--threads 1``), so the test costs one run's time on a 2-core machine.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from conftest import ONE_THREAD

REPO = Path(__file__).resolve().parents[1]
EPOCH = "1609459200"  # 2021-01-01T00:00:00Z
ROWS = [
    ("本日はご来店いただき、誠にありがとうございます。", 0.9),
    ("今日は来てくれてありがとう。", 0.2),
    ("ご注文の商品は明日発送いたします。<b>&</b>", 0.7),
    ("あいうえお" * 40, 0.5),
]


def start_in(folder: Path, model: Path, seed: str) -> subprocess.Popen[str]:
    folder.mkdir()
    with (folder / "texts.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["body", "score"])
        writer.writerows(ROWS)
    env = dict(os.environ)
    env.update(
        SOURCE_DATE_EPOCH=EPOCH,
        PYTHONHASHSEED=seed,
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    args = ["run", "texts.csv", "--text-column", "body", "--label-column", "score", "--model", str(model), "--csv", "tokens.csv",
            *ONE_THREAD]
    return subprocess.Popen(
        [sys.executable, "-c", "from reportgen.cli import app; app(prog_name='reportgen')", *args],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    try:
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return err


def test_two_runs_same_bytes(tiny_model: Path, tmp_path: Path) -> None:
    first = start_in(tmp_path / "a", tiny_model, seed="1")
    second = start_in(tmp_path / "b", tiny_model, seed="2")
    finish(first)
    finish(second)
    # The default report name comes from SOURCE_DATE_EPOCH too.
    name = Path("reports") / "report-20210101-000000.html"
    html_a, html_b = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
    assert b"2021-01-01T00:00:00+00:00" in html_a
    assert html_a == html_b
    csv_a, csv_b = (tmp_path / "a" / "tokens.csv").read_bytes(), (tmp_path / "b" / "tokens.csv").read_bytes()
    assert csv_a == csv_b
    assert csv_a.count(b"\n") > len(ROWS)
