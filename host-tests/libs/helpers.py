"""What the Python tests share: where Apex and the scripted provider are, the expected-failure list,
and reading what the provider received, per provider kind."""

import fnmatch
import json
import os
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
APEX_URL = os.environ.get("APEX_URL", "")
APEX_KEY = os.environ.get("APEX_KEY", "")
PROVIDER_URL = os.environ.get("PROVIDER_URL", "")

# The Apex alias served by each provider kind (run.py's config), and the provider's model behind it.
KINDS = {"openai": "openai-kind", "anthropic": "anthropic-kind", "gemini": "gemini-kind"}
UPSTREAM_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}

# What the scripted provider answers (scripted_provider.py).
TEXT = "Hello from the scripted provider."
WEATHER_ARGS = {"city": "Paris"}
WEATHER_ARGS_2 = {"city": "Berlin"}
PARALLEL = "[two-cities]"
STRUCTURED = {"city": "Paris", "temperature_c": 21}
TOOL_OUTPUT = "18 degrees and sunny"
WEATHER_TOOL_DESCRIPTION = "Current weather for a city"
SYSTEM = "Answer in one short sentence."
MAX_TOKENS = 256
TEMPERATURE = 0.25
SCRIPTED_ERROR = "[scripted-error]"


def status_of(error):
    """The HTTP status a library's exception carries (or the exception it was raised from)."""
    while error is not None:
        for attribute in ("status_code", "code", "status"):
            value = getattr(error, attribute, None)
            if isinstance(value, int):
                return value
        status = getattr(getattr(error, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
        error = error.__cause__ or error.__context__
    return None


def expected_failure(cell):
    """The reason a cell is listed in expected_failures.txt, or None (always None with
    APEX_LIBS_IGNORE_EXPECTED=1, to see how listed cells fail)."""
    if os.environ.get("APEX_LIBS_IGNORE_EXPECTED") == "1":
        return None
    reason = None
    with open(os.path.join(HERE, "expected_failures.txt")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("# Waiting for:"):
                reason = line.removeprefix("# ").strip()
            if not line or line.startswith("#"):
                continue
            pattern = line.split("#", 1)[0].strip()
            if len(pattern.split("/")) == len(cell.split("/")) and all(
                fnmatch.fnmatchcase(part, want) for part, want in zip(cell.split("/"), pattern.split("/"))
            ):
                return reason or "listed in expected_failures.txt"
    return None


def nonce(cell):
    return f"[{cell} {uuid.uuid4().hex[:8]}]"


def provider_requests(marker):
    """The requests the scripted provider received whose body holds `marker`, oldest first."""
    url = f"{PROVIDER_URL}/_scripted/requests?" + urllib.parse.urlencode({"contains": marker})
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)["requests"]


def received(marker, kind, count=None):
    """The provider's requests for this marker, checked: each one reached the kind's API, was
    accepted, and named the upstream model."""
    requests = provider_requests(marker)
    assert requests, f"the {kind} provider received no request holding {marker}"
    for request in requests:
        assert request["status"] == 200, f"the provider rejected {request['path']}: {request.get('error')}\n{request['raw']}"
        path = request["path"]
        model = UPSTREAM_MODELS[kind]
        if kind == "openai":
            assert path == "/v1/chat/completions", path
            assert request["body"]["model"] == model
            assert request["headers"]["authorization"] == "Bearer sk-scripted-openai"
        elif kind == "anthropic":
            assert path == "/v1/messages", path
            assert request["body"]["model"] == model
            assert request["headers"]["x-api-key"] == "sk-ant-scripted"
        else:
            assert path in (f"/v1beta/models/{model}:generateContent", f"/v1beta/models/{model}:streamGenerateContent"), path
            assert request["headers"]["x-goog-api-key"] == "scripted-gemini-key"
    if count is not None:
        assert len(requests) == count, f"expected {count} provider requests, got {len(requests)}"
    return requests


def is_stream(kind, request):
    if kind == "gemini":
        return request["path"].endswith(":streamGenerateContent") and request["query"] == "alt=sse"
    return request["body"].get("stream") is True


def user_texts(kind, body):
    """Every user-turn text the provider got."""
    texts = []
    if kind == "openai":
        for message in body["messages"]:
            if message["role"] == "user":
                content = message["content"]
                texts += [content] if isinstance(content, str) else [p.get("text", "") for p in content]
    elif kind == "anthropic":
        for message in body["messages"]:
            if message["role"] == "user":
                content = message["content"]
                texts += [content] if isinstance(content, str) else [b.get("text", "") for b in content if b.get("type") == "text"]
    else:
        for content in body["contents"]:
            if content.get("role", "user") == "user":
                texts += [p["text"] for p in content["parts"] if "text" in p]
    return texts


def system_texts(kind, body):
    """The system prompt texts the provider got, where its API wants them (OpenAI: system or
    developer messages; Anthropic: `system`; Gemini: `systemInstruction`)."""
    if kind == "openai":
        return [
            content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
            for m in body["messages"] if m["role"] in ("system", "developer") for content in [m["content"]]
        ]
    if kind == "anthropic":
        system = body.get("system")
        if system is None:
            return []
        return [system] if isinstance(system, str) else ["".join(b.get("text", "") for b in system)]
    instruction = body.get("systemInstruction")
    return ["".join(p.get("text", "") for p in instruction["parts"])] if instruction else []


def sampling_sent(kind, body):
    """(max output tokens, temperature) as the provider got them."""
    if kind == "openai":
        return body.get("max_completion_tokens", body.get("max_tokens")), body.get("temperature")
    if kind == "anthropic":
        return body.get("max_tokens"), body.get("temperature")
    config = body.get("generationConfig") or {}
    return config.get("maxOutputTokens"), config.get("temperature")


def tools_offered(kind, body):
    """{name: (description, parameter schema)} of the function tools declared to the provider."""
    if kind == "openai":
        return {t["function"]["name"]: (t["function"].get("description"), t["function"].get("parameters")) for t in body.get("tools", [])}
    if kind == "anthropic":
        return {t["name"]: (t.get("description"), t.get("input_schema")) for t in body.get("tools", [])}
    out = {}
    for tool in body.get("tools", []):
        for d in tool.get("functionDeclarations", []):
            out[d["name"]] = (d.get("description"), d.get("parameters", d.get("parametersJsonSchema")))
    return out


def tool_exchange(kind, body):
    """(call name, call arguments, result text) of the tool call and result the provider was sent back."""
    if kind == "openai":
        messages = body["messages"]
        call = next(m for m in messages if m["role"] == "assistant" and m.get("tool_calls"))["tool_calls"][0]
        result = next(m for m in messages if m["role"] == "tool")
        assert result["tool_call_id"] == call["id"]
        content = result["content"]
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        return call["function"]["name"], json.loads(call["function"]["arguments"]), text
    if kind == "anthropic":
        messages = body["messages"]
        use = next(b for m in messages if m["role"] == "assistant" and isinstance(m["content"], list) for b in m["content"] if b["type"] == "tool_use")
        result = next(b for m in messages if m["role"] == "user" and isinstance(m["content"], list) for b in m["content"] if b["type"] == "tool_result")
        assert result["tool_use_id"] == use["id"]
        content = result.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
        return use["name"], use["input"], text
    contents = body["contents"]
    call = next(p["functionCall"] for c in contents if c.get("role") == "model" for p in c["parts"] if "functionCall" in p)
    response = next(p["functionResponse"] for c in contents if c.get("role", "user") == "user" for p in c["parts"] if "functionResponse" in p)
    assert response["name"] == call["name"]
    # The scripted provider reads the result text from the same place.
    payload = response["response"]
    text = payload.get("content", payload.get("output", payload.get("result", payload)))
    return call["name"], call.get("args", {}), text if isinstance(text, str) else json.dumps(text)


def tool_exchanges(kind, body):
    """[(call name, call arguments, result text)] for every call of the last tool-calling turn and
    the result the provider was sent back for it (matched by id; Gemini: in order)."""
    if kind == "openai":
        messages = body["messages"]
        turn = [i for i, m in enumerate(messages) if m["role"] == "assistant" and m.get("tool_calls")][-1]
        results = {m["tool_call_id"]: m["content"] for m in messages[turn + 1 :] if m["role"] == "tool"}
        out = []
        for call in messages[turn]["tool_calls"]:
            content = results[call["id"]]
            text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
            out.append((call["function"]["name"], json.loads(call["function"]["arguments"]), text))
        return out
    if kind == "anthropic":
        messages = body["messages"]
        turn = [i for i, m in enumerate(messages) if m["role"] == "assistant" and isinstance(m["content"], list)
                and any(b["type"] == "tool_use" for b in m["content"])][-1]
        uses = [b for b in messages[turn]["content"] if b["type"] == "tool_use"]
        results = {b["tool_use_id"]: b.get("content") for b in messages[turn + 1]["content"] if b["type"] == "tool_result"}
        return [
            (use["name"], use["input"], results[use["id"]] if isinstance(results[use["id"]], str)
             else "".join(p.get("text", "") for p in results[use["id"]] or []))
            for use in uses
        ]
    contents = body["contents"]
    turn = [i for i, c in enumerate(contents) if c.get("role") == "model" and any("functionCall" in p for p in c["parts"])][-1]
    calls = [p["functionCall"] for p in contents[turn]["parts"] if "functionCall" in p]
    responses = [p["functionResponse"] for p in contents[turn + 1]["parts"] if "functionResponse" in p]
    assert len(calls) == len(responses)
    out = []
    for call, response in zip(calls, responses):
        assert response["name"] == call["name"]
        payload = response["response"]
        text = payload.get("content", payload.get("output", payload.get("result", payload)))
        out.append((call["name"], call.get("args", {}), text if isinstance(text, str) else json.dumps(text)))
    return out


def structured_request(kind, body):
    """(how, schema): how the provider was asked for a structured answer (a JSON schema for the
    answer, or a forced tool) and the schema it got."""
    if kind == "openai":
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return "json_schema", response_format["json_schema"]["schema"]
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            name = choice["function"]["name"]
            return "tool", tools_offered(kind, body)[name][1]
        if choice == "required" and len(body.get("tools", [])) == 1:
            return "tool", body["tools"][0]["function"].get("parameters")
    elif kind == "anthropic":
        output = (body.get("output_config") or {}).get("format") or body.get("output_format")
        if output:
            return "json_schema", output["schema"]
        choice = body.get("tool_choice") or {}
        if choice.get("type") == "tool":
            return "tool", tools_offered(kind, body)[choice["name"]][1]
        if choice.get("type") == "any" and len(body.get("tools", [])) == 1:
            return "tool", body["tools"][0].get("input_schema")
    else:
        config = body.get("generationConfig") or {}
        if config.get("responseMimeType") == "application/json":
            return "json_schema", config.get("responseJsonSchema", config.get("responseSchema"))
        calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        if calling.get("mode") == "ANY" and len(calling.get("allowedFunctionNames", [])) == 1:
            return "tool", tools_offered(kind, body)[calling["allowedFunctionNames"][0]][1]
        offered = tools_offered(kind, body)
        if calling.get("mode") == "ANY" and len(offered) == 1:
            return "tool", next(iter(offered.values()))[1]
    raise AssertionError(f"the {kind} provider was not asked for a structured answer: {json.dumps(body)}")


def assert_weather_schema(schema):
    """The answer schema every structured test uses: {city: string, temperature_c: number}."""
    assert schema is not None
    properties = schema["properties"]
    assert set(properties) == {"city", "temperature_c"}, properties
    assert properties["city"]["type"].lower() == "string"
    assert properties["temperature_c"]["type"].lower() in ("number", "integer")
    assert set(schema.get("required", [])) == {"city", "temperature_c"}


# What the provider must have received for each cell, whatever the library (the library-side
# checks stay with each test).

def provider_got_text(marker, kind):
    """One whole (not streamed) request: the user's text, the system prompt, max tokens and
    temperature in the provider's own fields."""
    (request,) = received(marker, kind, count=1)
    assert not is_stream(kind, request)
    assert any(marker in text for text in user_texts(kind, request["body"]))
    assert system_texts(kind, request["body"]) == [SYSTEM]
    assert sampling_sent(kind, request["body"]) == (MAX_TOKENS, TEMPERATURE)


def provider_got_stream(marker, kind):
    """One streamed request, with the system prompt."""
    (request,) = received(marker, kind, count=1)
    assert is_stream(kind, request)
    assert system_texts(kind, request["body"]) == [SYSTEM]


def provider_got_tool_round_trip(marker, kind, streamed=False):
    """Two requests: the tool offered, then its call and result paired in the provider's shape.
    Returns the result text the provider got back."""
    first, second = received(marker, kind, count=2)
    if streamed:
        assert is_stream(kind, first) and is_stream(kind, second)
    else:
        description, parameters = tools_offered(kind, first["body"])["get_weather"]
        assert description == WEATHER_TOOL_DESCRIPTION
        assert list(parameters["properties"]) == ["city"]
    name, arguments, result = tool_exchange(kind, second["body"])
    assert (name, arguments) == ("get_weather", WEATHER_ARGS)
    assert TOOL_OUTPUT in result
    return result


def provider_got_parallel_tools(marker, kind):
    """Two calls in one turn and both results, paired, in the provider's shape. Returns the
    results the provider got back, in order."""
    _first, second = received(marker, kind, count=2)
    exchanges = tool_exchanges(kind, second["body"])
    assert [(name, arguments) for name, arguments, _ in exchanges] == [("get_weather", WEATHER_ARGS), ("get_weather", WEATHER_ARGS_2)]
    results = [result for _, _, result in exchanges]
    assert f"Paris: {TOOL_OUTPUT}" in results[0] and f"Berlin: {TOOL_OUTPUT}" in results[1], results
    return results


def provider_got_structured(marker, kind):
    """One request carrying the weather schema in the provider's own structured-output form."""
    (request,) = received(marker, kind, count=1)
    _how, schema = structured_request(kind, request["body"])
    assert_weather_schema(schema)


def provider_rejected_once(marker, error):
    """The provider's 400 reached the library as a 400 with its message, and was not retried."""
    assert [r["status"] for r in provider_requests(marker)] == [400]
    assert status_of(error) == 400, repr(error)
    assert "scripted rejection" in str(error), str(error)
