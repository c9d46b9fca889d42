#!/usr/bin/env python3
"""A scripted OpenAI-compatible provider for the status-page check (run.sh), on loopback.

- `POST /v1/chat/completions` with `Authorization: Bearer <key>`:
  - the key in `UI_REFUSED_KEY`: 401 `invalid_api_key` (a refused key), every time;
  - the first other request: 429 with `retry-after: UI_RETRY_AFTER` (120) and OpenAI's
    rate-limit error (a key to bench); its key is remembered;
  - anything else: 200, a chat completion.
- `GET /state`: `{"rate_limited_key": <the key that got the 429, or null>, "requests": N}`.

Prints `listening on HOST:PORT` once it accepts connections.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REFUSED = os.environ.get("UI_REFUSED_KEY", "")
RETRY_AFTER = os.environ.get("UI_RETRY_AFTER", "120")
lock = threading.Lock()
state = {"rate_limited_key": None, "requests": 0}


class Handler(BaseHTTPRequestHandler):
    # One connection per request, so every attempt reaches the provider and the counts on the
    # page are exact (with keep-alive, Apex's next attempt on a connection that carried a 401 or
    # 429 has been seen to fail as `connect` and be retried).
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/state":
            with lock:
                return self.answer(200, dict(state))
        self.answer(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            request = {}
        if not self.path.endswith("/chat/completions"):
            return self.answer(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        key = (self.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        with lock:
            state["requests"] += 1
            first = state["rate_limited_key"] is None and key != REFUSED
            if first:
                state["rate_limited_key"] = key
        print(f"{self.path} key={'refused' if key == REFUSED else 'ok'} first={first}", flush=True)
        if key == REFUSED:
            return self.answer(401, {"error": {
                "message": "Incorrect API key provided.", "type": "invalid_request_error",
                "param": None, "code": "invalid_api_key"}})
        if first:
            return self.answer(429, {"error": {
                "message": "Rate limit reached for requests.", "type": "requests",
                "param": None, "code": "rate_limit_exceeded"}}, [("retry-after", RETRY_AFTER)])
        model = request.get("model", "unknown")
        self.answer(200, {
            "id": "chatcmpl-ui-check", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Hello from the scripted provider."}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
        })


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    print(f"listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
