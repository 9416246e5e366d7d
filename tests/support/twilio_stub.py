"""A local HTTP stand-in for Twilio's Messages API, so the real SDK's request can be asserted."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


class TwilioStub:
    """Records every Messages.json request; numbers in ``failing`` get a 500."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.failing: set[str] = set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                auth = self.headers.get("Authorization", "")
                user = (
                    base64.b64decode(auth.split()[1]).decode()
                    if auth.startswith("Basic ")
                    else ""
                )
                stub.requests.append({"path": self.path, "form": form, "auth": user})
                if form.get("To") in stub.failing:
                    self._reply(500, {"code": 20500, "message": "stub failure", "status": 500})
                    return
                self._reply(201, {
                    "sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": form.get("To"),
                    "from": form.get("From"), "body": form.get("Body"),
                })

            def _reply(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TwilioStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def messages_to(self, number: str) -> list[dict]:
        """Requests whose To is ``number``."""
        return [r for r in self.requests if r["form"].get("To") == number]
