//! Serves the app over HTTP/1.1 on a local listener.

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::App;

/// Accept connections until the listener fails; each connection is served on its own task.
pub async fn serve(app: Arc<App>, listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let app = Arc::clone(&app);
                async move {
                    match app.handle(request).await {
                        Ok(response) => Ok::<_, std::convert::Infallible>(response),
                        Err(e) if e.downcast_ref::<crate::app::Busy>().is_some() => {
                            eprintln!("apex: {e:#}");
                            Ok(error_response(hyper::StatusCode::SERVICE_UNAVAILABLE, BUSY))
                        }
                        Err(e) => {
                            eprintln!("apex: request failed: {e:#}");
                            Ok(error_response(
                                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                                INTERNAL,
                            ))
                        }
                    }
                }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

const INTERNAL: &[u8] =
    br#"{"error":{"message":"Internal gateway error.","type":"api_error","param":null,"code":null}}"#;
const BUSY: &[u8] = br#"{"error":{"message":"The gateway is at capacity; retry shortly.","type":"api_error","param":null,"code":"gateway_busy"}}"#;

fn error_response(
    status: hyper::StatusCode,
    body: &'static [u8],
) -> hyper::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody> {
    use http_body_util::{BodyExt, Full};
    let body = Full::new(bytes::Bytes::from_static(body))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if status == hyper::StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
    }
    response
}
