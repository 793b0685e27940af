"""A small HTTP/1.1 load generator on raw asyncio streams (keep-alive, pre-built requests).

Closed loop (`concurrency` connections, each sending as soon as its last answer came) or
open loop (`rate` requests/s spread over the connections). Runs in its own process.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0

    def summary(self) -> dict[str, float]:
        done = sum(self.statuses.values())
        return {
            "requests": done,
            "ok": self.ok,
            "errors": self.errors,
            "rps": done / self.elapsed if self.elapsed else 0.0,
            "p50_ms": self.percentile(50) * 1000,
            "p99_ms": self.percentile(99) * 1000,
            "max_ms": max(self.latencies, default=0.0) * 1000,
        }


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _connection(
    host: str, port: int, requests: asyncio.Queue[bytes], result: Result, interval: float | None
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    next_at = time.perf_counter()
    try:
        while True:
            try:
                request = requests.get_nowait()
            except asyncio.QueueEmpty:
                return
            if interval is not None:
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            started = time.perf_counter()
            writer.write(request)
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(body)}",
        "Content-Type: application/json; charset=utf-8",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run(
    host: str, port: int, requests: list[bytes], concurrency: int, rate: float | None = None
) -> Result:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    result = Result()
    interval = concurrency / rate if rate else None
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(host, port, queue, result, interval) for _ in range(concurrency))
    )
    result.elapsed = time.perf_counter() - started
    return result
