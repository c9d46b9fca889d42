#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Runs the official `openai`, `anthropic`, `ollama` and `google-genai` Python client tests (host-tests/sdk) against the `apex` binary and the
//! fake provider on loopback. The SDK is installed into a virtualenv under the target dir once.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn venv(sdk: &Path) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-venv");
    let python = venv.join("bin").join("python");
    let stamp = venv.join("requirements.installed");
    let requirements = std::fs::read_to_string(sdk.join("requirements.txt")).unwrap();
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(requirements.as_str()) {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(sdk.join("requirements.txt")),
            "pip install -r host-tests/sdk/requirements.txt",
        );
        std::fs::write(&stamp, requirements).unwrap();
    }
    python
}

#[test]
fn official_openai_python_sdk() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk");
    let python = venv(&sdk);
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
