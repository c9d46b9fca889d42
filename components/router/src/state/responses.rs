//! The stateful parts of `/v1/responses` over the key-value store: continuing a stored
//! conversation, and `GET` / `DELETE` / `input_items` / `cancel` on stored responses.

use wasip2::http::types::ResponseOutparam;

use apex_adapter_kit::types::{ForwardedBody, Protocol};

use crate::bindings::{adapter, kv};
use crate::config::Config;
use crate::http::Client;
use crate::http::error::{ApiError, ErrorFormat};
use crate::http::reply::send_error;
use crate::http::transport;
use crate::platform::{KV_STORE, now_secs};
use crate::routing::dispatch::{self, upstream};
use crate::surfaces::responses::resource::{Action, Resource};
use crate::surfaces::responses::{self, ChainError, Link, Record, Responses, Route, reference};

fn fail(out: ResponseOutparam, client: &Client, error: &ApiError) {
    send_error(out, error, ErrorFormat::OpenAi, client.cors);
}

fn unavailable(e: impl std::fmt::Debug) -> ApiError {
    ApiError::new(
        503,
        "api_error",
        format!("The response store is unavailable: {e:?}"),
    )
}

/// The stored response `id`, as `client` may see it.
fn load(id: &str, client: &Client) -> Result<Record, ApiError> {
    let bucket = kv::open(KV_STORE).map_err(unavailable)?;
    let bytes = bucket
        .get(&responses::record_key(id))
        .map_err(unavailable)?;
    responses::visible(bytes.as_deref(), id, client.caller, now_secs())
}

/// Where a response a provider made natively lives, if `client` may use it.
fn route(id: &str, client: &Client) -> Option<Route> {
    let bucket = crate::platform::store()?;
    let bytes = bucket.get(&responses::route_key(id)).ok().flatten()?;
    let route: Route = serde_json::from_slice(&bytes).ok()?;
    (route.owner == client.caller && route.expires_at > now_secs()).then_some(route)
}

/// The chain of stored responses ending at `id`, newest first, as `client` may see it; records
/// that would expire well before a new turn are stored again with the new turn's expiry, so a
/// conversation lives as long as its newest response.
fn chain(id: &str, client: &Client, ttl_secs: u64) -> Result<Vec<(String, Link)>, ChainError> {
    let bucket = kv::open(KV_STORE)
        .map_err(unavailable)
        .map_err(ChainError::Store)?;
    let now = now_secs();
    let chain = responses::walk(id, client.caller, now, |id| {
        bucket.get(&responses::record_key(id)).map_err(unavailable)
    })?;
    for index in responses::to_extend(&chain, now, ttl_secs) {
        if let Some((id, link)) = chain.get(index)
            && let Some(bytes) = responses::extended(link, now.saturating_add(ttl_secs))
        {
            // Best effort: a failed write only means an earlier expiry.
            let _ = bucket.set(&responses::record_key(id), &bytes);
        }
    }
    Ok(chain)
}

/// `POST /v1/responses`: a `previous_response_id` the gateway keeps brings its conversation
/// along (followed back through the store); one a provider made natively pins the request to that
/// provider and key. Then the request runs like any chat request (stored when it completes, unless
/// `store: false`).
pub fn create(config: &Config, client: &Client, body: Vec<u8>, out: ResponseOutparam) {
    let body = match with_referenced_items(body, client) {
        Ok(body) => body,
        Err(error) => return fail(out, client, &error),
    };
    let Some(previous) = responses::previous_id(&body) else {
        return dispatch::chat::<Responses>(config, client, body, Default::default(), out);
    };
    let chain = match chain(&previous, client, config.responses_ttl_secs) {
        Ok(chain) => chain,
        Err(error) => {
            if matches!(error, ChainError::Missing { depth: 0, .. })
                && let Some(route) = route(&previous, client)
            {
                let pinned = Client {
                    pin: Some((route.provider.as_str(), route.key_index)),
                    ..*client
                };
                return dispatch::chat::<Responses>(config, &pinned, body, Default::default(), out);
            }
            return fail(out, client, &error.error(&previous));
        }
    };
    match responses::continue_from(&body, &chain) {
        Ok(body) => dispatch::chat::<Responses>(config, client, body, Default::default(), out),
        Err(error) => fail(out, client, &error),
    }
}

/// `body` with its `item_reference` items replaced by the items the caller's stored responses hold
/// (see `surfaces::responses::reference`).
fn with_referenced_items(body: Vec<u8>, client: &Client) -> Result<Vec<u8>, ApiError> {
    if !reference::may_hold_references(&body) {
        return Ok(body);
    }
    // A request refers to few responses, often the same one many times.
    let mut records: Vec<(String, Option<Record>)> = Vec::new();
    let resolved = reference::resolve(&body, |item_id| {
        for response_id in reference::responses_holding(item_id) {
            if !records.iter().any(|(id, _)| *id == response_id) {
                let record = match load(&response_id, client) {
                    Ok(record) => Some(record),
                    Err(error) if error.status == 404 => None,
                    Err(error) => return Err(error),
                };
                records.push((response_id.clone(), record));
            }
            let held = records
                .iter()
                .find(|(id, _)| *id == response_id)
                .and_then(|(_, record)| record.as_ref())
                .and_then(|record| record.item(item_id));
            if let Some(item) = held {
                return Ok(Some(item.clone()));
            }
        }
        Ok(None)
    })?;
    Ok(resolved.unwrap_or(body))
}

/// A request about a natively made response, sent to the provider and key that made it: only
/// the parsed id, action and documented query keys go there (see `resource`).
fn forward(
    config: &Config,
    route: &Route,
    resource: &Resource,
    query: &str,
    client: &Client,
    out: ResponseOutparam,
) {
    let Some(provider) = config.providers.get(&route.provider) else {
        return fail(
            out,
            client,
            &ApiError::not_found("This response's provider is no longer configured."),
        );
    };
    let path = resource.provider_path(query);
    let request =
        upstream::target_for(provider, route.key_index, &config.timeouts).and_then(|target| {
            let read = ForwardedBody {
                model: None,
                stream: false,
            };
            adapter::forward_request(&target, Protocol::OpenaiResponses, &path, &read)
                .map(|forwarding| (forwarding.request, target))
        });
    let (mut request, target) = match request {
        Ok(built) => built,
        Err(error) => {
            let mut error = ApiError::from_upstream(&error);
            error.message = upstream::scrubbed(config, None, &error.message);
            return fail(out, client, &error);
        }
    };
    if !upstream::on_origin(&request, &target) {
        return fail(
            out,
            client,
            &ApiError::bad_gateway("Refused: a request outside the provider's origin."),
        );
    }
    request.method = resource.action.method().to_string();
    request.body.clear();
    match upstream::call(&request, &config.timeouts) {
        Ok(reply) => {
            let body = upstream::redactor(config, Some(&target.api_key)).bytes(&reply.body);
            let headers = crate::http::reply::json_headers(client.cors);
            transport::respond(out, reply.status, headers, &body);
        }
        Err(error) => fail(
            out,
            client,
            &ApiError::bad_gateway(format!(
                "Could not reach the provider ({}).",
                upstream::scrubbed(config, Some(&target.api_key), &error.message)
            )),
        ),
    }
}

/// `GET|DELETE /v1/responses/{id}`, `GET .../input_items`, `POST .../cancel`.
pub fn resource(
    config: &Config,
    method: &str,
    rest: &str,
    query: &str,
    client: &Client,
    out: ResponseOutparam,
) {
    let resource = match responses::resource::parse(method, rest) {
        Ok(resource) => resource,
        Err(error) => return fail(out, client, &error),
    };
    let id = resource.id;
    let record = match load(id, client) {
        Ok(record) => record,
        Err(error) => {
            if let Some(route) = route(id, client) {
                return forward(config, &route, &resource, query, client, out);
            }
            return fail(out, client, &error);
        }
    };
    // A stored response holds what a provider answered: redacted like a live one.
    let redactor = upstream::redactor(config, None);
    let json =
        |out, body: Vec<u8>| crate::http::reply::json(out, &redactor.bytes(&body), client.cors);
    match resource.action {
        Action::Retrieve => json(
            out,
            serde_json::to_vec(&record.response).unwrap_or_default(),
        ),
        Action::Delete => {
            let removed = kv::open(KV_STORE).map_err(unavailable).and_then(|bucket| {
                bucket
                    .delete(&responses::record_key(id))
                    .map_err(unavailable)
            });
            match removed {
                Ok(()) => json(out, responses::deleted(id)),
                Err(error) => fail(out, client, &error),
            }
        }
        Action::InputItems => match responses::input_items_page(&record, query) {
            Ok(page) => json(out, serde_json::to_vec(&page).unwrap_or_default()),
            Err(error) => fail(out, client, &error),
        },
        Action::Cancel => fail(
            out,
            client,
            &ApiError::bad_request(
                "Only background responses can be cancelled, and this gateway does not offer background mode.",
            ),
        ),
    }
}
