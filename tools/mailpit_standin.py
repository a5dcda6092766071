#!/usr/bin/env python3
"""A stand-in for the demo's mail catcher (Mailpit) where its image cannot be pulled.

tools/compose-smoke builds it into an image tagged like the Mailpit image that
docker-compose.yml names, because build machines without an image registry cannot fetch
Mailpit. It is NOT Mailpit: it accepts every mail on SMTP (`--smtp`, default :1025, no
AUTH, no TLS, as the demo's Mailpit) and keeps the last KEEP in memory, and it answers
only the part of Mailpit's HTTP API (`--listen`, default :8025) the demo's health check
and the smoke test use:

    GET /readyz             200 "ok"
    GET /api/v1/messages    {"total", "count", "messages": [{"ID", "MessageID", "From",
                            "To", "Subject", "Created", "Size", "Snippet"}]}, newest first

`mailpit_standin.py readyz` exits 0 when that API answers, as `/mailpit readyz` does in
Mailpit's image (the compose health check). Needs aiosmtpd.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import itertools
import json
import signal
import sys
import threading
import urllib.request
from collections import deque
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

KEEP = 500  # mails kept; the demo sends a few an hour

_ids = itertools.count(1)
_lock = threading.Lock()
_mails: deque[dict[str, Any]] = deque(maxlen=KEEP)


def _addresses(message: EmailMessage, header: str) -> list[dict[str, str]]:
    field = message.get(header)
    found: tuple[Address, ...] = getattr(field, "addresses", ()) if field is not None else ()
    return [{"Name": a.display_name, "Address": a.addr_spec} for a in found]


def summary(raw: bytes, *, received: datetime) -> dict[str, Any]:
    """One mail as Mailpit's message list shows it (the fields the smoke test reads)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    senders = _addresses(message, "From")
    return {
        "ID": str(next(_ids)),
        "MessageID": str(message.get("Message-Id", "")).strip("<>"),
        "From": senders[0] if senders else {"Name": "", "Address": ""},
        "To": _addresses(message, "To"),
        "Subject": str(message.get("Subject", "")),
        "Created": received.isoformat().replace("+00:00", "Z"),
        "Size": len(raw),
        "Snippet": " ".join(str(text).split())[:250],
    }


class Sink:
    """aiosmtpd handler: keep every mail, refuse nothing."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        mail = summary(raw, received=datetime.now(UTC))
        with _lock:
            _mails.append(mail)
        print(f"mail {mail['ID']}: {mail['Subject']}", flush=True)
        return "250 Message accepted for delivery"


class Api(BaseHTTPRequestHandler):
    server_version = "mailpit-standin/1"

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/readyz":
            self._answer(200, b"ok", "text/plain")
        elif path == "/api/v1/messages":
            with _lock:
                newest_first = list(reversed(_mails))
            body: dict[str, Any] = {
                "total": len(newest_first),
                "count": len(newest_first),
                "messages": newest_first,
            }
            self._answer(200, json.dumps(body).encode(), "application/json")
        else:
            self._answer(404, b"not found", "text/plain")

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per mail is the useful log


def host_port(value: str) -> tuple[str, int]:
    """`HOST:PORT` or `:PORT` (every interface) -> (host, port)."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "0.0.0.0", int(port)


def readyz(listen: tuple[str, int]) -> int:
    host, port = listen
    host = "127.0.0.1" if host == "0.0.0.0" else host
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=4) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as exc:
        print(f"mailpit stand-in not ready at {host}:{port}: {exc}", file=sys.stderr)
        return 1


def serve(smtp: tuple[str, int], listen: tuple[str, int]) -> int:
    controller = Controller(Sink(), hostname=smtp[0], port=smtp[1])
    controller.start()
    api = ThreadingHTTPServer(listen, Api)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() in this very thread: run it in another.
        threading.Thread(target=api.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"mail catcher stand-in (not Mailpit): SMTP on {smtp[0]}:{smtp[1]}, "
        f"API on {listen[0]}:{listen[1]}",
        flush=True,
    )
    try:
        api.serve_forever()
    finally:
        api.server_close()
        controller.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", nargs="?", choices=["readyz"], help="check the API and exit")
    parser.add_argument(
        "--smtp", type=host_port, default=":1025", help="SMTP address, HOST:PORT (default :1025)"
    )
    parser.add_argument(
        "--listen", type=host_port, default=":8025", help="API address, HOST:PORT (default :8025)"
    )
    args = parser.parse_args(argv)
    if args.command == "readyz":
        return readyz(args.listen)
    return serve(args.smtp, args.listen)


if __name__ == "__main__":
    sys.exit(main())
