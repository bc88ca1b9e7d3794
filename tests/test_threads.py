"""Default torch threads: physical cores among the CPUs this process may use, capped by a quota."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reportgen import threads


def _topology(root: Path, cores: dict[int, tuple[int, int]]) -> Path:
    """A fake ``/sys/devices/system/cpu``: logical CPU -> (package, core)."""
    for cpu, (package, core) in cores.items():
        folder = root / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "physical_package_id").write_text(f"{package}\n")
        (folder / "core_id").write_text(f"{core}\n")
    return root


@pytest.fixture()
def fake_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """8 logical CPUs: 2 packages x 2 cores x 2 hyper-threads; no quota unless a test writes one."""
    sys_cpu = _topology(
        tmp_path / "cpu",
        {0: (0, 0), 1: (0, 1), 2: (1, 0), 3: (1, 1), 4: (0, 0), 5: (0, 1), 6: (1, 0), 7: (1, 1)},
    )
    monkeypatch.setattr(threads, "SYS_CPU", sys_cpu)
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", (tmp_path / "cpu.max",))
    monkeypatch.setattr(threads, "CGROUP_V1_QUOTA", (tmp_path / "quota", tmp_path / "period"))
    monkeypatch.setattr(threads, "allowed_cpus", lambda: list(range(8)))
    return tmp_path


def test_hyper_threads_count_once(fake_machine: Path) -> None:
    assert threads.physical_cores(list(range(8))) == 4
    assert threads.default_threads() == 4


def test_affinity_limits_the_cores(fake_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two sibling hyper-threads of one core: one thread; CPUs of two different cores: two.
    monkeypatch.setattr(threads, "allowed_cpus", lambda: [0, 4])
    assert threads.default_threads() == 1
    monkeypatch.setattr(threads, "allowed_cpus", lambda: [1, 2])
    assert threads.default_threads() == 2


def test_cgroup_quota_caps_the_count(fake_machine: Path) -> None:
    (fake_machine / "cpu.max").write_text("150000 100000\n")
    assert threads.cpu_quota() == 2 and threads.default_threads() == 2
    (fake_machine / "cpu.max").write_text("50000 100000\n")
    assert threads.default_threads() == 1
    (fake_machine / "cpu.max").write_text("max 100000\n")
    assert threads.cpu_quota() is None and threads.default_threads() == 4


def test_cgroup_v1_quota(fake_machine: Path) -> None:
    (fake_machine / "quota").write_text("300000\n")
    (fake_machine / "period").write_text("100000\n")
    assert threads.cpu_quota() == 3 and threads.default_threads() == 3
    (fake_machine / "quota").write_text("-1\n")
    assert threads.cpu_quota() is None


def test_unreadable_topology_falls_back_to_half(fake_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "SYS_CPU", fake_machine / "missing")
    assert threads.physical_cores([0, 1]) is None
    assert threads.default_threads() == 4  # 8 allowed CPUs // 2
    monkeypatch.setattr(threads, "allowed_cpus", lambda: [3])
    assert threads.default_threads() == 1  # never 0


def test_this_machine_is_within_its_cpus() -> None:
    count = threads.default_threads()
    assert 1 <= count <= len(threads.allowed_cpus()) <= (__import__("os").cpu_count() or 1)


def test_configure_threads_sets_torch() -> None:
    before = torch.get_num_threads()
    try:
        assert threads.configure_threads(1) == 1 == torch.get_num_threads()
        assert threads.configure_threads(None) == threads.default_threads() == torch.get_num_threads()
        with pytest.raises(ValueError, match="at least 1"):
            threads.configure_threads(0)
    finally:
        torch.set_num_threads(before)
