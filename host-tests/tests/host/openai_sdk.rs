#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Runs the official `openai`, `anthropic`, `ollama` and `google-genai` Python client tests (host-tests/sdk) against the `apex` binary and the
//! fake provider on loopback. The SDK is installed into a virtualenv under the target dir once.

use std::path::Path;
use std::process::Command;

use super::common::{run, venv};

#[test]
fn official_openai_python_sdk() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk");
    let python = venv(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-venv"),
        &sdk.join("requirements.txt"),
    );
    run(
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&sdk)
            .env("APEX_BIN", env!("CARGO_BIN_EXE_apex"))
            .env(
                "FAKE_UPSTREAM_BIN",
                env!("CARGO_BIN_EXE_apex-fake-upstream"),
            ),
        "pytest host-tests/sdk",
    );
}
