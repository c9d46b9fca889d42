#!/usr/bin/env python3
"""A scripted upstream provider for the end-to-end client scripts: three provider kinds, wire-faithful.

One server answers three wire protocols, each under its own path prefix so that Apex's
`base_url` for a provider of that kind names exactly one of them:

- `/openai/v1/chat/completions` — OpenAI Chat Completions (JSON, or SSE when `stream` is true,
  with a usage chunk when `stream_options.include_usage` asks), `Authorization: Bearer <key>`;
- `/anthropic/v1/messages` and `/anthropic/v1/messages/count_tokens` — Anthropic Messages (JSON,
  or SSE with message_start / content_block_start / content_block_delta / content_block_stop /
  message_delta / message_stop), `x-api-key: <key>` and `anthropic-version` required;
- `/gemini/v1beta/models/{model}:generateContent`, `:streamGenerateContent` (`?alt=sse`, or a
  JSON array without it) and `:countTokens` — Gemini, `x-goog-api-key: <key>` (or `?key=`).

Each request is first checked the way the real API checks it, and refused with that API's error
shape and status when the real API would refuse it (see `check_openai`, `check_anthropic`,
`check_gemini`): a provider that accepted what the real one refuses would hide gateway bugs.

Then one script, the same for every kind (see `plan`):

- a request that offers one of the tools named in `E2E_TOOLS` (JSON: tool name -> arguments),
  whose user text asks for the `secret word` (file names alone do not count: CLIs list the
  project's files in their context) and whose conversation has no tool result yet, gets a call
  to that tool;
- a request whose conversation has a tool result gets the final answer
  `E2E-DONE: the secret word is <the apex-e2e-... word found in the result>` (or
  `E2E-NO-SECRET: <result>` when the result does not hold one);
- any other request that offers tools (the CLI's main loop on a plain prompt) gets `E2E-TEXT-OK`;
- anything else (titles, topic checks, quota probes, next-speaker checks) gets a short text, or a
  JSON document following the schema when the request asks for structured output.

Gemini `functionCall` parts carry a `thoughtSignature`; for `gemini-3*` models a function call
sent back without it is refused, as Gemini 3 does.

The key every kind wants is `E2E_UPSTREAM_KEY`. Every request (kind, path, selected headers,
body, the status answered and the error, if any) is appended to `E2E_LOG`, one JSON document a
line. Prints `listening on HOST:PORT` once it accepts connections.
"""

import base64
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOOLS = json.loads(os.environ.get("E2E_TOOLS", "{}"))
LOG = os.environ.get("E2E_LOG")
KEY = os.environ.get("E2E_UPSTREAM_KEY", "scripted-upstream-key")
SECRET = re.compile(r"apex-e2e-[0-9a-z]+")
SIGNATURE = base64.b64encode(b"scripted-thought-signature").decode()
# Gemini documents these two as signatures that skip validation (for histories from elsewhere).
DUMMY_SIGNATURES = {"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"}
log_lock = threading.Lock()


class Refused(Exception):
    """The real API's refusal: status and JSON body."""

    def __init__(self, status, body):
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body


# ---------------------------------------------------------------------------------------------
# The script, on a kind-neutral view of the request.
# ---------------------------------------------------------------------------------------------


class View:
    """What the script needs from a request, whatever its wire format."""

    def __init__(self):
        self.tools = {}  # offered tools: name -> ("function", parameters schema) or ("custom", None)
        self.user_text = ""  # every user text, tool results excluded
        self.calls = []  # names of tool calls in the conversation
        self.results = []  # texts of tool results in the conversation
        self.schema = None  # structured output asked for: a JSON schema, or {} for any JSON


def plan(view):
    """("text", str) or ("call", name, arguments dict)."""
    if view.results:
        result = view.results[-1]
        found = SECRET.search(result)
        if found:
            return "text", f"E2E-DONE: the secret word is {found.group(0)}"
        return "text", f"E2E-NO-SECRET: {result[:300]}"
    if view.tools and "secret word" in view.user_text:
        for name, arguments in TOOLS.items():
            # A gateway may flatten a namespaced tool as `<namespace>__<name>`.
            offered = [n for n in view.tools if n == name or (n or "").endswith("__" + name)]
            if offered:
                kind, schema = view.tools[offered[0]]
                if isinstance(arguments, str) and kind == "function":
                    # A freeform tool (its input is raw text) offered as a function: the text
                    # goes in its one string parameter.
                    properties = (schema or {}).get("properties") or {}
                    strings = [p for p, sub in properties.items() if (sub or {}).get("type") in ("string", "STRING")]
                    arguments = {(strings[0] if strings else "input"): arguments}
                return "call", offered[0], arguments
    if view.schema is not None:
        return "text", json.dumps(sample(view.schema))
    if view.tools:
        return "text", "E2E-TEXT-OK: hello from the scripted provider."
    return "text", "Scripted side answer."


def sample(schema):
    """A value that satisfies a (simple) JSON schema; for structured-output side requests."""
    if not isinstance(schema, dict):
        return "ok"
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return sample(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "string")
    kind = str(kind or ("object" if "properties" in schema else "string")).lower()
    if kind == "object":
        return {name: sample(sub) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [sample(schema.get("items") or {})]
    if kind in ("integer", "number"):
        # 1 unless the bounds say otherwise (a schema's description may ask for 1-100 unsaid).
        value = max(1, schema.get("minimum", 1))
        return min(value, schema.get("maximum", value))
    if kind == "boolean":
        return False
    return "ok"


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
                elif "content" in part:
                    out.append(text_of(part["content"]))
        return "".join(out)
    return ""


def words(text):
    """Stream pieces: the text cut into a few chunks."""
    if not text:
        return []
    pieces = re.findall(r"\S+\s*", text) or [text]
    return pieces


JSON_SCHEMA_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


def bad_type(schema, context=()):
    """The first `type` in a JSON schema that JSON Schema does not have (Gemini's `OBJECT`,
    `STRING`, ...): (context, type), or None."""
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    for one in (kind if isinstance(kind, list) else [kind] if kind is not None else []):
        if one not in JSON_SCHEMA_TYPES:
            return context, one
    for name, sub in (schema.get("properties") or {}).items() if isinstance(schema.get("properties"), dict) else []:
        found = bad_type(sub, context + ("properties", name))
        if found:
            return found
    for key in ("items", "additionalProperties", "not"):
        found = bad_type(schema.get(key), context + (key,))
        if found:
            return found
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for n, sub in enumerate(schema.get(key) or []):
            found = bad_type(sub, context + (key, str(n)))
            if found:
                return found
    for key in ("$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            found = bad_type(sub, context + (key, name))
            if found:
                return found
    return None


# ---------------------------------------------------------------------------------------------
# OpenAI Chat Completions
# ---------------------------------------------------------------------------------------------

OPENAI_FIELDS = {
    "model", "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias",
    "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key",
    "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice",
    "tools", "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
}
OPENAI_ROLES = ["system", "assistant", "user", "function", "tool", "developer"]
OPENAI_PART_TYPES = {
    "user": {"text", "image_url", "input_audio", "file"},
    "system": {"text"}, "developer": {"text"}, "tool": {"text"},
    "assistant": {"text", "refusal"},
}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


def openai_error(status, message, param=None, code=None, kind="invalid_request_error"):
    return Refused(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})


def check_openai(headers, body):
    auth = headers.get("authorization", "")
    if not auth:
        raise openai_error(401, "You didn't provide an API key. You need to provide your API key in an "
                           "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                           "or as the password field (with blank username) if you're accessing the API "
                           "from your browser and are prompted for a username. You can obtain an API key "
                           "from https://platform.openai.com/account/api-keys.")
    if auth != f"Bearer {KEY}":
        raise openai_error(401, f"Incorrect API key provided: {auth[7:11]}***. You can find your API key "
                           "at https://platform.openai.com/account/api-keys.", code="invalid_api_key")
    if not isinstance(body, dict):
        raise openai_error(400, "We could not parse the JSON body of your request.")
    for field in body:
        if field not in OPENAI_FIELDS:
            raise openai_error(400, f"Unrecognized request argument supplied: {field}")
    if not body.get("model"):
        raise openai_error(400, "you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise openai_error(400, "Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not messages:
        raise openai_error(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                           "but got an empty array instead.", "messages", "empty_array")
    if "stream_options" in body and not body.get("stream"):
        raise openai_error(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                           "stream_options")
    tools = body.get("tools")
    if "tool_choice" in body and not tools:
        raise openai_error(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                           "'tools' are specified.", "tool_choice")
    for i, tool in enumerate(tools or []):
        kind = tool.get("type")
        if kind not in ("function", "custom"):
            raise openai_error(400, f"Invalid value: '{kind}'. Supported values are: 'function' and 'custom'.",
                               f"tools[{i}].type", "invalid_value")
        name = (tool.get(kind) or {}).get("name")
        if not isinstance(name, str):
            raise openai_error(400, f"Missing required parameter: 'tools[{i}].{kind}.name'.",
                               f"tools[{i}].{kind}.name", "missing_required_parameter")
        if len(name) > 64:
            raise openai_error(400, f"Invalid 'tools[{i}].{kind}.name': string too long. Expected a string "
                               f"with maximum length 64, but got a string with length {len(name)} instead.",
                               f"tools[{i}].{kind}.name", "string_above_max_length")
        if not TOOL_NAME.match(name):
            raise openai_error(400, f"Invalid 'tools[{i}].{kind}.name': string does not match pattern. "
                               "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                               f"tools[{i}].{kind}.name", "invalid_value")
        found = bad_type((tool.get("function") or {}).get("parameters")) if kind == "function" else None
        if found:
            raise openai_error(400, f"Invalid schema for function '{name}': In context={found[0]}, "
                               f"'{found[1]}' is not valid under any of the given schemas.",
                               f"tools[{i}].function.parameters", "invalid_function_parameters")
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") or {}
        if schema.get("type") != "object":
            raise openai_error(400, f"Invalid schema for response_format '{spec.get('name')}': schema must be a "
                               f"JSON Schema of 'type: \"object\"', got 'type: \"{schema.get('type')}\"'.",
                               "response_format", "invalid_value")
        found = bad_type(schema)
        if found:
            raise openai_error(400, f"Invalid schema for response_format '{spec.get('name')}': In context="
                               f"{found[0]}, '{found[1]}' is not valid under any of the given schemas.",
                               "response_format", "invalid_value")
    pending = None  # (index of the assistant message, tool call ids not answered yet)
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in OPENAI_ROLES:
            raise openai_error(400, f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', "
                               "'user', 'function', 'tool', and 'developer'.", f"messages[{i}].role",
                               "invalid_value")
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in OPENAI_PART_TYPES.get(role, {"text"}):
                    allowed = sorted(OPENAI_PART_TYPES.get(role, {"text"}))
                    raise openai_error(400, f"Invalid value: '{kind}'. Supported values are: "
                                       + ", ".join(f"'{a}'" for a in allowed) + ".",
                                       f"messages[{i}].content[{j}].type", "invalid_value")
        elif content is None:
            if role != "assistant" or not message.get("tool_calls"):
                if role != "assistant" or message.get("function_call") is None:
                    raise openai_error(400, f"Invalid value for 'content': expected a string, got null.",
                                       f"messages.[{i}].content")
        elif not isinstance(content, str):
            raise openai_error(400, f"Invalid type for 'messages[{i}].content': expected one of a string or "
                               "array of objects, but got an object instead.", f"messages[{i}].content",
                               "invalid_type")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if pending is None:
                raise openai_error(400, "Invalid parameter: messages with role 'tool' must be a response to a "
                                   "preceeding message with 'tool_calls'.", f"messages.[{i}].role")
            if not isinstance(call_id, str):
                raise openai_error(400, "Missing parameter 'tool_call_id': messages with role 'tool' must "
                                   "have a 'tool_call_id'.", f"messages.[{i}].tool_call_id")
            if call_id not in pending[1]:
                raise openai_error(400, f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in "
                                   "'tool_calls' of previous message.", f"messages.[{i}].tool_call_id")
            pending[1].discard(call_id)
            continue
        if pending is not None and pending[1]:
            raise openai_error(400, "An assistant message with 'tool_calls' must be followed by tool messages "
                               "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                               f"response messages: {', '.join(sorted(pending[1]))}",
                               f"messages.[{pending[0]}].role")
        pending = None
        if role == "assistant" and message.get("tool_calls"):
            ids = set()
            for j, call in enumerate(message["tool_calls"]):
                function = call.get("function") or {}
                if not isinstance(function.get("arguments"), str) and call.get("type", "function") == "function":
                    raise openai_error(400, f"Invalid type for 'messages[{i}].tool_calls[{j}].function.arguments': "
                                       "expected a string, but got an object instead.",
                                       f"messages[{i}].tool_calls[{j}].function.arguments", "invalid_type")
                if not isinstance(call.get("id"), str):
                    raise openai_error(400, f"Missing required parameter: 'messages[{i}].tool_calls[{j}].id'.",
                                       f"messages[{i}].tool_calls[{j}].id", "missing_required_parameter")
                ids.add(call["id"])
            pending = (i, ids)
    if pending is not None and pending[1]:
        raise openai_error(400, "An assistant message with 'tool_calls' must be followed by tool messages "
                           "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                           f"response messages: {', '.join(sorted(pending[1]))}", f"messages.[{pending[0]}].role")


def openai_view(body):
    view = View()
    for tool in body.get("tools") or []:
        spec = tool.get(tool.get("type")) or {}
        view.tools[spec.get("name")] = (tool.get("type"), spec.get("parameters"))
    for message in body["messages"]:
        role = message.get("role")
        if role == "user":
            view.user_text += text_of(message.get("content"))
        elif role == "tool":
            view.results.append(text_of(message.get("content")))
        for call in message.get("tool_calls") or []:
            view.calls.append((call.get(call.get("type", "function")) or {}).get("name"))
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        view.schema = (response_format.get("json_schema") or {}).get("schema") or {}
    elif response_format.get("type") == "json_object":
        view.schema = {}
    return view


def openai_answer(handler, body, step):
    model = body["model"]
    created = int(time.time())
    ident = "chatcmpl-" + uuid.uuid4().hex[:24]
    usage = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49,
             "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}
    call_id = "call_" + uuid.uuid4().hex[:24]
    text = step[1] if step[0] == "text" else ""
    finish = "tool_calls" if step[0] == "call" else "stop"
    custom = step[0] == "call" and isinstance(step[2], str)  # a freeform (custom) tool's raw input
    arguments = (step[2] if custom else json.dumps(step[2])) if step[0] == "call" else ""
    field = "custom" if custom else "function"
    value = "input" if custom else "arguments"
    if not body.get("stream"):
        message = {"role": "assistant", "content": text or None, "refusal": None, "annotations": []}
        if step[0] == "call":
            message["tool_calls"] = [{"id": call_id, "type": field, field: {"name": step[1], value: arguments}}]
        return handler.reply(200, {"id": ident, "object": "chat.completion", "created": created, "model": model,
                                   "choices": [{"index": 0, "message": message, "logprobs": None,
                                                "finish_reason": finish}],
                                   "usage": usage, "service_tier": "default", "system_fingerprint": "fp_e2e"})
    include_usage = (body.get("stream_options") or {}).get("include_usage")

    def chunk(delta, finish_reason=None):
        data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "service_tier": "default", "system_fingerprint": "fp_e2e",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if include_usage:
            data["usage"] = None
        return "data: " + json.dumps(data) + "\n\n"

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    for piece in words(text):
        events.append(chunk({"content": piece}))
    if step[0] == "call":
        events.append(chunk({"tool_calls": [{"index": 0, "id": call_id, "type": field,
                                             field: {"name": step[1], value: ""}}]}))
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            events.append(chunk({"tool_calls": [{"index": 0, field: {value: piece}}]}))
    events.append(chunk({}, finish))
    if include_usage:
        events.append("data: " + json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created,
                                             "model": model, "service_tier": "default",
                                             "system_fingerprint": "fp_e2e", "choices": [],
                                             "usage": usage}) + "\n\n")
    events.append("data: [DONE]\n\n")
    handler.stream(events)


# ---------------------------------------------------------------------------------------------
# Anthropic Messages
# ---------------------------------------------------------------------------------------------

# Fields of other APIs that Anthropic's request model refuses ("Extra inputs are not permitted").
ANTHROPIC_FOREIGN_FIELDS = {
    "stream_options", "max_completion_tokens", "n", "response_format", "parallel_tool_calls",
    "frequency_penalty", "presence_penalty", "seed", "logprobs", "top_logprobs", "logit_bias",
    "user", "reasoning_effort", "functions", "function_call", "store", "modalities", "stop",
    "contents", "generationConfig", "systemInstruction", "input", "instructions",
}
USER_BLOCKS = {"text", "image", "document", "tool_result", "search_result", "container_upload"}
ASSISTANT_BLOCKS = {"text", "thinking", "redacted_thinking", "tool_use", "server_tool_use",
                    "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
                    "bash_code_execution_tool_result", "text_editor_code_execution_tool_result",
                    "mcp_tool_use", "mcp_tool_result", "container_upload", "tool_search_tool_result"}
# The betas with which Claude Code sends `role: "system"` messages inside `messages` (and without
# which, on a 400, it retries with that text folded into a user turn): the API takes them then.
SYSTEM_TURN_BETAS = ("per-turn-control-", "mid-conversation-tool-changes-")
ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
ANTHROPIC_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


def anthropic_error(status, message, kind="invalid_request_error"):
    return Refused(status, {"type": "error", "error": {"type": kind, "message": message},
                            "request_id": "req_e2e" + uuid.uuid4().hex[:20]})


def check_anthropic(headers, body, count_tokens):
    key = headers.get("x-api-key")
    if key is None:
        if headers.get("authorization"):
            raise anthropic_error(401, "invalid x-api-key", "authentication_error")
        raise anthropic_error(401, "x-api-key header is required", "authentication_error")
    if key != KEY:
        raise anthropic_error(401, "invalid x-api-key", "authentication_error")
    if not headers.get("anthropic-version"):
        raise anthropic_error(400, "anthropic-version: header is required")
    if not isinstance(body, dict):
        raise anthropic_error(400, "There was an error parsing the body: expected an object")
    for field in ("model", "messages") + (() if count_tokens else ("max_tokens",)):
        if field not in body:
            raise anthropic_error(400, f"{field}: Field required")
    for field in body:
        if field in ANTHROPIC_FOREIGN_FIELDS:
            raise anthropic_error(400, f"{field}: Extra inputs are not permitted")
    if not count_tokens and (not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1):
        raise anthropic_error(400, "max_tokens: Input should be greater than or equal to 1")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int):
            raise anthropic_error(400, "thinking.enabled.budget_tokens: Field required")
        if budget < 1024:
            raise anthropic_error(400, "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if not count_tokens and budget >= body["max_tokens"]:
            raise anthropic_error(400, "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult "
                                  "our documentation at https://docs.claude.com/en/docs/build-with-claude/"
                                  "extended-thinking#max-tokens-and-context-window-size")
        if body.get("temperature") not in (None, 1, 1.0):
            raise anthropic_error(400, "`temperature` may only be set to 1 when thinking is enabled or in "
                                  "interleaved thinking mode. Please consult our documentation at "
                                  "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                                  "#feature-compatibility")
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise anthropic_error(400, "system: Input should be a valid list")
    for i, tool in enumerate(body.get("tools") or []):
        kind = tool.get("type")
        if kind not in (None, "custom"):
            continue  # server tools (web_search_..., bash_..., text_editor_...): versioned types
        name = tool.get("name")
        if not isinstance(name, str) or not ANTHROPIC_TOOL_NAME.match(name):
            raise anthropic_error(400, f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise anthropic_error(400, f"tools.{i}.custom.input_schema: Field required")
        if schema.get("type") != "object":
            raise anthropic_error(400, f"tools.{i}.custom.input_schema.type: Input should be 'object'")
        if bad_type(schema):
            raise anthropic_error(400, f"tools.{i}.custom.input_schema: JSON schema is invalid - please consult "
                                  "https://json-schema.org or our documentation at "
                                  "https://docs.anthropic.com/en/docs/tool-use")
    for field, output in (("output_format", body.get("output_format")),
                          ("output_config.format", (body.get("output_config") or {}).get("format"))):
        if isinstance(output, dict) and output.get("type") == "json_schema" and bad_type(output.get("schema")):
            raise anthropic_error(400, f"{field}.schema: JSON schema is invalid - please consult "
                                  "https://json-schema.org or our documentation")
    if body.get("tool_choice") is not None:
        choice = body["tool_choice"]
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
            raise anthropic_error(400, "tool_choice: Input tag found using 'type' does not match any of the "
                                  "expected tags: 'auto', 'any', 'tool', 'none'")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise anthropic_error(400, "messages: Input should be a valid list")
    # The API combines consecutive turns of the same role into one turn; the tool pairing rules
    # below apply to those combined turns.
    turns = []  # [role, [(message index, block index, block)], first message index]
    betas = headers.get("anthropic-beta", "")
    system_turns = any(flag in betas for flag in SYSTEM_TURN_BETAS)
    for i, message in enumerate(messages):
        role = message.get("role")
        if role == "system" and system_turns:
            if not isinstance(message.get("content"), (str, list)) or any(
                    not isinstance(b, dict) or b.get("type") != "text" for b in message.get("content") or []
                    if not isinstance(message.get("content"), str)):
                raise anthropic_error(400, f"messages.{i}.content: system messages hold text blocks only")
            continue  # a system turn: no part of the user/assistant pairing below
        if role not in ("user", "assistant"):
            raise anthropic_error(400, f"messages.{i}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        final_assistant = role == "assistant" and i == len(messages) - 1
        if isinstance(content, str):
            blocks = [{"type": "text", "text": content}] if content or not final_assistant else []
            if not content and not final_assistant:
                raise anthropic_error(400, f"messages.{i}: all messages must have non-empty content except for "
                                      "the optional final assistant message")
        elif isinstance(content, list):
            if not content and not final_assistant:
                raise anthropic_error(400, f"messages.{i}: all messages must have non-empty content except for "
                                      "the optional final assistant message")
            blocks = content
        else:
            raise anthropic_error(400, f"messages.{i}.content: Input should be a valid string")
        allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
        for j, block in enumerate(blocks):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind not in allowed:
                raise anthropic_error(400, f"messages.{i}.content.{j}: Input tag '{kind}' found using 'type' does "
                                      "not match any of the expected tags: " + ", ".join(f"'{a}'" for a in sorted(allowed)))
            if kind == "text" and not block.get("text") and not final_assistant:
                raise anthropic_error(400, "messages: text content blocks must be non-empty")
            if kind == "tool_use":
                if not isinstance(block.get("id"), str) or not ANTHROPIC_ID.match(block["id"]):
                    raise anthropic_error(400, f"messages.{i}.content.{j}.tool_use.id: String should match pattern "
                                          "'^[a-zA-Z0-9_-]+$'")
                if not isinstance(block.get("input"), dict):
                    raise anthropic_error(400, f"messages.{i}.content.{j}.tool_use.input: Input should be a valid dictionary")
            if kind == "tool_result" and not isinstance(block.get("tool_use_id"), str):
                raise anthropic_error(400, f"messages.{i}.content.{j}.tool_result.tool_use_id: Field required")
        if turns and turns[-1][0] == role:
            turns[-1][1].extend((i, j, b) for j, b in enumerate(blocks))
        else:
            turns.append([role, [(i, j, b) for j, b in enumerate(blocks)], i])
    for t, (role, blocks, first) in enumerate(turns):
        if role == "assistant":
            ids = [b["id"] for _, _, b in blocks if b.get("type") == "tool_use"]
            answered = set()
            if t + 1 < len(turns):
                answered = {b["tool_use_id"] for _, _, b in turns[t + 1][1] if b.get("type") == "tool_result"}
            missing = [x for x in ids if x not in answered]
            if missing:
                raise anthropic_error(400, f"messages.{turns[t + 1][2] if t + 1 < len(turns) else first}: `tool_use` "
                                      f"ids were found without `tool_result` blocks immediately after: "
                                      f"{', '.join(missing)}. Each `tool_use` block must have a corresponding "
                                      "`tool_result` block in the next message.")
        else:
            before = set()
            if t > 0:
                before = {b["id"] for _, _, b in turns[t - 1][1] if b.get("type") == "tool_use"}
            for i, j, b in blocks:
                if b.get("type") == "tool_result" and b["tool_use_id"] not in before:
                    raise anthropic_error(400, f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                                          f"`tool_result` blocks: {b['tool_use_id']}. Each `tool_result` block "
                                          "must have a corresponding `tool_use` block in the previous message.")
    if not count_tokens and turns and turns[-1][0] == "assistant" and thinking.get("type") == "enabled":
        pass  # a prefill with thinking on is refused by the real API only in some cases; not scripted


def anthropic_view(body):
    view = View()
    view.tools = {t.get("name"): ("function", t.get("input_schema")) for t in body.get("tools") or []
                  if t.get("type") in (None, "custom")}
    for message in body["messages"]:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            if message["role"] == "system":
                continue
            if block.get("type") == "text" and message["role"] == "user":
                view.user_text += block.get("text", "")
            elif block.get("type") == "tool_result":
                view.results.append(text_of(block.get("content")))
            elif block.get("type") == "tool_use":
                view.calls.append(block.get("name"))
    output_format = body.get("output_format") or (body.get("output_config") or {}).get("format") or {}
    if output_format.get("type") == "json_schema":
        view.schema = output_format.get("schema") or {}
    return view


def anthropic_answer(handler, body, step):
    model = body["model"]
    ident = "msg_e2e" + uuid.uuid4().hex[:20]
    tool_id = "toolu_e2e" + uuid.uuid4().hex[:18]
    usage = {"input_tokens": 42, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
             "output_tokens": 7, "service_tier": "standard"}
    if step[0] == "call":
        content = [{"type": "tool_use", "id": tool_id, "name": step[1], "input": step[2]}]
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": step[1]}]
        stop = "end_turn"
    if not body.get("stream"):
        return handler.reply(200, {"id": ident, "type": "message", "role": "assistant", "model": model,
                                   "content": content, "stop_reason": stop, "stop_sequence": None,
                                   "usage": usage})

    def event(name, data):
        return f"event: {name}\ndata: {json.dumps(data)}\n\n"

    start_usage = dict(usage, output_tokens=1)
    events = [event("message_start", {"type": "message_start", "message": {
        "id": ident, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": start_usage}})]
    if step[0] == "call":
        events.append(event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": tool_id, "name": step[1], "input": {}}}))
        events.append(event("ping", {"type": "ping"}))
        arguments = json.dumps(step[2])
        half = len(arguments) // 2
        for piece in ("", arguments[:half], arguments[half:]):
            events.append(event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                        "delta": {"type": "input_json_delta", "partial_json": piece}}))
    else:
        events.append(event("content_block_start", {"type": "content_block_start", "index": 0,
                                                    "content_block": {"type": "text", "text": ""}}))
        events.append(event("ping", {"type": "ping"}))
        for piece in words(step[1]):
            events.append(event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                        "delta": {"type": "text_delta", "text": piece}}))
    events.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(event("message_delta", {"type": "message_delta",
                                          "delta": {"stop_reason": stop, "stop_sequence": None},
                                          "usage": {"input_tokens": 42, "cache_creation_input_tokens": 0,
                                                    "cache_read_input_tokens": 0, "output_tokens": 7}}))
    events.append(event("message_stop", {"type": "message_stop"}))
    handler.stream(events)


# ---------------------------------------------------------------------------------------------
# Gemini
# ---------------------------------------------------------------------------------------------


def camel_and_snake(*names):
    out = set()
    for name in names:
        out.add(name)
        out.add(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name))
    return out


GEMINI_REQUEST = camel_and_snake("model", "contents", "tools", "toolConfig", "safetySettings",
                                 "systemInstruction", "generationConfig", "cachedContent", "labels")
GEMINI_CONTENT = camel_and_snake("role", "parts")
GEMINI_PART = camel_and_snake("text", "inlineData", "functionCall", "functionResponse", "fileData",
                              "executableCode", "codeExecutionResult", "thought", "thoughtSignature",
                              "videoMetadata", "partMetadata", "mediaResolution")
GEMINI_PART_DATA = camel_and_snake("text", "inlineData", "functionCall", "functionResponse", "fileData",
                                   "executableCode", "codeExecutionResult")
GEMINI_FUNCTION_CALL = camel_and_snake("id", "name", "args")
GEMINI_FUNCTION_RESPONSE = camel_and_snake("id", "name", "response", "parts", "willContinue", "scheduling")
GEMINI_TOOL = camel_and_snake("functionDeclarations", "googleSearchRetrieval", "codeExecution", "googleSearch",
                              "computerUse", "urlContext", "fileSearch", "googleMaps")
GEMINI_DECLARATION = camel_and_snake("name", "description", "behavior", "parameters", "parametersJsonSchema",
                                     "response", "responseJsonSchema")
GEMINI_SCHEMA = camel_and_snake("type", "format", "title", "description", "nullable", "enum", "maxItems",
                                "minItems", "properties", "required", "minProperties", "maxProperties",
                                "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
                                "default", "items", "minimum", "maximum")
GEMINI_TYPES = {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
GEMINI_FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$")


def gemini_error(status, code, message, details=None):
    error = {"code": status, "message": message, "status": code}
    if details is not None:
        error["details"] = details
    return Refused(status, {"error": error})


def unknown(name, path):
    where = f" at '{path}'" if path else ""
    return gemini_error(400, "INVALID_ARGUMENT",
                        f"Invalid JSON payload received. Unknown name \"{name}\"{where}: Cannot find field.",
                        [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
                            {"field": path, "description": f"Invalid JSON payload received. Unknown name "
                                                           f"\"{name}\"{where}: Cannot find field."}]}])


def invalid(message):
    return gemini_error(400, "INVALID_ARGUMENT", message)


def snake_path(path):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), path)


def check_fields(obj, allowed, path):
    if not isinstance(obj, dict):
        raise invalid(f"Invalid JSON payload received. Expected an object at '{path}'.")
    for name in obj:
        if name not in allowed:
            raise unknown(name, path)


def check_schema(schema, path, where):
    check_fields(schema, GEMINI_SCHEMA, path)
    kind = schema.get("type")
    if isinstance(kind, list):
        raise invalid(f"Invalid JSON payload received. Proto field is not repeating, cannot start list. at '{path}.type'")
    if kind is not None and str(kind).upper() not in GEMINI_TYPES:
        raise invalid(f"Invalid JSON payload received. Invalid value at '{path}.type' "
                      f"(type.googleapis.com/google.ai.generativelanguage.v1beta.Type), \"{kind}\"")
    if "enum" in schema and str(kind or "").upper() != "STRING":
        raise invalid(f"* GenerateContentRequest.{where}.enum: only allowed for STRING type\n")
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict):
        raise invalid(f"Invalid JSON payload received. Expected an object at '{path}.properties'.")
    for n, (name, sub) in enumerate(properties.items()):
        check_schema(sub, f"{path}.properties[{n}].value", f"{where}.properties[{name}]")
    for n, name in enumerate(schema.get("required") or []):
        if name not in properties:
            raise invalid(f"* GenerateContentRequest.{where}.required[{n}]: property is not defined\n")
    if "items" in schema:
        check_schema(schema["items"], f"{path}.items", f"{where}.items")
    for n, sub in enumerate(schema.get("anyOf") or []):
        check_schema(sub, f"{path}.any_of[{n}]", f"{where}.any_of[{n}]")


def check_gemini(headers, query, body, model, count_tokens):
    key = headers.get("x-goog-api-key") or (query.get("key") or [None])[0]
    if not key:
        raise gemini_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without "
                           "established identity). Please use API Key or other form of API consumer identity to "
                           "call this API.")
    if key != KEY:
        raise gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
             "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}])
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    if count_tokens:
        check_fields(body, camel_and_snake("contents", "generateContentRequest"), "")
        if "generateContentRequest" in body or "generate_content_request" in body:
            inner = body.get("generateContentRequest") or body.get("generate_content_request")
            return check_gemini_request(inner, "generate_content_request.")
        body = {"contents": body.get("contents") or []}
    return check_gemini_request(body, "")


def check_gemini_request(body, prefix):
    check_fields(body, GEMINI_REQUEST, prefix.rstrip("."))
    contents = body.get("contents")
    if not contents:
        raise invalid("* GenerateContentRequest.contents: contents is not specified\n")
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system is not None:
        check_fields(system, GEMINI_CONTENT, prefix + "system_instruction")
    for t, tool in enumerate(body.get("tools") or []):
        check_fields(tool, GEMINI_TOOL, f"{prefix}tools[{t}]")
        for d, declaration in enumerate(tool.get("functionDeclarations") or tool.get("function_declarations") or []):
            where = f"tools[{t}].function_declarations[{d}]"
            check_fields(declaration, GEMINI_DECLARATION, prefix + where)
            name = declaration.get("name")
            if not isinstance(name, str) or not GEMINI_FUNCTION_NAME.match(name):
                raise invalid(f"* GenerateContentRequest.{where}.name: Invalid function name. Must start with a "
                              "letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, "
                              "colons and dashes, with a maximum length of 64.\n")
            if "parameters" in declaration and ("parametersJsonSchema" in declaration
                                                or "parameters_json_schema" in declaration):
                raise invalid(f"* GenerateContentRequest.{where}.parameters_json_schema: parameters and "
                              "parameters_json_schema are mutually exclusive\n")
            if "parameters" in declaration:
                check_schema(declaration["parameters"], f"{prefix}{where}.parameters", f"{where}.parameters")
    previous = None  # (role, number of functionCall parts) of the previous content
    for c, content in enumerate(contents):
        check_fields(content, GEMINI_CONTENT, f"{prefix}contents[{c}]")
        role = content.get("role", "user")
        if role not in ("user", "model"):
            raise invalid("Please use a valid role: user, model.")
        parts = content.get("parts")
        if not parts:
            raise invalid(f"* GenerateContentRequest.contents[{c}].parts: contents.parts must not be empty.\n")
        calls = responses = 0
        for p, part in enumerate(parts):
            check_fields(part, GEMINI_PART, f"{prefix}contents[{c}].parts[{p}]")
            data = [name for name in part if name in GEMINI_PART_DATA]
            if not data:
                raise invalid(f"* GenerateContentRequest.contents[{c}].parts[{p}].data: required oneof field "
                              "'data' must have one initialized field\n")
            if len(data) > 1:
                raise invalid(f"Invalid JSON payload received. Oneof field 'data' is already set. Cannot set "
                              f"'{data[1]}'")
            if "functionCall" in part or "function_call" in part:
                call = part.get("functionCall") or part.get("function_call")
                check_fields(call, GEMINI_FUNCTION_CALL, f"{prefix}contents[{c}].parts[{p}].function_call")
                if role != "model":
                    raise invalid("Please ensure that function call turn comes immediately after a user turn or "
                                  "after a function response turn.")
                calls += 1
            if "functionResponse" in part or "function_response" in part:
                response = part.get("functionResponse") or part.get("function_response")
                check_fields(response, GEMINI_FUNCTION_RESPONSE,
                             f"{prefix}contents[{c}].parts[{p}].function_response")
                responses += 1
        if calls:
            if previous is not None and previous[0] == "model":
                raise invalid("Please ensure that function call turn comes immediately after a user turn or "
                              "after a function response turn.")
        if responses:
            if previous is None or previous[1] == 0:
                raise invalid("Please ensure that function response turn comes immediately after a function "
                              "call turn.")
            if responses != previous[1]:
                raise invalid("Please ensure that the number of function response parts is equal to the number "
                              "of function call parts of the function call turn.")
        previous = (role, calls)


def check_gemini3_signatures(body, model):
    """Gemini 3: each function call turn of the current turn (since the last user text) must come
    back with the thought signature its first function call part was given."""
    if not model.startswith("gemini-3"):
        return
    contents = body.get("contents") or []
    start = 0
    for c, content in enumerate(contents):
        parts = content.get("parts") or []
        if content.get("role", "user") == "user" and any("text" in p for p in parts) \
                and not any("functionResponse" in p or "function_response" in p for p in parts):
            start = c
    for c in range(start, len(contents)):
        content = contents[c]
        if content.get("role") != "model":
            continue
        for p, part in enumerate(content.get("parts") or []):
            call = part.get("functionCall") or part.get("function_call")
            if call is None:
                continue
            signature = part.get("thoughtSignature") or part.get("thought_signature")
            if signature is None:
                raise invalid("Function call is missing a thought_signature in functionCall parts. This is "
                              "required for tools to work correctly, and missing thought_signature may lead to "
                              f"degraded model performance. Additional data, function call `default_api:"
                              f"{call.get('name')}` , position {c + 1}. Please refer to "
                              "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.")
            if signature != SIGNATURE and signature not in DUMMY_SIGNATURES:
                raise invalid("Corrupted thought signature.")
            break  # only the first function call part of a turn carries one


def gemini_view(body):
    view = View()
    for tool in body.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or tool.get("function_declarations") or []:
            view.tools[declaration.get("name")] = ("function", declaration.get("parameters")
                                                   or declaration.get("parametersJsonSchema")
                                                   or declaration.get("parameters_json_schema"))
    for content in body["contents"]:
        for part in content.get("parts") or []:
            if content.get("role", "user") == "user" and isinstance(part.get("text"), str):
                view.user_text += part["text"]
            call = part.get("functionCall") or part.get("function_call")
            if call:
                view.calls.append(call.get("name"))
            response = part.get("functionResponse") or part.get("function_response")
            if response:
                view.results.append(json.dumps(response.get("response")))
    config = body.get("generationConfig") or body.get("generation_config") or {}
    mime = config.get("responseMimeType") or config.get("response_mime_type")
    if mime == "application/json":
        view.schema = (config.get("responseJsonSchema") or config.get("response_json_schema")
                       or config.get("responseSchema") or config.get("response_schema") or {})
    return view


def gemini_answer(handler, body, model, step, stream, sse):
    usage = {"promptTokenCount": 42, "candidatesTokenCount": 7, "totalTokenCount": 49,
             "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 42}]}
    ident = uuid.uuid4().hex[:22]
    if step[0] == "call":
        chunks = [[{"functionCall": {"name": step[1], "args": step[2]}, "thoughtSignature": SIGNATURE}]]
    else:
        pieces = words(step[1]) if stream else [step[1]]
        chunks = [[{"text": piece}] for piece in pieces]

    def response(parts, last):
        candidate = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        data = {"candidates": [candidate], "modelVersion": model, "responseId": ident}
        data["usageMetadata"] = usage if last else {"promptTokenCount": 42, "totalTokenCount": 42,
                                                    "promptTokensDetails": usage["promptTokensDetails"]}
        return data

    if not stream:
        parts = [part for chunk in chunks for part in chunk]
        return handler.reply(200, response(parts, True))
    responses = [response(chunk, n == len(chunks) - 1) for n, chunk in enumerate(chunks)]
    if sse:
        return handler.stream(["data: " + json.dumps(r) + "\r\n\r\n" for r in responses])
    handler.stream(["[" + ",\r\n".join(json.dumps(r) for r in responses) + "]"], "application/json")


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

GEMINI_PATH = re.compile(r"^/gemini/v1beta/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.status = status
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream(self, events, content_type="text/event-stream"):
        self.status = 200
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events:
            data = event.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

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
        return self.rfile.read(int(self.headers.get("content-length", "0")))

    def do_GET(self):
        self.handle_request(b"")

    def do_POST(self):
        self.handle_request(self.read_body())

    def handle_request(self, raw):
        self.status = None
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        kind = url.path.split("/")[1] if url.path.count("/") > 1 else ""
        record = {"time": time.time(), "kind": kind, "method": self.command, "path": url.path, "query": url.query,
                  "headers": {k: v for k, v in headers.items()
                              if k in ("content-type", "anthropic-version", "anthropic-beta", "accept", "user-agent")}}
        step = None
        try:
            try:
                body = json.loads(raw) if raw else None
            except ValueError as error:
                body = raw.decode("utf-8", "replace")
                raise {"openai": openai_error(400, "We could not parse the JSON body of your request."),
                       "anthropic": anthropic_error(400, f"There was an error parsing the body: {error}"),
                       }.get(kind, invalid(f"Invalid JSON payload received. {error}"))
            record["body"] = body
            step = self.route(kind, url, query, headers, body)
        except Refused as refused:
            record["error"] = refused.body
            self.reply(refused.status, refused.body)
        except (BrokenPipeError, ConnectionResetError):
            record["error"] = "client went away"
        finally:
            record["status"] = self.status
            if step is not None:
                record["answer"] = list(step)
            if LOG:
                with log_lock, open(LOG, "a") as log:
                    log.write(json.dumps(record) + "\n")

    def route(self, kind, url, query, headers, body):
        path = url.path
        if kind == "openai":
            if self.command != "POST" or path != "/openai/v1/chat/completions":
                raise openai_error(404, f"Invalid URL ({self.command} {path[len('/openai'):]})")
            check_openai(headers, body)
            step = plan(openai_view(body))
            openai_answer(self, body, step)
            return step
        if kind == "anthropic":
            if self.command != "POST" or path not in ("/anthropic/v1/messages", "/anthropic/v1/messages/count_tokens"):
                raise anthropic_error(404, "Not Found", "not_found_error")
            count_tokens = path.endswith("/count_tokens")
            check_anthropic(headers, body, count_tokens)
            if count_tokens:
                self.reply(200, {"input_tokens": 42 + len(json.dumps(body)) // 4})
                return None
            step = plan(anthropic_view(body))
            anthropic_answer(self, body, step)
            return step
        if kind == "gemini":
            match = GEMINI_PATH.match(path)
            if self.command != "POST" or not match:
                raise gemini_error(404, "NOT_FOUND", f"Requested entity was not found. ({path[len('/gemini'):]})")
            model, method = match.groups()
            check_gemini(headers, query, body, model, method == "countTokens")
            if method == "countTokens":
                self.reply(200, {"totalTokens": 42 + len(json.dumps(body)) // 4,
                                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 42}]})
                return None
            check_gemini3_signatures(body, model)
            step = plan(gemini_view(body))
            stream = method == "streamGenerateContent"
            gemini_answer(self, body, model, step, stream, (query.get("alt") or [""])[0] == "sse")
            return step
        self.reply(404, {"error": {"message": f"no provider kind at {path}", "code": 404}})
        return None


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address
    print(f"listening on {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
