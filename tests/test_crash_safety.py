"""Crash safety: a run killed at any point leaves no file or the previous one, never part of one.

The kill tests start the real CLI in a subprocess and SIGKILL it at chosen moments. To hit
the narrow moments deterministically (half of the report written to disk, the temporary file
complete but not yet renamed, one of two files renamed), a small driver pauses the run there
and says so through a marker file; the test then kills it. One more run is killed with no
help at all, as soon as its temporary file shows up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reportgen.output import OutputError, PlannedFile, write_all

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["本日はご来店いただき、誠にありがとうございます。", "今日は来てくれてありがとう。", "ご注文の商品は明日発送いたします。"]

DRIVER = textwrap.dedent(
    '''
    """Run the reportgen CLI, pausing at one moment of the output stage (see test_crash_safety)."""
    import os, sys, time
    from pathlib import Path

    mode, marker, argv = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]

    def hold():
        marker.write_text("paused")
        time.sleep(600)

    import reportgen.output as output

    class Os:
        """reportgen.output's view of os: everything real except what the mode pauses."""
        def __getattr__(self, name):
            return getattr(os, name)

    fake = Os()
    output.os = fake
    if mode == "mid-write":
        class HalfWriter:
            def __init__(self, handle):
                self.handle = handle
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return self.handle.__exit__(*exc)
            def write(self, data):
                self.handle.write(data[: len(data) // 2])
                self.handle.flush()
                os.fsync(self.handle.fileno())
                hold()
            def __getattr__(self, name):
                return getattr(self.handle, name)
        fake.fdopen = lambda fd, *a, **k: HalfWriter(os.fdopen(fd, *a, **k))
    elif mode in ("before-rename", "between-renames"):
        placed = []
        def place(real):
            def call(src, dst, *a, **k):
                if mode == "before-rename" or placed:
                    hold()
                placed.append(dst)
                return real(src, dst, *a, **k)
            return call
        fake.replace = place(os.replace)
        fake.link = place(os.link)
    elif mode != "none":
        raise SystemExit(f"unknown mode {mode}")

    from reportgen.cli import app
    app(args=argv, prog_name="reportgen")
    '''
)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("driver") / "driver.py"
    path.write_text(DRIVER, encoding="utf-8")
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    return env


def _fast() -> list[str]:
    from typer.testing import CliRunner

    from reportgen.cli import app

    help_text = CliRunner().invoke(app, ["run", "--help"], terminal_width=200).output
    return ["--no-gradients"] if "--no-gradients" in help_text else []


def kill_when_paused(driver: Path, mode: str, args: list[str], folder: Path) -> None:
    marker = folder / f"paused-{mode}"
    proc = subprocess.Popen(
        [sys.executable, str(driver), mode, str(marker), *args],
        cwd=folder, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    try:
        while not marker.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the run ended (code {proc.returncode}) before pausing: {err.decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the run never reached the pause")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part"))


@pytest.fixture()
def texts(tmp_path: Path) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS * 4) + "\n", encoding="utf-8")
    return path


def complete_html(data: bytes) -> bool:
    return data.startswith(b"<!DOCTYPE html>") and data.rstrip().endswith(b"</html>")


def test_killed_mid_write_keeps_the_previous_report(driver: Path, tiny_model: Path, texts: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_bytes(b"previous report")
    args = ["run", str(texts), "--model", str(tiny_model), "--out", str(out), "--force", *_fast()]
    kill_when_paused(driver, "mid-write", args, tmp_path)
    assert out.read_bytes() == b"previous report"
    # The kill really came in the middle of writing: half a report sits in the temporary file.
    (temp,) = parts(tmp_path)
    assert temp.name.startswith(".report.html.") and not complete_html(temp.read_bytes())
    assert temp.stat().st_size > 1000


def test_killed_before_rename_leaves_no_file(driver: Path, tiny_model: Path, texts: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "report.html"
    args = ["run", str(texts), "--model", str(tiny_model), "--out", str(out), *_fast()]
    kill_when_paused(driver, "before-rename", args, tmp_path)
    assert not out.exists()
    (temp,) = parts(out.parent)
    assert complete_html(temp.read_bytes()), "the temporary file was complete; only the rename was missing"


def test_killed_between_renames_each_file_whole(driver: Path, tiny_model: Path, texts: Path, tmp_path: Path) -> None:
    out, table = tmp_path / "report.html", tmp_path / "tokens.csv"
    out.write_bytes(b"previous report")
    table.write_bytes(b"previous,csv\n")
    args = ["run", str(texts), "--model", str(tiny_model), "--out", str(out), "--csv", str(table), "--force", *_fast()]
    kill_when_paused(driver, "between-renames", args, tmp_path)
    assert complete_html(out.read_bytes()), "the report was renamed into place whole"
    assert table.read_bytes() == b"previous,csv\n", "the CSV was not touched yet"


def test_killed_at_a_real_moment(driver: Path, tiny_model: Path, tmp_path: Path) -> None:
    """No pauses: kill the moment a temporary file appears (or let it finish); the target is
    then absent or whole, never partial."""
    source = tmp_path / "many.txt"
    source.write_text("\n".join(f"{t} {i}" for i in range(40) for t in TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "report.html"
    proc = subprocess.Popen(
        [sys.executable, str(driver), "none", str(tmp_path / "unused"), "run", str(source), "--model", str(tiny_model),
         "--out", str(out), *_fast()],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    seen_part = False
    deadline = time.monotonic() + 240
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if any(name.endswith(".part") for name in os.listdir(tmp_path)):
                proc.send_signal(signal.SIGKILL)
                seen_part = True
                break
            time.sleep(0.001)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
    if seen_part:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 0, err.decode()[-2000:]
    print(f"killed at the temporary file: {seen_part}")
    assert not out.exists() or complete_html(out.read_bytes())


# --- write_all in process -------------------------------------------------------------------------


def test_write_all_never_clobbers_without_force(tmp_path: Path) -> None:
    first, second = tmp_path / "a.html", tmp_path / "b.csv"
    second.write_bytes(b"appeared meanwhile")
    with pytest.raises(OutputError, match="b.csv: already exists; pass --force"):
        write_all([PlannedFile(first, b"new report"), PlannedFile(second, b"new csv")], force=False)
    assert not first.exists(), "the file already placed is taken back"
    assert second.read_bytes() == b"appeared meanwhile"
    assert parts(tmp_path) == []


def test_write_all_force_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "r.html"
    target.parent.mkdir()
    target.write_bytes(b"old")
    write_all([PlannedFile(target, b"new")], force=True)
    assert target.read_bytes() == b"new"
    assert parts(target.parent) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_write_all_error_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(OutputError) as err:
        write_all([PlannedFile(blocker / "r.html", b"new")])
    assert "\n" not in str(err.value) and "cannot write" in str(err.value)
