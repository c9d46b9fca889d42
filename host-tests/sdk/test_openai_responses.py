"""The official `openai` Python SDK's Responses API against a running Apex: create, stream,
function tools, chains with previous_response_id, retrieve, input_items, delete — on an
OpenAI-compatible provider and an Anthropic provider (both translated; the state is Apex's)."""

import json

import openai
import pytest

from conftest import GATEWAY_KEY

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]},
    }
]
WEATHER = {"city": "Zürich", "unit": "celsius"}
MODELS = ["gpt-fake", "claude-fake"]


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway, api_key=GATEWAY_KEY, max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_create_and_retrieve(client, model):
    response = client.responses.create(model=model, input="Say hello", instructions="Be brief.")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == "Hello from the fake upstream."
    assert response.instructions == "Be brief."
    assert response.usage.input_tokens == 12
    again = client.responses.retrieve(response.id)
    assert again.id == response.id
    assert again.output_text == response.output_text


@pytest.mark.parametrize("model", MODELS)
def test_stream(client, model):
    kinds = []
    with client.responses.stream(model=model, input="Count") as stream:
        for event in stream:
            kinds.append(event.type)
        final = stream.get_final_response()
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert final.output_text.startswith("tok0 ") or final.output_text == "Hello from the fake upstream."
    assert final.status == "completed"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_function_call_then_chain(client, model, stream):
    request = dict(model=model, input="Weather in Zürich?", tools=TOOLS, tool_choice="required")
    if stream:
        with client.responses.stream(**request) as events:
            first = events.get_final_response()
    else:
        first = client.responses.create(**request)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == WEATHER

    second = client.responses.create(
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "21 °C, sunny"}],
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "Hello from the fake upstream."

    items = client.responses.input_items.list(second.id)
    assert [item.type for item in items.data] == ["function_call_output"]


def test_delete_and_not_found(client):
    response = client.responses.create(model="gpt-fake", input="temporary")
    deleted = client.responses.delete(response.id)
    assert deleted is None or getattr(deleted, "deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-fake", input="more", previous_response_id=response.id)


def test_store_false(client):
    response = client.responses.create(model="gpt-fake", input="forget me", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


@pytest.mark.parametrize("model", MODELS)
def test_hosted_tools_are_left_out_and_named(client, model):
    # Codex offers OpenAI's hosted web_search by default.
    raw = client.responses.with_raw_response.create(model=model, input="Say hello", tools=[{"type": "web_search"}])
    assert raw.headers.get("x-apex-dropped-tools") == "web_search"
    response = raw.parse()
    assert response.status == "completed"
    assert response.output_text == "Hello from the fake upstream."
    # The stored response still lists the tools the client offered.
    assert [tool.type for tool in response.tools] == ["web_search"]


def test_forcing_a_hosted_tool_is_refused_clearly(client):
    with pytest.raises(openai.BadRequestError) as error:
        client.responses.create(
            model="gpt-fake", input="news", tools=[{"type": "web_search"}], tool_choice={"type": "web_search"}
        )
    assert "web_search" in error.value.message
