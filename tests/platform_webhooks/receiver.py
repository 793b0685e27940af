"""A real HTTP receiver for platform webhooks: it verifies every delivery with the
`standardwebhooks` library (a delivery that does not verify fails the test that reads it)
and answers as the test scripts it: 2xx, 500, a redirect, a stall, a connection reset, or
not listening at all (down)."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
WRONG_SECRET = "whsec_bm90IHRoZSBwbGF0Zm9ybSdzIHNlY3JldA=="


@dataclass(frozen=True)
class Delivery:
    """One request as received: its headers and body, and what the receiver answered."""

    headers: dict[str, str]
    body: bytes
    answer: str
    path: str

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str = SECRET) -> dict[str, Any]:
        """The payload, if the signature verifies with `secret`; raises otherwise."""
        return Webhook(secret).verify(self.body, self.headers)


# An answer: "ok", "500", "503", "redirect", "stall" (sleeps past the sender's timeout),
# "reset", "trickle" (a 204 sent one byte every `trickle_every` seconds).
Script = Callable[[int, dict[str, str]], str]


class Receiver:
    def __init__(self, port: int = 0, secret: str = SECRET) -> None:
        self.secret = secret
        self.deliveries: list[Delivery] = []
        self.script: Script = lambda _n, _headers: "ok"
        self.stall_seconds = 5.0
        self.answer_body = b""  # sent with every answer
        self.trickle_every = 0.5
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: nothing listens on the port (connection refused) until `start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self, answer: str | None = "ok") -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if answer is None or d.answer == answer]

    def payloads(self) -> list[dict[str, Any]]:
        """Every accepted delivery's payload, each verified with the receiver's secret."""
        return [d.verified(self.secret) for d in self.received()]

    def wait_for(self, count: int, timeout: float) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received()) >= count:
                return self.received()
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received())} of {count} deliveries after {timeout}s")

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver._lock:  # how many times this webhook id came before
                seen = [d for d in receiver.deliveries if d.webhook_id == headers.get("webhook-id")]
            number = len(seen)
            answer = receiver.script(number, headers)
            if answer == "ok":
                try:
                    Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    answer = "bad_signature"
            receiver._record(Delivery(headers, body, answer, self.path))
            if answer == "reset":
                linger = struct.pack("ii", 1, 0)  # RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                self.connection.close()
                return
            if answer == "trickle":
                _trickle(self.wfile, receiver.trickle_every)
                return
            if answer == "stall":
                time.sleep(receiver.stall_seconds)
            codes = {"ok": 204, "500": 500, "503": 503, "redirect": 307, "bad_signature": 400}
            code = codes.get(answer, 200)
            self.send_response(code)
            if answer == "redirect":
                self.send_header("location", f"http://127.0.0.1:{receiver.port}/elsewhere")
            self.send_header("content-length", str(len(receiver.answer_body)))
            self.end_headers()
            self.wfile.write(receiver.answer_body)

    return Handler


TRICKLED = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


def _trickle(out: Any, every: float) -> None:
    """Each read the sender makes gets a byte well within its socket timeout; only a deadline
    on the whole attempt ends it before the answer is complete."""
    with contextlib.suppress(OSError):  # the sender gave up and closed the connection
        for i in range(len(TRICKLED)):
            out.write(TRICKLED[i : i + 1])
            out.flush()
            time.sleep(every)


@contextlib.contextmanager
def running(secret: str = SECRET) -> Iterator[Receiver]:
    receiver = Receiver(secret=secret)
    try:
        yield receiver
    finally:
        receiver.stop()


def payload_of(delivery: Delivery) -> dict[str, Any]:
    return json.loads(delivery.body)
