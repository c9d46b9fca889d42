//! I/O over `wasi:http`: the client's request body, outbound calls to providers, and the response
//! to the client (streamed as it is written).

use apex_adapter_kit::types::HttpRequest;
use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingRequest, IncomingResponse,
    Method, OutgoingBody, OutgoingRequest, OutgoingResponse, RequestOptions, ResponseOutparam,
    Scheme,
};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use crate::config::Timeouts;
use crate::http::error::ApiError;
use crate::output::write_all;

const READ_SIZE: u64 = 64 * 1024;
const NS_PER_SEC: u64 = 1_000_000_000;
/// Header entries as strings (values that are not UTF-8 are replaced lossily).
pub fn header_list(fields: &Fields) -> Vec<(String, String)> {
    fields
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect()
}

/// The whole request body, refusing more than `limit` bytes.
pub fn read_request_body(
    request: &IncomingRequest,
    headers: &[(String, String)],
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let length = apex_adapter_kit::http::header(headers, "content-length")
        .and_then(|length| length.trim().parse::<usize>().ok());
    if length.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit));
    }
    let body = request
        .consume()
        .map_err(|()| ApiError::bad_request("request body already consumed"))?;
    let stream = body
        .stream()
        .map_err(|()| ApiError::bad_request("request body unavailable"))?;
    // Room for the whole body when its length is announced: read into place, not regrown.
    let mut bytes = Vec::with_capacity(length.unwrap_or(0));
    loop {
        match stream.blocking_read(READ_SIZE) {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > limit {
                    return Err(ApiError::too_large(limit));
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => {
                return Err(ApiError::bad_request("failed to read the request body"));
            }
        }
    }
    drop(stream);
    drop(body);
    Ok(bytes)
}

/// Why an outbound call failed before a status arrived.
#[derive(Debug)]
pub struct TransportError {
    pub timeout: bool,
    pub message: String,
}

impl TransportError {
    /// The router's own deadline passed.
    pub fn deadline(what: &str) -> Self {
        Self {
            timeout: true,
            message: format!("upstream timed out: {what}"),
        }
    }

    fn new(message: impl Into<String>) -> Self {
        Self {
            timeout: false,
            message: message.into(),
        }
    }
}

fn describe(code: &ErrorCode) -> TransportError {
    let timeout = matches!(
        code,
        ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
    );
    TransportError {
        timeout,
        message: format!("upstream connection failed: {code:?}"),
    }
}

/// A provider's reply: status and headers now, the body as it arrives.
pub struct UpstreamResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    // Field order is drop order: the pollable before its stream, the stream before its body, the
    // body before its response.
    /// Ready when the stream has bytes: made at the first wait, kept for the next ones.
    readable: Option<Pollable>,
    stream: InputStream,
    _body: IncomingBody,
    _response: IncomingResponse,
}

/// A read's outcome as the body's next bytes, its end, or why it failed.
fn chunk_or_end(read: Result<Vec<u8>, StreamError>) -> Result<Option<Vec<u8>>, TransportError> {
    match read {
        Ok(chunk) => Ok(Some(chunk)),
        Err(StreamError::Closed) => Ok(None),
        Err(StreamError::LastOperationFailed(e)) => Err(TransportError::new(format!(
            "upstream body failed: {}",
            e.to_debug_string()
        ))),
    }
}

impl UpstreamResponse {
    /// The next bytes of the body; `None` at its end.
    pub fn read(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        chunk_or_end(self.stream.blocking_read(READ_SIZE))
    }

    /// The next bytes of the body if they come within `timeout_ns`; `None` at its end.
    pub fn read_within(
        &mut self,
        timeout_ns: u64,
    ) -> Waited<Result<Option<Vec<u8>>, TransportError>> {
        // Bytes that have arrived already are taken at once: one host call, no wait set up.
        match self.stream.read(READ_SIZE) {
            Ok(chunk) if chunk.is_empty() => {}
            read => return Waited::Ready(chunk_or_end(read)),
        }
        let readable = self.readable.get_or_insert_with(|| self.stream.subscribe());
        if !ready_within(readable, timeout_ns) {
            return Waited::TimedOut;
        }
        Waited::Ready(chunk_or_end(self.stream.read(READ_SIZE)))
    }

    /// The whole body (bounded, so a runaway upstream cannot exhaust memory).
    pub fn read_all(&mut self, limit: usize) -> Result<Vec<u8>, TransportError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = self.read()? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > limit {
                return Err(TransportError::new("upstream reply is too large"));
            }
        }
        Ok(bytes)
    }
}

/// The result of waiting with a deadline.
pub enum Waited<T> {
    Ready(T),
    TimedOut,
}

/// Whether `pollable` becomes ready within `timeout_ns`. Callers have just tried what they wait
/// for (a read, the status line), so readiness is not checked again before the timer is set up:
/// a ready pollable makes the poll return at once.
fn ready_within(pollable: &Pollable, timeout_ns: u64) -> bool {
    let timer = monotonic_clock::subscribe_duration(timeout_ns);
    poll(&[pollable, &timer]).contains(&0)
}

/// A request on its way: the body is sent, the status line not yet received.
pub struct PendingResponse {
    // Field order is drop order: the pollable before its future.
    /// Ready when the status line has come.
    answered: Pollable,
    future: FutureIncomingResponse,
}

impl PendingResponse {
    /// Wait for the status line, at most `timeout_ns` (`None`: as long as the host allows).
    pub fn wait(
        &self,
        timeout_ns: Option<u64>,
    ) -> Waited<Result<UpstreamResponse, TransportError>> {
        loop {
            // Waiting first: right after the body went out the answer is not there yet, and a
            // ready one makes the wait return at once.
            match timeout_ns {
                None => self.answered.block(),
                Some(timeout) => {
                    if !ready_within(&self.answered, timeout) {
                        return Waited::TimedOut;
                    }
                }
            }
            match self.future.get() {
                Some(Ok(Ok(response))) => return Waited::Ready(receive(response)),
                Some(Ok(Err(code))) => return Waited::Ready(Err(describe(&code))),
                Some(Err(())) => {
                    return Waited::Ready(Err(TransportError::new(
                        "upstream response already taken",
                    )));
                }
                None => {}
            }
        }
    }
}

fn receive(response: IncomingResponse) -> Result<UpstreamResponse, TransportError> {
    let status = response.status();
    let headers = header_list(&response.headers());
    let body = response
        .consume()
        .map_err(|()| TransportError::new("upstream body unavailable"))?;
    let stream = body
        .stream()
        .map_err(|()| TransportError::new("upstream body stream unavailable"))?;
    Ok(UpstreamResponse {
        status,
        headers,
        readable: None,
        stream,
        _body: body,
        _response: response,
    })
}

/// Send `request` and wait for the status line.
pub fn send(
    request: &HttpRequest,
    timeouts: &Timeouts,
) -> Result<UpstreamResponse, TransportError> {
    match start(request, timeouts)?.wait(None) {
        Waited::Ready(result) => result,
        Waited::TimedOut => Err(TransportError::new("upstream did not answer")),
    }
}

/// Send `request` (its whole body); the status line is awaited with [`PendingResponse::wait`].
pub fn start(
    request: &HttpRequest,
    timeouts: &Timeouts,
) -> Result<PendingResponse, TransportError> {
    let url = crate::http::url::parse(&request.url)
        .ok_or_else(|| TransportError::new("invalid upstream URL"))?;
    let entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec()))
        .collect();
    let headers = Fields::from_list(&entries)
        .map_err(|e| TransportError::new(format!("invalid upstream header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        "PUT" => Method::Put,
        other => Method::Other(other.to_string()),
    };
    let scheme = if url.scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let set = outgoing.set_method(&method).is_ok()
        && outgoing.set_scheme(Some(&scheme)).is_ok()
        && outgoing.set_authority(Some(url.authority)).is_ok()
        && outgoing
            .set_path_with_query(Some(url.path_and_query))
            .is_ok();
    if !set {
        return Err(TransportError::new("upstream URL rejected by the host"));
    }
    let body = outgoing
        .body()
        .map_err(|()| TransportError::new("upstream request body unavailable"))?;
    let options = RequestOptions::new();
    // Hosts that do not support a timeout refuse to set it; the defaults then apply.
    // (The router also keeps its own deadlines, for hosts that do not.)
    let _ = options.set_connect_timeout(Some(timeouts.connect.saturating_mul(NS_PER_SEC)));
    let _ = options.set_first_byte_timeout(Some(timeouts.first_token.saturating_mul(NS_PER_SEC)));
    let _ = options.set_between_bytes_timeout(Some(timeouts.total.saturating_mul(NS_PER_SEC)));
    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| describe(&e))?;
    {
        let stream = body
            .write()
            .map_err(|()| TransportError::new("upstream request stream unavailable"))?;
        write_all(&stream, &request.body)
            .map_err(|_| TransportError::new("failed to send the request body upstream"))?;
    }
    OutgoingBody::finish(body, None).map_err(|e| describe(&e))?;
    Ok(PendingResponse {
        answered: future.subscribe(),
        future,
    })
}

/// A method as its name (`GET`, ...): the other way round from what [`start`] does.
pub fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.clone(),
    }
}

/// The response to the client, body written as it comes.
pub struct ClientResponse {
    stream: Option<OutputStream>,
    body: Option<OutgoingBody>,
    /// The request log has the time of the first body byte (the clock is read once, not on
    /// every event of a stream).
    first_byte_noted: bool,
}

impl ClientResponse {
    /// Send the status and headers.
    pub fn start(out: ResponseOutparam, status: u16, headers: &[(String, String)]) -> Self {
        let entries: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(name, value)| (name.clone(), value.as_bytes().to_vec()))
            .collect();
        let fields = Fields::from_list(&entries).unwrap_or_else(|_| Fields::new());
        let response = OutgoingResponse::new(fields);
        let _ = response.set_status_code(status);
        crate::http::request_log::status(status);
        let body = response.body().ok();
        ResponseOutparam::set(out, Ok(response));
        let stream = body.as_ref().and_then(|b| b.write().ok());
        Self {
            stream,
            body,
            first_byte_noted: false,
        }
    }

    /// Write bytes; `false` once the client has gone away.
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        let Some(stream) = &self.stream else {
            return false;
        };
        if !bytes.is_empty() && !self.first_byte_noted {
            self.first_byte_noted = true;
            crate::http::request_log::first_byte(crate::platform::monotonic_ms());
        }
        if write_all(stream, bytes).is_err() {
            self.stream = None;
            return false;
        }
        true
    }

    pub fn finish(mut self) {
        drop(self.stream.take());
        if let Some(body) = self.body.take() {
            let _ = OutgoingBody::finish(body, None);
        }
    }
}

/// A complete response in one go.
pub fn respond(
    out: ResponseOutparam,
    status: u16,
    mut headers: Vec<(String, String)>,
    body: &[u8],
) {
    headers.push(("content-length".to_string(), body.len().to_string()));
    let mut response = ClientResponse::start(out, status, &headers);
    response.write(body);
    response.finish();
}
