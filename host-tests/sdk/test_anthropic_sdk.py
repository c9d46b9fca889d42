"""The official `anthropic` Python SDK against a running Apex: messages, streaming, tools and
count_tokens, served by an Anthropic provider (forwarded) and an OpenAI-compatible provider
(translated), plus errors in Anthropic's format."""

import anthropic
import pytest

from conftest import GATEWAY_KEY

TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]},
    }
]
WEATHER = {"city": "Zürich", "unit": "celsius"}
MODELS = ["claude-fake", "gpt-fake"]


@pytest.fixture
def client(gateway):
    return anthropic.Anthropic(base_url=gateway.removesuffix("/v1"), api_key=GATEWAY_KEY, max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_message(client, model):
    message = client.messages.create(model=model, max_tokens=100, messages=[{"role": "user", "content": "Say hello"}])
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the fake upstream."
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 12


@pytest.mark.parametrize("model", MODELS)
def test_stream_text(client, model):
    with client.messages.stream(model=model, max_tokens=100, messages=[{"role": "user", "content": "Count"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith("tok0 ") or text == "Hello from the fake upstream."
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_use(client, model, stream):
    request = dict(
        model=model,
        max_tokens=200,
        tools=TOOLS,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Zürich?"}],
    )
    if stream:
        with client.messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**request)
    calls = [block for block in message.content if block.type == "tool_use"]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert calls[0].input == WEATHER
    assert message.stop_reason == "tool_use"

    # The tool loop continues: the result goes back in a user turn.
    follow_up = client.messages.create(
        model=model,
        max_tokens=100,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "Weather in Zürich?"},
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0].id, "content": "21 °C, sunny"}]},
        ],
    )
    assert follow_up.role == "assistant"


@pytest.mark.parametrize("model", MODELS)
def test_count_tokens(client, model):
    count = client.messages.count_tokens(model=model, messages=[{"role": "user", "content": "How many tokens is this?"}])
    assert count.input_tokens > 0


@pytest.mark.parametrize(
    ("model", "source", "exact"),
    [("claude-fake", "provider", 12), ("gemini-fake", "provider", 12), ("gpt-fake", "estimate", None)],
)
def test_count_tokens_says_whose_count_it_is(client, model, source, exact):
    # An Anthropic provider counts (forwarded), a Gemini provider counts in its own form
    # (countTokens), an OpenAI-compatible one has no counting endpoint: the gateway estimates.
    raw = client.messages.with_raw_response.count_tokens(
        model=model, system="Be brief.", messages=[{"role": "user", "content": "How many tokens is this?"}]
    )
    assert raw.headers["x-apex-token-count"] == source
    count = raw.parse()
    if exact is not None:
        assert count.input_tokens == exact
    else:
        assert count.input_tokens > 0


def test_models_list_and_retrieve_in_anthropic_shape(client):
    models = list(client.models.list())
    ids = {model.id for model in models}
    assert {"echo", "gpt-fake", "claude-fake", "gemini-fake"} <= ids
    assert all(model.type == "model" for model in models)
    claude = client.models.retrieve("claude-fake")
    assert claude.id == "claude-fake" and claude.display_name == "claude-fake"
    assert claude.model_extra["context_window"] == 200_000
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("no-such-model")


def test_errors_are_anthropic_errors(gateway, client):
    bad_key = anthropic.Anthropic(base_url=gateway.removesuffix("/v1"), api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as error:
        bad_key.messages.create(model="claude-fake", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert error.value.body["type"] == "error"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError) as error:
        client.messages.create(model="gpt-fake", max_tokens=10, messages=[{"role": "robot", "content": "hi"}])
    assert "role" in error.value.body["error"]["message"]
