//! The route table: which path and method go to which handler (auth done, body read).

use wasip2::http::types::{Method, ResponseOutparam};

use crate::config::Config;
use crate::http::error::{ApiError, ErrorFormat};
use crate::http::reply::{self, json_headers, send_error, with_type};
use crate::http::{Client, access, transport};
use crate::platform::now_secs;
use crate::routing::{count_tokens, dispatch};
use crate::state::{quota_store, responses, shared};
use crate::surfaces;

/// The route table (auth done, body read).
#[allow(clippy::too_many_arguments)]
pub fn route(
    config: &Config,
    client: &Client,
    method: &Method,
    path: &str,
    query: &str,
    body: Vec<u8>,
    errors: ErrorFormat,
    out: ResponseOutparam,
) {
    use dispatch::embed::embed;
    use surfaces::anthropic_messages::AnthropicMessages;
    use surfaces::embeddings::ollama::{OllamaEmbed, OllamaLegacyEmbeddings};
    use surfaces::embeddings::openai::OpenAiEmbeddings;
    use surfaces::ollama::{self, OllamaChat, OllamaGenerate};
    use surfaces::openai_chat::OpenAiChat;
    let cors = client.cors;
    let google = surfaces::gemini::is_google_client(client.headers, query);
    if let Some(call) = surfaces::gemini::call(path, google) {
        return super::google::route(config, client, method, call, query, body, out);
    }
    let json = |out, body: &[u8]| reply::json(out, body, cors);
    match (method, path) {
        (Method::Get, "/v1/models" | "/models") => {
            let shape = surfaces::models::Shape::of(client.headers);
            json(out, &surfaces::models::render(config, shape))
        }
        (Method::Get, _) if path.starts_with("/v1/models/") => {
            let id = path.trim_start_matches("/v1/models/");
            let shape = surfaces::models::Shape::of(client.headers);
            match surfaces::models::get(config, id, shape) {
                Ok(body) => json(out, &body),
                Err(error) => send_error(out, &error, errors, cors),
            }
        }
        (Method::Get, "/stats" | "/metrics" | "/usage" | "/config")
            if !is_admin(config, client.caller) =>
        {
            send_error(out, &access::not_admin(), errors, cors)
        }
        (Method::Get, "/usage") => json(out, &quota_store::report(config, now_secs())),
        (Method::Get, "/config") => json(
            out,
            crate::config::report::render(config).to_string().as_bytes(),
        ),
        (Method::Get, "/stats") => json(
            out,
            &shared::snapshot(config).render_json_for(config, crate::platform::now_ms()),
        ),
        (Method::Get, "/metrics") => {
            let text = shared::snapshot(config).render_prometheus(crate::platform::now_ms());
            let headers = with_type("text/plain; version=0.0.4; charset=utf-8", cors);
            transport::respond(out, 200, headers, text.as_bytes());
        }
        (Method::Post, "/v1/chat/completions" | "/chat/completions") => {
            dispatch::chat::<OpenAiChat>(config, client, body, Default::default(), out)
        }
        (Method::Post, "/v1/messages") => {
            dispatch::chat::<AnthropicMessages>(config, client, body, Default::default(), out)
        }
        (Method::Post, "/v1/messages/count_tokens") => {
            count_tokens::count_tokens(config, client, body, out)
        }
        (Method::Post, "/v1/responses") => responses::create(config, client, body, out),
        // Codex tries the Responses API over a WebSocket first; wasi:http has no upgrades, so say
        // so at once (426) and it falls back to HTTP without retrying.
        (Method::Get, "/v1/responses") if wants_websocket(client.headers) => {
            send_error(out, &ApiError::upgrade_required(), errors, cors)
        }
        (Method::Get | Method::Delete | Method::Post, _) if path.starts_with("/v1/responses/") => {
            let rest = path.trim_start_matches("/v1/responses/");
            let verb = transport::method_name(method);
            responses::resource(config, &verb, rest, query, client, out)
        }
        (Method::Post, "/api/chat") => {
            if OllamaChat::is_load(&body) {
                return ollama_load(config, client, &body, out, ollama::chat_load_reply);
            }
            dispatch::chat::<OllamaChat>(config, client, body, Default::default(), out)
        }
        (Method::Post, "/api/generate") => {
            if OllamaGenerate::is_load(&body) {
                return ollama_load(config, client, &body, out, ollama::load_reply);
            }
            dispatch::chat::<OllamaGenerate>(config, client, body, Default::default(), out)
        }
        (Method::Get | Method::Head, "/api/tags") => json(out, &ollama::tags(config, now_secs())),
        (Method::Get | Method::Head, "/api/ps") => json(out, &ollama::ps(config, now_secs())),
        (Method::Get | Method::Head, "/api/version") => json(out, &ollama::version()),
        (Method::Post, "/api/show") => match ollama::show(config, &body) {
            Ok(reply) => json(out, &reply),
            Err(error) => send_error(out, &error, errors, cors),
        },
        (Method::Post, "/v1/embeddings" | "/embeddings") => {
            embed::<OpenAiEmbeddings>(config, client, &body, Default::default(), out)
        }
        (Method::Post, "/api/embed") => {
            embed::<OllamaEmbed>(config, client, &body, Default::default(), out)
        }
        (Method::Post, "/api/embeddings") => {
            embed::<OllamaLegacyEmbeddings>(config, client, &body, Default::default(), out)
        }
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
            | "/api/show"
            | "/usage"
            | "/config"
            | "/v1/embeddings"
            | "/embeddings"
            | "/api/embed"
            | "/api/embeddings",
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
    access::is_admin(
        caller,
        config.admin_keys.as_deref(),
        config.gateway_keys.len(),
    )
}

/// An Ollama "load the model" call (no prompt, no messages): answered at once for a model the
/// gateway serves.
fn ollama_load(
    config: &Config,
    client: &Client,
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
    if let Err(error) = crate::routing::targets::check_model_name(config, &requested) {
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
        &reply(model, now_secs()),
    );
}

/// Whether the request asks to switch to a WebSocket: `Upgrade: websocket`, or the handshake's
/// `Sec-WebSocket-Key` (hosts drop the hop-by-hop `Upgrade` and `Connection` headers before the
/// component sees the request).
fn wants_websocket(headers: &[(String, String)]) -> bool {
    let header = |name| apex_adapter_kit::http::header(headers, name);
    header("sec-websocket-key").is_some()
        || header("upgrade").is_some_and(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
        })
}
