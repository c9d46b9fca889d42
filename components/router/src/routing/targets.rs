//! Routing: which provider, upstream model and key serve a request, in which order.

use crate::config::{Config, Provider, TargetRef};
use crate::http::error::ApiError;

/// The longest model name a request may ask for. Direct `provider/<model>` names reach the
/// upstream as the client wrote them; a bound keeps them (and the error messages that quote
/// them) small.
pub const MAX_MODEL_NAME_BYTES: usize = 256;

/// Refuses a requested model name longer than [`MAX_MODEL_NAME_BYTES`]: a 400
/// `invalid_request_error` on `model` (the name itself is not quoted back).
pub fn check_model_name(model: &str) -> Result<(), ApiError> {
    if model.len() <= MAX_MODEL_NAME_BYTES {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "The model name is {} bytes long; the limit is {MAX_MODEL_NAME_BYTES}.",
        model.len()
    ))
    .code("model_name_too_long")
    .param("model"))
}

/// One try: a provider, the upstream model and the index of the key to use.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub provider: &'a Provider,
    pub model: &'a str,
    pub key_index: usize,
    /// The target this attempt belongs to (its `id()` names it in stats and cooldowns).
    pub target: &'a TargetRef,
}

/// Every attempt for `targets`, in list order: each target's keys starting at `start(provider)`
/// (rotation), then the next target.
pub fn attempts<'a>(
    config: &'a Config,
    targets: &'a [TargetRef],
    start: impl FnMut(&Provider) -> usize,
) -> Result<Vec<Attempt<'a>>, ApiError> {
    let order: Vec<usize> = (0..targets.len()).collect();
    ordered_attempts(config, targets, &order, start)
}

/// Every attempt for `targets` taken in `order` (target indices, as `strategy::order` returns
/// them; an index out of range is skipped): each target's keys starting at `start(provider)`
/// (rotation), then the next target.
pub fn ordered_attempts<'a>(
    config: &'a Config,
    targets: &'a [TargetRef],
    order: &[usize],
    mut start: impl FnMut(&Provider) -> usize,
) -> Result<Vec<Attempt<'a>>, ApiError> {
    let mut out = Vec::new();
    for target in order.iter().filter_map(|&i| targets.get(i)) {
        let provider = config.providers.get(&target.provider).ok_or_else(|| {
            ApiError::internal(format!("provider `{}` is not configured", target.provider))
        })?;
        let count = provider.keys.len().max(1);
        let first = if count > 1 {
            start(provider) % count
        } else {
            0
        };
        for i in 0..count {
            out.push(Attempt {
                provider,
                model: &target.model,
                key_index: (first + i) % count,
                target,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_rotate_then_targets_follow() {
        let text = "[providers.a]\nbase_url = \"http://a\"\nkeys = [\"k1\", \"k2\", \"k3\"]\n[providers.b]\nbase_url = \"http://b\"\nkeys = []\n[models.m]\ntargets = [\"a/x\", \"b/y\"]";
        let vars = |name: &str| Some(format!("v-{name}"));
        let config = crate::config::load(Some(text), &vars).unwrap();
        let targets = config.targets("m").unwrap();
        let order: Vec<(String, usize)> = attempts(&config, &targets, |_| 4)
            .unwrap()
            .into_iter()
            .map(|a| (a.provider.name.clone(), a.key_index))
            .collect();
        assert_eq!(
            order,
            vec![
                ("a".into(), 1),
                ("a".into(), 2),
                ("a".into(), 0),
                ("b".into(), 0)
            ]
        );
    }

    #[test]
    fn model_names_are_bounded() {
        assert_eq!(check_model_name(&"m".repeat(MAX_MODEL_NAME_BYTES)), Ok(()));
        assert_eq!(check_model_name(""), Ok(()));
        // Bytes, not characters: 128 two-byte characters fit, one more does not.
        assert_eq!(check_model_name(&"\u{e9}".repeat(128)), Ok(()));
        let error = check_model_name(&format!("openai/{}", "\u{e9}".repeat(126))).unwrap_err();
        assert_eq!(
            (error.status, error.kind, error.param, error.code),
            (
                400,
                "invalid_request_error",
                Some("model"),
                Some("model_name_too_long")
            )
        );
        assert_eq!(
            error.message,
            "The model name is 259 bytes long; the limit is 256."
        );
    }

    #[test]
    fn targets_follow_the_given_order() {
        let text = "[providers.a]\nbase_url = \"http://a\"\nkeys = [\"k1\", \"k2\"]\n[providers.b]\nbase_url = \"http://b\"\nkeys = []\n[models.m]\ntargets = [\"a/x\", \"b/y\"]";
        let vars = |name: &str| Some(format!("v-{name}"));
        let config = crate::config::load(Some(text), &vars).unwrap();
        let targets = config.targets("m").unwrap();
        let order: Vec<(String, usize)> = ordered_attempts(&config, &targets, &[1, 7, 0], |_| 1)
            .unwrap()
            .into_iter()
            .map(|a| (a.target.id(), a.key_index))
            .collect();
        assert_eq!(
            order,
            vec![("b/y".into(), 0), ("a/x".into(), 1), ("a/x".into(), 0)]
        );
    }
}
