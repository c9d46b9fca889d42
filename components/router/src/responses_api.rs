//! The stateful parts of `/v1/responses` over the key-value store: continuing a stored
//! conversation, and `GET` / `DELETE` / `input_items` / `cancel` on stored responses.

use wasip2::http::types::ResponseOutparam;

use crate::bindings::kv;
use crate::config::Config;
use crate::dispatch::{self, Client, KV_STORE, now_secs};
use crate::error::{ApiError, ErrorFormat};
use crate::server::send_error;
use crate::surfaces::responses::{self, Record, Responses};
use crate::transport;

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

/// `POST /v1/responses`: a `previous_response_id` brings its conversation along, then the request
/// runs like any chat request (and is stored when it completes, unless `store: false`).
pub fn create(config: &Config, client: &Client, body: Vec<u8>, out: ResponseOutparam) {
    let body = match responses::previous_id(&body) {
        None => body,
        Some(previous) => match load(&previous, client)
            .map_err(|mut error| {
                error.param = Some("previous_response_id");
                error
            })
            .and_then(|record| responses::continue_from(&body, &record))
        {
            Ok(body) => body,
            Err(error) => return fail(out, client, &error),
        },
    };
    dispatch::chat::<Responses>(config, client, body, out);
}

/// `GET|DELETE /v1/responses/{id}[/input_items|/cancel]`.
pub fn resource(method: &str, rest: &str, query: &str, client: &Client, out: ResponseOutparam) {
    let (id, sub) = rest.split_once('/').unwrap_or((rest, ""));
    let record = match load(id, client) {
        Ok(record) => record,
        Err(error) => return fail(out, client, &error),
    };
    let json = |out, body: Vec<u8>| {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        headers.extend_from_slice(client.cors);
        transport::respond(out, 200, headers, &body);
    };
    match (method, sub) {
        ("GET", "") => json(
            out,
            serde_json::to_vec(&record.response).unwrap_or_default(),
        ),
        ("DELETE", "") => {
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
        ("GET", "input_items") => match responses::input_items_page(&record, query) {
            Ok(page) => json(out, serde_json::to_vec(&page).unwrap_or_default()),
            Err(error) => fail(out, client, &error),
        },
        ("POST", "cancel") => fail(
            out,
            client,
            &ApiError::bad_request(
                "Only background responses can be cancelled, and this gateway does not offer background mode.",
            ),
        ),
        (_, "" | "input_items" | "cancel") => fail(out, client, &ApiError::method_not_allowed()),
        _ => fail(
            out,
            client,
            &ApiError::not_found(format!("No route for /v1/responses/{rest}.")),
        ),
    }
}
