"""The official `ollama` Python client against a running Apex (`host=` pointed at it): chat,
streaming, tools, generate, list, show — with the gateway key as a header and in the path."""

import pytest
from ollama import Client, ResponseError

from conftest import GATEWAY_KEY

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


@pytest.fixture(params=["header", "path"])
def client(gateway, request):
    root = gateway.removesuffix("/v1")
    if request.param == "header":
        return Client(host=root, headers={"Authorization": f"Bearer {GATEWAY_KEY}"})
    return Client(host=f"{root}/ollama/{GATEWAY_KEY}")


@pytest.mark.parametrize("model", ["gpt-fake", "claude-fake:latest"])
def test_chat(client, model):
    reply = client.chat(model=model, messages=[{"role": "user", "content": "Say hello"}], stream=False)
    assert reply.message.role == "assistant"
    assert reply.message.content == "Hello from the fake upstream."
    assert reply.done is True
    assert reply.prompt_eval_count == 12


def test_chat_streams_by_default(client):
    parts = list(client.chat(model="gpt-fake", messages=[{"role": "user", "content": "Count"}], stream=True))
    assert parts[-1].done is True
    assert "".join(part.message.content for part in parts).startswith("tok0 ")


@pytest.mark.parametrize("model", ["gpt-fake", "claude-fake"])
def test_tools(client, model):
    reply = client.chat(model=model, messages=[{"role": "user", "content": "Weather in Zürich?"}], tools=TOOLS, stream=False)
    calls = reply.message.tool_calls
    assert len(calls) == 1
    assert calls[0].function.name == "get_weather"
    assert calls[0].function.arguments == {"city": "Zürich", "unit": "celsius"}


def test_generate(client):
    reply = client.generate(model="gpt-fake", prompt="Say hello", stream=False)
    assert reply.response == "Hello from the fake upstream."
    streamed = "".join(part.response for part in client.generate(model="gpt-fake", prompt="Count", stream=True))
    assert streamed.startswith("tok0 ")


def test_list_and_show(client):
    names = [model.model for model in client.list().models]
    assert "gpt-fake:latest" in names and "claude-fake:latest" in names
    shown = client.show("gpt-fake")
    assert "completion" in shown.capabilities and "tools" in shown.capabilities
    with pytest.raises(ResponseError) as error:
        client.show("no-such-model")
    assert error.value.status_code == 404


def test_wrong_key_is_refused(gateway):
    root = gateway.removesuffix("/v1")
    with pytest.raises(ResponseError) as error:
        Client(host=f"{root}/ollama/wrong-key").list()
    assert error.value.status_code == 401


@pytest.mark.parametrize("model", ["gpt-fake", "gemini-fake:latest"])
def test_embed(client, model):
    reply = client.embed(model=model, input=["Why is the sky blue?", "Why is the grass green?"])
    assert reply.embeddings == [[0.25, -0.25, -0.75], [0.5, 0.0, -0.5]]
    assert reply.model == model.removesuffix(":latest")
    one = client.embed(model=model, input="Why is the sky blue?", dimensions=2)
    assert one.embeddings == [[0.25, -0.25]]


def test_legacy_embeddings(client):
    reply = client.embeddings(model="gpt-fake", prompt="Here is an article about llamas...")
    assert reply.embedding == [0.25, -0.25, -0.75]


def test_embed_refusals(client):
    with pytest.raises(ResponseError) as refused:
        client.embed(model="claude-fake", input="hello")
    assert refused.value.status_code == 400
    assert "embeddings" in refused.value.error
