"""CPU time and memory of a process tree, read from /proc (Linux only).

CPU is read two ways: utime + stime from /proc/<pid>/stat (the whole process, 10 ms ticks) and the
on-CPU nanoseconds of every live thread from /proc/<pid>/task/<tid>/schedstat (precise, but threads
that exit take their time with them). Cells are compared with the precise figure when the kernel
offers it; both are recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
KIB = 1024


@dataclass(frozen=True)
class CpuSample:
    ticks_seconds: float
    """utime + stime of every process in the tree (10 ms resolution)."""
    sched_seconds: float | None
    """On-CPU time of every live thread (ns resolution), None where schedstat is missing."""
    wait_seconds: float | None = None
    """Time its threads were runnable but waited for a CPU: other work on the machine."""

    @property
    def seconds(self) -> float:
        return self.sched_seconds if self.sched_seconds is not None else self.ticks_seconds

    def __sub__(self, earlier: CpuSample) -> CpuSample:
        sched = (
            self.sched_seconds - earlier.sched_seconds
            if self.sched_seconds is not None and earlier.sched_seconds is not None
            else None
        )
        wait = (
            self.wait_seconds - earlier.wait_seconds
            if self.wait_seconds is not None and earlier.wait_seconds is not None
            else None
        )
        return CpuSample(self.ticks_seconds - earlier.ticks_seconds, sched, wait)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ")".
    return text[text.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """`root` and all its descendants (a server started through a wrapper such as npx or taskset)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        if (PROC / str(pid)).exists():
            found.append(pid)
            pending.extend(children.get(pid, []))
    return found


def _schedstat(pid: int) -> tuple[float, float] | None:
    """(on-CPU, waiting for a CPU) seconds of the process's live threads; None without schedstat."""
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return None
    running = waiting = 0
    for task in tasks:
        try:
            fields = (task / "schedstat").read_text().split()
            running += int(fields[0])
            waiting += int(fields[1])
        except FileNotFoundError:
            if task.exists():
                return None  # no schedstat in this kernel
            # else the thread ended between the listing and the read; its time went with it
        except (OSError, ValueError, IndexError):
            return None
    return running / 1e9, waiting / 1e9


def cpu(pids: list[int]) -> CpuSample:
    ticks = 0
    sched: float | None = 0.0
    wait: float | None = 0.0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is None:
            continue
        # Fields 14 and 15 of stat (utime, stime); index 11 and 12 after the command name.
        ticks += int(fields[11]) + int(fields[12])
        measured = _schedstat(pid)
        if measured is None or sched is None or wait is None:
            sched = wait = None
        else:
            sched, wait = sched + measured[0], wait + measured[1]
    return CpuSample(ticks / CLOCK_TICKS, sched, wait)


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_bytes(pids: list[int]) -> int:
    """Resident memory now (VmRSS), summed over the tree."""
    return sum(_status_kib(pid, "VmRSS") for pid in pids) * KIB


def peak_rss_bytes(pids: list[int]) -> int:
    """The high-water mark of resident memory (VmHWM) since each process started, summed."""
    return sum(_status_kib(pid, "VmHWM") for pid in pids) * KIB
