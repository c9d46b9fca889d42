"""The official `google-genai` Python SDK against a running Apex: generate, stream, a tool round
trip, count_tokens, the model list, errors in Google's shape, served by an OpenAI-compatible and
an Anthropic provider (translated) and a Gemini provider (forwarded). The SDK sends the gateway
key as `x-goog-api-key`; `?key=` is checked with raw HTTP, as Google's REST examples send it."""

import json
import urllib.error
import urllib.request

import pytest
from google import genai
from google.genai import errors, types

from conftest import GATEWAY_KEY

MODELS = ["gpt-fake", "claude-fake", "gemini-fake"]
WEATHER = {"city": "Zürich", "unit": "celsius"}
TOOLS = [
    types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="get_weather",
                description="Current weather for a city",
                parameters=types.Schema(
                    type="OBJECT",
                    properties={"city": types.Schema(type="STRING"), "unit": types.Schema(type="STRING")},
                    required=["city"],
                ),
            )
        ]
    )
]


def root(gateway):
    return gateway.removesuffix("/v1")


@pytest.fixture
def client(gateway):
    return genai.Client(api_key=GATEWAY_KEY, http_options=types.HttpOptions(base_url=root(gateway)))


def raw(url, body=None, method="POST"):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize("model", MODELS)
def test_generate(client, model):
    response = client.models.generate_content(
        model=model,
        contents="Say hello",
        config=types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.2, max_output_tokens=100),
    )
    assert response.text == "Hello from the fake upstream."
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata.prompt_token_count == 12


@pytest.mark.parametrize("model", MODELS)
def test_stream(client, model):
    chunks = list(client.models.generate_content_stream(model=model, contents="Count"))
    text = "".join(chunk.text or "" for chunk in chunks)
    assert text.split() == ["tok0", "tok1", "tok2", "tok3", "tok4"]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.total_token_count > 0


@pytest.mark.parametrize("model", MODELS)
def test_tool_round_trip(client, model):
    config = types.GenerateContentConfig(
        tools=TOOLS,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    question = types.Content(role="user", parts=[types.Part.from_text(text="Weather in Zürich?")])
    first = client.models.generate_content(model=model, contents=[question], config=config)
    calls = first.function_calls
    assert [call.name for call in calls] == ["get_weather"]
    assert calls[0].args == WEATHER
    # The call goes back as the model made it (a Gemini provider refuses it without its
    # thoughtSignature), the result answers it by name.
    result = types.Content(
        role="user",
        parts=[types.Part.from_function_response(name="get_weather", response={"output": "21 °C, sunny"})],
    )
    second = client.models.generate_content(
        model=model, contents=[question, first.candidates[0].content, result], config=config
    )
    assert second.candidates[0].finish_reason == types.FinishReason.STOP
    if model == "gemini-fake":
        assert second.text == "Hello from the fake upstream."


@pytest.mark.parametrize("model", MODELS)
def test_stream_tool_call(client, model):
    config = types.GenerateContentConfig(
        tools=TOOLS,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    chunks = list(client.models.generate_content_stream(model=model, contents="Weather in Zürich?", config=config))
    calls = [call for chunk in chunks for call in (chunk.function_calls or [])]
    assert [(call.name, call.args) for call in calls] == [("get_weather", WEATHER)]


@pytest.mark.parametrize("model", MODELS)
def test_count_tokens(client, model):
    counted = client.models.count_tokens(model=model, contents="Hello there, how many tokens?")
    assert counted.total_tokens > 0


def test_count_tokens_from_an_anthropic_provider_in_its_own_form(client):
    # claude-fake is served by an Anthropic provider: asked messages/count_tokens (only the fields
    # that endpoint takes), its count answered in Google's shape.
    counted = client.models.count_tokens(model="claude-fake", contents="Hello there, how many tokens?")
    assert counted.total_tokens == 12


def test_models_list_and_get(client):
    names = {model.name for model in client.models.list()}
    assert {"models/gpt-fake", "models/claude-fake", "models/gemini-fake"} <= names
    model = client.models.get(model="claude-fake")
    assert model.name == "models/claude-fake"
    assert model.input_token_limit > 0 and model.output_token_limit > 0
    assert "generateContent" in model.supported_actions


def test_errors(gateway, client):
    with pytest.raises(errors.ClientError) as error:
        client.models.generate_content(model="no-such-model", contents="Hi")
    assert error.value.code == 404
    assert error.value.status == "NOT_FOUND"
    bad_key = genai.Client(api_key="wrong", http_options=types.HttpOptions(base_url=root(gateway)))
    with pytest.raises(errors.ClientError) as error:
        bad_key.models.generate_content(model="gpt-fake", contents="Hi")
    assert error.value.code == 401
    assert error.value.status == "UNAUTHENTICATED"
    with pytest.raises(errors.ClientError) as error:
        client.models.generate_content(
            model="gpt-fake", contents="Hi", config=types.GenerateContentConfig(candidate_count=2)
        )
    assert error.value.code == 400
    assert error.value.status == "INVALID_ARGUMENT"


@pytest.mark.parametrize("model", MODELS)
def test_key_in_the_query(gateway, model):
    body = {"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]}
    status, headers, reply = raw(f"{root(gateway)}/v1beta/models/{model}:generateContent?key={GATEWAY_KEY}", body)
    assert status == 200, reply
    answer = json.loads(reply)
    assert answer["candidates"][0]["content"]["parts"][0]["text"] == "Hello from the fake upstream."
    assert GATEWAY_KEY.encode() not in reply and GATEWAY_KEY not in str(headers)
    # Without alt=sse a stream is one JSON array.
    status, headers, reply = raw(f"{root(gateway)}/v1beta/models/{model}:streamGenerateContent?key={GATEWAY_KEY}", body)
    assert status == 200, reply
    chunks = json.loads(reply)
    text = "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"])
    assert text.split() == ["tok0", "tok1", "tok2", "tok3", "tok4"]
    status, _, reply = raw(f"{root(gateway)}/v1beta/models/{model}:generateContent?key=wrong", body)
    assert status == 401
    assert json.loads(reply)["error"]["status"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("model", ["gpt-fake", "embedder-fake"])
def test_embed_content(client, model):
    # One vector per text: batchEmbedContents with one request per content.
    result = client.models.embed_content(
        model=model,
        contents=["What is the meaning of life?", "How much wood would a woodchuck chuck?"],
        config=types.EmbedContentConfig(output_dimensionality=2, task_type="RETRIEVAL_DOCUMENT"),
    )
    assert [e.values for e in result.embeddings] == [[0.25, -0.25], [0.5, 0.0]]


def test_embed_content_multimodal_model_name(client):
    # For a model named `gemini-…` (other than gemini-embedding-001) the SDK sends the texts as the
    # parts of one content, which Gemini embeds as one vector.
    result = client.models.embed_content(model="gemini-fake", contents=["What is", "the meaning of life?"])
    assert [e.values for e in result.embeddings] == [[0.25, -0.25, -0.75]]


def test_embed_content_needs_a_model_that_embeds(client):
    with pytest.raises(errors.ClientError) as refused:
        client.models.embed_content(model="claude-fake", contents="hello")
    assert refused.value.code == 400
    assert "embeddings" in refused.value.message
