//! Routing: which provider, upstream model and key serve a request, in which order.

use crate::config::{Config, Provider, TargetRef};
use crate::http::error::ApiError;

/// The longest model name a request may ask for. Direct `provider/<model>` names reach the
/// upstream as the client wrote them; a bound keeps them (and the error messages that quote
/// them) small.
pub const MAX_MODEL_NAME_BYTES: usize = 256;

/// The one check of a requested model name, made where a request is first read (chat on every
/// surface, `count_tokens`, Ollama's load, show): a 400 `invalid_request_error` on `model`
/// before any provider is asked.
///
/// - At most [`MAX_MODEL_NAME_BYTES`] (the name itself is not quoted back then).
/// - No control characters, `?`, `#`, `%` (percent-encoded separators or dots), or `\`, and
///   no empty, `.` or `..` path segment: whatever a provider's URL or a front end in between
///   makes of it, the name cannot name another resource.
/// - The model id a client chose for a configured provider (the part after `provider/`, or a
///   name sent to the catalog provider owning its prefix) has `/` only where that provider's
///   ids do: `openai`-kind providers (OpenRouter's `vendor/model`, Together's
///   `meta-llama/...`, Fireworks' `accounts/...`) and Ollama (`user/model`); Gemini takes its
///   own `models/` or `tunedModels/` prefix; other kinds none.
pub fn check_model_name(config: &Config, model: &str) -> Result<(), ApiError> {
    if model.len() > MAX_MODEL_NAME_BYTES {
        return Err(ApiError::bad_request(format!(
            "The model name is {} bytes long; the limit is {MAX_MODEL_NAME_BYTES}.",
            model.len()
        ))
        .code("model_name_too_long")
        .param("model"));
    }
    let served = config.route_name(model);
    let chosen = served
        .split_once('/')
        .filter(|(provider, id)| {
            !config.models.contains_key(served.as_ref()) && !config.names_target(provider, id)
        })
        .and_then(|(provider, id)| Some((config.providers.get(provider)?, id)));
    let problem = model_name_problem(model).or_else(|| {
        chosen.and_then(|(provider, id)| {
            model_name_problem(id).or_else(|| slash_problem(&provider.kind, id))
        })
    });
    let Some(problem) = problem else {
        return Ok(());
    };
    // Named, with control characters spelled out.
    let shown: String = model
        .chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect();
    Err(ApiError::bad_request(match chosen {
        Some((provider, _)) => format!(
            "The model `{shown}` is not a model id of provider `{}`: {problem}.",
            provider.name
        ),
        None => format!("The model `{shown}` is not a model name: {problem}."),
    })
    .code("invalid_model_name")
    .param("model"))
}

/// What makes `name` unfit to reach a provider, whatever its kind.
pub fn model_name_problem(name: &str) -> Option<&'static str> {
    if name.chars().any(char::is_control) {
        return Some("it has a control character");
    }
    if name.contains(['?', '#']) {
        return Some("it has a `?` or `#`");
    }
    if name.contains('%') {
        return Some("it has a `%` (percent-encoding)");
    }
    if name.contains('\\') {
        return Some("it has a backslash");
    }
    if name.contains('/')
        && name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Some("it has an empty, `.` or `..` path segment");
    }
    None
}

/// Whether a provider of `kind` has model ids like `id` with respect to `/`.
pub fn slash_problem(kind: &str, id: &str) -> Option<&'static str> {
    let bare = match kind {
        "openai" | "ollama" => return None,
        "gemini" => id
            .strip_prefix("models/")
            .or_else(|| id.strip_prefix("tunedModels/"))
            .unwrap_or(id),
        _ => id,
    };
    bare.contains('/')
        .then_some("this provider's model ids have no `/`")
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

    fn names_config() -> Config {
        let text = r#"
            [providers.or]
            kind = "openai"
            base_url = "http://or.test/v1"
            keys = ["k"]
            [providers.gm]
            kind = "gemini"
            base_url = "http://gm.test"
            keys = ["k"]
            [providers.an]
            kind = "anthropic"
            base_url = "http://an.test"
            keys = ["k"]
            [providers.ol]
            kind = "ollama"
            base_url = "http://ol.test"
            keys = []
            [models."team/coder"]
            targets = ["an/claude-x"]
        "#;
        let vars = |name: &str| Some(format!("v-{name}"));
        crate::config::load(Some(text), &vars).unwrap()
    }

    #[test]
    fn model_names_are_bounded() {
        let config = names_config();
        let check = |name: &str| check_model_name(&config, name);
        assert_eq!(check(&"m".repeat(MAX_MODEL_NAME_BYTES)), Ok(()));
        assert_eq!(check(""), Ok(()));
        // Bytes, not characters: 128 two-byte characters fit, one more does not.
        assert_eq!(check(&"\u{e9}".repeat(128)), Ok(()));
        let error = check(&format!("or/{}", "\u{e9}".repeat(127))).unwrap_err();
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
            "The model name is 257 bytes long; the limit is 256."
        );
    }

    #[test]
    fn model_names_are_model_ids_not_paths() {
        let config = names_config();
        let check = |name: &str| check_model_name(&config, name).map_err(|e| e.message);
        for good in [
            "gpt-4.1",
            "claude-3-5-sonnet@20240620",
            "gm/models/gemini-2.0-flash",
            "gm/gemini-2.5-flash",
            "gm/tunedModels/my-model",
            "ol/llama3.2:latest",
            "ol/library/llama3.2",
            "or/deepseek-ai/DeepSeek-V3",
            "or/accounts/fireworks/models/llama-v3p1-8b-instruct",
            "or/meta-llama/llama-4-scout-17b-16e-instruct",
            "an/claude-sonnet-4-5",
            "team/coder",
            "my model ...",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("gm/../../../x", "path segment"),
            ("or/vendor/../model", "path segment"),
            ("or/./x", "path segment"),
            ("or//x", "path segment"),
            ("or/x/", "path segment"),
            ("../x", "path segment"),
            ("or/x?alt=1", "`?`"),
            ("or/x#frag", "`#`"),
            ("or/x%2Fy", "percent"),
            ("gm/..%2F..%2Fx", "percent"),
            ("or/x\\..\\y", "backslash"),
            ("or/x\ny", "control"),
            ("gm/vendor/model", "no `/`"),
            ("gm/models/a/b", "no `/`"),
            ("an/claude/x", "no `/`"),
            ("unknown/../x", "path segment"),
        ] {
            let message = check(bad).unwrap_err();
            assert!(message.contains(why), "{bad}: {message}");
        }
        let error = check_model_name(&config, "gm/../x\n").unwrap_err();
        assert_eq!(
            (error.status, error.code),
            (400, Some("invalid_model_name"))
        );
        assert_eq!(
            error.message,
            "The model `gm/../x\\n` is not a model id of provider `gm`: it has a control character."
        );
        assert_eq!(
            check("gm/x/y").unwrap_err(),
            "The model `gm/x/y` is not a model id of provider `gm`: this provider's model ids have no `/`."
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
