"""A small local fake of Slack's Web API and incoming webhooks, for the project's own tests.

It checks what Slack checks and we could get wrong (Block Kit limits, the text limit, the
token's kind), records every request, and fails on cue (429 with Retry-After, 5xx, a dropped
connection) so delivery can be tested without the internet and without sleeps.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

# Slack's limits, as its API enforces them.
MAX_BLOCKS = 50
HEADER_TEXT_MAX = 150
SECTION_TEXT_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
BLOCK_ID_MAX = 255
MESSAGE_TEXT_MAX = 40_000
WEBHOOK_PATH = "/webhook/"


@dataclass
class Request:
    """One request as the fake saw it (the Authorization header is not kept)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    fault: str | None = None
    response: Any = None


@dataclass
class _Fault:
    # "ratelimit" (429), "server_error" (5xx), "drop" (reset before serving) or
    # "lose_answer" (serve the request, then reset: Slack took it but the answer never came)
    kind: str
    status: int = 500
    retry_after: int = 0


@dataclass
class FakeSlackServer:
    """Start with ``with FakeSlackServer() as fake:``; ``api_url``, ``webhook_url`` point at it."""

    requests: list[Request] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # accepted, oldest first
    _faults: list[_Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval: shutdown() waits for it at the end of every test.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    @property
    def webhook_url(self) -> str:
        return f"{self.base}{WEBHOOK_PATH}T0FAKE/B0FAKE/webhook-secret-0123456789"

    def fail_next(self, kind: str, count: int = 1, status: int = 500, retry_after: int = 0) -> None:
        """Answer the next ``count`` requests with a fault (see ``_Fault.kind``)."""
        with self._lock:
            self._faults.extend(_Fault(kind, status, retry_after) for _ in range(count))

    def calls(self, path_end: str) -> list[Request]:
        """Requests whose path ends with ``path_end`` (e.g. "chat.postMessage"), faults included."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path_end)]

    # request handling, called from the handler threads

    def take_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def web_api(self, method: str, auth: str, body: dict[str, Any]) -> dict[str, Any]:
        if not auth:
            return {"ok": False, "error": "not_authed"}
        if not auth.startswith("Bearer xoxb-"):
            return {"ok": False, "error": "invalid_auth"}
        if method == "chat.postMessage":
            return self._post(body)
        if method == "conversations.history":
            return self._history(body)
        return {"ok": False, "error": "unknown_method"}

    def webhook(self, body: dict[str, Any]) -> tuple[int, str]:
        error = message_error(body)
        if error:
            return 400, error
        with self._lock:
            self.messages.append(body)
        return 200, "ok"

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        error = message_error(body)
        if error:
            return {"ok": False, "error": error}
        with self._lock:
            ts = f"{int(time.time())}.{len(self.messages) + 1:06d}"
            self.messages.append({**body, "ts": ts})
        return {"ok": True, "channel": body["channel"], "ts": ts}

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Newest first; metadata only with include_all_metadata, as Slack does."""
        limit = int(body.get("limit") or 100)
        with_metadata = str(body.get("include_all_metadata")).lower() in ("1", "true")
        with self._lock:
            found = [m for m in self.messages if m.get("channel") == body.get("channel")]
        page = []
        for message in reversed(found[-limit:]):
            view = {"type": "message", "ts": message["ts"], "text": message.get("text", "")}
            if with_metadata and message.get("metadata"):
                view["metadata"] = message["metadata"]
            page.append(view)
        return {"ok": True, "messages": page, "has_more": len(found) > limit}


def message_error(body: dict[str, Any]) -> str | None:
    """Slack's error code for a message that breaks its limits, or None."""
    text, blocks = body.get("text"), body.get("blocks")
    if not text and not blocks:
        return "no_text"
    if isinstance(text, str) and len(text) > MESSAGE_TEXT_MAX:
        return "msg_too_long"
    if blocks is not None and block_errors(blocks):
        return "invalid_blocks"
    return None


def block_errors(blocks: Any) -> list[str]:
    """What is wrong with a list of blocks, in words (empty when Slack would accept it)."""
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    errors = [f"{len(blocks)} blocks"] if len(blocks) > MAX_BLOCKS else []
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in block_ids or len(block_id) > BLOCK_ID_MAX:
                errors.append(f"block {index}: bad block_id")
            block_ids.add(block_id)
        errors += [f"block {index}: {error}" for error in _block_errors(block)]
    return errors


def _block_errors(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    text = block.get("text") or {}
    if kind == "header":
        if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= HEADER_TEXT_MAX:
            return ["header text"]
    elif kind == "section":
        if not 0 < len(text.get("text", "")) <= SECTION_TEXT_MAX:
            return ["section text"]
    elif kind in ("context", "actions"):
        elements = block.get("elements") or []
        if not elements or (kind == "context" and len(elements) > CONTEXT_ELEMENTS_MAX):
            return [f"{kind} elements"]
    elif kind != "divider":
        return [f"unsupported type {kind!r}"]
    return []


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # http.server's backlog of 5 stalls concurrent clients for seconds.
    request_queue_size = 128
    fake: FakeSlackServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded instead."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        """Record first, then answer, so a test never races the record."""
        url = urlsplit(self.path)
        fake = self.server.fake
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        request = Request(self.command, url.path, headers, self._body(url.query))
        fault = fake.take_fault()
        if fault and fault.kind != "lose_answer":
            request.fault = fault.kind
            fake.record(request)
            self._fault(fault)
            return
        if url.path.startswith("/api/"):
            auth = self.headers.get("Authorization", "")
            request.response = fake.web_api(url.path[len("/api/") :], auth, request.body)
            fake.record(request)
            if fault:  # lose_answer
                request.fault = fault.kind
                self._fault(fault)
                return
            self._send(200, json.dumps(request.response), "application/json")
        elif url.path.startswith(WEBHOOK_PATH):
            status, request.response = fake.webhook(request.body)
            fake.record(request)
            self._send(status, request.response, "text/plain")
        else:
            fake.record(request)
            self._send(404, "not found", "text/plain")

    def _body(self, query: str) -> dict[str, Any]:
        """Query parameters plus a JSON or form body (the SDK uses both)."""
        body: dict[str, Any] = dict(parse_qsl(query))
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if "json" in self.headers.get("Content-Type", ""):
            body.update(json.loads(raw or "{}"))
        elif raw:
            body.update(parse_qsl(raw))
            for name in ("blocks", "metadata"):
                if isinstance(body.get(name), str):
                    body[name] = json.loads(body[name])
        return body

    def _fault(self, fault: _Fault) -> None:
        if fault.kind == "ratelimit":
            body = json.dumps({"ok": False, "error": "ratelimited"})
            self._send(429, body, "application/json", {"Retry-After": str(fault.retry_after)})
        elif fault.kind == "server_error":
            body = json.dumps({"ok": False, "error": "internal_error"})
            self._send(fault.status, body, "application/json")
        else:  # drop, lose_answer: reset the connection without an answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

    def _send(
        self, status: int, text: str, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
