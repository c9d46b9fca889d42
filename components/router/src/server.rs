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
        // The client has its whole answer by now; deleting expired state is not on its clock.
        crate::sweep::maybe_run();
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
fn error_format(route: &str) -> ErrorFormat {
    if route.starts_with("/v1/messages") {
        ErrorFormat::Anthropic
    } else if route.starts_with("/api/") {
        ErrorFormat::Ollama
    } else {
        ErrorFormat::OpenAi
    }
}

/// `/ollama/{KEY}/rest` (for clients that cannot set headers): the key and `/rest`.
fn key_in_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/ollama/")?;
    let (key, route) = rest.split_once('/').unwrap_or((rest, ""));
    (!key.is_empty()).then_some((key, route))
}

fn text_headers(cors: &[(String, String)]) -> Vec<(String, String)> {
    let mut headers = vec![(
        "content-type".to_string(),
        "text/plain; charset=utf-8".to_string(),
    )];
    headers.extend_from_slice(cors);
    headers
}

fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let headers = header_list(&request.headers());
    let method = request.method();
    let path_and_query = request.path_with_query().unwrap_or_else(|| "/".to_string());
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query.as_str(), ""));
    let (path_key, path) = match key_in_path(path) {
        Some((key, rest)) => (Some(key.to_string()), format!("/{rest}")),
        None => (None, path.to_string()),
    };
    let errors = error_format(&path);

    let config = match config() {
        Ok(config) => config,
        Err(problem) => {
            let error = ApiError::internal(format!("Gateway configuration error: {problem}"));
            return send_error(out, &error, errors, &[]);
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

    // Unauthenticated: liveness, and the root that clients probe (Ollama clients expect this text).
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
            return transport::respond(out, 200, text_headers(&cors_headers), b"Ollama is running");
        }
        _ => {}
    }

    let presented = path_key
        .as_deref()
        .or_else(|| auth::presented_key(&headers));
    let caller = if config.gateway_keys.is_empty() {
        let authority = request.authority();
        let has_body = matches!(method, Method::Post | Method::Put | Method::Patch);
        if let Err(error) = crate::access::check_open_gateway(
            authority.as_deref(),
            &headers,
            has_body,
            &config.allowed_hosts,
            &config.cors_origins,
        ) {
            return send_error(out, &error, errors, &cors_headers);
        }
        "anonymous"
    } else {
        match auth::authenticate(&config.gateway_keys, presented) {
            Some(name) => name,
            None => return send_error(out, &ApiError::unauthorized(), errors, &cors_headers),
        }
    };
    let client = dispatch::Client {
        caller,
        headers: &headers,
        cors: &cors_headers,
        pin: None,
    };
    // A slot of the key's concurrency limit, held until the answer is complete (the body is read
    // under it too, so slow senders count).
    let _slot = match (&method, config.max_concurrent_per_key) {
        (Method::Post, Some(limit)) => {
            match crate::concurrency::acquire(
                caller,
                limit,
                dispatch::now_secs(),
                config.timeouts.total,
            ) {
                Some(slot) => slot,
                None => {
                    let error = crate::concurrency::too_many(limit);
                    return send_error(out, &error, errors, &cors_headers);
                }
            }
        }
        _ => None,
    };
    let body = match method {
        Method::Post => {
            match transport::read_request_body(&request, &headers, config.max_body_bytes) {
                Ok(body) => body,
                Err(error) => return send_error(out, &error, errors, &cors_headers),
            }
        }
        _ => Vec::new(),
    };
    route(config, &client, &method, &path, query, body, errors, out);
}

/// The route table (auth done, body read).
#[allow(clippy::too_many_arguments)]
fn route(
    config: &Config,
    client: &dispatch::Client,
    method: &Method,
    path: &str,
    query: &str,
    body: Vec<u8>,
    errors: ErrorFormat,
    out: ResponseOutparam,
) {
    use surfaces::anthropic_messages::AnthropicMessages;
    use surfaces::ollama::{self, OllamaChat, OllamaGenerate};
    use surfaces::openai_chat::OpenAiChat;
    let cors = client.cors;
    let json = |out, body: &[u8]| transport::respond(out, 200, json_headers(cors), body);
    match (method, path) {
        (Method::Get, "/v1/models" | "/models") => json(out, &surfaces::models::render(config)),
        (Method::Get, "/stats" | "/metrics") if !is_admin(config, client.caller) => {
            send_error(out, &crate::access::not_admin(), errors, cors)
        }
        (Method::Get, "/stats") => json(
            out,
            &crate::shared_state::snapshot(config).render_json(crate::shared_state::now_ms()),
        ),
        (Method::Get, "/metrics") => {
            let text = crate::shared_state::snapshot(config)
                .render_prometheus(crate::shared_state::now_ms());
            let mut headers = vec![(
                "content-type".to_string(),
                "text/plain; version=0.0.4; charset=utf-8".to_string(),
            )];
            headers.extend_from_slice(cors);
            transport::respond(out, 200, headers, text.as_bytes());
        }
        (Method::Post, "/v1/chat/completions" | "/chat/completions") => {
            dispatch::chat::<OpenAiChat>(config, client, body, out)
        }
        (Method::Post, "/v1/messages") => {
            dispatch::chat::<AnthropicMessages>(config, client, body, out)
        }
        (Method::Post, "/v1/messages/count_tokens") => {
            crate::count_tokens::count_tokens(config, client, body, out)
        }
        (Method::Post, "/v1/responses") => crate::responses_api::create(config, client, body, out),
        (Method::Get | Method::Delete | Method::Post, _) if path.starts_with("/v1/responses/") => {
            let rest = path.trim_start_matches("/v1/responses/");
            let verb = match method {
                Method::Get => "GET",
                Method::Delete => "DELETE",
                _ => "POST",
            };
            crate::responses_api::resource(config, verb, rest, query, client, out)
        }
        (Method::Post, "/api/chat") => {
            if OllamaChat::is_load(&body) {
                return ollama_load(config, client, &body, out, ollama::chat_load_reply);
            }
            dispatch::chat::<OllamaChat>(config, client, body, out)
        }
        (Method::Post, "/api/generate") => {
            if OllamaGenerate::is_load(&body) {
                return ollama_load(config, client, &body, out, ollama::load_reply);
            }
            dispatch::chat::<OllamaGenerate>(config, client, body, out)
        }
        (Method::Get | Method::Head, "/api/tags") => {
            json(out, &ollama::tags(config, dispatch::now_secs()))
        }
        (Method::Get | Method::Head, "/api/ps") => {
            json(out, &ollama::ps(config, dispatch::now_secs()))
        }
        (Method::Get | Method::Head, "/api/version") => json(out, &ollama::version()),
        (Method::Post, "/api/show") => match ollama::show(config, &body) {
            Ok(reply) => json(out, &reply),
            Err(error) => send_error(out, &error, errors, cors),
        },
        (Method::Post, "/api/embed" | "/api/embeddings") => send_error(
            out,
            &ApiError::new(
                501,
                "api_error",
                "Embeddings are not served by this gateway yet.",
            ),
            errors,
            cors,
        ),
        (
            _,
            "/v1/models"
            | "/models"
            | "/v1/chat/completions"
            | "/chat/completions"
            | "/v1/messages"
            | "/v1/messages/count_tokens"
            | "/v1/responses"
            | "/api/chat"
            | "/api/generate"
            | "/api/tags"
            | "/api/ps"
            | "/api/version"
            | "/api/show",
        ) => send_error(out, &ApiError::method_not_allowed(), errors, cors),
        _ => send_error(
            out,
            &ApiError::not_found(format!("No route for {path}.")),
            errors,
            cors,
        ),
    }
}

/// Whether `caller` may read gateway-wide statistics.
fn is_admin(config: &Config, caller: &str) -> bool {
    crate::access::is_admin(
        caller,
        config.admin_keys.as_deref(),
        config.gateway_keys.len(),
    )
}

/// An Ollama "load the model" call (no prompt, no messages): answered at once for a model the
/// gateway serves.
fn ollama_load(
    config: &Config,
    client: &dispatch::Client,
    body: &[u8],
    out: ResponseOutparam,
    reply: fn(&str, u64) -> Vec<u8>,
) {
    #[derive(serde::Deserialize)]
    struct Model {
        model: Option<String>,
        name: Option<String>,
    }
    let requested = serde_json::from_slice::<Model>(body)
        .ok()
        .and_then(|m| m.model.or(m.name))
        .unwrap_or_default();
    if let Err(error) = crate::routing::check_model_name(&requested) {
        return send_error(out, &error, ErrorFormat::Ollama, client.cors);
    }
    let model = surfaces::ollama::model_name(&requested);
    let served = config.route_name(model);
    let served: &str = &served;
    let known = config.targets(served).is_some()
        || (served == crate::config::ECHO_MODEL && config.echo_model);
    if !known {
        let error = <surfaces::ollama::OllamaChat as surfaces::Surface>::model_not_found(model);
        return send_error(out, &error, ErrorFormat::Ollama, client.cors);
    }
    transport::respond(
        out,
        200,
        json_headers(client.cors),
        &reply(model, dispatch::now_secs()),
    );
}
