//! Tests only: the kinds as the native adapter crates describe them, dispatched the way the
//! composed chain dispatches them (`openai ▶ anthropic ▶ gemini ▶ cohere ▶ ollama ▶ end`).

use apex_adapter_anthropic::Anthropic;
use apex_adapter_cohere::Cohere;
use apex_adapter_gemini::Gemini;
use apex_adapter_kit::Adapter;
use apex_adapter_kit::types::{KindInfo, SettingProblem};
use apex_adapter_ollama::Ollama;
use apex_adapter_openai::OpenAi;

use super::kinds::Kinds;

/// The native adapters as one chain.
pub struct NativeKinds;

/// `$adapter::$method($args)` for the first adapter serving `$kind`, else `$end`.
macro_rules! chain {
    ($kind:expr, $method:ident($($arg:expr),*), $end:expr) => {
        if OpenAi::serves($kind) {
            OpenAi::$method($($arg),*)
        } else if Anthropic::serves($kind) {
            Anthropic::$method($($arg),*)
        } else if Gemini::serves($kind) {
            Gemini::$method($($arg),*)
        } else if Cohere::serves($kind) {
            Cohere::$method($($arg),*)
        } else if Ollama::serves($kind) {
            Ollama::$method($($arg),*)
        } else {
            $end
        }
    };
}

impl NativeKinds {
    /// Every kind the chain serves.
    pub fn kinds() -> Vec<String> {
        [
            OpenAi::KINDS,
            Anthropic::KINDS,
            Gemini::KINDS,
            Cohere::KINDS,
            Ollama::KINDS,
        ]
        .concat()
        .into_iter()
        .map(str::to_string)
        .collect()
    }
}

impl Kinds for NativeKinds {
    fn describe(&self, kind: &str, profile: &str) -> Option<KindInfo> {
        Some(chain!(kind, describe(kind, profile), return None))
    }

    fn default_base_url(
        &self,
        kind: &str,
        settings: &[(String, String)],
        credential: Option<&str>,
    ) -> Result<String, SettingProblem> {
        chain!(
            kind,
            default_base_url(kind, settings, credential),
            Err(SettingProblem::base_url_required())
        )
    }

    fn check_credential(&self, kind: &str, credential: &str) -> Result<(), String> {
        chain!(
            kind,
            check_credential(kind, credential),
            Err(apex_adapter_kit::unknown_kind(kind).message)
        )
    }
}
