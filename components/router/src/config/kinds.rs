//! What the configuration needs to know about adapter kinds, asked of whoever knows them: the
//! adapter chain in the component (`crate::adapters`), the native adapter crates in tests, or
//! [`PlainKinds`]. The router itself knows no kind by name.

use apex_adapter_kit::types::{KindInfo, SettingProblem};

/// The provider knowledge [`load_with`](fn@super::load_with) asks for, kind by kind (the
/// adapter interface's `describe`, `default-base-url` and `check-credential`).
pub trait Kinds {
    /// What `kind` is with provider `profile`; `None` when nothing serves it (the adapter check
    /// of [`Config::check_kinds`](super::Config::check_kinds) then reports it).
    fn describe(&self, kind: &str, profile: &str) -> Option<KindInfo>;

    /// The base URL of a provider of `kind` whose section gives none, from its `settings`
    /// (`region`, `project`) and first credential; a kind with no default answers a problem
    /// with `base_url`.
    fn default_base_url(
        &self,
        kind: &str,
        settings: &[(String, String)],
        credential: Option<&str>,
    ) -> Result<String, SettingProblem>;

    /// Whether `credential` is usable as a key of `kind`: the problem reads after the name of
    /// the variable holding it.
    fn check_credential(&self, kind: &str, credential: &str) -> Result<(), String>;
}

/// Kinds known only as plain ones ([`KindInfo::plain`]): no forwarding, keys sent as they are,
/// no default base URL, every credential usable. What [`load`](fn@super::load) uses natively
/// outside the router's own tests (fuzzing, host tests): enough for configs whose providers need
/// no adapter knowledge (no credential exchange, no `responses = "native"`).
pub struct PlainKinds;

impl Kinds for PlainKinds {
    fn describe(&self, _kind: &str, _profile: &str) -> Option<KindInfo> {
        Some(KindInfo::plain())
    }

    fn default_base_url(
        &self,
        _kind: &str,
        _settings: &[(String, String)],
        _credential: Option<&str>,
    ) -> Result<String, SettingProblem> {
        Err(SettingProblem::base_url_required())
    }

    fn check_credential(&self, _kind: &str, _credential: &str) -> Result<(), String> {
        Ok(())
    }
}
