"""LiteLLM as a client library pointed at Apex (`openai/<alias>`, `anthropic/<alias>`,
`gemini/<alias>` with `api_base`), against providers of the openai, anthropic and gemini kinds: text
and a stream (with a system prompt, and usage), a tool round trip (also streamed, and two calls in
one turn), a structured answer (`response_format`) and a provider's 400. Each checks what LiteLLM
returned and what the provider received."""

import json

import litellm
import pytest

from helpers import (
    APEX_KEY, APEX_URL, KINDS, STRUCTURED, TEXT, TOOL_OUTPUT, WEATHER_ARGS,
    WEATHER_TOOL_DESCRIPTION, MAX_TOKENS, SCRIPTED_ERROR, SYSTEM, TEMPERATURE, nonce, PARALLEL,
    WEATHER_ARGS_2, provider_got_text, provider_got_stream, provider_got_tool_round_trip,
    provider_got_parallel_tools, provider_got_structured, provider_rejected_once,
)

LIBRARY = "litellm"
SURFACES = ["openai", "anthropic", "gemini"]
litellm.suppress_debug_info = True
# For a `gemini/` model it does not know (an Apex alias), LiteLLM folds the system prompt into the
# user turn and the response schema into the prompt text: declare the aliases as what they are.
litellm.register_model({
    f"gemini/{alias}": {
        "litellm_provider": "gemini", "mode": "chat", "max_tokens": 8192, "max_input_tokens": 1048576,
        "max_output_tokens": 8192, "supports_system_messages": True, "supports_response_schema": True,
        "supports_function_calling": True, "supports_tool_choice": True,
    }
    for alias in KINDS.values()
})

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": WEATHER_TOOL_DESCRIPTION,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature_c": {"type": "number"}},
    "required": ["city", "temperature_c"],
    "additionalProperties": False,
}


def complete(surface, kind, **kwargs):
    api_base = {"openai": f"{APEX_URL}/v1", "anthropic": APEX_URL, "gemini": f"{APEX_URL}/v1beta"}[surface]
    return litellm.completion(model=f"{surface}/{KINDS[kind]}", api_base=api_base, api_key=APEX_KEY, max_tokens=MAX_TOKENS, temperature=TEMPERATURE, num_retries=0, timeout=60, **kwargs)


cells = pytest.mark.parametrize("kind", list(KINDS))
surfaces = pytest.mark.parametrize("surface", SURFACES)


@surfaces
@cells
def test_text(surface, kind, cell):
    marker = nonce(cell)
    response = complete(surface, kind, messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Say hello {marker}"}])
    assert response.choices[0].message.content == TEXT
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 7)
    provider_got_text(marker, kind)


@surfaces
@cells
def test_stream(surface, kind, cell):
    marker = nonce(cell)
    stream = complete(
        surface, kind, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Say hello {marker}"}],
    )
    chunks = list(stream)
    pieces = [chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices]
    assert "".join(pieces) == TEXT
    assert len([p for p in pieces if p]) > 1, f"one chunk, not a stream: {pieces}"
    usage = [chunk.usage for chunk in chunks if getattr(chunk, "usage", None)]
    assert usage and (usage[-1].prompt_tokens, usage[-1].completion_tokens) == (11, 7), usage
    provider_got_stream(marker, kind)


@surfaces
@cells
def test_tool(surface, kind, cell):
    marker = nonce(cell)
    messages = [{"role": "user", "content": f"What is the weather in Paris? {marker}"}]
    response = complete(surface, kind, messages=messages, tools=TOOLS)
    calls = response.choices[0].message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", WEATHER_ARGS)]
    assert response.choices[0].finish_reason == "tool_calls"
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": calls[0].id, "type": "function", "function": {"name": calls[0].function.name, "arguments": calls[0].function.arguments}}
        ]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": TOOL_OUTPUT},
    ]
    final = complete(surface, kind, messages=messages, tools=TOOLS)
    result = provider_got_tool_round_trip(marker, kind)
    assert final.choices[0].message.content == f"Weather report: {result}"


@surfaces
@cells
def test_structured(surface, kind, cell):
    marker = nonce(cell)
    response = complete(
        surface, kind,
        messages=[{"role": "user", "content": f"Weather in Paris as JSON {marker}"}],
        response_format={"type": "json_schema", "json_schema": {"name": "weather", "strict": True, "schema": WEATHER_SCHEMA}},
    )
    assert json.loads(response.choices[0].message.content) == STRUCTURED
    provider_got_structured(marker, kind)


@surfaces
@cells
def test_stream_tool(surface, kind, cell):
    marker = nonce(cell)
    messages = [{"role": "user", "content": f"What is the weather in Paris? {marker}"}]
    chunks = list(complete(surface, kind, messages=messages, tools=TOOLS, stream=True))
    built = litellm.stream_chunk_builder(chunks, messages=messages)
    calls = built.choices[0].message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", WEATHER_ARGS)]
    assert built.choices[0].finish_reason == "tool_calls"
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": calls[0].id, "type": "function", "function": {"name": calls[0].function.name, "arguments": calls[0].function.arguments}}
        ]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": TOOL_OUTPUT},
    ]
    pieces = [chunk.choices[0].delta.content or "" for chunk in complete(surface, kind, messages=messages, tools=TOOLS, stream=True) if chunk.choices]
    result = provider_got_tool_round_trip(marker, kind, streamed=True)
    assert "".join(pieces) == f"Weather report: {result}"


@surfaces
@cells
def test_error(surface, kind, cell):
    """The provider's 400 reaches the library as a 400 with the provider's message, and is not retried."""
    marker = nonce(cell)
    with pytest.raises(Exception) as raised:
        complete(surface, kind, messages=[{"role": "user", "content": f"Say hello {SCRIPTED_ERROR} {marker}"}])
    provider_rejected_once(marker, raised.value)


@surfaces
@cells
def test_parallel_tools(surface, kind, cell):
    """Two tool calls in one turn, both results sent back in the provider's shape."""
    marker = nonce(cell)
    messages = [{"role": "user", "content": f"What is the weather in Paris and in Berlin? {PARALLEL} {marker}"}]
    response = complete(surface, kind, messages=messages, tools=TOOLS)
    calls = response.choices[0].message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", WEATHER_ARGS), ("get_weather", WEATHER_ARGS_2)]
    messages.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}} for c in calls
    ]})
    messages += [
        {"role": "tool", "tool_call_id": c.id, "content": f"{json.loads(c.function.arguments)['city']}: {TOOL_OUTPUT}"} for c in calls
    ]
    final = complete(surface, kind, messages=messages, tools=TOOLS)
    results = provider_got_parallel_tools(marker, kind)
    assert final.choices[0].message.content == f"Weather report: {' | '.join(results)}"
