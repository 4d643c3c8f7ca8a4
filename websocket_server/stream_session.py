"""One browser connection on ``/stream``: a receive loop and a worker, joined by a one-slot mailbox.

- The **receive loop** (the request's own greenlet) reads messages with the size limit, applies
  the frame-rate limit, parses them, answers malformed ones with an ``error`` result at once and
  puts good frames in the LatestFrameMailbox. A frame that replaces a waiting one is counted in
  ``dropped`` (latest frame wins; no answer is sent for it).
- The **worker** greenlet takes one frame at a time, sends it through the RoutineGateway (so at
  most one frame per connection is in flight to the routine) and sends the result back.

Both greenlets send through one lock, so messages never interleave on the socket. When the
client goes away (even mid-frame) the session logs one info line, closes the mailbox, lets the
worker finish its in-flight call (up to ``session_close_timeout_s``, then stops it) and returns.
No frame is stored anywhere.

Fairness and abuse (issue 12, docs/security.md):

- the receive loop yields to other connections after every message, so a client whose messages
  are always waiting in the socket buffer cannot hold the worker, and all streams of one address
  together are read at most ``max_messages_per_second_per_address`` times a second
  (AddressReadBudget; the rest wait in the client's socket, costing the relay nothing);
- frames over the frame-rate limit get an ``error`` result; a client that keeps sending over the
  limit (more than ``abuse_tolerance_frames`` such frames, an allowance refilling at half the rate
  limit) is closed with 1008 (policy violation);
- no message for ``idle_timeout_s`` (or a client that stops reading our answers for that long):
  closed with 1001 (going away);
- the worker asks the shared FairScheduler for a routine slot (fair between client addresses) and
  answers every frame within ``frame_deadline_s`` of its arrival, ``degraded`` if need be.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import gevent
from gevent.lock import Semaphore
from geventwebsocket.exceptions import WebSocketError

from websocket_server.fair_scheduler import AddressReadBudget, FairScheduler, SlotWaitTimeout
from websocket_server.frame_protocol import Frame, FrameError, parse_frame, result_message
from websocket_server.frame_rate_limiter import FrameRateLimiter
from websocket_server.latest_frame_mailbox import LatestFrameMailbox
from websocket_server.websocket_io import (GOING_AWAY, POLICY_VIOLATION, IdleTimeout, MessageTooLarge,
                                           close_websocket, receive_message, set_socket_timeout)
from websocket_server.relay_settings import RelaySettings
from websocket_server.routine_gateway import FrameOutcome, RoutineGateway

logger = logging.getLogger(__name__)


@dataclass
class PendingFrame:
    """A parsed frame waiting in the mailbox; ``received_at`` is time.monotonic() at arrival."""

    frame: Frame
    received_at: float


class StreamSession:
    """Serves one WebSocket connection until the client leaves; ``run()`` never raises."""

    def __init__(self, websocket, settings: RelaySettings, gateway: RoutineGateway, peer: str = "?",
                 scheduler: FairScheduler | None = None, read_budget: AddressReadBudget | None = None):
        self.websocket = websocket
        self.settings = settings
        self.gateway = gateway
        self.peer = peer
        self.scheduler = scheduler or FairScheduler(settings.routine_calls, settings.routine_calls_per_address)
        self.read_budget = read_budget or AddressReadBudget(settings.max_messages_per_second_per_address)
        self.stream_id = uuid.uuid4().hex
        self.mailbox: LatestFrameMailbox[PendingFrame] = LatestFrameMailbox()
        self.rate_limiter = FrameRateLimiter(settings.max_frames_per_second)
        # Frames over the rate limit draw on this allowance; when it is empty the client is closed.
        self.abuse_allowance = FrameRateLimiter(settings.max_frames_per_second / 2,
                                                burst=settings.abuse_tolerance_frames)
        self.received = 0
        self.answered = 0
        self.rejected = 0
        self.dropped = 0
        self._send_lock = Semaphore()
        self._connected = True

    # -- sending ---------------------------------------------------------------------------------

    def _send(self, message: bytes) -> bool:
        """Send one binary message; False (and the session winds down) when the client is gone."""
        if not self._connected:
            return False
        with self._send_lock:
            try:
                self.websocket.send(message, binary=True)
                return True
            except (WebSocketError, OSError, AttributeError, TypeError):
                # AttributeError/TypeError: gevent-websocket tore the stream down under us
                self._connected = False
                return False

    def _reject(self, seq: int | None, reason: str) -> None:
        self.rejected += 1
        logger.debug("stream %s: rejected message seq=%s: %s", self.stream_id, seq, reason)
        self._send(result_message(seq, "error", reason=reason, dropped=self.dropped))

    # -- the two greenlets -----------------------------------------------------------------------

    def run(self) -> None:
        """Serve the connection until it closes; then free everything. Never raises."""
        logger.info("stream %s: connected from %s", self.stream_id, self.peer)
        set_socket_timeout(self.websocket, self.settings.idle_timeout_s)
        worker = gevent.spawn(self._work)
        ending = "client disconnected"
        try:
            ending = self._receive_loop() or ending
        except Exception:  # a bug must cost this connection at most, never the server
            logger.exception("stream %s: unexpected relay error, closing the connection", self.stream_id)
            ending = "relay error"
        finally:
            self._connected = self._connected and not self.websocket.closed
            self.mailbox.close()
            worker.join(timeout=self.settings.session_close_timeout_s)
            if not worker.dead:
                worker.kill(block=True, timeout=1.0)
            close_websocket(self.websocket)
            logger.info("stream %s: ended (%s): %d frames received, %d answered, %d rejected, %d dropped",
                        self.stream_id, ending, self.received, self.answered, self.rejected, self.dropped)

    def _close(self, code: int, reason: str) -> str:
        with self._send_lock:
            close_websocket(self.websocket, code, reason)
        self._connected = False
        return reason

    def _receive_loop(self) -> str | None:
        """Read messages until the client leaves (None) or is closed (the reason)."""
        while self._connected:
            if not self.read_budget.wait(self.peer):
                gevent.sleep(0)  # let every other connection and /livez run between two messages
            try:
                message = receive_message(self.websocket, self.settings.max_message_bytes)
            except MessageTooLarge as error:
                self.received += 1
                self.rate_limiter.allow()
                self._reject(None, str(error))
                continue
            except IdleTimeout:
                return self._close(GOING_AWAY, f"no message for {self.settings.idle_timeout_s:g} s")
            if message is None:
                return None
            self.received += 1
            received_at = time.monotonic()
            within_rate = self.rate_limiter.allow()
            if not within_rate and not self.abuse_allowance.allow():
                logger.warning("stream %s: closed: %s keeps sending over the frame-rate limit", self.stream_id,
                               self.peer)
                return self._close(POLICY_VIOLATION, f"kept sending over the limit of "
                                                     f"{self.settings.max_frames_per_second:g} frames per second")
            try:
                frame = parse_frame(message, self.settings.max_header_bytes)
            except FrameError as error:
                self._reject(error.seq, str(error))
                continue
            if not within_rate:
                self._reject(frame.seq, f"over the frame-rate limit of {self.settings.max_frames_per_second:g} "
                                        "frames per second; frame ignored")
                continue
            if self.mailbox.put(PendingFrame(frame, received_at)) is not None:
                self.dropped += 1
        return None

    def _work(self) -> None:
        while True:
            pending = self.mailbox.take()
            if pending is None:
                return
            taken_at = time.monotonic()
            pending, outcome = self._process(pending)
            frame = pending.frame
            timings = dict(outcome.timings_ms) if outcome else {}
            timings["wait"] = max(0.0, taken_at - pending.received_at) * 1000
            timings["relay"] = (time.monotonic() - pending.received_at) * 1000
            if outcome is None:
                message = result_message(frame.seq, "degraded", frame.image, reason="internal relay error",
                                         timings_ms=timings, dropped=self.dropped, sent_at=frame.sent_at)
            else:
                message = result_message(frame.seq, outcome.status, outcome.payload, reason=outcome.reason,
                                         faces=outcome.faces, timings_ms=timings, dropped=self.dropped,
                                         sent_at=frame.sent_at)
            if not self._send(message):
                return
            self.answered += 1

    def _process(self, pending: PendingFrame) -> tuple[PendingFrame, FrameOutcome | None]:
        """Wait for a fair routine slot, then run the latest frame through the gateway within the
        frame deadline; returns the frame actually processed and its outcome (None: relay bug)."""
        deadline = pending.received_at + self.settings.frame_deadline_s
        try:
            self.scheduler.acquire(self.peer, timeout=max(0.0, deadline - time.monotonic()))
        except SlotWaitTimeout:
            return pending, FrameOutcome("degraded", pending.frame.image, reason=(
                f"the relay is busy: no prediction slot within {self.settings.frame_deadline_s:g} s"))
        try:
            newer = self.mailbox.take_nowait()
            if newer is not None:  # a newer frame arrived while this one waited: it replaces it
                self.dropped += 1
                pending = newer
                deadline = pending.received_at + self.settings.frame_deadline_s
            try:
                return pending, self.gateway.process(pending.frame, self.stream_id,
                                                     deadline_s=deadline - time.monotonic())
            except Exception:  # the gateway never raises by contract; keep the stream going if it does
                logger.exception("stream %s: frame %d failed in the relay", self.stream_id, pending.frame.seq)
                return pending, None
        finally:
            self.scheduler.release(self.peer)
