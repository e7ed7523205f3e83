"""Which worker process this is, passed down from `lmgate serve --workers N` instead of read from the
environment: the router splits in-process quotas by `count`, the request log names its file by `index`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    index: int | None = None  # 1..count under --workers N; None for a lone process
    count: int = 1

    def file_suffix(self) -> str:
        """`.w2` for worker 2 (one request-log file per worker), "" for a lone process."""
        return f".w{self.index}" if self.index is not None else ""


SOLO = WorkerIdentity()  # one process serving alone (also tests and `lmgate drill`)
