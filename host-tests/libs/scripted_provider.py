"""A scripted LLM provider for the client-library suite: OpenAI Chat Completions, Anthropic Messages
and Gemini generateContent on one loopback port, in their documented wire formats.

It records every request (`GET /_scripted/requests?contains=TEXT` returns those whose body holds
TEXT, so tests running side by side find their own by a nonce in the prompt) and rejects what the
real APIs reject (unknown top-level fields, Anthropic without `max_tokens` or with a `system` role
inside `messages`, an OpenAI `tool` message without its matching `tool_calls`, Gemini roles other
than `user`/`model`, a Gemini function response that does not answer the call before it, ...), in
each API's error format.

What it answers is decided by the request:
- structured output asked for (OpenAI `response_format` json_schema, Anthropic
  `output_config.format`, Gemini `responseMimeType: application/json`): the JSON text of
  STRUCTURED;
- a forced tool other than `get_weather` (how some libraries ask for structured output): a call to
  it with STRUCTURED as its arguments;
- tools offered and no tool result yet: a call to `get_weather` with WEATHER_ARGS, or, when
  `get_weather` is not offered, to the first tool with STRUCTURED;
- a tool result in the last turn: "Weather report: <the result text>";
- otherwise TEXT (streams split it into a few chunks);
- but a request holding SCRIPTED_ERROR gets a 400 in the API's error format.

`python3 scripted_provider.py [--listen 127.0.0.1:0]` prints `listening on ADDR`.
"""

import argparse
import json
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEXT = "Hello from the scripted provider."
WEATHER_ARGS = {"city": "Paris"}
WEATHER_ARGS_2 = {"city": "Berlin"}
# A request holding this gets two get_weather calls in one turn.
PARALLEL = "[two-cities]"
STRUCTURED = {"city": "Paris", "temperature_c": 21}
# A request holding this is answered 400 in the API's error format.
SCRIPTED_ERROR = "[scripted-error]"
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

RECORDS = []
LOCK = threading.Lock()


class Reject(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


def chunks(text, n=3):
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def tool_reply(text):
    return f"Weather report: {text}"


def tool_call(names, body):
    """With tools offered: call `get_weather` if it is one (twice, for Paris and Berlin, in one turn
    when the request holds PARALLEL), else the first tool (a library asking for structured output
    through a tool of its own) with STRUCTURED."""
    if "get_weather" in names:
        if PARALLEL in json.dumps(body):
            return "tool", [("get_weather", WEATHER_ARGS), ("get_weather", WEATHER_ARGS_2)]
        return "tool", [("get_weather", WEATHER_ARGS)]
    return "tool", [(names[0], STRUCTURED)]


def tool_replies(texts):
    return tool_reply(" | ".join(texts))


# --------------------------------------------------------------------------------------------- OpenAI

OPENAI_FIELDS = {
    "model", "messages", "stream", "stream_options", "temperature", "top_p", "n", "stop", "max_tokens",
    "max_completion_tokens", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
    "top_logprobs", "user", "tools", "tool_choice", "parallel_tool_calls", "response_format", "seed",
    "service_tier", "store", "metadata", "reasoning_effort", "modalities", "audio", "prediction",
    "web_search_options", "safety_identifier", "prompt_cache_key", "prompt_cache_retention", "verbosity",
    "functions", "function_call",
}
OPENAI_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


def openai_text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def openai_validate(body):
    for key in body:
        if key not in OPENAI_FIELDS:
            raise Reject(f"Unrecognized request argument supplied: {key}")
    if not isinstance(body.get("model"), str):
        raise Reject("you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Reject("[] is too short - 'messages'")
    if "stream_options" in body and not body.get("stream"):
        raise Reject("The 'stream_options' parameter is only allowed when 'stream' is enabled.")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise Reject("Invalid type for 'tools': expected an array")
        for i, tool in enumerate(tools):
            if tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
                raise Reject(f"Invalid value for 'tools[{i}].type'")
            if not TOOL_NAME_RE.match(tool["function"].get("name", "")):
                raise Reject(f"Invalid 'tools[{i}].function.name': string does not match pattern.")
    if "tool_choice" in body and not tools:
        raise Reject("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
    pending = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in OPENAI_ROLES:
            raise Reject(f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.")
        if role != "tool" and pending:
            raise Reject(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
                f"The following tool_call_ids did not have response messages: {', '.join(sorted(pending))}"
            )
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                if not call.get("id") or call.get("type") != "function":
                    raise Reject(f"Missing required parameter: 'messages[{i}].tool_calls[0].id'.")
                arguments = call.get("function", {}).get("arguments")
                if not isinstance(arguments, str):
                    raise Reject(f"Invalid type for 'messages[{i}].tool_calls[0].function.arguments': expected a string")
                pending.add(call["id"])
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                raise Reject("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.")
            pending.discard(call_id)
    if pending:
        raise Reject(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
            f"The following tool_call_ids did not have response messages: {', '.join(sorted(pending))}"
        )
    response_format = body.get("response_format")
    if response_format is not None:
        kind = response_format.get("type")
        if kind not in ("text", "json_object", "json_schema"):
            raise Reject(f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and 'text'.")
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            if not isinstance(spec, dict) or not spec.get("name"):
                raise Reject("Missing required parameter: 'response_format.json_schema.name'.")
            if spec.get("strict"):
                strict_check(spec.get("schema", {}), "response_format.json_schema.schema")
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        if not any("json" in openai_text_of(m.get("content")).lower() for m in messages):
            raise Reject("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")


def strict_check(schema, where):
    """OpenAI strict mode: every object closed, every property required."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            raise Reject(f"Invalid schema for {where}: 'additionalProperties' is required to be supplied and to be false.")
        properties = schema.get("properties", {})
        if sorted(schema.get("required", [])) != sorted(properties):
            raise Reject(f"Invalid schema for {where}: 'required' is required to be supplied and to be an array including every key in properties.")
        for name, sub in properties.items():
            strict_check(sub, f"{where}.properties.{name}")
    if "items" in schema:
        strict_check(schema["items"], where + ".items")
    for key in ("anyOf", "allOf"):
        for sub in schema.get(key, []):
            strict_check(sub, where)
    for sub in (schema.get("$defs") or schema.get("definitions") or {}).values():
        strict_check(sub, where)


def openai_plan(body):
    """(kind, payload): ("text", str) or ("tool", [(name, args), ...])."""
    messages = body["messages"]
    response_format = body.get("response_format") or {}
    if response_format.get("type") in ("json_schema", "json_object"):
        return "text", json.dumps(STRUCTURED)
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("function", {}).get("name") not in (None, "get_weather"):
        return "tool", [(choice["function"]["name"], STRUCTURED)]
    if messages[-1].get("role") == "tool":
        trailing = []
        for message in reversed(messages):
            if message.get("role") != "tool":
                break
            trailing.insert(0, openai_text_of(message.get("content")))
        return "text", tool_replies(trailing)
    if body.get("tools"):
        return tool_call([t["function"]["name"] for t in body["tools"]], body)
    return "text", TEXT


def openai_answer(body):
    model = body["model"]
    kind, payload = openai_plan(body)
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    base = {"id": "chatcmpl-scripted", "created": 1_700_000_000, "model": model, "system_fingerprint": "fp_scripted"}
    if not body.get("stream"):
        if kind == "text":
            message = {"role": "assistant", "content": payload, "refusal": None, "annotations": []}
            finish = "stop"
        else:
            message = {
                "role": "assistant", "content": None, "refusal": None, "annotations": [],
                "tool_calls": [
                    {"id": f"call_scripted_{i + 1}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                    for i, (name, args) in enumerate(payload)
                ],
            }
            finish = "tool_calls"
        return 200, "json", dict(base, object="chat.completion", choices=[{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}], usage=usage, service_tier="default")

    def chunk(delta, finish=None):
        return dict(base, object="chat.completion.chunk", choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    if kind == "text":
        events += [chunk({"content": piece}) for piece in chunks(payload)]
        events.append(chunk({}, "stop"))
    else:
        for i, (name, args) in enumerate(payload):
            events.append(chunk({"tool_calls": [{"index": i, "id": f"call_scripted_{i + 1}", "type": "function", "function": {"name": name, "arguments": ""}}]}))
            events += [chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}) for piece in chunks(json.dumps(args))]
        events.append(chunk({}, "tool_calls"))
    if (body.get("stream_options") or {}).get("include_usage"):
        for event in events:
            event["usage"] = None
        events.append(dict(base, object="chat.completion.chunk", choices=[], usage=usage))
    return 200, "sse", [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]


# ------------------------------------------------------------------------------------------ Anthropic

ANTHROPIC_FIELDS = {
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature",
    "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier", "output_config", "container",
    "mcp_servers", "context_management", "cache_control", "inference_geo", "speed",
    # structured outputs' first (beta) spelling, still accepted beside output_config.format
    "output_format",
}


def anthropic_blocks(content):
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def anthropic_validate(body, headers):
    if not headers.get("x-api-key") and not headers.get("authorization"):
        raise Reject("x-api-key header is required", 401)
    if not headers.get("anthropic-version"):
        raise Reject("anthropic-version: header is required")
    for key in body:
        if key not in ANTHROPIC_FIELDS:
            raise Reject(f"{key}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str):
        raise Reject("model: Field required")
    if not isinstance(body.get("max_tokens"), int):
        raise Reject("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Reject("messages: at least one message is required")
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise Reject("system: Input should be a valid string or list")
    tools = body.get("tools") or []
    for i, tool in enumerate(tools):
        if tool.get("type") not in (None, "custom"):
            continue
        if not TOOL_NAME_RE.match(tool.get("name", "")):
            raise Reject(f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise Reject(f"tools.{i}.custom.input_schema.type: Field required")
    if "tool_choice" in body and not tools:
        raise Reject("tool_choice may only be specified while providing tools")
    previous_tool_uses = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise Reject(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        blocks = anthropic_blocks(message.get("content"))
        results = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results and role != "user":
            raise Reject(f"messages.{i}.content: tool_result blocks are only allowed in user messages")
        for block in results:
            if block.get("tool_use_id") not in previous_tool_uses:
                raise Reject(
                    f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` blocks: {block.get('tool_use_id')}. "
                    "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                )
        if previous_tool_uses:
            answered = {b.get("tool_use_id") for b in results}
            missing = previous_tool_uses - answered
            if missing:
                raise Reject(
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {', '.join(sorted(missing))}. "
                    "Each `tool_use` block must have a corresponding `tool_result` block in the next message."
                )
        previous_tool_uses = set()
        if role == "assistant":
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    if not isinstance(block.get("input"), dict):
                        raise Reject(f"messages.{i}.content: tool_use.input: Input should be a valid dictionary")
                    previous_tool_uses.add(block.get("id"))
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "text" and block.get("text") == "" and role == "user":
                raise Reject(f"messages.{i}.content: text content blocks must be non-empty")
    if previous_tool_uses:
        raise Reject(
            f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
            f"{', '.join(sorted(previous_tool_uses))}. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
        )
    output = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if output is not None:
        if output.get("type") != "json_schema" or not isinstance(output.get("schema"), dict):
            raise Reject("output_config.format: expected type 'json_schema' with a schema")
        closed_check(output["schema"], "output_config.format.schema")
        if (body.get("output_config") or {}).get("format") and "output_format" in body:
            raise Reject("output_format: cannot be used together with output_config.format")


def closed_check(schema, where):
    """Anthropic structured outputs: objects must set additionalProperties false."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        raise Reject(f"{where}: For 'object' type, 'additionalProperties' must be explicitly set to false")
    for sub in (schema.get("properties") or {}).values():
        closed_check(sub, where)
    if "items" in schema:
        closed_check(schema["items"], where)
    for sub in (schema.get("$defs") or {}).values():
        closed_check(sub, where)


def anthropic_result_text(block):
    content = block.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def anthropic_plan(body):
    if (body.get("output_config") or {}).get("format") or body.get("output_format"):
        return "text", json.dumps(STRUCTURED)
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool" and choice.get("name") != "get_weather":
        return "tool", [(choice["name"], STRUCTURED)]
    last = body["messages"][-1]
    results = [b for b in anthropic_blocks(last.get("content")) if isinstance(b, dict) and b.get("type") == "tool_result"]
    if last.get("role") == "user" and results:
        return "text", tool_replies([anthropic_result_text(r) for r in results])
    if body.get("tools"):
        return tool_call([t.get("name") for t in body["tools"]], body)
    return "text", TEXT


def anthropic_answer(body):
    model = body["model"]
    kind, payload = anthropic_plan(body)
    if kind == "text":
        content = [{"type": "text", "text": payload}]
        stop = "end_turn"
    else:
        content = [{"type": "tool_use", "id": f"toolu_scripted_{i + 1}", "name": name, "input": args} for i, (name, args) in enumerate(payload)]
        stop = "tool_use"
    usage = {"input_tokens": 11, "output_tokens": 7, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if not body.get("stream"):
        return 200, "json", {
            "id": "msg_scripted", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop, "stop_sequence": None, "usage": usage,
        }

    def event(name, data):
        return f"event: {name}\ndata: {json.dumps(data)}\n\n"

    events = [
        event("message_start", {"type": "message_start", "message": {
            "id": "msg_scripted", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": dict(usage, output_tokens=1)}}),
        event("ping", {"type": "ping"}),
    ]
    if kind == "text":
        events.append(event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
        for piece in chunks(payload):
            events.append(event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}))
        events.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    else:
        for i, (name, args) in enumerate(payload):
            events.append(event("content_block_start", {"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": f"toolu_scripted_{i + 1}", "name": name, "input": {}}}))
            for piece in chunks(json.dumps(args)):
                events.append(event("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": piece}}))
            events.append(event("content_block_stop", {"type": "content_block_stop", "index": i}))
    # message_delta's usage is cumulative, input tokens included.
    events.append(event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage}))
    events.append(event("message_stop", {"type": "message_stop"}))
    return 200, "sse", events


# --------------------------------------------------------------------------------------------- Gemini

GEMINI_FIELDS = {
    "contents", "tools", "toolConfig", "safetySettings", "systemInstruction", "generationConfig", "cachedContent", "labels",
}
# The OpenAPI subset Gemini's `Schema` message has (as proto JSON field names).
GEMINI_SCHEMA_FIELDS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
}


# Proto JSON takes field names in lowerCamelCase or as in the .proto (snake_case); the provider
# reads (and records) a Gemini body with the snake_case names it knows turned into lowerCamelCase.
GEMINI_SNAKE = {
    "system_instruction", "generation_config", "tool_config", "safety_settings", "cached_content",
    "function_declarations", "function_calling_config", "allowed_function_names", "function_call",
    "function_response", "inline_data", "file_data", "mime_type", "file_uri", "response_mime_type",
    "response_schema", "response_json_schema", "max_output_tokens", "top_p", "top_k", "stop_sequences",
    "candidate_count", "thinking_config", "thinking_budget", "include_thoughts", "parameters_json_schema",
    "thought_signature", "presence_penalty", "frequency_penalty", "response_modalities", "google_search",
    "code_execution", "executable_code", "code_execution_result", "thinking_level", "media_resolution",
}


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def gemini_normalize(value, in_properties=False):
    if isinstance(value, list):
        return [gemini_normalize(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, sub in value.items():
        name = camel(key) if key in GEMINI_SNAKE and not in_properties else key
        out[name] = gemini_normalize(sub, in_properties=(key == "properties" and not in_properties))
    return out


def gemini_schema_check(schema, where):
    if not isinstance(schema, dict):
        raise Reject(f"Invalid JSON payload received. Invalid value at '{where}'")
    for key, value in schema.items():
        if key not in GEMINI_SCHEMA_FIELDS:
            raise Reject(f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field.")
        if key == "properties":
            for name, sub in value.items():
                gemini_schema_check(sub, f"{where}.properties[{name}].value")
        elif key == "items":
            gemini_schema_check(value, f"{where}.items")
        elif key == "anyOf":
            for i, sub in enumerate(value):
                gemini_schema_check(sub, f"{where}.any_of[{i}]")


def gemini_validate(body, headers, query):
    if not headers.get("x-goog-api-key") and "key" not in query:
        raise Reject("Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", 403)
    for key in body:
        if key not in GEMINI_FIELDS:
            raise Reject(f"Invalid JSON payload received. Unknown name \"{key}\": Cannot find field.")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise Reject("* GenerateContentRequest.contents: contents is not specified")
    previous_calls = []
    for i, content in enumerate(contents):
        role = content.get("role", "user")
        if role not in ("user", "model"):
            raise Reject("Please use a valid role: user, model.")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise Reject(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
        calls = [p["functionCall"] for p in parts if "functionCall" in p]
        responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
        if responses:
            if role != "user" or not previous_calls:
                raise Reject("Please ensure that function response turn comes immediately after a function call turn.")
            if len(responses) != len(previous_calls):
                raise Reject("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.")
            for response in responses:
                if not isinstance(response.get("response"), dict):
                    raise Reject(f"Invalid JSON payload received. Invalid value at 'contents[{i}].parts[0].function_response.response'")
        elif previous_calls:
            raise Reject("Please ensure that function call turn comes immediately after a user turn or after a function response turn.")
        if calls and role != "model":
            raise Reject("Please ensure that function call turns are model turns.")
        previous_calls = calls
    for i, tool in enumerate(body.get("tools") or []):
        for j, declaration in enumerate(tool.get("functionDeclarations") or []):
            if not re.match(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$", declaration.get("name", "")):
                raise Reject(f"* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: Invalid function name.")
            if "parameters" in declaration:
                gemini_schema_check(declaration["parameters"], f"tools[{i}].function_declarations[{j}].parameters")
    config = body.get("generationConfig") or {}
    schema = config.get("responseSchema")
    json_schema = config.get("responseJsonSchema")
    mime = config.get("responseMimeType")
    if schema is not None:
        gemini_schema_check(schema, "generation_config.response_schema")
    if (schema is not None or json_schema is not None) and mime != "application/json":
        raise Reject("* GenerateContentRequest.generation_config.response_mime_type: must be application/json when a response schema is set.")


def gemini_plan(body):
    config = body.get("generationConfig") or {}
    if config.get("responseMimeType") == "application/json":
        return "text", json.dumps(STRUCTURED)
    tool_config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = tool_config.get("allowedFunctionNames") or []
    if tool_config.get("mode") == "ANY" and len(allowed) == 1 and allowed[0] != "get_weather":
        return "tool", [(allowed[0], STRUCTURED)]
    last = body["contents"][-1]
    responses = [p["functionResponse"] for p in last.get("parts", []) if "functionResponse" in p]
    if responses:
        texts = []
        for response in responses:
            payload = response.get("response")
            text = payload.get("content", payload.get("output", payload.get("result", payload)))
            texts.append(text if isinstance(text, str) else json.dumps(text))
        return "text", tool_replies(texts)
    if body.get("tools"):
        return tool_call([d.get("name") for t in body["tools"] for d in t.get("functionDeclarations", [])], body)
    return "text", TEXT


def gemini_answer(body, model, stream):
    kind, payload = gemini_plan(body)
    usage = {"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18,
             "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 11}]}

    def response(parts, finish):
        candidate = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": "scripted-response-1"}

    if kind == "text":
        pieces = chunks(payload) if stream else [payload]
        frames = [response([{"text": piece}], "STOP" if i == len(pieces) - 1 else None) for i, piece in enumerate(pieces)]
    else:
        frames = [response([{"functionCall": {"name": name, "args": args}} for name, args in payload], "STOP")]
    if not stream:
        return 200, "json", frames[0]
    return 200, "sse", [f"data: {json.dumps(f)}\r\n\r\n" for f in frames]


# --------------------------------------------------------------------------------------------- server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, kind, payload):
        if kind == "json":
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            data = "".join(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def read_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_scripted/requests":
            needle = urllib.parse.parse_qs(url.query).get("contains", [""])[0]
            with LOCK:
                found = [r for r in RECORDS if needle in r["raw"]]
            self.send(200, "json", {"requests": found})
        else:
            self.send(404, "json", {"error": {"message": f"no route {url.path}"}})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        raw = self.read_body().decode("utf-8", "replace")
        record = {"path": url.path, "query": url.query, "headers": headers, "raw": raw, "body": None, "status": None}
        with LOCK:
            RECORDS.append(record)
        path = url.path
        if path.endswith("/chat/completions"):
            api = "openai"
        elif path.endswith("/messages"):
            api = "anthropic"
        elif ":generateContent" in path or ":streamGenerateContent" in path:
            api = "gemini"
        else:
            record["status"] = 404
            print(f"rejected {path}: no such route", file=sys.stderr, flush=True)
            return self.send(404, "json", {"error": {"message": f"no route {path}", "type": "invalid_request_error"}})
        try:
            try:
                body = json.loads(raw)
            except ValueError:
                raise Reject("We could not parse the JSON body of your request.")
            if not isinstance(body, dict):
                raise Reject("request body must be a JSON object")
            if api == "gemini":
                body = gemini_normalize(body)
            record["body"] = body
            if SCRIPTED_ERROR in raw:
                raise Reject(f"scripted rejection: the prompt holds {SCRIPTED_ERROR}")
            if api == "openai":
                if not headers.get("authorization", "").startswith("Bearer "):
                    raise Reject("You didn't provide an API key.", 401)
                openai_validate(body)
                status, kind, payload = openai_answer(body)
            elif api == "anthropic":
                anthropic_validate(body, headers)
                status, kind, payload = anthropic_answer(body)
            else:
                gemini_validate(body, headers, query)
                model = path.rsplit("/models/", 1)[-1].split(":")[0]
                stream = ":streamGenerateContent" in path
                if stream and query.get("alt") != ["sse"]:
                    raise Reject("scripted provider: streams only as alt=sse")
                status, kind, payload = gemini_answer(body, model, stream)
        except Reject as rejection:
            record["status"] = rejection.status
            record["error"] = rejection.message
            print(f"rejected {path}: {rejection.message}", file=sys.stderr, flush=True)
            if api == "openai":
                error = {"error": {"message": rejection.message, "type": "invalid_request_error", "param": None, "code": None}}
            elif api == "anthropic":
                kind_name = "authentication_error" if rejection.status == 401 else "invalid_request_error"
                error = {"type": "error", "error": {"type": kind_name, "message": rejection.message}, "request_id": "req_scripted"}
            else:
                status_name = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED"}.get(rejection.status, "INVALID_ARGUMENT")
                error = {"error": {"code": rejection.status, "message": rejection.message, "status": status_name}}
            return self.send(rejection.status, "json", error)
        record["status"] = status
        self.send(status, kind, payload)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="127.0.0.1:0")
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    print(f"listening on {server.server_address[0]}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
