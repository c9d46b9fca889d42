//! The `wasi:http/incoming-handler` export: configuration, CORS, auth, limits and the body, then
//! the route table (`routes`).

use std::sync::OnceLock;

use wasip2::http::types::{IncomingRequest, Method, ResponseOutparam};

use crate::config::{self, Config};
use crate::http::error::{ApiError, ErrorFormat};
use crate::http::reply::{json_headers, send_error, text_headers};
use crate::http::transport::{self, header_list};
use crate::http::{Client, access, auth, concurrency, cors, request_log, status_page};
use crate::platform::{monotonic_ms, now_ms, now_secs, variable};

struct Router;

impl wasip2::exports::http::incoming_handler::Guest for Router {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        handle(request, out);
        // The client has its whole answer by now; deleting expired state is not on its clock.
        crate::state::sweep::maybe_run();
    }
}

wasip2::http::proxy::export!(Router);

/// The config, parsed once per instance (instances may serve many requests).
fn config() -> &'static Result<Config, config::ConfigError> {
    static CONFIG: OnceLock<Result<Config, config::ConfigError>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let text = variable(config::CONFIG_VARIABLE);
        let config = config::load_with(text.as_deref(), &variable, &crate::adapters::Chain)?;
        config.check_kinds(&crate::bindings::adapter::kinds())?;
        Ok(config)
    })
}

/// The error format of the protocol a path belongs to (so even a failed auth answers in it).
fn error_format(route: &str, google: bool) -> ErrorFormat {
    if crate::surfaces::gemini::call(route, google).is_some() {
        ErrorFormat::Google
    } else if route.starts_with("/v1/messages") {
        ErrorFormat::Anthropic
    } else if route.starts_with("/api/") {
        ErrorFormat::Ollama
    } else {
        ErrorFormat::OpenAi
    }
}

/// The variable `apex check` sets, in the one process that asks, to a fresh random token.
const CHECK_TOKEN_VARIABLE: &str = "apex_check_token";

/// Whether `presented` is the check token (at least 32 characters; unset on every server).
fn is_check(presented: Option<&str>) -> bool {
    let Some(token) = variable(CHECK_TOKEN_VARIABLE).filter(|t| t.len() >= 32) else {
        return false;
    };
    let key = auth::GatewayKey::new("check", &token);
    auth::authenticate(std::slice::from_ref(&key), presented).is_some()
}

/// `/ollama/{KEY}/rest` (for clients that cannot set headers): the key and `/rest`.
fn key_in_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/ollama/")?;
    let (key, route) = rest.split_once('/').unwrap_or((rest, ""));
    (!key.is_empty()).then_some((key, route))
}

/// One request, logged (`request_log`) once it is answered. Liveness probes (`/health`) and CORS
/// preflights are not logged.
fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let method = request.method();
    let path_and_query = request.path_with_query().unwrap_or_else(|| "/".to_string());
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query.as_str(), ""));
    let (path_key, path) = match key_in_path(path) {
        Some((key, rest)) => (Some(key.to_string()), format!("/{rest}")),
        None => (None, path.to_string()),
    };
    let logged = path != "/health" && !matches!(method, Method::Options);
    if logged {
        let gemini = crate::surfaces::gemini::call(&path, true).is_some();
        request_log::begin(request_log::Entry {
            time_ms: now_ms(),
            began_ms: monotonic_ms(),
            method: transport::method_name(&method),
            path: match path_key {
                // The key in the path is never logged.
                Some(_) => format!("/ollama/<key>{path}"),
                None => path.clone(),
            },
            surface: request_log::surface_of(&path, gemini),
            ..Default::default()
        });
    }
    serve(request, method, path_key, &path, query, out);
    if logged {
        let format = config().as_ref().map_or(Default::default(), |c| c.log);
        if let Some(mut line) = request_log::finish(monotonic_ms(), format) {
            line.push('\n');
            crate::platform::log_line(line.as_bytes());
        }
    }
}

fn serve(
    request: IncomingRequest,
    method: Method,
    path_key: Option<String>,
    path: &str,
    query: &str,
    out: ResponseOutparam,
) {
    let headers = header_list(&request.headers());
    let path = path.to_string();
    let google = crate::surfaces::gemini::is_google_client(&headers, query);
    let errors = error_format(&path, google);
    // Google's clients may put the key in the query (`?key=`); only the Gemini routes read it.
    let query_key = crate::surfaces::gemini::call(&path, true)
        .and_then(|_| crate::surfaces::gemini::query_key(query));

    let config = match config() {
        Ok(config) => config,
        Err(problem) => {
            let error = ApiError::internal(format!("Gateway configuration error: {problem}"));
            return send_error(out, &error, errors, &[]);
        }
    };
    // `apex check` asks the component it runs in-process, with a token only it knows.
    if matches!(method, Method::Get) && path == "/config" && is_check(auth::presented_key(&headers))
    {
        let report = crate::config::report::render(config).to_string();
        return transport::respond(out, 200, json_headers(&[]), report.as_bytes());
    }

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

    // Unauthenticated: liveness, the status page (it holds no data: its script asks for the admin
    // key and reads /stats), and the root that clients probe (Ollama clients expect this text;
    // browsers get the status page).
    let page = |out| {
        let open = config.gateway_keys.is_empty();
        transport::respond(out, 200, status_page::headers(), &status_page::body(open))
    };
    match (&method, path.as_str()) {
        (Method::Get | Method::Head, "/health") => {
            return transport::respond(
                out,
                200,
                json_headers(&cors_headers),
                br#"{"status":"ok"}"#,
            );
        }
        (Method::Get | Method::Head, "/ui" | "/ui/") => return page(out),
        (Method::Get | Method::Head, "/")
            if status_page::wants_html(apex_adapter_kit::http::header(&headers, "accept")) =>
        {
            return page(out);
        }
        (Method::Get | Method::Head, "/") => {
            let mut headers = text_headers(&cors_headers);
            headers.push(("vary".to_string(), "accept".to_string()));
            return transport::respond(out, 200, headers, b"Ollama is running");
        }
        _ => {}
    }

    let presented = path_key
        .as_deref()
        .or(query_key.as_deref())
        .or_else(|| auth::presented_key(&headers));
    let caller = if config.gateway_keys.is_empty() {
        let authority = request.authority();
        let has_body = matches!(method, Method::Post | Method::Put | Method::Patch);
        if let Err(error) = access::check_open_gateway(
            authority.as_deref(),
            &headers,
            has_body,
            &config.allowed_hosts,
            &config.cors_origins,
        ) {
            return send_error(out, &error, errors, &cors_headers);
        }
        request_log::note(|entry| entry.key = Some(auth::ANONYMOUS.to_string()));
        auth::ANONYMOUS
    } else {
        match auth::authenticate(&config.gateway_keys, presented) {
            Some(name) => {
                request_log::note(|entry| entry.key = Some(name.to_string()));
                name
            }
            None => {
                let mut error = ApiError::unauthorized();
                if errors == ErrorFormat::Google {
                    error.message = "Missing or invalid API key: send the gateway key as `x-goog-api-key: <key>`, `?key=<key>` or `Authorization: Bearer <key>`.".to_string();
                }
                return send_error(out, &error, errors, &cors_headers);
            }
        }
    };
    let client = Client {
        caller,
        headers: &headers,
        cors: &cors_headers,
        pin: None,
    };
    // A slot of the key's concurrency limit, held until the answer is complete (the body is read
    // under it too, so slow senders count).
    let _slot = match (&method, config.max_concurrent_per_key) {
        (Method::Post, Some(limit)) => {
            match concurrency::acquire(caller, limit, now_secs(), config.timeouts.total) {
                Some(slot) => slot,
                None => {
                    let error = concurrency::too_many(limit);
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
    super::routes::route(config, &client, &method, &path, query, body, errors, out);
}
