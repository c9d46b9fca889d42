// wasi:http@0.2 (`types` and `outgoing-handler`) for a Worker, on the Fetch API and web streams.
//
// jco's preview2-shim has a browser wasi:http too, but it buffers a response body until the guest
// finishes it, so a server-sent-event stream would arrive all at once. Here the response is handed
// to the runtime as soon as the guest sets it (`response-outparam.set`) and its body is a web
// stream the guest writes into, with backpressure: a write waits until the runtime has taken the
// previous one. Streams, pollables and errors are the shim's wasi:io, so they are the same
// resources the rest of the component sees.

import { inputStreamCreate, ioErrorCreate, outputStreamCreate, pollableCreate } from "@bytecodealliance/preview2-shim/io";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const symbolDispose = Symbol.dispose || Symbol.for("dispose");

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Hop-by-hop headers: the runtime owns the connection and the framing.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"]);
// How much the guest may write before it has to wait for the runtime to take it.
const WRITE_PERMIT = 1n << 20n;

function invalidSyntax() {
  return { tag: "invalid-syntax" };
}

function bytes(value) {
  return value instanceof Uint8Array ? value.slice() : encoder.encode(String(value));
}

function checkName(name) {
  if (!TOKEN.test(name)) throw invalidSyntax();
}

function checkValue(value) {
  for (const b of value) {
    // field-value = *( VCHAR / obs-text / SP / HTAB ); no CR, LF or NUL
    if (b === 0 || b === 10 || b === 13) throw invalidSyntax();
  }
}

const locked = new WeakSet();

class Fields {
  #entries = [];

  static fromList(list) {
    const fields = new Fields();
    for (const [name, value] of list) {
      checkName(name);
      checkValue(value);
      fields.#entries.push([name, bytes(value)]);
    }
    return fields;
  }

  #mutable() {
    if (locked.has(this)) throw { tag: "immutable" };
  }

  get(name) {
    const lower = name.toLowerCase();
    return this.#entries.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v.slice());
  }

  has(name) {
    const lower = name.toLowerCase();
    return this.#entries.some(([n]) => n.toLowerCase() === lower);
  }

  set(name, values) {
    this.#mutable();
    checkName(name);
    values.forEach(checkValue);
    const lower = name.toLowerCase();
    this.#entries = this.#entries.filter(([n]) => n.toLowerCase() !== lower);
    for (const value of values) this.#entries.push([name, bytes(value)]);
  }

  delete(name) {
    this.#mutable();
    checkName(name);
    const lower = name.toLowerCase();
    this.#entries = this.#entries.filter(([n]) => n.toLowerCase() !== lower);
  }

  append(name, value) {
    this.#mutable();
    checkName(name);
    checkValue(value);
    this.#entries.push([name, bytes(value)]);
  }

  entries() {
    return this.#entries.map(([n, v]) => [n, v.slice()]);
  }

  clone() {
    const copy = new Fields();
    copy.#entries = this.entries();
    return copy;
  }
}

function lock(fields) {
  locked.add(fields);
  return fields;
}

function fieldsFromHeaders(headers) {
  const list = [];
  headers.forEach((value, name) => list.push([name, encoder.encode(value)]));
  return lock(Fields.fromList(list));
}

/** Web Headers from wasi fields (hop-by-hop and undecodable ones left out). */
function headersFromFields(fields, skip = HOP_BY_HOP) {
  const headers = new Headers();
  for (const [name, value] of fields.entries()) {
    if (skip.has(name.toLowerCase())) continue;
    try {
      headers.append(name, decoder.decode(value));
    } catch {
      // not a valid ByteString: a header the Fetch API cannot carry
    }
  }
  return headers;
}

function ioFailure(cause) {
  return { tag: "last-operation-failed", val: ioErrorCreate(cause instanceof Error ? cause.message : String(cause)) };
}

/** A wasi input-stream reading a web ReadableStream (or nothing) chunk by chunk. */
function readableInputStream(readable) {
  const reader = readable ? readable.getReader() : null;
  let chunk = null;
  let offset = 0;
  let done = reader === null;
  let failure = null;
  let pending = null;

  function ready() {
    return chunk !== null || done || failure !== null;
  }

  function pull() {
    if (pending || ready()) return pending;
    pending = reader.read().then(
      (result) => {
        pending = null;
        if (result.done) done = true;
        else if (result.value && result.value.byteLength > 0) {
          chunk = result.value instanceof Uint8Array ? result.value : new Uint8Array(result.value);
          offset = 0;
        }
      },
      (error) => {
        pending = null;
        failure = error ?? new Error("stream failed");
      },
    );
    return pending;
  }

  async function waitReady() {
    while (!ready()) await pull();
  }

  function take(len) {
    if (chunk !== null) {
      const n = Math.min(Number(len), chunk.byteLength - offset);
      const out = chunk.slice(offset, offset + n);
      offset += n;
      if (offset >= chunk.byteLength) {
        chunk = null;
        pull(); // read ahead
      }
      return out;
    }
    if (failure !== null) {
      const error = failure;
      failure = null;
      done = true;
      throw ioFailure(error);
    }
    if (done) throw { tag: "closed" };
    pull();
    return new Uint8Array(0);
  }

  return inputStreamCreate({
    read: take,
    blockingRead(len) {
      if (len === 0n || ready()) return take(len);
      return waitReady().then(() => take(len));
    },
    subscribe() {
      return pollableCreate({
        ready() {
          if (!ready()) pull();
          return ready();
        },
        wait: waitReady,
      });
    },
    drop() {
      if (!done && reader) reader.cancel().catch(() => {});
      done = true;
      chunk = null;
    },
  });
}

/** Where an outgoing body's bytes go: kept in memory (a request to send) or a web stream (a response). */
class BufferSink {
  #chunks = [];
  write(chunk) {
    this.#chunks.push(chunk);
  }
  idle() {
    return true;
  }
  wait() {
    return undefined;
  }
  close() {}
  abort() {}
  bytes() {
    let length = 0;
    for (const c of this.#chunks) length += c.byteLength;
    const out = new Uint8Array(length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

class StreamSink {
  #writer;
  #pending = null;
  #failure = null;
  constructor(writable) {
    this.#writer = writable.getWriter();
  }
  write(chunk) {
    if (this.#failure) throw ioFailure(this.#failure);
    const write = this.#writer.write(chunk).then(
      () => {
        if (this.#pending === write) this.#pending = null;
      },
      (error) => {
        if (this.#pending === write) this.#pending = null;
        this.#failure = error ?? new Error("client went away");
      },
    );
    this.#pending = write;
  }
  idle() {
    return this.#pending === null;
  }
  /** Wait until the runtime took what was written; fail if the client went away. */
  wait() {
    const check = () => {
      if (this.#failure) throw ioFailure(this.#failure);
    };
    if (this.#pending) return this.#pending.then(check);
    check();
    return undefined;
  }
  close() {
    this.#writer.close().catch(() => {});
  }
  abort(reason) {
    this.#writer.abort(reason).catch(() => {});
  }
  failed() {
    return this.#failure !== null;
  }
}

class OutgoingBody {
  #sink;
  #stream = null;
  #taken = false;
  #finished = false;
  #done;
  #whenDone = new Promise((resolve) => (this.#done = resolve));

  constructor(sink) {
    this.#sink = sink;
  }

  write() {
    if (this.#taken) throw undefined;
    this.#taken = true;
    const sink = this.#sink;
    const body = this;
    this.#stream = outputStreamCreate({
      checkWrite() {
        if (body.#finished || sink.failed?.()) throw { tag: "closed" };
        return sink.idle() ? WRITE_PERMIT : 0n;
      },
      write(buf) {
        sink.write(buf.slice());
      },
      blockingWriteAndFlush(buf) {
        sink.write(buf.slice());
        return sink.wait();
      },
      flush() {},
      blockingFlush() {
        return sink.wait();
      },
      subscribe() {
        return pollableCreate({ ready: () => sink.idle(), wait: () => sink.wait()?.catch(() => {}) });
      },
    });
    return this.#stream;
  }

  static finish(body, trailers) {
    if (body.#finished) throw { tag: "internal-error", val: "body already finished" };
    body.#finished = true;
    // Trailers cannot be sent through the Fetch API; they are dropped.
    void trailers;
    body.#sink.close();
    body.#done(true);
  }

  /** Resolves with true when finished, false when dropped unfinished (a corrupted body). */
  static whenDone(body) {
    return body.#whenDone;
  }

  static sink(body) {
    return body.#sink;
  }

  [symbolDispose]() {
    if (!this.#finished) {
      this.#finished = true;
      this.#sink.abort(new Error("body dropped before it was finished"));
      this.#done(false);
    }
  }
}

class FutureTrailers {
  #taken = false;
  subscribe() {
    return pollableCreate();
  }
  get() {
    if (this.#taken) return { tag: "err", val: undefined };
    this.#taken = true;
    return { tag: "ok", val: { tag: "ok", val: undefined } };
  }
}

class IncomingBody {
  #stream;
  #taken = false;
  constructor(readable) {
    this.#stream = readableInputStream(readable);
  }
  stream() {
    if (this.#taken) throw undefined;
    this.#taken = true;
    return this.#stream;
  }
  static finish(body) {
    void body;
    return new FutureTrailers();
  }
  [symbolDispose]() {
    if (!this.#taken) this.#stream[symbolDispose]?.();
  }
}

const METHODS = new Set(["get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"]);

function methodVariant(name) {
  const lower = name.toLowerCase();
  return METHODS.has(lower) ? { tag: lower } : { tag: "other", val: name };
}

function methodName(method) {
  return method.tag === "other" ? method.val : method.tag.toUpperCase();
}

class IncomingRequest {
  #method;
  #pathWithQuery;
  #scheme;
  #authority;
  #headers;
  #body;
  #consumed = false;

  constructor(request) {
    const url = new URL(request.url);
    this.#method = methodVariant(request.method);
    this.#pathWithQuery = url.pathname + url.search;
    const scheme = url.protocol.slice(0, -1);
    this.#scheme = scheme === "http" ? { tag: "HTTP" } : scheme === "https" ? { tag: "HTTPS" } : { tag: "other", val: scheme };
    this.#authority = url.host;
    this.#headers = fieldsFromHeaders(request.headers);
    this.#body = request.body;
  }
  method() {
    return this.#method;
  }
  pathWithQuery() {
    return this.#pathWithQuery;
  }
  scheme() {
    return this.#scheme;
  }
  authority() {
    return this.#authority;
  }
  headers() {
    return this.#headers;
  }
  consume() {
    if (this.#consumed) throw undefined;
    this.#consumed = true;
    return new IncomingBody(this.#body);
  }
}

class IncomingResponse {
  #status;
  #headers;
  #body;
  #consumed = false;
  constructor(response) {
    this.#status = response.status;
    this.#headers = fieldsFromHeaders(response.headers);
    this.#body = response.body;
  }
  status() {
    return this.#status;
  }
  headers() {
    return this.#headers;
  }
  consume() {
    if (this.#consumed) throw undefined;
    this.#consumed = true;
    return new IncomingBody(this.#body);
  }
}

class RequestOptions {
  #connect;
  #firstByte;
  #betweenBytes;
  connectTimeout() {
    return this.#connect;
  }
  setConnectTimeout(duration) {
    this.#connect = duration;
  }
  firstByteTimeout() {
    return this.#firstByte;
  }
  setFirstByteTimeout(duration) {
    this.#firstByte = duration;
  }
  betweenBytesTimeout() {
    return this.#betweenBytes;
  }
  setBetweenBytesTimeout(duration) {
    this.#betweenBytes = duration;
  }
}

class OutgoingRequest {
  #headers;
  #method = { tag: "get" };
  #scheme;
  #authority;
  #pathWithQuery;
  #body = new OutgoingBody(new BufferSink());
  #bodyTaken = false;

  constructor(headers) {
    this.#headers = lock(headers);
  }
  body() {
    if (this.#bodyTaken) throw undefined;
    this.#bodyTaken = true;
    return this.#body;
  }
  method() {
    return this.#method;
  }
  setMethod(method) {
    if (method.tag === "other" && !TOKEN.test(method.val)) throw undefined;
    this.#method = method;
  }
  pathWithQuery() {
    return this.#pathWithQuery;
  }
  setPathWithQuery(path) {
    if (path !== undefined && !/^[!-~]*$/.test(path)) throw undefined;
    this.#pathWithQuery = path;
  }
  scheme() {
    return this.#scheme;
  }
  setScheme(scheme) {
    if (scheme?.tag === "other" && !/^[a-zA-Z][a-zA-Z0-9+.-]*$/.test(scheme.val)) throw undefined;
    this.#scheme = scheme;
  }
  authority() {
    return this.#authority;
  }
  setAuthority(authority) {
    if (authority !== undefined && !/^[!-~]*$/.test(authority)) throw undefined;
    this.#authority = authority;
  }
  headers() {
    return this.#headers;
  }

  /** The pieces of a fetch() call; the body once the guest finishes it. */
  static toFetch(request) {
    const scheme = request.#scheme?.tag === "HTTP" ? "http" : request.#scheme?.tag === "other" ? request.#scheme.val.toLowerCase() : "https";
    if (scheme !== "http" && scheme !== "https") throw { tag: "HTTP-protocol-error" };
    if (!request.#authority) throw { tag: "HTTP-request-URI-invalid" };
    let url;
    try {
      url = new URL(`${scheme}://${request.#authority}${request.#pathWithQuery ?? "/"}`);
    } catch {
      throw { tag: "HTTP-request-URI-invalid" };
    }
    const method = methodName(request.#method);
    const body = request.#bodyTaken
      ? OutgoingBody.whenDone(request.#body).then((finished) => {
          if (!finished) throw new Error("request body dropped before it was finished");
          return OutgoingBody.sink(request.#body).bytes();
        })
      : Promise.resolve(null);
    return { url, method, headers: headersFromFields(request.#headers), body };
  }
}

class OutgoingResponse {
  #headers;
  #status = 200;
  #body = null;

  constructor(headers) {
    this.#headers = lock(headers);
  }
  statusCode() {
    return this.#status;
  }
  setStatusCode(status) {
    if (!Number.isInteger(status) || status < 100 || status > 999) throw undefined;
    this.#status = status;
  }
  headers() {
    return this.#headers;
  }
  body() {
    if (this.#body) throw undefined;
    // A declared length becomes a FixedLengthStream (workerd's), so the client gets a
    // content-length instead of a chunked body; anything else streams as it is written.
    const length = Number(decoder.decode(this.#headers.get("content-length")[0] ?? new Uint8Array()));
    const pipe = typeof FixedLengthStream === "function" && this.#headers.get("content-length").length === 1 && Number.isSafeInteger(length) && length >= 0
      ? new FixedLengthStream(length)
      : new TransformStream();
    this.#body = { pipe, body: new OutgoingBody(new StreamSink(pipe.writable)) };
    return this.#body.body;
  }

  /** The web Response for this response: status and headers now, the body as it is written. */
  static toResponse(response) {
    const nullBody = [101, 204, 205, 304].includes(response.#status);
    const fixedLength = response.#body && typeof FixedLengthStream === "function" && response.#body.pipe instanceof FixedLengthStream;
    const skip = fixedLength ? HOP_BY_HOP : new Set([...HOP_BY_HOP, "content-length"]);
    const headers = headersFromFields(response.#headers, skip);
    let body = null;
    if (response.#body) {
      if (nullBody) response.#body.pipe.readable.cancel().catch(() => {});
      else body = response.#body.pipe.readable;
    }
    return new Response(body, { status: response.#status, headers });
  }
}

class ResponseOutparam {
  #deliver;
  #used = false;

  constructor(deliver) {
    this.#deliver = deliver;
  }

  static set(param, result) {
    if (param.#used) throw new Error("response-outparam already set");
    param.#used = true;
    if (result.tag === "ok") {
      param.#deliver(OutgoingResponse.toResponse(result.val));
    } else {
      const code = result.val;
      const detail = code.val === undefined ? code.tag : `${code.tag}: ${typeof code.val === "string" ? code.val : JSON.stringify(code.val)}`;
      param.#deliver(new Response(`internal error: ${detail}\n`, { status: 500 }));
    }
  }

  static used(param) {
    return param.#used;
  }
}

function errorCode(error) {
  if (error && typeof error === "object" && typeof error.tag === "string") return error;
  if (error?.name === "AbortError" || error?.name === "TimeoutError") return { tag: "connection-timeout" };
  return { tag: "internal-error", val: error instanceof Error ? error.message : String(error) };
}

class FutureIncomingResponse {
  #result;
  #taken = false;
  #settled;
  #abort;

  constructor(request, options) {
    const controller = new AbortController();
    this.#abort = () => controller.abort();
    // fetch() cannot tell connecting from waiting for the first byte: the status line must
    // arrive within the first-byte timeout (or the connect timeout, when that is all there is).
    const timeoutNs = options?.firstByteTimeout() ?? options?.connectTimeout();
    let timer;
    const call = OutgoingRequest.toFetch(request);
    this.#settled = call.body
      .then((body) => {
        if (timeoutNs !== undefined) {
          timer = setTimeout(() => controller.abort(), Number(timeoutNs / 1000000n));
        }
        const init = { method: call.method, headers: call.headers, redirect: "manual", signal: controller.signal };
        if (body !== null && call.method !== "GET" && call.method !== "HEAD") init.body = body;
        return fetch(call.url, init);
      })
      .then(
        (response) => {
          this.#result = { tag: "ok", val: { tag: "ok", val: new IncomingResponse(response) } };
        },
        (error) => {
          this.#result = { tag: "ok", val: { tag: "err", val: errorCode(error) } };
        },
      )
      .finally(() => clearTimeout(timer));
  }

  subscribe() {
    return pollableCreate({ ready: () => this.#result !== undefined, wait: () => this.#settled });
  }

  get() {
    if (this.#result === undefined) return undefined;
    if (this.#taken) return { tag: "err", val: undefined };
    this.#taken = true;
    return this.#result;
  }

  [symbolDispose]() {
    if (this.#result === undefined) this.#abort();
  }
}

export const outgoingHandler = {
  handle(request, options) {
    return new FutureIncomingResponse(request, options);
  },
};

export const types = {
  Fields,
  FutureIncomingResponse,
  FutureTrailers,
  IncomingBody,
  IncomingRequest,
  IncomingResponse,
  OutgoingBody,
  OutgoingRequest,
  OutgoingResponse,
  RequestOptions,
  ResponseOutparam,
  httpErrorCode(error) {
    return { tag: "internal-error", val: error?.toDebugString?.() ?? String(error) };
  },
};

/**
 * The incoming-request and response-outparam for one Worker request. `response` resolves with
 * the web Response as soon as the guest sets it; `isSet()` tells whether it did.
 */
export function incoming(request) {
  let deliver;
  const response = new Promise((resolve) => (deliver = resolve));
  const outparam = new ResponseOutparam(deliver);
  return { request: new IncomingRequest(request), outparam, response, isSet: () => ResponseOutparam.used(outparam) };
}
