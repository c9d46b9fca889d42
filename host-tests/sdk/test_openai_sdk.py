"""The official `openai` Python SDK against a running Apex: chat, streaming and tools, served by
an OpenAI-compatible provider (forwarded), an Anthropic provider (translated) and the built-in
echo model."""

import json

import openai
import pytest

from conftest import GATEWAY_KEY

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]},
        },
    }
]
WEATHER = {"city": "Zürich", "unit": "celsius"}


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway, api_key=GATEWAY_KEY, max_retries=0)


@pytest.mark.parametrize("model", ["gpt-fake", "claude-fake"])
def test_chat(client, model):
    completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello"}])
    assert completion.choices[0].message.content == "Hello from the fake upstream."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 12


def test_echo_needs_no_provider(client):
    completion = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "grüezi mitenand"}])
    assert completion.choices[0].message.content == "grüezi mitenand"


@pytest.mark.parametrize("model", ["gpt-fake", "claude-fake", "echo"])
def test_streaming(client, model):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "tok0 tok1 tok2 tok3 tok4"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text.split() == ["tok0", "tok1", "tok2", "tok3", "tok4"]
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == 5


@pytest.mark.parametrize("model", ["gpt-fake", "claude-fake"])
def test_tools(client, model):
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Weather in Zürich?"}], tools=TOOLS, tool_choice="auto"
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER
    assert completion.choices[0].finish_reason == "tool_calls"

    # The tool loop continues: the assistant's tool-call turn (content null) and the result go back.
    follow_up = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "user", "content": "Weather in Zürich?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "21 °C"},
        ],
        tools=TOOLS,
    )
    assert follow_up.choices[0].message is not None


@pytest.mark.parametrize("model", ["gpt-fake", "claude-fake"])
def test_streamed_tools(client, model):
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Weather in Zürich?"}], tools=TOOLS, stream=True
    )
    calls = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
                if delta.id:
                    call["id"] = delta.id
                if delta.function and delta.function.name:
                    call["name"] = delta.function.name
                if delta.function and delta.function.arguments:
                    call["arguments"] += delta.function.arguments
    assert len(calls) == 1
    assert calls[0]["name"] == "get_weather" and calls[0]["id"]
    assert json.loads(calls[0]["arguments"]) == WEATHER
    assert finish == "tool_calls"


def test_models_list(client):
    ids = {model.id for model in client.models.list()}
    assert {"echo", "gpt-fake", "claude-fake"} <= ids


def test_models_carry_their_context_window(client):
    gemini = client.models.retrieve("gemini-fake")
    assert gemini.id == "gemini-fake"
    assert gemini.model_extra["context_window"] == 1_048_576
    assert gemini.model_extra["context_length"] == 1_048_576


def test_errors(gateway, client):
    bad_key = openai.OpenAI(base_url=gateway, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.chat.completions.create(model="echo", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="echo", messages=[{"role": "user", "content": [{"type": "nope"}]}])


def fake_vector(i, length=3):
    """What the fake upstream answers for input `i` (host-tests/src/bin/fake-upstream.rs)."""
    return [0.25 * (i + 1) - 0.5 * d for d in range(length)]


@pytest.mark.parametrize("model", ["gpt-fake", "gemini-fake"])
def test_embeddings_base64_by_default(client, model):
    # The SDK asks for `encoding_format: "base64"` unless told otherwise and decodes it itself.
    result = client.embeddings.create(model=model, input=["The food was delicious", "and the waiter..."])
    assert [d.index for d in result.data] == [0, 1]
    assert [d.embedding for d in result.data] == [fake_vector(0), fake_vector(1)]
    assert result.model == model


def test_embeddings_float_dimensions_and_tokens(client):
    result = client.embeddings.create(model="gpt-fake", input="hello", encoding_format="float", dimensions=2)
    assert result.data[0].embedding == fake_vector(0, 2)
    assert result.usage.prompt_tokens == 3
    tokens = client.embeddings.create(model="gpt-fake", input=[[1820, 25], [40]])
    assert len(tokens.data) == 2


def test_embeddings_echo_needs_no_provider(client):
    first = client.embeddings.create(model="echo", input=["hello", "hello", "bye"])
    vectors = [d.embedding for d in first.data]
    assert len(vectors[0]) == 8
    assert vectors[0] == vectors[1] != vectors[2]


def test_embeddings_errors(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="claude-fake", input="hello")
    assert "embeddings" in refused.value.message
    with pytest.raises(openai.BadRequestError) as empty:
        client.embeddings.create(model="gpt-fake", input="")
    assert "'$.input' is invalid" in empty.value.message
