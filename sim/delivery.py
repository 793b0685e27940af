"""Webhook delivery: a background thread POSTs each event's frozen JSON, signed, to the
configured endpoint, with Stripe's retries, duplicates and reordering switchable."""

from __future__ import annotations

import heapq
import itertools
import json
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from sim.events import thin_notification
from sim.signing import sign
from sim.state import Event, SimState, WebhookEndpoint

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
BATCH_WINDOW_S = 0.05
"""With `shuffle`, wait this long for events created together so they can be reordered."""


@dataclass(order=True)
class Job:
    due: float
    seq: int
    event_id: str = field(compare=False)
    attempt: int = field(compare=False)
    copy: int = field(compare=False)
    generation: int = field(compare=False)


def payload_of(event: Event, endpoint: WebhookEndpoint | None = None) -> str:
    """The exact body sent for an event: the snapshot, or to a thin endpoint its thin twin."""
    if endpoint is not None and endpoint.event_payload == "thin":
        if event.thin_payload is None:
            event.thin_payload = json.dumps(thin_notification(event), indent=2)
        return event.thin_payload
    if event.payload is None:
        event.payload = json.dumps(event.body, indent=2)
    return event.payload


class Deliverer:
    def __init__(self, state: SimState) -> None:
        self.state = state
        self.cond = threading.Condition()
        self.jobs: list[Job] = []
        self.seq = itertools.count()
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.http = requests.Session()
        self.senders: list[threading.Thread] = []
        self.handoff: queue.Queue[Job | None] = queue.Queue(maxsize=64)
        """Jobs for the sender threads, when `DeliveryConfig.concurrency` > 1."""
        state.on_events.append(self.enqueue)

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="sim-webhooks", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None
        for _ in self.senders:
            self.handoff.put(None)
        for sender in self.senders:
            sender.join(timeout=5)
        self.senders.clear()
        self.http.close()

    def wake(self) -> None:
        """Re-read the configuration (e.g. after resume)."""
        with self.cond:
            self.cond.notify_all()

    def clear(self) -> None:
        with self.cond:
            self.jobs.clear()
            self.cond.notify_all()

    def pending(self) -> int:
        with self.cond:
            return len(self.jobs)

    def enqueue(self, events: list[Event]) -> None:
        """Hook run by `sim.events.emit` under the state lock."""
        events = [event for event in events if self.state.endpoint_for(event) is not None]
        if not events:
            return
        config = self.state.delivery
        due = time.monotonic() + config.delay_s
        with self.cond:
            for event in events:
                for copy in range(1 + config.duplicates):
                    job = Job(due, next(self.seq), event.id, 1, copy, self.state.generation)
                    heapq.heappush(self.jobs, job)
            self.cond.notify_all()

    def _next_batch(self) -> list[Job]:
        with self.cond:
            while not self.stopping:
                config = self.state.delivery
                now = time.monotonic()
                if self.jobs and not config.paused and self.jobs[0].due <= now:
                    if config.shuffle:
                        self.cond.wait(BATCH_WINDOW_S)
                        now = time.monotonic()
                    batch = []
                    while self.jobs and self.jobs[0].due <= now:
                        batch.append(heapq.heappop(self.jobs))
                    if config.shuffle:
                        rng = random.Random(config.seed) if config.seed is not None else random
                        rng.shuffle(batch)
                    return batch
                timeout = 0.5
                if self.jobs and not config.paused:
                    timeout = min(timeout, max(0.0, self.jobs[0].due - now))
                self.cond.wait(timeout)
            return []

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if self.stopping:
                return
            width = self.state.delivery.concurrency
            if width <= 1:
                for job in batch:
                    self._attempt(job, self.http)
                continue
            while len(self.senders) < width:
                sender = threading.Thread(target=self._send, name="sim-webhook-sender")
                sender.daemon = True
                sender.start()
                self.senders.append(sender)
            for job in batch:
                if self.stopping:
                    break
                self.handoff.put(job)
            self.handoff.join()  # the batch is out before the next one, as one by one

    def _send(self) -> None:
        """A sender thread: attempts the jobs handed to it, on its own connection."""
        with requests.Session() as http:
            while (job := self.handoff.get()) is not None:
                try:
                    if not self.stopping:
                        self._attempt(job, http)
                finally:
                    self.handoff.task_done()

    def _attempt(self, job: Job, http: requests.Session) -> None:
        with self.state.lock:
            event = self.state.events.get(job.event_id)
            endpoint = self.state.endpoint_for(event) if event else None
            if event is None or endpoint is None or job.generation != self.state.generation:
                return
            payload = payload_of(event, endpoint)
            config = self.state.delivery
            timeout = config.timeout_s
            delays = list(config.retry_delays_s)
        thin = endpoint.event_payload == "thin"
        record: dict[str, Any] = {
            "event_id": event.thin_id if thin else event.id,
            "snapshot_event_id": event.id,
            "payload": endpoint.event_payload,
            "event_type": f"v1.{event.type}" if thin else event.type,
            "attempt": job.attempt,
            "copy": job.copy,
            "url": endpoint.url,
            "at": time.time(),
            "status_code": None,
            "error": None,
            "ok": False,
        }
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": sign(payload, endpoint.secret),
            "Cache-Control": "no-cache",
            "Accept": "*/*; q=0.5, application/xml",
        }
        try:
            response = http.post(
                endpoint.url, data=payload.encode(), headers=headers, timeout=timeout
            )
            record["status_code"] = response.status_code
            record["ok"] = 200 <= response.status_code < 300
        except requests.RequestException as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["duration_s"] = round(time.time() - record["at"], 4)
        with self.state.lock:
            if job.generation != self.state.generation:
                return
            self.state.deliveries.append(record)
            if record["ok"]:
                event.pending_webhooks = 0
                event.failed = False
                return
            if job.attempt <= len(delays):
                retry = Job(
                    time.monotonic() + delays[job.attempt - 1],
                    next(self.seq),
                    event.id,
                    job.attempt + 1,
                    job.copy,
                    job.generation,
                )
                with self.cond:
                    heapq.heappush(self.jobs, retry)
                    self.cond.notify_all()
            elif event.pending_webhooks:
                event.failed = True
