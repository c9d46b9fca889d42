//! `apex-bare-proxy`: the least any HTTP/1 reverse proxy does, as a baseline for the benchmark.
//!
//! A hyper server on one thread that forwards each request, its body streamed, to `--upstream`
//! over pooled keep-alive connections and streams the answer back — no Wasm, no parsing, no
//! routing, no logs. `apex-bench` runs it pinned to the gateway's CPU next to Apex: what it adds
//! over calling the provider directly is what this machine charges any gateway (the loopback
//! hops, the wake-ups between CPUs, hyper), so the rest of what Apex adds is Apex's own.
//!
//! `apex-bare-proxy --upstream http://127.0.0.1:PORT [--listen 127.0.0.1:0]` prints
//! `listening on ADDR`.

use anyhow::{Context, Result};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Upstream = Client<HttpConnector, Incoming>;

/// The same request to the upstream (its path, method, headers and body stream), the answer
/// as it comes; a 502 when the upstream cannot be reached.
async fn forward(
    request: Request<Incoming>,
    client: Upstream,
    upstream: std::sync::Arc<str>,
) -> Result<Response<http_body_util::Either<Incoming, String>>, std::convert::Infallible> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("{upstream}{path}").parse() else {
        return Ok(failure(StatusCode::BAD_REQUEST, "bad path"));
    };
    parts.uri = uri;
    parts.headers.remove(hyper::header::HOST);
    match client.request(Request::from_parts(parts, body)).await {
        Ok(answer) => Ok(answer.map(http_body_util::Either::Left)),
        Err(error) => Ok(failure(StatusCode::BAD_GATEWAY, &error.to_string())),
    }
}

fn failure(
    status: StatusCode,
    message: &str,
) -> Response<http_body_util::Either<Incoming, String>> {
    let mut response = Response::new(http_body_util::Either::Right(message.to_string()));
    *response.status_mut() = status;
    response
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut listen = "127.0.0.1:0".to_string();
    let mut upstream = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().context("--listen needs a value")?,
            "--upstream" => upstream = Some(args.next().context("--upstream needs a value")?),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let upstream: std::sync::Arc<str> = upstream
        .context("--upstream http://HOST:PORT is required")?
        .trim_end_matches('/')
        .into();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(2048)
        .build(connector);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                forward(request, client.clone(), upstream.clone())
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
