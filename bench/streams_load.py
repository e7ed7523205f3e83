#!/usr/bin/env python3
"""Load generator for bench/streams.sh: N concurrent streamed requests, TTFT and inter-event gaps.

    python3 bench/streams_load.py URL --streams 1000 [--kind sse|ndjson] [--model M] [--key K]
                                  [--watch PID ...] [--json OUT]

Opens N connections at once (one request each, `Connection: close`) with raw asyncio protocols on
uvloop: no HTTP client library, the response head is parsed once and the body is de-chunked and
scanned for event ends (`\\n\\n` for SSE, `\\n` for NDJSON) with bytes.count, so the generator costs a
few microseconds per read and stays far below the gateway it measures (streams.sh also runs it
against nginx directly; its own CPU per event is printed with every run).

Per stream it records the time from sending the request to the first complete event (TTFT) and the
gaps between consecutive events (events that arrive in one read have a gap of 0 between them). A
stream succeeds when it answers 200 and ends with its terminator (`data: [DONE]` / `"done":true`).

`--watch PID` (repeatable) samples the RSS and open file descriptors of those processes and their
children every 100 ms and reads their CPU time before and after: the gateway's side of the bill.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

try:
    import uvloop
except ImportError:  # the stdlib loop works, only slower
    uvloop = None

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Stream:
    sent: float = 0.0
    status: int = 0
    reads: list[tuple[float, int]] = field(default_factory=list)  # (time, events completed in that read)
    ok: bool = False
    error: str = ""


class StreamProtocol(asyncio.Protocol):
    """One connection, one streamed request; counts event ends as bytes arrive."""

    def __init__(self, request: bytes, sep: bytes, done_mark: bytes, rec: Stream, finished: asyncio.Future) -> None:
        self.request, self.sep, self.done_mark, self.rec, self.finished = request, sep, done_mark, rec, finished
        self.head = b""
        self.in_body = False
        self.chunked = False
        self.chunk_left = 0  # bytes of the current chunk still to come (chunked bodies)
        self.pending = b""  # unparsed chunk-size line
        self.tail = b""  # last bytes of the body so far: a separator or done mark split across reads
        self.saw_done = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.rec.sent = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[:end].lower(), self.head[end + 4:]
            self.rec.status = int(head[9:12])
            self.chunked = b"transfer-encoding: chunked" in head
            self.in_body = True
        body = self._dechunk(data) if self.chunked else data
        if not body:
            return
        seen = self.tail + body
        events = seen.count(self.sep) - self.tail.count(self.sep)
        if events:
            self.rec.reads.append((now, events))
        if not self.saw_done:
            at = seen.find(self.done_mark)
            if at < 0:
                self.tail = seen[-32:]
                return
            self.saw_done, body = True, seen[at:]
        if self.sep in body:  # the terminating event is complete
            self.rec.ok = self.rec.status == 200
            self._finish()
        self.tail = seen[-32:]

    def _dechunk(self, data: bytes) -> bytes:
        out = []
        while data:
            if self.chunk_left:
                take = data[: self.chunk_left]
                out.append(take)
                self.chunk_left -= len(take)
                data = data[len(take):]
                continue
            self.pending += data
            nl = self.pending.find(b"\r\n")
            if nl < 0:
                return b"".join(out)
            line, data = self.pending[:nl], self.pending[nl + 2:]
            self.pending = b""
            if not line:  # the CRLF after a chunk's data
                continue
            size = int(line.split(b";")[0], 16)
            if size == 0:
                break
            self.chunk_left = size
        return b"".join(out)

    def _finish(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.rec.ok and not self.rec.error:
            self.rec.error = f"closed early ({exc or 'eof'})"
        self._finish()


def build_request(url: str, kind: str, model: str, key: str) -> tuple[str, int, bytes]:
    u = urlsplit(url)
    body = json.dumps({"model": model, "stream": True, "messages": [{"role": "user", "content": "Count slowly."}]})
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    req = (f"POST {u.path or '/'} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: application/json\r\n"
           f"Accept: {'text/event-stream' if kind == 'sse' else 'application/x-ndjson'}\r\n{auth}"
           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode()
    return u.hostname or "127.0.0.1", u.port or 80, req


def tree(pids: list[int]) -> list[int]:
    """The PIDs and all their descendants (read from /proc)."""
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    out, todo = set(pids), list(pids)
    while todo:
        p = todo.pop()
        for child, par in parent.items():
            if par == p and child not in out:
                out.add(child)
                todo.append(child)
    return sorted(out)


def cpu_s(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / CLK_TCK


def rss_fds(pids: list[int]) -> tuple[int, int]:
    rss = fds = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1]) * PAGE
            fds += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            pass
    return rss, fds


async def sample(pids: list[int], peak: dict[str, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        rss, fds = rss_fds(pids)
        peak["rss"], peak["fds"] = max(peak["rss"], rss), max(peak["fds"], fds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run(a: argparse.Namespace) -> dict:
    host, port, request = build_request(a.url, a.kind, a.model, a.key)
    sep, done_mark = (b"\n\n", b"data: [DONE]") if a.kind == "sse" else (b"\n", b'"done":true')
    loop = asyncio.get_running_loop()
    watched = tree(a.watch) if a.watch else []
    idle_rss, idle_fds = rss_fds(watched)
    peak = {"rss": idle_rss, "fds": idle_fds}
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(watched, peak, stop)) if watched else None
    cpu0, own0 = cpu_s(watched), time.process_time()
    recs = [Stream() for _ in range(a.streams)]

    async def one(rec: Stream) -> None:
        finished = loop.create_future()
        try:
            await loop.create_connection(lambda: StreamProtocol(request, sep, done_mark, rec, finished), host, port)
            await asyncio.wait_for(finished, a.timeout)
        except (OSError, TimeoutError) as exc:
            rec.error = rec.error or f"{type(exc).__name__}: {exc}"

    t0 = time.perf_counter()
    await asyncio.gather(*(one(r) for r in recs))
    wall = time.perf_counter() - t0
    stop.set()
    if sampler:
        await sampler
    gw_cpu, own_cpu = cpu_s(watched) - cpu0, time.process_time() - own0

    ok = [r for r in recs if r.ok]
    ttft = [r.reads[0][0] - r.sent for r in ok if r.reads]
    gaps: list[float] = []
    events = 0
    for r in recs:
        events += sum(n for _, n in r.reads)
    for r in ok:
        prev = r.reads[0][0]
        for t, n in r.reads[1:]:
            gaps.append(t - prev)
            gaps.extend([0.0] * (n - 1))
            prev = t
    errors: dict[str, int] = {}
    for r in recs:
        if not r.ok:
            key = r.error or f"status {r.status}"
            errors[key] = errors.get(key, 0) + 1
    out = {
        "streams": a.streams, "ok": len(ok), "success": len(ok) / a.streams, "wall_s": round(wall, 3),
        "events": events,
        "ttft_p50_ms": pct(ttft, 0.5) * 1e3, "ttft_p99_ms": pct(ttft, 0.99) * 1e3,
        "gap_p50_ms": pct(gaps, 0.5) * 1e3, "gap_p99_ms": pct(gaps, 0.99) * 1e3,
        "gap_max_ms": max(gaps) * 1e3 if gaps else float("nan"),
        "loadgen_cpu_s": round(own_cpu, 3),
        "loadgen_us_per_event": own_cpu / events * 1e6 if events else float("nan"),
        "errors": errors,
    }
    if watched:
        out.update({
            "gw_cpu_s": round(gw_cpu, 3),
            "gw_cpu_s_per_1k_events": gw_cpu / events * 1e3 if events else float("nan"),
            "gw_rss_idle_mb": idle_rss / 2**20, "gw_rss_peak_mb": peak["rss"] / 2**20,
            "gw_rss_kb_per_stream": (peak["rss"] - idle_rss) / 1024 / a.streams,
            "gw_fds_peak": peak["fds"],
        })
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--streams", type=int, default=250)
    ap.add_argument("--kind", choices=("sse", "ndjson"), default="sse")
    ap.add_argument("--model", default="slow")
    ap.add_argument("--key", default="")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per stream")
    ap.add_argument("--watch", type=int, action="append", default=[], help="PID to account (with children)")
    ap.add_argument("--json", help="append the result as one JSON line to this file")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.streams + 64 > hard:
        sys.exit(f"{a.streams} streams need more file descriptors than the hard limit {hard}")
    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    out = {"label": a.label, "url": a.url, "kind": a.kind, **asyncio.run(run(a))}
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(out) + "\n")
    brief = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}
    print(json.dumps(brief))


if __name__ == "__main__":
    main()
