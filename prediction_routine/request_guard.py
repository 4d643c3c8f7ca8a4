"""WSGI middleware in front of the prediction server's Flask app: what a request body must be, and
how long it may take to arrive (issue 12, items 4 and 11; docs/security.md).

gunicorn's threaded worker gives each request a thread until it is answered, and a request body
is read by that thread. Five clients sending one byte a second therefore held all four threads,
and ``/health`` timed out. ``RequestGuard``, for every POST:

- requires ``Content-Type: application/json`` (charset allowed): 415 otherwise, before reading;
- requires ``Content-Length`` (411 otherwise; chunked uploads are not accepted) no larger than
  ``max_body_bytes`` (413);
- lets at most ``max_concurrent_uploads`` requests receive their bodies at once; one more gets
  503 at once, so threads are always left for ``/health`` and for bodies that arrive quickly;
- reads the body itself with a deadline of ``min(body_timeout_s, 0.25 s + length / min_body_rate)``
  (a 1000-byte body: 0.25 s; 1.5 MB: 3 s): 408 and the connection closed when it is missed. With
  gunicorn's sync workers (one request per process, the container default) that is what bounds
  how long a trickling client holds a worker. gunicorn's body reader loops until it has the bytes asked for, so a socket
  timeout alone would not bound a body trickling in a byte at a time; a watchdog thread shuts the
  socket's reading side down when the deadline passes, which ends the read at once.

The app then reads the buffered body as usual. GET requests (health) pass straight through.
Errors use Google's JSON error shape, like the rest of the server.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass

from faceswap.settings import setting

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 65536
STATUS_LINES = {408: "408 Request Timeout", 411: "411 Length Required", 413: "413 Payload Too Large",
                415: "415 Unsupported Media Type", 503: "503 Service Unavailable"}
GOOGLE_STATUS = {408: "DEADLINE_EXCEEDED", 411: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT",
                 415: "INVALID_ARGUMENT", 503: "UNAVAILABLE"}


@dataclass
class UploadLimits:
    """How request bodies must arrive (part of ServerSettings' environment, FACESWAP_SERVER_*)."""

    body_timeout_s: float = setting(
        3.0, "a request body must arrive completely within this time (408 otherwise); callers are the relay and "
             "Vertex AI's front end, whose bodies arrive in milliseconds")
    min_body_rate: float = setting(
        262144.0, "bytes per second a body must arrive at after a 0.25 s grace: a body of N bytes gets "
                  "min(body_timeout_s, 0.25 + N / min_body_rate) seconds, so a trickling client holds a "
                  "(sync) worker for a fraction of a second")
    max_concurrent_uploads: int = setting(
        2, "requests receiving their bodies at once per worker; more get 503 at once (keeps threads for /health)")


def _error(start_response, code: int, message: str, close: bool = False) -> list[bytes]:
    body = json.dumps({"error": {"code": code, "message": message, "status": GOOGLE_STATUS[code]}}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if close:
        headers.append(("Connection", "close"))
    start_response(STATUS_LINES[code], headers)
    return [body]


def is_json_content_type(value: str | None) -> bool:
    """True for ``application/json`` with optional parameters (``; charset=utf-8``)."""
    if not value:
        return False
    return value.split(";", 1)[0].strip().lower() == "application/json"


class _Watchdog:
    """Shuts down the reading side of sockets whose deadline passed (one daemon thread, 10 checks a second)."""

    def __init__(self, period_s: float = 0.1):
        self.period_s = period_s
        self._watched: dict[int, tuple[socket.socket, float]] = {}
        self._expired: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, key: int, sock: socket.socket, deadline: float) -> None:
        with self._lock:
            self._watched[key] = (sock, deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="body-deadline", daemon=True)
                self._thread.start()

    def unwatch(self, key: int) -> bool:
        """Stop watching; True when the deadline had passed (the socket was shut down)."""
        with self._lock:
            self._watched.pop(key, None)
            if key in self._expired:
                self._expired.discard(key)
                return True
            return False

    def _run(self) -> None:
        while True:
            time.sleep(self.period_s)
            now = time.monotonic()
            with self._lock:
                due = [(key, sock) for key, (sock, deadline) in self._watched.items() if now >= deadline]
                for key, _ in due:
                    del self._watched[key]
                    self._expired.add(key)
            for _, sock in due:
                try:
                    sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass


class BodyTimeout(Exception):
    """The request body did not arrive within its deadline."""


class RequestGuard:
    """WSGI middleware: checked, deadline-bound request bodies in front of ``app``."""

    def __init__(self, app, limits: UploadLimits, max_body_bytes: int):
        self.app = app
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        self._uploads = threading.BoundedSemaphore(limits.max_concurrent_uploads)
        self._watchdog = _Watchdog()

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        if not is_json_content_type(environ.get("CONTENT_TYPE")):
            return _error(start_response, 415, f"the request body must be JSON (Content-Type: application/json), "
                                               f"got {environ.get('CONTENT_TYPE') or 'no Content-Type'}", close=True)
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() or not environ.get("CONTENT_LENGTH"):
            return _error(start_response, 411, "send the request body with a Content-Length header", close=True)
        try:
            length = int(environ["CONTENT_LENGTH"])
        except ValueError:
            return _error(start_response, 411, "the Content-Length header is not a number", close=True)
        if length > self.max_body_bytes:
            return _error(start_response, 413, f"the request body is {length} bytes; the limit is "
                                               f"{self.max_body_bytes} bytes (1.5 MB)", close=True)
        if not self._uploads.acquire(blocking=False):
            return _error(start_response, 503, "the server is receiving other request bodies; try again",
                          close=True)
        try:
            body = self._read_body(environ, length)
        except (BodyTimeout, socket.timeout, TimeoutError):
            logger.warning("request body from %s not received within %.1f s: answered 408",
                           environ.get("REMOTE_ADDR", "?"), self.body_deadline_s(length))
            return _error(start_response, 408, f"the request body ({length} bytes) did not arrive within "
                                               f"{self.body_deadline_s(length):.2g} s", close=True)
        except (OSError, ValueError) as error:  # the client went away mid-body
            return _error(start_response, 408, f"the request body could not be read ({error})", close=True)
        finally:
            self._uploads.release()
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    def body_deadline_s(self, length: int) -> float:
        """Seconds a body of ``length`` bytes may take to arrive."""
        return min(self.limits.body_timeout_s, 0.25 + length / max(1.0, self.limits.min_body_rate))

    def _read_body(self, environ, length: int) -> bytes:
        """``length`` bytes of ``wsgi.input`` within ``body_timeout_s``; BodyTimeout otherwise,
        ValueError when the client stopped sending early."""
        stream = environ["wsgi.input"]
        sock = environ.get("gunicorn.socket")
        deadline = time.monotonic() + self.body_deadline_s(length)
        key = id(environ)
        if sock is not None:
            self._watchdog.watch(key, sock, deadline)
        parts: list[bytes] = []
        remaining = length
        expired = False
        try:
            while remaining > 0 and time.monotonic() < deadline:
                chunk = stream.read(min(remaining, READ_CHUNK_BYTES))
                if not chunk:
                    break
                parts.append(chunk)
                remaining -= len(chunk)
        finally:
            if sock is not None:
                expired = self._watchdog.unwatch(key)
        if remaining > 0:
            if expired or time.monotonic() >= deadline:
                raise BodyTimeout()
            raise ValueError(f"the client sent {length - remaining} of {length} bytes and stopped")
        return b"".join(parts)
