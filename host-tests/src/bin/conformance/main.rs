//! `apex-conformance`: black-box HTTP checks of a running Apex, whatever hosts it (the `apex`
//! binary, `wasmtime serve`, `spin up`, a Workers runtime...). `.ci/hosts.sh` starts each host
//! and runs this against it.
//!
//! ```text
//! apex-conformance config --ok URL --down URL --limited URL
//!     prints the configuration (TOML) a host must run for the checks, with the base URLs of
//!     three `apex-fake-upstream`s: one that answers, one started with `--fail-status 503`, one
//!     with `--fail-status 429 --retry-after 120`. Gateway key: the variable `apex_api_key`;
//!     upstream key: the variable `conformance_upstream_key` (any value).
//! apex-conformance run --label NAME --base-url URL --key KEY [--ephemeral-kv REASON] --json FILE
//!     runs every check, prints one line per check, writes the results to FILE. With
//!     `--ephemeral-kv`, a check that needs the key-value store to keep writes and fails is
//!     reported `n/a: REASON` (the host is known not to keep them) rather than ✗.
//! apex-conformance after-restart --base-url URL --key KEY --json FILE [--ephemeral-kv REASON]
//!                                 [--from OTHER.json --check NAME]
//!     after the driver restarted the host: reads back the response stored by `run` (its id is
//!     in FILE) and adds the result to FILE. With `--from`, reads back the response another
//!     host's run stored (hosts sharing one store) and records it as check NAME.
//! apex-conformance unavailable --label NAME --reason TEXT --json FILE
//!     records a host that could not be started (every check ✗, with the reason).
//! apex-conformance table FILE...
//!     prints the check × host table; exits 1 if any check failed.
//! ```

mod checks;
mod http;
mod streams;
mod suite;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::checks::*;
use crate::http::*;
use crate::suite::*;

/// The configuration the checks expect. It has no comma anywhere: `wasmtime serve` splits
/// `-S config-var=NAME=VALUE` at commas, so lists of targets are written as arrays of tables.
fn config(ok: &str, down: &str, limited: &str) -> String {
    let provider = |name: &str, url: &str| {
        format!(
            "[providers.{name}]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nkeys = [\"conformance_upstream_key\"]\n\n",
            url.trim_end_matches('/')
        )
    };
    let alias = |name: &str, providers: &[&str]| {
        let mut text = String::new();
        for provider in providers {
            text.push_str(&format!(
                "[[models.{name}.targets]]\nprovider = \"{provider}\"\nmodel = \"fake-model\"\n\n"
            ));
        }
        text
    };
    format!(
        "# apex-conformance: three scripted providers on loopback (no commas: see the source)\n\
         [gateway]\nauto_providers = false\ncooldown_secs = 30\n\n\
         [[model_patterns]]\npattern = \"metered-*\"\nmodel = \"echo\"\n\n\
         [limits.default.models.metered-echo]\nrequests_per_minute = 2\nwindow_secs = 3600\n\n{}{}{}{}{}{}",
        provider("fake", ok),
        provider("down", down),
        provider("limited", limited),
        alias("scripted", &["fake"]),
        alias("failover", &["down", "fake"]),
        alias("cooldown", &["limited", "fake"]),
    )
}

/// `--name value` options.
fn options(args: &[String]) -> Result<BTreeMap<String, String>> {
    let mut options = BTreeMap::new();
    let mut it = args.iter();
    while let Some(name) = it.next() {
        let name = name
            .strip_prefix("--")
            .with_context(|| format!("unexpected argument `{name}`"))?;
        let value = it
            .next()
            .with_context(|| format!("--{name} needs a value"))?;
        options.insert(name.to_string(), value.clone());
    }
    Ok(options)
}

fn required<'a>(options: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str> {
    options
        .get(name)
        .map(String::as_str)
        .with_context(|| format!("--{name} is required"))
}

async fn main_async(args: Vec<String>) -> Result<bool> {
    let (command, rest) = args.split_first().context(
        "usage: apex-conformance config|run|after-restart|unavailable|table ... (see the source's docs)",
    )?;
    match command.as_str() {
        "config" => {
            let o = options(rest)?;
            print!(
                "{}",
                config(
                    required(&o, "ok")?,
                    required(&o, "down")?,
                    required(&o, "limited")?
                )
            );
            Ok(true)
        }
        "run" => {
            let o = options(rest)?;
            let label = required(&o, "label")?.to_string();
            let base_url = required(&o, "base-url")?.to_string();
            let json = PathBuf::from(required(&o, "json")?);
            println!("== {label} ({base_url})");
            let mut suite = Suite {
                http: Http::new(&base_url, o.get("key").map(String::as_str).unwrap_or("")),
                ephemeral_kv: o.get("ephemeral-kv").cloned(),
                report: HostReport {
                    label,
                    base_url,
                    ..HostReport::default()
                },
            };
            suite.run().await;
            write_report(&json, &suite.report)?;
            Ok(suite
                .report
                .checks
                .iter()
                .all(|c| c.outcome != Outcome::Fail))
        }
        "after-restart" => {
            let o = options(rest)?;
            let json = PathBuf::from(required(&o, "json")?);
            let report = read_report(&json)?;
            let base_url = o
                .get("base-url")
                .cloned()
                .unwrap_or_else(|| report.base_url.clone());
            let mut suite = Suite {
                http: Http::new(&base_url, o.get("key").map(String::as_str).unwrap_or("")),
                ephemeral_kv: o.get("ephemeral-kv").cloned(),
                report,
            };
            let (check, outcome) = match o.get("from") {
                None => {
                    println!("== {} after a restart", suite.report.label);
                    let outcome = read_back(&suite.http, &suite.report).await;
                    ("read-back-after-restart".to_string(), outcome)
                }
                Some(from) => {
                    let check = required(&o, "check")?.to_string();
                    ensure!(
                        CHECKS.iter().any(|(name, _)| *name == check),
                        "unknown check {check}"
                    );
                    let other = read_report(Path::new(from))?;
                    println!("== {}: what {} stored", suite.report.label, other.label);
                    (check, read_back(&suite.http, &other).await)
                }
            };
            suite.record(&check, outcome);
            write_report(&json, &suite.report)?;
            Ok(suite
                .report
                .checks
                .iter()
                .all(|c| c.outcome != Outcome::Fail))
        }
        "unavailable" => {
            let o = options(rest)?;
            let report = HostReport {
                label: required(&o, "label")?.to_string(),
                unavailable: Some(required(&o, "reason")?.to_string()),
                ..HostReport::default()
            };
            write_report(Path::new(required(&o, "json")?), &report)?;
            Ok(true)
        }
        "table" => table(rest),
        other => bail!("unknown command `{other}`"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if main_async(args).await? {
        Ok(())
    } else {
        std::process::exit(1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::http::Reply;
    use crate::streams::{anthropic_stream, openai_stream};

    fn reply(body: &str) -> Reply {
        let mut headers = hyper::HeaderMap::new();
        headers.insert("content-type", "text/event-stream".parse().unwrap());
        Reply {
            status: 200,
            headers,
            body: body.to_string(),
        }
    }

    #[test]
    fn openai_stream_grammar() {
        let good = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
                    : keepalive\n\n\
                    data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n\
                    data: [DONE]\n\n";
        assert_eq!(
            openai_stream(&reply(good)).unwrap(),
            ("hi".into(), "stop".into())
        );
        assert!(openai_stream(&reply(&good.replace("data: [DONE]\n\n", ""))).is_err());
        assert!(openai_stream(&reply(&good.replace("\"stop\"", "null"))).is_err());
    }

    #[test]
    fn anthropic_stream_grammar() {
        let event = |name: &str, data: &str| format!("event: {name}\ndata: {data}\n\n");
        let good = vec![
            event("message_start", r#"{"type":"message_start","message":{}}"#),
            event("ping", r#"{"type":"ping"}"#),
            event(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            event(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
            ),
            event(
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            event(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#,
            ),
            event("message_stop", r#"{"type":"message_stop"}"#),
        ];
        assert_eq!(
            anthropic_stream(&reply(&good.concat())).unwrap(),
            ("hi".into(), "end_turn".into())
        );
        let mut unclosed = good.clone();
        unclosed.remove(4);
        assert!(anthropic_stream(&reply(&unclosed.concat())).is_err());
        let mut unterminated = good.clone();
        unterminated.pop();
        assert!(anthropic_stream(&reply(&unterminated.concat())).is_err());
    }

    #[test]
    fn the_config_is_valid_toml() {
        let text = config(
            "http://127.0.0.1:1",
            "http://127.0.0.1:2/",
            "http://127.0.0.1:3",
        );
        assert!(
            !text.contains(','),
            "wasmtime serve splits config values at commas"
        );
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(
            parsed["providers"]["down"]["base_url"].as_str(),
            Some("http://127.0.0.1:2/v1")
        );
    }
}
