"""The scripted provider itself: it rejects what the real APIs reject, in their error formats, so a
request Apex gets wrong fails a cell instead of passing unnoticed."""

import json
import urllib.error
import urllib.request

import pytest

from helpers import PROVIDER_URL

OPENAI = ("/v1/chat/completions", {"authorization": "Bearer sk"})
ANTHROPIC = ("/v1/messages", {"x-api-key": "sk", "anthropic-version": "2023-06-01"})
GEMINI = ("/v1beta/models/gemini-2.5-flash:generateContent", {"x-goog-api-key": "k"})
USER = {"role": "user", "content": "hi"}


def post(api, body):
    path, headers = api
    request = urllib.request.Request(PROVIDER_URL + path, data=json.dumps(body).encode(), headers=dict(headers, **{"content-type": "application/json"}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.parametrize(
    "api, body, message",
    [
        (ANTHROPIC, {"model": "m", "max_tokens": 10, "messages": [{"role": "system", "content": "be brief"}, USER]}, "messages.0.role"),
        (ANTHROPIC, {"model": "m", "messages": [USER]}, "max_tokens: Field required"),
        (ANTHROPIC, {"model": "m", "max_tokens": 10, "messages": [USER], "response_format": {}}, "Extra inputs are not permitted"),
        (ANTHROPIC, {"model": "m", "max_tokens": 10, "messages": [
            USER, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}, USER,
        ]}, "without `tool_result` blocks"),
        (ANTHROPIC, {"model": "m", "max_tokens": 10, "messages": [USER], "output_config": {"format": {
            "type": "json_schema", "schema": {"type": "object", "properties": {}}}}}, "additionalProperties"),
        (OPENAI, {"model": "m", "messages": [USER, {"role": "tool", "tool_call_id": "call_1", "content": "x"}]}, "preceeding message with 'tool_calls'"),
        (OPENAI, {"model": "m", "messages": [USER, {"role": "assistant", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, USER]}, "must be followed by tool messages"),
        (OPENAI, {"model": "m", "messages": [USER], "stream_options": {"include_usage": True}}, "only allowed when 'stream' is enabled"),
        (OPENAI, {"model": "m", "messages": [USER], "max_output_tokens": 5}, "Unrecognized request argument"),
        (GEMINI, {"contents": [{"role": "system", "parts": [{"text": "hi"}]}]}, "valid role: user, model"),
        (GEMINI, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": [{"functionDeclarations": [
            {"name": "f", "parameters": {"type": "object", "additionalProperties": False}}]}]}, "Unknown name \"additionalProperties\""),
        (GEMINI, {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]}, "function response turn comes immediately after a function call turn"),
    ],
)
def test_rejects_what_the_api_rejects(api, body, message):
    status, error = post(api, body)
    assert status == 400, error
    text = error["error"]["message"]
    assert message in text, text
    if api is ANTHROPIC:
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    if api is GEMINI:
        assert error["error"]["status"] == "INVALID_ARGUMENT" and error["error"]["code"] == 400
