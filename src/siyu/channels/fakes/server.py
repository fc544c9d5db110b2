"""The base of the fake servers: a threaded HTTP/1.1 server on 127.0.0.1 with scripted faults."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeServer", "Fault", "Request"]


@dataclass(frozen=True)
class Fault:
    """One scripted answer: an HTTP status, a JSON body (e.g. a provider error code), a delay
    (longer than the client's timeout = a timeout) or a dropped connection."""

    status: int = 200
    body: Any = None
    delay: float = 0.0
    drop: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    process: bool = False
    """Handle the request normally (the provider acts on it), then apply the delay or drop:
    the answer is lost and the client cannot tell whether it worked."""

    @classmethod
    def timeout(cls, seconds: float = 1.5) -> Fault:
        return cls(delay=seconds, status=504)

    @classmethod
    def lost_answer(cls, seconds: float = 1.5) -> Fault:
        """The provider acts, but its answer never arrives (client timeout)."""
        return cls(delay=seconds, process=True)

    @classmethod
    def code(cls, body: dict) -> Fault:
        return cls(200, body)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class FakeServer:
    """Subclasses implement :meth:`handle` (request → (status, JSON or bytes, headers))."""

    def __init__(self):
        self.requests: list[Request] = []
        self.latency = 0.0
        """Seconds every answer takes, after the request was acted on."""
        self.script: dict[str, deque[Fault]] = defaultdict(deque)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        """The most requests this server was handling at once (checks concurrency limits)."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *a):  # quiet
                pass

            def _serve(self):
                with outer.lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    self._serve_one()
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

            def _serve_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                u = urlsplit(self.path)
                req = Request(self.command, u.path,
                              {k: v[-1] for k, v in parse_qs(u.query).items()},
                              {k.lower(): v for k, v in self.headers.items()}, body)
                with outer.lock:
                    outer.requests.append(req)
                    fault = outer._next_fault(req.path)
                if fault is not None and fault.process:
                    status, out, headers = outer.handle(req)
                    if fault.delay:
                        time.sleep(fault.delay)
                    if fault.drop or fault.delay:
                        self.close_connection = True
                        try:
                            self.connection.close()
                        except OSError:
                            pass
                        return
                elif fault is not None:
                    if fault.delay:
                        time.sleep(fault.delay)
                    if fault.drop:
                        self.close_connection = True
                        self.connection.close()
                        return
                    status, out, headers = fault.status, fault.body, dict(fault.headers)
                else:
                    status, out, headers = outer.handle(req)
                    if outer.latency:
                        time.sleep(outer.latency)
                data = out if isinstance(out, bytes) else (
                    b"" if out is None else json.dumps(out, ensure_ascii=False).encode())
                try:
                    self.send_response(status)
                    ctype = headers.pop("Content-Type", "application/json" if not isinstance(
                        out, bytes) else "text/plain; charset=utf-8")
                    self.send_header("Content-Type", ctype)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- scripting -----------------------------------------------------------------------------
    def add_faults(self, path: str, *faults: Fault) -> None:
        """Serve ``faults`` (in order) to the next requests to ``path``."""
        with self.lock:
            self.script[path].extend(faults)

    def _next_fault(self, path: str) -> Fault | None:
        q = self.script.get(path)
        return q.popleft() if q else None

    def calls(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def handle(self, req: Request) -> tuple[int, Any, dict]:  # pragma: no cover - abstract
        raise NotImplementedError
