//! The `wasi:http/incoming-handler` export: configuration, CORS, auth and the route table.

use std::sync::OnceLock;

use wasip2::http::types::{IncomingRequest, Method, ResponseOutparam};

use crate::bindings::config_store;
use crate::config::{self, Config};
use crate::error::{ApiError, ErrorFormat};
use crate::transport::{self, header_list};
use crate::{auth, cors, dispatch, surfaces};

struct Router;

impl wasip2::exports::http::incoming_handler::Guest for Router {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        handle(request, out);
    }
}

wasip2::http::proxy::export!(Router);

/// A variable from the host (Spin variables, the local host's environment).
pub fn variable(name: &str) -> Option<String> {
    config_store::get(name).ok().flatten()
}

/// The config, parsed once per instance (instances may serve many requests).
fn config() -> &'static Result<Config, String> {
    static CONFIG: OnceLock<Result<Config, String>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let text = variable(config::CONFIG_VARIABLE);
        let config = config::load(text.as_deref(), &variable)?;
        config.check_kinds(&crate::bindings::adapter::kinds())?;
        Ok(config)
    })
}

fn json_headers(extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend_from_slice(extra);
    headers
}

/// Send `error` in a client protocol's format.
pub fn send_error(
    out: ResponseOutparam,
    error: &ApiError,
    format: ErrorFormat,
    extra: &[(String, String)],
) {
    let mut headers = json_headers(extra);
    if let Some(secs) = error.retry_after_secs {
        headers.push(("retry-after".to_string(), secs.to_string()));
    }
    transport::respond(out, error.status, headers, &error.body(format));
}

/// The error format of the protocol a path belongs to (so even a failed auth answers in it).
fn error_format(path: &str) -> ErrorFormat {
    if path.starts_with("/v1/messages") {
        ErrorFormat::Anthropic
    } else {
        ErrorFormat::OpenAi
    }
}

fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let headers = header_list(&request.headers());
    let method = request.method();
    let path_and_query = request.path_with_query().unwrap_or_else(|| "/".to_string());
    let path = path_and_query.split('?').next().unwrap_or("/").to_string();

    let config = match config() {
        Ok(config) => config,
        Err(problem) => {
            let error = ApiError::internal(format!("Gateway configuration error: {problem}"));
            return send_error(out, &error, error_format(&path), &[]);
        }
    };

    let origin = apex_adapter_kit::http::header(&headers, "origin");
    let allowed = cors::allow_origin(&config.cors_origins, origin);
    if matches!(method, Method::Options) {
        let preflight = match &allowed {
            Some(allow) => cors::preflight_headers(
                allow,
                apex_adapter_kit::http::header(&headers, "access-control-request-headers"),
            ),
            None => Vec::new(),
        };
        return transport::respond(out, 204, preflight, b"");
    }
    let cors_headers = allowed
        .as_deref()
        .map(cors::response_headers)
        .unwrap_or_default();

    // Unauthenticated: liveness and the root that clients probe.
    match (&method, path.as_str()) {
        (Method::Get | Method::Head, "/health") => {
            return transport::respond(
                out,
                200,
                json_headers(&cors_headers),
                br#"{"status":"ok"}"#,
            );
        }
        (Method::Get | Method::Head, "/") => {
            let mut headers = cors_headers.clone();
            headers.push(("content-type".to_string(), "text/plain".to_string()));
            return transport::respond(out, 200, headers, b"Apex is running");
        }
        _ => {}
    }

    let errors = error_format(&path);
    if !config.gateway_keys.is_empty()
        && auth::authenticate(&config.gateway_keys, auth::presented_key(&headers)).is_none()
    {
        return send_error(out, &ApiError::unauthorized(), errors, &cors_headers);
    }
    let client = dispatch::Client {
        headers: &headers,
        cors: &cors_headers,
    };
    let body = |request: &IncomingRequest| {
        transport::read_request_body(request, &headers, config.max_body_bytes)
    };

    let route = path.strip_prefix("/v1").unwrap_or(&path);
    match (method, route) {
        (Method::Get, "/models") => transport::respond(
            out,
            200,
            json_headers(&cors_headers),
            &surfaces::models::render(config),
        ),
        (Method::Post, "/chat/completions") => match body(&request) {
            Ok(body) => {
                dispatch::chat::<surfaces::openai_chat::OpenAiChat>(config, &client, body, out)
            }
            Err(error) => send_error(out, &error, errors, &cors_headers),
        },
        (Method::Post, "/messages") => match body(&request) {
            Ok(body) => dispatch::chat::<surfaces::anthropic_messages::AnthropicMessages>(
                config, &client, body, out,
            ),
            Err(error) => send_error(out, &error, errors, &cors_headers),
        },
        (Method::Post, "/messages/count_tokens") => match body(&request) {
            Ok(body) => dispatch::count_tokens(config, &client, body, out),
            Err(error) => send_error(out, &error, errors, &cors_headers),
        },
        (_, "/models" | "/chat/completions" | "/messages" | "/messages/count_tokens") => {
            send_error(out, &ApiError::method_not_allowed(), errors, &cors_headers)
        }
        _ => send_error(
            out,
            &ApiError::not_found(format!("No route for {path}.")),
            errors,
            &cors_headers,
        ),
    }
}
