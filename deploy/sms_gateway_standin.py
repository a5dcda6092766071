"""Demo profile only: a stand-in SMS gateway that prints every SMS it is asked to send.

The demo SMS bridge (deploy/smsbridge-demo.yml) sends through its generic `http`
provider to this service instead of a real gateway, so `docker compose logs sms-gateway`
shows exactly the texts on-call staff would receive. POST /send takes the JSON body the
bridge builds and answers like a gateway that accepted it; GET /healthz answers 200.
GET /messages reads back the last SMS it accepted (at most KEEP, oldest first) as
`{"messages": [{"id", "received_at", "to", "sender", "template", "text"}]}`, so
tools/compose-smoke can count what reached each number from inside the container.
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEEP = 1000  # SMS kept for GET /messages; a demo never sends more in a day

_ids = itertools.count(1)
_lock = threading.Lock()
_sent: deque[dict[str, object]] = deque(maxlen=KEEP)


class Handler(BaseHTTPRequestHandler):
    server_version = "sms-gateway-standin/1"

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(200, {"status": "ok"})
        elif self.path == "/messages":
            with _lock:
                messages = list(_sent)
            self._answer(200, {"messages": messages})
        else:
            self._answer(404, {"type": "error", "message": "not found"})

    def do_POST(self) -> None:
        if self.path != "/send":
            self._answer(404, {"type": "error", "message": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            sms = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._answer(400, {"type": "error", "message": "body is not JSON"})
            return
        if not isinstance(sms, dict):
            self._answer(400, {"type": "error", "message": "body is not a JSON object"})
            return
        with _lock:
            request_id = f"demo-{next(_ids)}"
            _sent.append(
                {
                    "id": request_id,
                    "received_at": time.time(),
                    **{k: sms.get(k) for k in ("to", "sender", "template", "text")},
                }
            )
        print(
            f"SMS {request_id} to {sms.get('to')} from {sms.get('sender')} "
            f"(DLT template {sms.get('template')}): {sms.get('text')}",
            flush=True,
        )
        self._answer(200, {"type": "success", "request_id": request_id})

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per SMS above is the useful log


def main(argv: list[str]) -> int:
    port = int(argv[1]) if len(argv) > 1 else 9480
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    # PID 1 in a container ignores SIGTERM unless it installs a handler.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"stand-in SMS gateway listening on :{port} (POST /send)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
