//! The adapter chain as the configuration asks it about kinds ([`config::Kinds`]): the adapter
//! interface's `describe`, `default-base-url` and `check-credential`, imported.

use apex_adapter_kit::types::{KindInfo, SettingProblem};

use crate::bindings::adapter;
use crate::config;

/// The imported adapter chain.
pub struct Chain;

impl config::Kinds for Chain {
    fn describe(&self, kind: &str, profile: &str) -> Option<KindInfo> {
        adapter::describe(kind, profile)
    }

    fn default_base_url(
        &self,
        kind: &str,
        settings: &[(String, String)],
        credential: Option<&str>,
    ) -> Result<String, SettingProblem> {
        adapter::default_base_url(kind, settings, credential)
    }

    fn check_credential(&self, kind: &str, credential: &str) -> Result<(), String> {
        adapter::check_credential(kind, credential)
    }
}
