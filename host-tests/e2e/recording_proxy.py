#!/usr/bin/env python3
"""A recording pass-through between a CLI and Apex, for the end-to-end scripts.

    E2E_EXCHANGES=exchanges.jsonl python3 recording_proxy.py 127.0.0.1:8787

Forwards every request unchanged (method, path, headers, body) to the Apex address given as the
argument and streams the answer back unchanged (status, headers, body; a streamed answer chunk by
chunk as it arrives), so what a CLI sees is exactly what Apex sent. Each exchange is appended to
`E2E_EXCHANGES` (one JSON document a line): method, path, the request body (up to 256 KiB),
status, response headers and the start of the response body (up to 32 KiB). The scripts print
these for a failing cell: Apex's answers, byte for byte, next to the CLI's output.

Prints `listening on HOST:PORT` once it accepts connections.
"""

import http.client
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = sys.argv[1]
LOG = os.environ.get("E2E_EXCHANGES")
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer"}
lock = threading.Lock()


def decode(data, limit):
    text = data[:limit].decode("utf-8", "replace")
    return text + (f"... ({len(data)} bytes)" if len(data) > limit else "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return raw
                raw += self.rfile.read(size)
                self.rfile.readline()
        length = self.headers.get("content-length")
        return self.rfile.read(int(length)) if length else b""

    def forward(self):
        started = time.time()
        body = self.read_body()
        record = {"time": started, "method": self.command, "path": self.path,
                  "request_body": decode(body, 262144)}
        upgrade = self.headers.get("upgrade")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if upgrade:
            headers["Connection"] = "upgrade"  # a WebSocket upgrade goes through as asked
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        received = b""
        try:
            upstream = http.client.HTTPConnection(TARGET, timeout=600)
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            record["status"] = response.status
            record["response_headers"] = {k.lower(): v for k, v in response.getheaders()
                                          if k.lower() in ("content-type", "x-apex-dropped-tools", "retry-after",
                                                           "x-request-id", "x-apex-provider", "x-apex-model")
                                          or k.lower().startswith("x-apex")}
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            while True:
                data = response.read1(65536)
                if not data:
                    break
                if len(received) < 32768:
                    received += data
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            upstream.close()
        except (BrokenPipeError, ConnectionResetError) as error:
            record["error"] = f"client went away: {error}"
        except OSError as error:
            record["error"] = f"apex: {error}"
            if "status" not in record:
                self.send_error(502, str(error))
        finally:
            record["response_body"] = decode(received, 32768)
            record["seconds"] = round(time.time() - started, 3)
            if LOG:
                with lock, open(LOG, "a") as log:
                    log.write(json.dumps(record) + "\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = forward


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address
    print(f"listening on {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
