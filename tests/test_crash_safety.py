"""Crash safety: a run killed at any point leaves no file or the previous one, never part of one.

The kill tests run the real CLI (the whole pipeline, in process) in a child forked from the
test process and SIGKILL it at chosen moments: forking skips a fresh interpreter's imports, so
each kill costs about a second instead of ten. To hit the narrow moments deterministically (half
of the report written to disk, the temporary file complete but not yet renamed, one of two
files renamed), the child's ``reportgen.output`` sees an ``os`` that pauses the run there and
says so through a marker file; the test then kills it. One more run is killed with no help at
all, the moment its temporary file shows up; that test fails unless it really killed a run
while the temporary file was there.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

import pytest

from reportgen.output import OutputError, PlannedFile, write_all

TEXTS = ["本日はご来店いただき、誠にありがとうございます。", "今日は来てくれてありがとう。", "ご注文の商品は明日発送いたします。"]


def _pause_output_at(mode: str, marker: Path) -> None:
    """In the child: make ``reportgen.output`` pause at ``mode`` (see the module docstring)."""
    import reportgen.output as output

    def hold() -> None:
        marker.write_text("paused")
        time.sleep(600)

    class Os:
        """reportgen.output's view of os: everything real except what the mode pauses."""

        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

    fake = Os()
    output.os = fake  # type: ignore[assignment]
    if mode == "mid-write":

        class HalfWriter:
            def __init__(self, handle):  # noqa: ANN001
                self.handle = handle

            def __enter__(self):  # noqa: ANN204
                return self

            def __exit__(self, *exc):  # noqa: ANN002, ANN204
                return self.handle.__exit__(*exc)

            def write(self, data: bytes) -> None:
                self.handle.write(data[: len(data) // 2])
                self.handle.flush()
                os.fsync(self.handle.fileno())
                hold()

            def __getattr__(self, name: str) -> object:
                return getattr(self.handle, name)

        fake.fdopen = lambda fd, *a, **k: HalfWriter(os.fdopen(fd, *a, **k))
    elif mode in ("before-rename", "between-renames"):
        placed: list[object] = []

        def place(real):  # noqa: ANN001, ANN202
            def call(src, dst, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
                if mode == "before-rename" or placed:
                    hold()
                placed.append(dst)
                return real(src, dst, *a, **k)

            return call

        fake.replace = place(os.replace)
        fake.link = place(os.link)
    elif mode != "none":
        raise ValueError(f"unknown mode {mode}")


def fork_cli(mode: str, args: list[str], folder: Path) -> tuple[int, Path, Path]:
    """Fork a child that runs ``reportgen <args>`` in process, pausing at ``mode``.

    Returns the child's pid, its marker file and its log (stdout and stderr, tracebacks).
    """
    marker, log = folder / f"paused-{mode}", folder / f"child-{mode}.log"
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            import torch

            torch.set_num_threads(1)  # as DataLoader workers do after a fork
            _pause_output_at(mode, marker)
            from reportgen.cli import app

            app(args=args, prog_name="reportgen")
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        except BaseException:  # noqa: BLE001 - report anything to the parent through the log
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(log_fd)
    return pid, marker, log


def _status(pid: int, block: bool) -> int | None:
    """The child's wait status, or None while it runs."""
    done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    return status if done else None


def _log_tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-2000:]


def kill_when_paused(mode: str, args: list[str], folder: Path) -> None:
    pid, marker, log = fork_cli(mode, args, folder)
    kill_when(pid, log, marker.exists, "the pause")


def kill_when(pid: int, log: Path, ready: Callable[[], bool], what: str) -> None:
    """SIGKILL the child ``pid`` as soon as ``ready()``; fails if it ends first or never gets there."""
    deadline = time.monotonic() + 120
    status = None
    try:
        while not ready():
            status = _status(pid, block=False)
            if status is not None:
                pytest.fail(f"the run ended (status {status}) before {what}: {_log_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"the run never reached {what}")
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        status = _status(pid, block=True)
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            status = _status(pid, block=True)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status


# The writer is what these tests are about: the gradient methods only add seconds.
# One torch thread: this process already runs torch, and a forked child that raises torch's
# thread count waits forever on the parent's thread pool (a fork limit, not a reportgen one).
FAST = ["--no-gradients", "--threads", "1"]


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part"))


@pytest.fixture(scope="module")
def warm(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """One ordinary run in this process first, so that every module the pipeline imports is
    loaded before the forks: the children then start their run at once."""
    from typer.testing import CliRunner

    from reportgen.cli import app

    folder = tmp_path_factory.mktemp("warm")
    source = folder / "texts.txt"
    source.write_text(TEXTS[0] + "\n", encoding="utf-8")
    args = ["run", str(source), "--model", str(tiny_model), "--out", str(folder / "r.html"), "--csv", str(folder / "t.csv"), *FAST]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


@pytest.fixture()
def texts(tmp_path: Path, warm: None) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS * 4) + "\n", encoding="utf-8")
    return path


def complete_html(data: bytes) -> bool:
    return data.startswith(b"<!DOCTYPE html>") and data.rstrip().endswith(b"</html>")


def test_killed_mid_write_keeps_the_previous_report(tiny_model: Path, texts: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_bytes(b"previous report")
    args = ["run", str(texts), "--model", str(tiny_model), "--out", str(out), "--force", *FAST]
    kill_when_paused("mid-write", args, tmp_path)
    assert out.read_bytes() == b"previous report"
    # The kill really came in the middle of writing: half a report sits in the temporary file.
    (temp,) = parts(tmp_path)
    assert temp.name.startswith(".report.html.") and not complete_html(temp.read_bytes())
    assert temp.stat().st_size > 1000


def test_killed_before_rename_leaves_no_file(tiny_model: Path, texts: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "report.html"
    args = ["run", str(texts), "--model", str(tiny_model), "--out", str(out), *FAST]
    kill_when_paused("before-rename", args, tmp_path)
    assert not out.exists()
    (temp,) = parts(out.parent)
    assert complete_html(temp.read_bytes()), "the temporary file was complete; only the rename was missing"


def test_killed_between_renames_each_file_whole(tiny_model: Path, texts: Path, tmp_path: Path) -> None:
    out, table = tmp_path / "report.html", tmp_path / "tokens.csv"
    out.write_bytes(b"previous report")
    table.write_bytes(b"previous,csv\n")
    args = ["run", str(texts), "--model", str(tiny_model), "--out", str(out), "--csv", str(table), "--force", *FAST]
    kill_when_paused("between-renames", args, tmp_path)
    assert complete_html(out.read_bytes()), "the report was renamed into place whole"
    assert table.read_bytes() == b"previous,csv\n", "the CSV was not touched yet"


def test_killed_at_a_real_moment(tiny_model: Path, tmp_path: Path, warm: None) -> None:
    """No pauses: kill the run the moment its temporary file appears; the target is then
    absent (the temporary file left behind) or whole, never partial.

    A run may finish between two looks at the folder; it is then run again, and the test fails
    unless one of a few runs was really killed while its temporary file existed.
    """
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS * 4) + "\n", encoding="utf-8")
    for attempt in range(10):
        folder = tmp_path / f"attempt-{attempt}"
        folder.mkdir()
        out = folder / "report.html"
        pid, _, log = fork_cli("none", ["run", str(source), "--model", str(tiny_model), "--out", str(out), *FAST], folder)
        seen_part, status = False, None
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                if any(name.endswith(".part") for name in os.listdir(folder)):
                    os.kill(pid, signal.SIGKILL)
                    seen_part = True
                    break
                status = _status(pid, block=False)
                if status is not None:
                    break
        finally:
            if status is None:
                if not seen_part:
                    os.kill(pid, signal.SIGKILL)
                status = _status(pid, block=True)
        if not seen_part:
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, _log_tail(log)
            assert complete_html(out.read_bytes())
            continue
        # The signal came while the run was still going (it had not exited on its own).
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        if out.exists():
            assert complete_html(out.read_bytes()), "the report is partial"
        else:
            assert parts(folder), "killed after the temporary file appeared: it is still there"
            assert all(p.name.startswith(".report.html.") for p in parts(folder))
        print(f"killed at attempt {attempt}; report {'whole' if out.exists() else 'absent'}")
        return
    pytest.fail("no run was killed while its temporary file existed (each finished first)")


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
