// The Vercel AI SDK pointed at Apex: @ai-sdk/openai (`openai.chat(...)` and the default Responses
// provider `openai(...)`), @ai-sdk/openai-compatible, @ai-sdk/anthropic and @ai-sdk/google, each
// against providers of the openai, anthropic and gemini kinds: text and a stream (with a system
// prompt, and usage), a tool round trip (the tool runs and its result goes back), the same streamed
// and with two calls in one turn, a structured answer (`Output.object`), `generateObject` and a
// provider's 400. Each cell checks what the SDK returned and what the provider received.
//
// run.py starts the scripted provider and Apex (APEX_URL, APEX_KEY, PROVIDER_URL) and copies this
// file next to the installed packages. Cells in expected_failures.txt must fail (strict).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { generateText, streamText, generateObject, Output, tool, isStepCount } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { z } from 'zod';

// The SDK's warnings (an alias is a model id it does not know) would fill the log.
globalThis.AI_SDK_LOG_WARNINGS = false;

const APEX_URL = process.env.APEX_URL;
const APEX_KEY = process.env.APEX_KEY;
const PROVIDER_URL = process.env.PROVIDER_URL;

const KINDS = { openai: 'openai-kind', anthropic: 'anthropic-kind', gemini: 'gemini-kind' };
const UPSTREAM_MODELS = { openai: 'gpt-4o-mini', anthropic: 'claude-sonnet-4-5', gemini: 'gemini-2.5-flash' };
const TEXT = 'Hello from the scripted provider.';
const WEATHER_ARGS = { city: 'Paris' };
const WEATHER_ARGS_2 = { city: 'Berlin' };
const PARALLEL = '[two-cities]';
const STRUCTURED = { city: 'Paris', temperature_c: 21 };
const TOOL_OUTPUT = '18 degrees and sunny';
const WEATHER_TOOL_DESCRIPTION = 'Current weather for a city';
const SYSTEM = 'Answer in one short sentence.';
const SCRIPTED_ERROR = '[scripted-error]';
const MAX_TOKENS = 256;
const TEMPERATURE = 0.25;

const openai = createOpenAI({ baseURL: `${APEX_URL}/v1`, apiKey: APEX_KEY });
// supportsStructuredOutputs: JSON schemas rather than json_object; includeUsage: usage in streams.
const compatible = createOpenAICompatible({
  name: 'apex', baseURL: `${APEX_URL}/v1`, apiKey: APEX_KEY, supportsStructuredOutputs: true, includeUsage: true,
});
const anthropic = createAnthropic({ baseURL: `${APEX_URL}/v1`, apiKey: APEX_KEY });
const google = createGoogleGenerativeAI({ baseURL: `${APEX_URL}/v1beta`, apiKey: APEX_KEY });

const SURFACES = {
  'openai-chat': (model) => openai.chat(model),
  'openai-responses': (model) => openai(model),
  'openai-compatible': (model) => compatible(model),
  anthropic: (model) => anthropic(model),
  google: (model) => google(model),
};

// ----------------------------------------------------------------------------- expected failures

function expectedFailure(cell) {
  if (process.env.APEX_LIBS_IGNORE_EXPECTED === '1') return null;
  let reason = null;
  for (let line of readFileSync(process.env.EXPECTED_FAILURES, 'utf8').split('\n')) {
    line = line.trim();
    if (line.startsWith('# Waiting for:')) reason = line.slice(2).trim();
    if (!line || line.startsWith('#')) continue;
    const want = line.split('#')[0].trim().split('/');
    const parts = cell.split('/');
    if (want.length === parts.length && want.every((w, i) => w === '*' || w === parts[i])) {
      return reason ?? 'listed in expected_failures.txt';
    }
  }
  return null;
}

function cell(id, body) {
  const reason = expectedFailure(id);
  test(id, async (t) => {
    if (!reason) return body(id);
    try {
      await body(id);
    } catch (error) {
      t.diagnostic(`expected failure (${reason}): ${String(error?.message ?? error).split('\n')[0]}`);
      return;
    }
    throw new Error(`${id} passed but is listed in expected_failures.txt (${reason}): take it off the list`);
  });
}

// ----------------------------------------------------------------------- what the provider got

const nonce = (id) => `[${id} ${randomBytes(4).toString('hex')}]`;

async function received(marker, kind, count) {
  const response = await fetch(`${PROVIDER_URL}/_scripted/requests?contains=${encodeURIComponent(marker)}`);
  const { requests } = await response.json();
  assert.ok(requests.length > 0, `the ${kind} provider received no request holding ${marker}`);
  for (const request of requests) {
    assert.equal(request.status, 200, `the provider rejected ${request.path}: ${request.error}\n${request.raw}`);
    const model = UPSTREAM_MODELS[kind];
    if (kind === 'openai') {
      assert.equal(request.path, '/v1/chat/completions');
      assert.equal(request.body.model, model);
      assert.equal(request.headers.authorization, 'Bearer sk-scripted-openai');
    } else if (kind === 'anthropic') {
      assert.equal(request.path, '/v1/messages');
      assert.equal(request.body.model, model);
      assert.equal(request.headers['x-api-key'], 'sk-ant-scripted');
    } else {
      assert.ok([`/v1beta/models/${model}:generateContent`, `/v1beta/models/${model}:streamGenerateContent`].includes(request.path), request.path);
      assert.equal(request.headers['x-goog-api-key'], 'scripted-gemini-key');
    }
  }
  if (count !== undefined) assert.equal(requests.length, count, `expected ${count} provider requests, got ${requests.length}`);
  return requests;
}

function isStream(kind, request) {
  if (kind === 'gemini') return request.path.endsWith(':streamGenerateContent') && request.query === 'alt=sse';
  return request.body.stream === true;
}

const textOf = (content) => (typeof content === 'string' ? content : (content ?? []).map((p) => p.text ?? '').join(''));

function userTexts(kind, body) {
  if (kind === 'gemini') {
    return body.contents.filter((c) => (c.role ?? 'user') === 'user').flatMap((c) => c.parts.filter((p) => 'text' in p).map((p) => p.text));
  }
  return body.messages.filter((m) => m.role === 'user').map((m) => textOf(Array.isArray(m.content) ? m.content.filter((b) => b.type === 'text') : m.content));
}

// The system prompt texts the provider got, where its API wants them.
function systemTexts(kind, body) {
  if (kind === 'openai') return body.messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => textOf(m.content));
  if (kind === 'anthropic') return body.system === undefined ? [] : [textOf(body.system)];
  return body.systemInstruction ? [textOf(body.systemInstruction.parts)] : [];
}

// [max output tokens, temperature] as the provider got them.
function samplingSent(kind, body) {
  if (kind === 'openai') return [body.max_completion_tokens ?? body.max_tokens, body.temperature];
  if (kind === 'anthropic') return [body.max_tokens, body.temperature];
  return [body.generationConfig?.maxOutputTokens, body.generationConfig?.temperature];
}

function toolsOffered(kind, body) {
  const out = {};
  if (kind === 'openai') for (const t of body.tools ?? []) out[t.function.name] = [t.function.description, t.function.parameters];
  else if (kind === 'anthropic') for (const t of body.tools ?? []) out[t.name] = [t.description, t.input_schema];
  else for (const t of body.tools ?? []) for (const d of t.functionDeclarations ?? []) out[d.name] = [d.description, d.parameters ?? d.parametersJsonSchema];
  return out;
}

// [call name, call arguments, result text] of the tool call and result the provider was sent back.
function toolExchange(kind, body) {
  if (kind === 'openai') {
    const call = body.messages.find((m) => m.role === 'assistant' && m.tool_calls?.length).tool_calls[0];
    const result = body.messages.find((m) => m.role === 'tool');
    assert.equal(result.tool_call_id, call.id);
    return [call.function.name, JSON.parse(call.function.arguments), textOf(result.content)];
  }
  if (kind === 'anthropic') {
    const blocks = (role) => body.messages.filter((m) => m.role === role && Array.isArray(m.content)).flatMap((m) => m.content);
    const use = blocks('assistant').find((b) => b.type === 'tool_use');
    const result = blocks('user').find((b) => b.type === 'tool_result');
    assert.equal(result.tool_use_id, use.id);
    return [use.name, use.input, textOf(result.content)];
  }
  const call = body.contents.filter((c) => c.role === 'model').flatMap((c) => c.parts).find((p) => p.functionCall).functionCall;
  const response = body.contents.filter((c) => (c.role ?? 'user') === 'user').flatMap((c) => c.parts).find((p) => p.functionResponse).functionResponse;
  assert.equal(response.name, call.name);
  const payload = response.response;
  const text = payload.content ?? payload.output ?? payload.result ?? payload;
  return [call.name, call.args ?? {}, typeof text === 'string' ? text : JSON.stringify(text)];
}

// [[call name, call arguments, result text]] for every call of the last tool-calling turn and its
// result (matched by id; Gemini: in order).
function toolExchanges(kind, body) {
  const text = (content) => (typeof content === 'string' ? content : JSON.stringify(content));
  if (kind === 'openai') {
    const turn = body.messages.findLastIndex((m) => m.role === 'assistant' && m.tool_calls?.length);
    const results = Object.fromEntries(body.messages.slice(turn + 1).filter((m) => m.role === 'tool').map((m) => [m.tool_call_id, textOf(m.content)]));
    return body.messages[turn].tool_calls.map((c) => [c.function.name, JSON.parse(c.function.arguments), results[c.id]]);
  }
  if (kind === 'anthropic') {
    const turn = body.messages.findLastIndex((m) => m.role === 'assistant' && Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_use'));
    const results = Object.fromEntries(body.messages[turn + 1].content.filter((b) => b.type === 'tool_result').map((b) => [b.tool_use_id, textOf(b.content)]));
    return body.messages[turn].content.filter((b) => b.type === 'tool_use').map((b) => [b.name, b.input, results[b.id]]);
  }
  const turn = body.contents.findLastIndex((c) => c.role === 'model' && c.parts.some((p) => p.functionCall));
  const calls = body.contents[turn].parts.filter((p) => p.functionCall).map((p) => p.functionCall);
  const responses = body.contents[turn + 1].parts.filter((p) => p.functionResponse).map((p) => p.functionResponse);
  assert.equal(responses.length, calls.length);
  return calls.map((call, i) => {
    assert.equal(responses[i].name, call.name);
    const payload = responses[i].response;
    return [call.name, call.args ?? {}, text(payload.content ?? payload.output ?? payload.result ?? payload)];
  });
}

// [how, schema]: how the provider was asked for a structured answer, and the schema it got.
function structuredRequest(kind, body) {
  if (kind === 'openai') {
    if (body.response_format?.type === 'json_schema') return ['json_schema', body.response_format.json_schema.schema];
    if (body.tool_choice?.function) return ['tool', toolsOffered(kind, body)[body.tool_choice.function.name][1]];
    if (body.tool_choice === 'required' && body.tools?.length === 1) return ['tool', body.tools[0].function.parameters];
  } else if (kind === 'anthropic') {
    const format = body.output_config?.format ?? body.output_format;
    if (format) return ['json_schema', format.schema];
    if (body.tool_choice?.type === 'tool') return ['tool', toolsOffered(kind, body)[body.tool_choice.name][1]];
    if (body.tool_choice?.type === 'any' && body.tools?.length === 1) return ['tool', body.tools[0].input_schema];
  } else {
    const config = body.generationConfig ?? {};
    if (config.responseMimeType === 'application/json') return ['json_schema', config.responseJsonSchema ?? config.responseSchema];
    const calling = body.toolConfig?.functionCallingConfig ?? {};
    if (calling.mode === 'ANY' && calling.allowedFunctionNames?.length === 1) return ['tool', toolsOffered(kind, body)[calling.allowedFunctionNames[0]][1]];
    const offered = Object.values(toolsOffered(kind, body));
    if (calling.mode === 'ANY' && offered.length === 1) return ['tool', offered[0][1]];
  }
  assert.fail(`the ${kind} provider was not asked for a structured answer: ${JSON.stringify(body)}`);
}

function assertWeatherSchema(schema) {
  assert.ok(schema, 'no schema');
  assert.deepEqual(Object.keys(schema.properties).sort(), ['city', 'temperature_c']);
  assert.equal(schema.properties.city.type.toLowerCase(), 'string');
  assert.ok(['number', 'integer'].includes(schema.properties.temperature_c.type.toLowerCase()));
  assert.deepEqual([...(schema.required ?? [])].sort(), ['city', 'temperature_c']);
}

const weatherSchema = z.object({ city: z.string(), temperature_c: z.number() });

// ------------------------------------------------------------------------------------------ cells

for (const [surface, makeModel] of Object.entries(SURFACES)) {
  for (const [kind, alias] of Object.entries(KINDS)) {
    const model = makeModel(alias);

    cell(`aisdk/${surface}/${kind}/text`, async (id) => {
      const marker = nonce(id);
      const result = await generateText({
        model, system: SYSTEM, prompt: `Say hello ${marker}`, maxRetries: 0, maxOutputTokens: MAX_TOKENS, temperature: TEMPERATURE,
      });
      assert.equal(result.text, TEXT);
      assert.equal(result.finishReason, 'stop');
      assert.deepEqual([result.usage.inputTokens, result.usage.outputTokens], [11, 7]);
      const [request] = await received(marker, kind, 1);
      assert.ok(!isStream(kind, request));
      assert.ok(userTexts(kind, request.body).some((text) => text.includes(marker)));
      assert.deepEqual(systemTexts(kind, request.body), [SYSTEM]);
      assert.deepEqual(samplingSent(kind, request.body), [MAX_TOKENS, TEMPERATURE]);
    });

    cell(`aisdk/${surface}/${kind}/stream`, async (id) => {
      const marker = nonce(id);
      let failure;
      const result = streamText({ model, system: SYSTEM, prompt: `Say hello ${marker}`, maxRetries: 0, onError: ({ error }) => { failure = error; } });
      const pieces = [];
      for await (const piece of result.textStream) pieces.push(piece);
      if (failure) throw failure;
      assert.equal(pieces.join(''), TEXT);
      assert.ok(pieces.filter(Boolean).length > 1, `one chunk, not a stream: ${JSON.stringify(pieces)}`);
      assert.equal(await result.finishReason, 'stop');
      const usage = await result.usage;
      assert.deepEqual([usage.inputTokens, usage.outputTokens], [11, 7]);
      const [request] = await received(marker, kind, 1);
      assert.ok(isStream(kind, request));
      assert.deepEqual(systemTexts(kind, request.body), [SYSTEM]);
    });

    cell(`aisdk/${surface}/${kind}/tool`, async (id) => {
      const marker = nonce(id);
      const executed = [];
      const result = await generateText({
        model,
        prompt: `What is the weather in Paris? ${marker}`,
        maxRetries: 0,
        stopWhen: isStepCount(2),
        tools: {
          get_weather: tool({
            description: WEATHER_TOOL_DESCRIPTION,
            inputSchema: z.object({ city: z.string() }),
            execute: async (input) => { executed.push(input); return TOOL_OUTPUT; },
          }),
        },
      });
      assert.deepEqual(executed, [WEATHER_ARGS]);
      assert.equal(result.steps.length, 2);
      assert.deepEqual(result.steps[0].toolCalls.map((c) => [c.toolName, c.input]), [['get_weather', WEATHER_ARGS]]);
      const [first, second] = await received(marker, kind, 2);
      const [description, parameters] = toolsOffered(kind, first.body).get_weather;
      assert.equal(description, WEATHER_TOOL_DESCRIPTION);
      assert.deepEqual(Object.keys(parameters.properties), ['city']);
      const [name, args, output] = toolExchange(kind, second.body);
      assert.deepEqual([name, args], ['get_weather', WEATHER_ARGS]);
      assert.ok(output.includes(TOOL_OUTPUT), output);
      assert.equal(result.text, `Weather report: ${output}`);
    });

    cell(`aisdk/${surface}/${kind}/stream-tool`, async (id) => {
      const marker = nonce(id);
      const executed = [];
      let failure;
      const result = streamText({
        model,
        prompt: `What is the weather in Paris? ${marker}`,
        maxRetries: 0,
        stopWhen: isStepCount(2),
        onError: ({ error }) => { failure = error; },
        tools: {
          get_weather: tool({
            description: WEATHER_TOOL_DESCRIPTION,
            inputSchema: z.object({ city: z.string() }),
            execute: async (input) => { executed.push(input); return TOOL_OUTPUT; },
          }),
        },
      });
      const pieces = [];
      for await (const piece of result.textStream) pieces.push(piece);
      if (failure) throw failure;
      assert.deepEqual(executed, [WEATHER_ARGS]);
      const steps = await result.steps;
      assert.equal(steps.length, 2);
      assert.deepEqual(steps[0].toolCalls.map((c) => [c.toolName, c.input]), [['get_weather', WEATHER_ARGS]]);
      const [first, second] = await received(marker, kind, 2);
      assert.ok(isStream(kind, first) && isStream(kind, second));
      const [name, args, output] = toolExchange(kind, second.body);
      assert.deepEqual([name, args], ['get_weather', WEATHER_ARGS]);
      assert.ok(output.includes(TOOL_OUTPUT), output);
      assert.equal(pieces.join(''), `Weather report: ${output}`);
    });

    cell(`aisdk/${surface}/${kind}/parallel-tools`, async (id) => {
      // Two tool calls in one turn, both results sent back in the provider's shape.
      const marker = nonce(id);
      const result = await generateText({
        model,
        prompt: `What is the weather in Paris and in Berlin? ${PARALLEL} ${marker}`,
        maxRetries: 0,
        stopWhen: isStepCount(2),
        tools: {
          get_weather: tool({
            description: WEATHER_TOOL_DESCRIPTION,
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }) => `${city}: ${TOOL_OUTPUT}`,
          }),
        },
      });
      assert.deepEqual(result.steps[0].toolCalls.map((c) => [c.toolName, c.input]), [['get_weather', WEATHER_ARGS], ['get_weather', WEATHER_ARGS_2]]);
      const [, second] = await received(marker, kind, 2);
      const exchanges = toolExchanges(kind, second.body);
      assert.deepEqual(exchanges.map(([name, args]) => [name, args]), [['get_weather', WEATHER_ARGS], ['get_weather', WEATHER_ARGS_2]]);
      const results = exchanges.map(([, , output]) => output);
      assert.ok(results[0].includes(`Paris: ${TOOL_OUTPUT}`) && results[1].includes(`Berlin: ${TOOL_OUTPUT}`), JSON.stringify(results));
      assert.equal(result.text, `Weather report: ${results.join(' | ')}`);
    });

    cell(`aisdk/${surface}/${kind}/structured`, async (id) => {
      const marker = nonce(id);
      const result = await generateText({
        model,
        prompt: `Weather in Paris as JSON ${marker}`,
        maxRetries: 0,
        output: Output.object({ schema: weatherSchema }),
      });
      assert.deepEqual(result.output, STRUCTURED);
      const [request] = await received(marker, kind, 1);
      const [, schema] = structuredRequest(kind, request.body);
      assertWeatherSchema(schema);
    });

    if (surface === 'anthropic') {
      // For a model id it does not know (an Apex alias), @ai-sdk/anthropic asks for structured output
      // through a forced `json` tool; with outputFormat it sends Anthropic's output_config.format.
      cell(`aisdk/${surface}/${kind}/structured-output-format`, async (id) => {
        const marker = nonce(id);
        const result = await generateText({
          model,
          prompt: `Weather in Paris as JSON ${marker}`,
          maxRetries: 0,
          output: Output.object({ schema: weatherSchema }),
          providerOptions: { anthropic: { structuredOutputMode: 'outputFormat' } },
        });
        assert.deepEqual(result.output, STRUCTURED);
        const [request] = await received(marker, kind, 1);
        const [how, schema] = structuredRequest(kind, request.body);
        assert.equal(how, 'json_schema');
        assertWeatherSchema(schema);
      });
    }

    cell(`aisdk/${surface}/${kind}/error`, async (id) => {
      // The provider's 400 reaches the SDK as a 400 with the provider's message, and is not retried.
      const marker = nonce(id);
      const error = await generateText({ model, prompt: `Say hello ${SCRIPTED_ERROR} ${marker}`, maxRetries: 0 }).then(
        () => assert.fail('no error'),
        (e) => e,
      );
      const response = await fetch(`${PROVIDER_URL}/_scripted/requests?contains=${encodeURIComponent(marker)}`);
      const { requests } = await response.json();
      assert.deepEqual(requests.map((r) => r.status), [400]);
      assert.equal(error.statusCode, 400, String(error));
      assert.ok(String(error.message).includes('scripted rejection'), error.message);
    });

    cell(`aisdk/${surface}/${kind}/object`, async (id) => {
      const marker = nonce(id);
      const result = await generateObject({ model, prompt: `Weather in Paris as JSON ${marker}`, maxRetries: 0, schema: weatherSchema });
      assert.deepEqual(result.object, STRUCTURED);
      const [request] = await received(marker, kind, 1);
      const [, schema] = structuredRequest(kind, request.body);
      assertWeatherSchema(schema);
    });
  }
}
