//! Capability-aware routing: a request goes only to targets that can honour what it needs
//! (`config::needed`: tools, a JSON schema, images; embeddings for embedding requests). The rest
//! are left out before any call, so failover moves past them; when no target can, the client gets
//! a 400 naming the feature, never a request silently stripped of it.

use crate::config::{Config, Feature, TargetRef};
use crate::http::error::ApiError;
use crate::routing::targets::Attempt;

/// Whether every target of `targets` can do everything (then nothing needs to be checked, and
/// the request is not even read for its needs).
pub fn all_capable(config: &Config, targets: &[TargetRef]) -> bool {
    targets.iter().all(|target| {
        config.capabilities(target).is_none_or(|c| {
            [
                Feature::Tools,
                Feature::JsonSchema,
                Feature::Images,
                Feature::Embeddings,
            ]
            .iter()
            .all(|feature| c.supports(*feature))
        })
    })
}

/// The attempts whose target supports every feature of `needs`; when none does, the 400 naming
/// the first feature no target supports.
pub fn keep<'a>(
    config: &Config,
    attempts: Vec<Attempt<'a>>,
    needs: &[Feature],
    model: &str,
) -> Result<Vec<Attempt<'a>>, ApiError> {
    if needs.is_empty() || attempts.is_empty() {
        return Ok(attempts);
    }
    let supports = |attempt: &Attempt, feature: Feature| {
        config
            .capabilities(attempt.target)
            .is_none_or(|c| c.supports(feature))
    };
    let kept: Vec<Attempt<'a>> = attempts
        .iter()
        .filter(|attempt| needs.iter().all(|f| supports(attempt, *f)))
        .cloned()
        .collect();
    if !kept.is_empty() {
        return Ok(kept);
    }
    let missing = needs
        .iter()
        .copied()
        .find(|f| !attempts.iter().any(|a| supports(a, *f)))
        .or(needs.first().copied())
        .unwrap_or(Feature::Tools);
    Err(unsupported(model, needs, missing))
}

/// The 400 for a request none of whose targets can do all it needs.
pub fn unsupported(model: &str, needs: &[Feature], missing: Feature) -> ApiError {
    let what = match missing {
        Feature::Tools => "call tools",
        Feature::JsonSchema => "answer in a JSON schema (structured outputs)",
        Feature::Images => "take images",
        Feature::Embeddings => "create embeddings",
    };
    let message = if needs.len() > 1 && needs.iter().all(|f| *f != missing) {
        format!("No target of model `{model}` can do everything this request needs.")
    } else if needs.len() > 1 {
        format!(
            "The model `{model}` cannot {what} together with the rest of this request: no target of it supports `{}` and everything else it asks for.",
            missing.name()
        )
    } else {
        format!(
            "The model `{model}` cannot {what}: none of its targets supports `{}` (a target's `capabilities` in the gateway config says what it takes).",
            missing.name()
        )
    };
    let code = match missing {
        Feature::Embeddings => "embeddings_not_supported",
        _ => "unsupported_feature",
    };
    ApiError::bad_request(message).param("model").code(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::targets;

    fn config() -> Config {
        crate::config::load(
            Some(
                r#"
[providers.ds]
kind = "openai"
profile = "deepseek"
base_url = "http://ds.test/v1"
keys = []
[providers.claude]
kind = "anthropic"
base_url = "http://a.test/v1"
keys = []
capabilities = { tools = false }
[models.mixed]
targets = ["ds/deepseek-chat", "claude/claude-sonnet-4-5", { provider = "ds", model = "deepseek-vl", capabilities = { images = true } }]
[models.claude]
targets = ["claude/claude-sonnet-4-5"]
"#,
            ),
            &|_| None,
        )
        .unwrap()
    }

    #[test]
    fn targets_that_cannot_honour_a_request_are_left_out() {
        let config = config();
        let targets = config.targets("mixed").unwrap();
        assert!(!all_capable(&config, &targets));
        let attempts = targets::attempts(&config, &targets, |_| 0).unwrap();
        let names =
            |kept: &[Attempt]| -> Vec<String> { kept.iter().map(|a| a.target.id()).collect() };

        let images = keep(&config, attempts.clone(), &[Feature::Images], "mixed").unwrap();
        assert_eq!(
            names(&images),
            ["claude/claude-sonnet-4-5", "ds/deepseek-vl"]
        );
        let tools = keep(&config, attempts.clone(), &[Feature::Tools], "mixed").unwrap();
        assert_eq!(names(&tools), ["ds/deepseek-chat", "ds/deepseek-vl"]);
        let both = keep(
            &config,
            attempts.clone(),
            &[Feature::Tools, Feature::Images],
            "mixed",
        );
        assert_eq!(names(&both.unwrap()), ["ds/deepseek-vl"]);
        let nothing = keep(&config, attempts.clone(), &[], "mixed").unwrap();
        assert_eq!(nothing.len(), 3);

        let embeddings = keep(&config, attempts, &[Feature::Embeddings], "mixed").unwrap();
        assert_eq!(names(&embeddings), ["ds/deepseek-chat", "ds/deepseek-vl"]);

        let claude = config.targets("claude").unwrap();
        let attempts = targets::attempts(&config, &claude, |_| 0).unwrap();
        let error = keep(&config, attempts, &[Feature::Embeddings], "claude")
            .map(|_| ())
            .unwrap_err();
        assert_eq!(error.status, 400);
        assert_eq!(error.code, Some("embeddings_not_supported"));
    }

    #[test]
    fn the_refusal_names_the_feature() {
        let error = unsupported("smart", &[Feature::Images], Feature::Images);
        assert!(
            error.message.contains("cannot take images"),
            "{}",
            error.message
        );
        assert!(error.message.contains("`images`"));
        assert_eq!(error.code, Some("unsupported_feature"));
    }
}
