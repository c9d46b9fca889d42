#!/usr/bin/env python3
"""A scripted OpenAI-compatible provider for the end-to-end client scripts (Claude Code, Codex,
Gemini CLI).

It answers `POST .../chat/completions` in OpenAI's wire format (JSON, or SSE when `stream` is
true, with usage when `stream_options.include_usage` asks for it), following one script:

- a request that offers one of the tools named in `E2E_TOOLS` (a JSON object: tool name ->
  arguments object), and whose conversation has no tool result yet, gets a call to that tool;
- a request whose last message is a tool result gets the final answer `E2E-DONE: <result>`;
- anything else (titles, summaries, quota probes) gets a short text.

Every request body is appended to `E2E_LOG` (one JSON document per line) for the script to check.
Prints `listening on HOST:PORT` once it accepts connections.
"""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOLS = json.loads(os.environ.get("E2E_TOOLS", "{}"))
LOG = os.environ.get("E2E_LOG")


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def plan(request):
    """(text, tool_call) for this request."""
    messages = request.get("messages", [])
    if messages and messages[-1].get("role") == "tool":
        result = text_of(messages[-1].get("content"))
        return f"E2E-DONE: {result[:400]}", None
    offered = [t.get("function", {}).get("name") for t in request.get("tools") or []]
    if not any(m.get("role") == "tool" for m in messages):
        for name, arguments in TOOLS.items():
            if name in offered:
                return "", (name, json.dumps(arguments))
    return "Hello from the scripted provider.", None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
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
        return self.rfile.read(int(self.headers.get("content-length", "0")))

    def do_POST(self):
        raw = self.body()
        try:
            request = json.loads(raw)
        except ValueError:
            return self.reply(400, json.dumps({"error": {"message": "bad json", "type": "invalid_request_error"}}))
        if LOG:
            with open(LOG, "a") as log:
                log.write(json.dumps({"path": self.path, "body": request}) + "\n")
        if not self.path.endswith("/chat/completions"):
            return self.reply(404, json.dumps({"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}}))
        model = request.get("model", "scripted")
        text, call = plan(request)
        finish = "tool_calls" if call else "stop"
        usage = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
        created = int(time.time())
        if not request.get("stream"):
            message = {"role": "assistant", "content": text or None, "refusal": None}
            if call:
                message["tool_calls"] = [{"id": "call_e2e_1", "type": "function",
                                          "function": {"name": call[0], "arguments": call[1]}}]
            body = {"id": "chatcmpl-e2e", "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                    "usage": usage}
            return self.reply(200, json.dumps(body))

        def chunk(delta, finish_reason=None):
            return "data: " + json.dumps({
                "id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }) + "\n\n"

        events = [chunk({"role": "assistant", "content": ""})]
        for word in text.split(" ") if text else []:
            events.append(chunk({"content": word + " "}))
        if call:
            events.append(chunk({"tool_calls": [{"index": 0, "id": "call_e2e_1", "type": "function",
                                                 "function": {"name": call[0], "arguments": ""}}]}))
            half = len(call[1]) // 2
            for piece in (call[1][:half], call[1][half:]):
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        events.append(chunk({}, finish))
        if (request.get("stream_options") or {}).get("include_usage"):
            events.append("data: " + json.dumps({"id": "chatcmpl-e2e", "object": "chat.completion.chunk",
                                                 "created": created, "model": model, "choices": [],
                                                 "usage": usage}) + "\n\n")
        events.append("data: [DONE]\n\n")
        self.reply(200, "".join(events), "text/event-stream")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    host, port = server.server_address
    print(f"listening on {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
