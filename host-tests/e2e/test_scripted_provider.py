#!/usr/bin/env python3
"""The scripted provider refuses what the real APIs refuse, and answers the script; run-all.sh
runs this first (`python3 -m unittest` in this folder, about a second), so a provider that grew
lenient cannot pass cells it should fail.

    python3 host-tests/e2e/test_scripted_provider.py
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "test-upstream-key"


class Provider(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = tempfile.NamedTemporaryFile(delete=False).name
        env = dict(os.environ, E2E_LOG=cls.log, E2E_UPSTREAM_KEY=KEY,
                   E2E_TOOLS=json.dumps({"Read": {"file_path": "/p/notes.txt"},
                                         "read_file": {"file_path": "/p/notes.txt"},
                                         "exec": "text(1)"}))
        cls.process = subprocess.Popen([sys.executable, os.path.join(HERE, "scripted_provider.py")],
                                       stdout=subprocess.PIPE, env=env, text=True)
        cls.address = cls.process.stdout.readline().split()[-1]

    @classmethod
    def tearDownClass(cls):
        cls.process.terminate()
        cls.process.wait()
        os.unlink(cls.log)

    def post(self, path, body, headers):
        connection = http.client.HTTPConnection(self.address, timeout=10)
        connection.request("POST", path, json.dumps(body), dict(headers, **{"content-type": "application/json"}))
        response = connection.getresponse()
        data = response.read().decode()
        connection.close()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data

    # OpenAI ------------------------------------------------------------------------------------

    def openai(self, body, key=KEY):
        return self.post("/openai/v1/chat/completions", body, {"authorization": f"Bearer {key}"})

    def openai_refuses(self, body, status, words):
        got, answer = self.openai(body)
        self.assertEqual(got, status, answer)
        self.assertEqual(set(answer["error"]), {"message", "type", "param", "code"})
        self.assertIn(words, answer["error"]["message"])

    def test_openai_script(self):
        asks = {"model": "m", "tools": [{"type": "function", "function": {"name": "Read", "parameters": {}}}],
                "messages": [{"role": "user", "content": "What is the secret word in notes.txt?"}]}
        status, answer = self.openai(asks)
        self.assertEqual(status, 200)
        call = answer["choices"][0]["message"]["tool_calls"][0]
        self.assertEqual(json.loads(call["function"]["arguments"]), {"file_path": "/p/notes.txt"})
        back = dict(asks, messages=asks["messages"] + [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "The secret word is apex-e2e-42."}])
        status, answer = self.openai(back)
        self.assertEqual(answer["choices"][0]["message"]["content"], "E2E-DONE: the secret word is apex-e2e-42")
        status, answer = self.openai({"model": "m", "messages": [{"role": "user", "content": "title?"}]})
        self.assertEqual(answer["choices"][0]["message"]["content"], "Scripted side answer.")

    def test_openai_custom_tool(self):
        status, answer = self.openai({"model": "m", "tools": [{"type": "custom", "custom": {"name": "exec"}}],
                                      "messages": [{"role": "user", "content": "the secret word?"}]})
        self.assertEqual(answer["choices"][0]["message"]["tool_calls"][0]["custom"], {"name": "exec", "input": "text(1)"})

    def test_freeform_tool_offered_as_a_function(self):
        # A gateway translating Codex's freeform `exec` (flattened from its namespace) for a
        # provider without freeform tools: the raw input goes in the one string parameter.
        status, answer = self.anthropic({"model": "m", "max_tokens": 5, "tools": [{"name": "functions__exec",
            "input_schema": {"type": "object", "properties": {"input": {"type": "string"}}}}],
            "messages": [{"role": "user", "content": "the secret word?"}]})
        self.assertEqual(answer["content"][0]["input"], {"input": "text(1)"})

    def test_openai_refusals(self):
        user = {"role": "user", "content": "hi"}
        call = {"role": "assistant", "content": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
        self.openai_refuses({"model": "m", "messages": [user, {"role": "tool", "tool_call_id": "x", "content": "r"}]},
                            400, "must be a response to a preceeding message with 'tool_calls'")
        self.openai_refuses({"model": "m", "messages": [user, call, {"role": "tool", "tool_call_id": "x", "content": "r"}]},
                            400, "'tool_call_id' of 'x' not found")
        self.openai_refuses({"model": "m", "messages": [user, call, user]}, 400, "did not have response messages: call_1")
        self.openai_refuses({"model": "m", "messages": [{"role": "model", "content": "hi"}]}, 400, "Invalid value: 'model'")
        self.openai_refuses({"model": "m", "messages": [user], "stream_options": {"include_usage": True}}, 400,
                            "only allowed when 'stream' is enabled")
        self.openai_refuses({"model": "m", "messages": [user], "thinking": {}}, 400, "Unrecognized request argument")
        self.openai_refuses({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {"name": "a.b"}}]},
                            400, "does not match pattern")
        gemini_style = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}
        self.openai_refuses({"model": "m", "messages": [user], "response_format": {"type": "json_schema",
                             "json_schema": {"name": "r", "schema": gemini_style}}}, 400, "schema must be a JSON Schema")
        self.openai_refuses({"model": "m", "messages": [user], "response_format": {"type": "json_schema",
                             "json_schema": {"name": "r", "schema": dict(gemini_style, type="object")}}}, 400,
                            "'STRING' is not valid under any of the given schemas")
        self.openai_refuses({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {
            "name": "f", "parameters": gemini_style}}]}, 400, "Invalid schema for function 'f'")
        status, answer = self.openai({"model": "m", "messages": [user]}, key="wrong")
        self.assertEqual((status, answer["error"]["code"]), (401, "invalid_api_key"))

    # Anthropic ---------------------------------------------------------------------------------

    def anthropic(self, body, headers=None, path="/anthropic/v1/messages"):
        return self.post(path, body, headers if headers is not None else {"x-api-key": KEY, "anthropic-version": "2023-06-01"})

    def anthropic_refuses(self, body, words, status=400, headers=None):
        got, answer = self.anthropic(body, headers)
        self.assertEqual(got, status, answer)
        self.assertEqual(answer["type"], "error")
        self.assertIn(words, answer["error"]["message"])

    def test_anthropic_script(self):
        asks = {"model": "m", "max_tokens": 100, "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
                "messages": [{"role": "user", "content": "What is the secret word?"}]}
        status, answer = self.anthropic(dict(asks, stream=True))
        self.assertEqual(status, 200)
        events = [line.split(": ", 1)[1] for line in answer.splitlines() if line.startswith("event: ")]
        self.assertEqual(events, ["message_start", "content_block_start", "ping", "content_block_delta",
                                  "content_block_delta", "content_block_delta", "content_block_stop",
                                  "message_delta", "message_stop"])
        status, answer = self.anthropic(asks)
        use = answer["content"][0]
        self.assertEqual((use["type"], use["name"], answer["stop_reason"]), ("tool_use", "Read", "tool_use"))
        back = dict(asks, messages=asks["messages"] + [
            {"role": "assistant", "content": [use]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"],
                                          "content": [{"type": "text", "text": "The secret word is apex-e2e-7."}]}]}])
        status, answer = self.anthropic(back)
        self.assertEqual(answer["content"][0]["text"], "E2E-DONE: the secret word is apex-e2e-7")
        status, answer = self.anthropic({"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                                        path="/anthropic/v1/messages/count_tokens")
        self.assertEqual(status, 200)
        self.assertIn("input_tokens", answer)

    def test_anthropic_refusals(self):
        user = {"role": "user", "content": "hi"}
        self.anthropic_refuses({"model": "m", "messages": [user]}, "max_tokens: Field required")
        self.anthropic_refuses({"model": "m", "max_tokens": 5, "messages": [user, {"role": "system", "content": "s"}]},
                               "messages.1.role: Input should be 'user' or 'assistant'")
        self.anthropic_refuses({"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]}]},
            "unexpected `tool_use_id` found in `tool_result` blocks: t1")
        self.anthropic_refuses({"model": "m", "max_tokens": 5, "messages": [
            user, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}, user]},
            "`tool_use` ids were found without `tool_result` blocks immediately after: t1")
        self.anthropic_refuses({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": ""}]},
                               "must have non-empty content")
        self.anthropic_refuses({"model": "m", "max_tokens": 5, "messages": [user], "response_format": {}},
                               "response_format: Extra inputs are not permitted")
        self.anthropic_refuses({"model": "m", "max_tokens": 5, "messages": [user]}, "x-api-key header is required",
                               401, {"anthropic-version": "2023-06-01"})
        self.anthropic_refuses({"model": "m", "max_tokens": 5, "messages": [user]}, "anthropic-version: header is required",
                               400, {"x-api-key": KEY})

    def test_anthropic_system_turns_with_their_betas(self):
        status, _ = self.anthropic({"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": "hi"}, {"role": "system", "content": [{"type": "text", "text": "s"}]}]},
            {"x-api-key": KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "per-turn-control-2026-07-01"})
        self.assertEqual(status, 200)

    # Gemini ------------------------------------------------------------------------------------

    def gemini(self, body, method="generateContent", model="gemini-3-pro-preview", key=KEY):
        headers = {"x-goog-api-key": key} if key else {}
        return self.post(f"/gemini/v1beta/models/{model}:{method}", body, headers)

    def gemini_refuses(self, body, words, status=400, **options):
        got, answer = self.gemini(body, **options)
        self.assertEqual(got, status, answer)
        self.assertEqual(answer["error"]["code"], status)
        self.assertIn(words, answer["error"]["message"])

    def test_gemini_script(self):
        tools = [{"functionDeclarations": [{"name": "read_file", "parameters": {
            "type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}}]}]
        user = {"role": "user", "parts": [{"text": "What is the secret word?"}]}
        status, answer = self.gemini({"contents": [user], "tools": tools})
        part = answer["candidates"][0]["content"]["parts"][0]
        self.assertEqual(part["functionCall"], {"name": "read_file", "args": {"file_path": "/p/notes.txt"}})
        self.assertIn("thoughtSignature", part)
        back = {"contents": [user, {"role": "model", "parts": [part]}, {"role": "user", "parts": [
            {"functionResponse": {"name": "read_file", "response": {"output": "The secret word is apex-e2e-9."}}}]}],
            "tools": tools}
        status, answer = self.gemini(back, method="streamGenerateContent")
        self.assertIn("E2E-DONE: the secret word is apex-e2e-9", "".join(
            p.get("text", "") for r in answer for p in r["candidates"][0]["content"]["parts"]))
        status, answer = self.gemini({"contents": [user]}, method="countTokens")
        self.assertIn("totalTokens", answer)

    def test_gemini_refusals(self):
        user = {"role": "user", "parts": [{"text": "hi"}]}
        call = {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {}}}]}
        response = {"role": "user", "parts": [{"functionResponse": {"name": "read_file", "response": {}}}]}
        self.gemini_refuses({"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]}, "Please use a valid role: user, model.")
        self.gemini_refuses({"contents": [user, response]}, "function response turn comes immediately after a function call turn")
        self.gemini_refuses({"contents": [user, call, response]}, "missing a thought_signature")
        self.assertEqual(self.gemini({"contents": [user, call, response]}, model="gemini-2.5-pro")[0], 200)
        for keyword in ("additionalProperties", "$schema"):
            self.gemini_refuses({"contents": [user], "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
                "type": "object", keyword: False}}]}]}, f'Unknown name "{keyword}"')
        self.gemini_refuses({"contents": [user], "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
            "type": "object", "properties": {"a": {"type": ["string", "null"]}}}}]}]}, "Proto field is not repeating")
        self.gemini_refuses({"contents": [{"role": "user", "parts": []}]}, "contents.parts must not be empty")
        self.gemini_refuses({"contents": [user]}, "unregistered callers", 403, key=None)
        self.gemini_refuses({"contents": [user]}, "API key not valid", 400, key="wrong")


if __name__ == "__main__":
    unittest.main()
