"""How many threads torch computes with: the machine's physical cores by default.

torch's own default is every logical CPU of the machine, which hurts twice on small or shared
machines: hyper-threads share one core's matrix units, and when other processes also run, the
extra threads spin-wait for each other (measured on a 2-core machine running other jobs: the
demo took 1:24 with torch's default threads and 0:23 with one thread).

:func:`default_threads` counts the physical cores this process may run on: the CPUs in its
affinity mask (``os.sched_getaffinity``; a container's cpuset), grouped by the core they belong
to (``/sys/devices/system/cpu/cpuN/topology``), never more than a cgroup CPU quota allows
(``cpu.max``). Where the topology cannot be read, half the allowed CPUs (at least 1).
:func:`configure_threads` applies it (or an explicit count) to torch. This module imports
torch only inside :func:`configure_threads`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

SYS_CPU = Path("/sys/devices/system/cpu")
CGROUP_CPU_MAX = (Path("/sys/fs/cgroup/cpu.max"),)
CGROUP_V1_QUOTA = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def allowed_cpus() -> list[int]:
    """The logical CPUs this process may run on (all of ``os.cpu_count()`` where affinity is unknown)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def physical_cores(cpus: list[int], sys_cpu: Path | None = None) -> int | None:
    """Distinct (package, core) pairs among ``cpus``; None when any CPU's topology is unreadable."""
    sys_cpu = SYS_CPU if sys_cpu is None else sys_cpu
    cores = set()
    for cpu in cpus:
        topology = sys_cpu / f"cpu{cpu}" / "topology"
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return None
        cores.add((package, core))
    return len(cores) or None


def cpu_quota(cpu_max: tuple[Path, ...] | None = None, v1: tuple[Path, Path] | None = None) -> int | None:
    """CPUs a cgroup quota allows, rounded up (cgroup v2 ``cpu.max`` or v1 ``cfs_quota_us``); None: no quota."""
    cpu_max = CGROUP_CPU_MAX if cpu_max is None else cpu_max
    v1 = CGROUP_V1_QUOTA if v1 is None else v1
    for path in cpu_max:
        try:
            quota, period = (path.read_text().split() + ["100000"])[:2]
        except OSError:
            continue
        if quota == "max":
            return None
        try:
            return max(1, math.ceil(int(quota) / int(period)))
        except (ValueError, ZeroDivisionError):
            return None
    try:
        quota_us, period_us = (int(p.read_text().strip()) for p in v1)
    except (OSError, ValueError):
        return None
    if quota_us <= 0 or period_us <= 0:
        return None
    return max(1, math.ceil(quota_us / period_us))


def default_threads() -> int:
    """Physical cores available to this process (at least 1, never more than the CPUs it may use)."""
    cpus = allowed_cpus()
    cores = physical_cores(cpus)
    if cores is None:
        cores = max(1, len(cpus) // 2)
    quota = cpu_quota()
    if quota is not None:
        cores = min(cores, quota)
    return max(1, min(cores, len(cpus)))


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads to ``threads`` (None: :func:`default_threads`); return the count in use.

    Also asks for one inter-op thread (reportgen runs no parallel graph); torch refuses that once
    parallel work has started in the process, which is harmless and ignored.
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    import torch

    count = default_threads() if threads is None else int(threads)
    # Setting the count it already has is not a no-op in torch: it may rebuild the thread pool.
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return torch.get_num_threads()
