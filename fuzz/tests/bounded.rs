//! The bounded fuzz run for CI: every target, a fixed number of executions from a fixed seed
//! (`APEX_FUZZ_EXECS` overrides it), no crash. One test per target, so they run in parallel.

#![allow(clippy::panic)]

use apex_fuzz::runner::{self, Options};
use apex_fuzz::targets;

/// Executions per target: the seeds, then mutants. Keeps the crate's tests under a minute in debug
/// on 2 cores.
const EXECS: u64 = 5_000;

fn fuzz(name: &str) {
    let target = targets::find(name).unwrap_or_else(|| panic!("no target {name}"));
    let execs = std::env::var("APEX_FUZZ_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(EXECS);
    let mut options = Options::new(execs);
    options.seed = 0x5eed;
    let report = runner::run(&target, &options);
    assert_eq!(report.execs, execs);
    assert_eq!(report.crashes, 0, "\n{}", report.describe());
}

macro_rules! bounded {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                fuzz($name);
            }
        )*

        #[test]
        fn every_target_has_a_bounded_test() {
            let tested = [$($name),*];
            for target in targets::all() {
                assert!(tested.contains(&target.name), "no bounded test for {}", target.name);
            }
        }
    };
}

bounded! {
    openai_chat => "openai-chat",
    anthropic_messages => "anthropic-messages",
    anthropic_count_tokens => "anthropic-count-tokens",
    responses_create => "responses-create",
    responses_resource => "responses-resource",
    responses_input_items => "responses-input-items",
    gemini_generate => "gemini-generate",
    ollama_chat => "ollama-chat",
    ollama_generate => "ollama-generate",
    ollama_show => "ollama-show",
    auth => "auth",
    cors => "cors",
    config => "config",
    openai_response => "openai-response",
    anthropic_response => "anthropic-response",
    gemini_response => "gemini-response",
    cohere_response => "cohere-response",
    ollama_response => "ollama-response",
    openai_stream => "openai-stream",
    anthropic_stream => "anthropic-stream",
    gemini_stream => "gemini-stream",
    cohere_stream => "cohere-stream",
    ollama_stream => "ollama-stream",
    sse_framing => "sse-framing",
    build_request => "build-request",
}
