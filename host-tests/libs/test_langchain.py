"""LangChain chat models pointed at Apex: ChatOpenAI (Chat Completions, and the Responses API),
ChatAnthropic and ChatGoogleGenerativeAI, each against providers of the openai, anthropic and gemini
kinds: text and a stream (with a system prompt, and usage), a tool round trip (also streamed, and
two calls in one turn), a structured answer and a provider's 400. Each checks what the library
returned and what the provider received."""

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from helpers import (
    APEX_KEY, APEX_URL, KINDS, STRUCTURED, TEXT, TOOL_OUTPUT, WEATHER_ARGS,
    WEATHER_TOOL_DESCRIPTION, MAX_TOKENS, SCRIPTED_ERROR, SYSTEM, TEMPERATURE, nonce, PARALLEL,
    WEATHER_ARGS_2, provider_got_text, provider_got_stream, provider_got_tool_round_trip,
    provider_got_parallel_tools, provider_got_structured, provider_rejected_once,
)

LIBRARY = "langchain"
SURFACES = ["openai-chat", "openai-responses", "anthropic", "google-genai"]


def chat_model(surface, kind):
    model = KINDS[kind]
    # Every surface sends these; the text cells check they reach the provider.
    sampling = {"max_tokens": MAX_TOKENS, "temperature": TEMPERATURE}
    if surface == "openai-chat":
        # stream_usage: with a base_url of its own, ChatOpenAI asks for usage in streams only when told.
        return ChatOpenAI(model=model, base_url=f"{APEX_URL}/v1", api_key=APEX_KEY, max_retries=0, timeout=60, stream_usage=True, **sampling)
    if surface == "openai-responses":
        return ChatOpenAI(
            model=model, base_url=f"{APEX_URL}/v1", api_key=APEX_KEY, max_retries=0, timeout=60, stream_usage=True,
            use_responses_api=True, **sampling,
        )
    if surface == "anthropic":
        return ChatAnthropic(model=model, base_url=APEX_URL, api_key=APEX_KEY, max_retries=0, timeout=60, **sampling)
    return ChatGoogleGenerativeAI(
        model=model, base_url=APEX_URL, google_api_key=APEX_KEY, max_retries=0, timeout=60,
        max_output_tokens=MAX_TOKENS, temperature=TEMPERATURE,
    )


@tool(description=WEATHER_TOOL_DESCRIPTION)
def get_weather(city: str) -> str:
    return TOOL_OUTPUT


class Weather(BaseModel):
    city: str
    temperature_c: float


cells = pytest.mark.parametrize("kind", list(KINDS))
surfaces = pytest.mark.parametrize("surface", SURFACES)


@surfaces
@cells
def test_text(surface, kind, cell):
    marker = nonce(cell)
    message = chat_model(surface, kind).invoke([SystemMessage(SYSTEM), HumanMessage(f"Say hello {marker}")])
    assert message.text == TEXT
    assert (message.usage_metadata["input_tokens"], message.usage_metadata["output_tokens"]) == (11, 7)
    provider_got_text(marker, kind)


@surfaces
@cells
def test_stream(surface, kind, cell):
    marker = nonce(cell)
    chunks = list(chat_model(surface, kind).stream([SystemMessage(SYSTEM), HumanMessage(f"Say hello {marker}")]))
    pieces = [chunk.text for chunk in chunks]
    assert "".join(pieces) == TEXT
    assert len([p for p in pieces if p]) > 1, f"one chunk, not a stream: {pieces}"
    usage = sum(chunks[1:], chunks[0]).usage_metadata
    assert (usage["input_tokens"], usage["output_tokens"]) == (11, 7)
    provider_got_stream(marker, kind)


@surfaces
@cells
def test_tool(surface, kind, cell):
    marker = nonce(cell)
    model = chat_model(surface, kind).bind_tools([get_weather])
    messages = [HumanMessage(f"What is the weather in Paris? {marker}")]
    call = model.invoke(messages)
    assert [(c["name"], c["args"]) for c in call.tool_calls] == [("get_weather", WEATHER_ARGS)]
    messages += [call, ToolMessage(TOOL_OUTPUT, tool_call_id=call.tool_calls[0]["id"])]
    final = model.invoke(messages)
    result = provider_got_tool_round_trip(marker, kind)
    assert final.text == f"Weather report: {result}"
    assert not final.tool_calls


@surfaces
@cells
def test_structured(surface, kind, cell):
    marker = nonce(cell)
    answer = chat_model(surface, kind).with_structured_output(Weather).invoke([HumanMessage(f"Weather in Paris as JSON {marker}")])
    assert answer == Weather(**STRUCTURED)
    provider_got_structured(marker, kind)


@surfaces
@cells
def test_stream_tool(surface, kind, cell):
    marker = nonce(cell)
    model = chat_model(surface, kind).bind_tools([get_weather])
    messages = [HumanMessage(f"What is the weather in Paris? {marker}")]
    call = None
    for chunk in model.stream(messages):
        call = chunk if call is None else call + chunk
    assert [(c["name"], c["args"]) for c in call.tool_calls] == [("get_weather", WEATHER_ARGS)]
    messages += [call, ToolMessage(TOOL_OUTPUT, tool_call_id=call.tool_calls[0]["id"])]
    pieces = [chunk.text for chunk in model.stream(messages)]
    result = provider_got_tool_round_trip(marker, kind, streamed=True)
    assert "".join(pieces) == f"Weather report: {result}"


@surfaces
@cells
def test_error(surface, kind, cell):
    """The provider's 400 reaches the library as a 400 with the provider's message, and is not retried."""
    marker = nonce(cell)
    with pytest.raises(Exception) as raised:
        chat_model(surface, kind).invoke([HumanMessage(f"Say hello {SCRIPTED_ERROR} {marker}")])
    provider_rejected_once(marker, raised.value)


@surfaces
@cells
def test_parallel_tools(surface, kind, cell):
    """Two tool calls in one turn, both results sent back in the provider's shape."""
    marker = nonce(cell)
    model = chat_model(surface, kind).bind_tools([get_weather])
    messages = [HumanMessage(f"What is the weather in Paris and in Berlin? {PARALLEL} {marker}")]
    call = model.invoke(messages)
    assert [(c["name"], c["args"]) for c in call.tool_calls] == [("get_weather", WEATHER_ARGS), ("get_weather", WEATHER_ARGS_2)]
    messages += [call] + [ToolMessage(f"{c['args']['city']}: {TOOL_OUTPUT}", tool_call_id=c["id"]) for c in call.tool_calls]
    final = model.invoke(messages)
    results = provider_got_parallel_tools(marker, kind)
    assert final.text == f"Weather report: {' | '.join(results)}"
