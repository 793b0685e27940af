"""Group commit: deliveries that arrive during a write share the next one."""

from __future__ import annotations

import asyncio
import time

import pytest

from api.webhooks import inbox_writer
from shared.errors import UnavailableError
from shared.events.inbox import EventHeader, InboxItem
from tests.conftest import Published


def item(n: int) -> InboxItem:
    return InboxItem(EventHeader(f"evt_{n}", "t", 1, False, None, None), "{}", handled=True)


def test_requests_arriving_during_a_write_share_the_next_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches: list[list[str]] = []

    def slow_write(items: list[InboxItem]) -> list[str]:
        batches.append([i.header.id for i in items])
        time.sleep(0.05)
        return [f"queued:{i.header.id}" for i in items]

    monkeypatch.setattr(inbox_writer, "write_batch", slow_write)

    async def scenario() -> list[str]:
        writer = inbox_writer.InboxWriter()
        first = asyncio.create_task(writer.submit(item(0)))
        await asyncio.sleep(0.01)  # the first write is now in flight
        rest = [asyncio.create_task(writer.submit(item(n))) for n in range(1, 10)]
        return await asyncio.gather(first, *rest)

    outcomes = asyncio.run(scenario())
    assert batches == [["evt_0"], [f"evt_{n}" for n in range(1, 10)]]
    assert outcomes == [f"queued:evt_{n}" for n in range(10)]


def test_a_failed_write_fails_every_request_in_its_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    def database_down(_items: list[InboxItem]) -> list[str]:
        raise UnavailableError("down", "database_unavailable")

    monkeypatch.setattr(inbox_writer, "write_batch", database_down)

    async def scenario() -> list[object]:
        writer = inbox_writer.InboxWriter()
        tasks = [asyncio.create_task(writer.submit(item(n))) for n in range(3)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(scenario())
    assert [type(r) for r in results] == [UnavailableError] * 3


def test_duplicates_within_one_batch_are_queued_once(db: None, published: Published) -> None:
    outcomes = inbox_writer.write_batch([item(1), item(2), item(1)])
    assert outcomes == ["queued", "queued", "recorded"]
    assert published == [("relink.process_events", [["evt_1", "evt_2"]])]


def test_up_to_max_in_flight_batches_are_written_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[list[str]] = []
    in_flight: list[int] = [0, 0]  # now, most

    def slow_write(items: list[InboxItem]) -> list[str]:
        batches.append([i.header.id for i in items])
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        time.sleep(0.1)
        in_flight[0] -= 1
        return ["queued" for _ in items]

    monkeypatch.setattr(inbox_writer, "write_batch", slow_write)

    async def scenario() -> list[str]:
        writer = inbox_writer.InboxWriter()
        tasks = []
        for n in range(inbox_writer.MAX_IN_FLIGHT + 2):
            tasks.append(asyncio.create_task(writer.submit(item(n))))
            await asyncio.sleep(0.01)  # each write is in flight before the next arrives
        return await asyncio.gather(*tasks)

    assert asyncio.run(scenario()) == ["queued"] * (inbox_writer.MAX_IN_FLIGHT + 2)
    last = inbox_writer.MAX_IN_FLIGHT
    assert batches == [[f"evt_{n}"] for n in range(last)] + [[f"evt_{last}", f"evt_{last + 1}"]]
    assert in_flight[1] == inbox_writer.MAX_IN_FLIGHT
