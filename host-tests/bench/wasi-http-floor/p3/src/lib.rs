//! The same as `../p2` on wasi:http@0.3: `GET /hello` answers `hello`; anything else is read
//! whole and sent, as a POST with the same path and body, to `FLOOR_UPSTREAM` (host:port), whose
//! answer is read whole and returned.

use std::sync::OnceLock;

use wasip3::http::client;
use wasip3::http::types::{ErrorCode, Fields, Method, Request, Response, Scheme};
use wasip3::{wit_bindgen, wit_future, wit_stream};

wasip3::http::service::export!(Floor);

struct Floor;

/// The upstream's `host:port`, read once per instance.
fn upstream() -> &'static str {
    static UPSTREAM: OnceLock<String> = OnceLock::new();
    UPSTREAM.get_or_init(|| {
        wasip3::cli::environment::get_environment()
            .into_iter()
            .find(|(name, _)| name == "FLOOR_UPSTREAM")
            .map(|(_, value)| value)
            .unwrap_or_else(|| "127.0.0.1:8080".to_string())
    })
}

fn json_headers() -> Fields {
    let headers = Fields::new();
    let _ = headers.append("content-type", b"application/json");
    headers
}

/// A response with `headers` whose body is `bytes`, written once the host reads it.
fn reply(headers: Fields, bytes: Vec<u8>) -> Response {
    let (mut body_tx, body_rx) = wit_stream::new();
    let (trailers_tx, trailers_rx) = wit_future::new(|| Ok(None));
    drop(trailers_tx);
    let (response, _sent) = Response::new(headers, Some(body_rx), trailers_rx);
    wit_bindgen::spawn_local(async move {
        let _ = body_tx.write_all(bytes).await;
    });
    response
}

impl wasip3::exports::http::handler::Guest for Floor {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let path = request.get_path_with_query();
        if path.as_deref() == Some("/hello") {
            return Ok(reply(Fields::new(), b"hello".to_vec()));
        }
        let (read_tx, read_rx) = wit_future::new(|| Ok(()));
        let (body, _trailers) = Request::consume_body(request, read_rx);
        let bytes = body.collect().await;
        drop(read_tx);

        let (mut body_tx, body_rx) = wit_stream::new();
        let (trailers_tx, trailers_rx) = wit_future::new(|| Ok(None));
        drop(trailers_tx);
        let (outgoing, _sent) = Request::new(json_headers(), Some(body_rx), trailers_rx, None);
        let _ = outgoing.set_method(&Method::Post);
        let _ = outgoing.set_scheme(Some(&Scheme::Http));
        let _ = outgoing.set_authority(Some(upstream()));
        let _ = outgoing.set_path_with_query(path.as_deref());
        wit_bindgen::spawn_local(async move {
            let _ = body_tx.write_all(bytes).await;
        });
        let answer = client::send(outgoing).await?;

        let (answer_read_tx, answer_read_rx) = wit_future::new(|| Ok(()));
        let (answer_body, _trailers) = Response::consume_body(answer, answer_read_rx);
        let answer_bytes = answer_body.collect().await;
        drop(answer_read_tx);
        Ok(reply(json_headers(), answer_bytes))
    }
}
