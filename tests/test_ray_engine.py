"""``--engine ray``: a local Ray computes what the local engine computes, and every Ray process
the run started is gone when it returns.

One actor, two chunks: a second actor costs this test about 20 s (one more process importing
torch and loading the model on a small machine) and adds no check of its own; chunks handed
over out of order are tested without Ray (``tests/test_streaming.py``).

Needs the ``ray`` extra (the ``test`` extra installs it). The Ray started here is bounded to a
few logical CPUs and shut down by the engine itself; the test checks that through /proc.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray.data")

from typer.testing import CliRunner  # noqa: E402

from reportgen.cli import app  # noqa: E402
from reportgen.data import read_data  # noqa: E402
from reportgen.ray_engine import RayEngine  # noqa: E402

TEXTS = ["本日はご来店いただき、誠にありがとうございます。", "今日は来てくれてありがとう。", "ご注文の商品は明日発送いたします。", "意見を聞かせてよ。"]


def ray_processes() -> set[int]:
    """Processes of this user whose command line mentions ray (raylet, gcs_server, ray:: workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            state = (entry / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if state != "Z" and (b"raylet" in cmdline or b"gcs_server" in cmdline or b"ray::" in cmdline or b"/ray/" in cmdline):
            found.add(int(entry.name))
    return found


class Watched(RayEngine):
    """The real engine; notes which Ray processes exist while it works."""

    seen: set[int] = set()

    def run(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        for item in super().run(*args, **kwargs):
            Watched.seen = ray_processes()
            yield item


def test_ray_writes_what_the_local_engine_writes_and_stops_what_it_started(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reportgen.ray_engine

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(reportgen.ray_engine, "RayEngine", Watched)
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    common = ["run", str(path), "--model", str(tiny_model), "--methods", "cls_attention,grad_input,integrated_gradients",
              "--ig-steps", "8", "--chunk-size", "2", "--threads", "1"]
    data = {}
    for engine in ("local", "ray"):
        data[engine] = tmp_path / f"{engine}.parquet"
        before = ray_processes()
        args = [*common, "--out", str(tmp_path / f"{engine}.html"), "--data", str(data[engine]), "--engine", engine, "--ray-workers", "1"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "ray.html").exists()

    started = Watched.seen - before
    assert started, "no Ray process was seen while the engine ran"
    deadline = time.monotonic() + 60
    while started & ray_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not started & ray_processes(), "Ray processes left running"

    local, remote = read_data(data["local"]), read_data(data["ray"])
    assert [r.text_id for r in remote.records] == [r.text_id for r in local.records] == [0, 1, 2, 3]
    for a, b in zip(local.records, remote.records):
        assert abs(a.extraction.prediction - b.extraction.prediction) <= 1e-5
        assert np.array_equal(a.extraction.heads_q, b.extraction.heads_q)
        assert a.scores.keys() == b.scores.keys()
        for name in a.scores:
            np.testing.assert_allclose(a.scores[name].scores, b.scores[name].scores, atol=1e-5)
        assert a.faithfulness.keys() == b.faithfulness.keys()
        for name, f in a.faithfulness.items():
            assert abs(f.comprehensiveness - b.faithfulness[name].comprehensiveness) <= 1e-5
    assert local.faithfulness is not None and remote.faithfulness is not None
    assert local.faithfulness.best == remote.faithfulness.best
    np.testing.assert_allclose(local.agreement.mean, remote.agreement.mean, atol=1e-5)


def test_unknown_engine_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_text(TEXTS[0] + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--model", str(tiny_model), "--out", str(tmp_path / "r.html"), "--engine", "spark"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == "reportgen: error: --engine spark: choose one of local, ray"


def test_the_ray_actor_count_is_checked(tiny_model: Path) -> None:
    from reportgen.errors import InputError

    with pytest.raises(InputError, match="--ray-workers 0"):
        RayEngine(tiny_model, None, "cpu", workers=0)
