//! Builds the guest components for `wasm32-wasip2` and composes them with wac-graph:
//!
//! - `adapters.wasm`: the adapter chain `openai ▶ anthropic ▶ gemini ▶ cohere ▶ ollama ▶ end`
//!   (what spin.toml plugs in); each adapter is also written alone (`adapter-<name>.wasm`)
//! - `router.wasm`:   the router alone (spin.toml's component source)
//! - `apex.wasm`:     router + chain, the whole app (the local host)
//! - `apex-wasmtime-serve.wasm`: the app with a shim for `wasmtime serve`'s key-value/config drafts
//!
//! Everything is written to `<workspace>/target/apex/` (spin.toml's sources); host-tests' build
//! script also copies it into its `OUT_DIR` to embed it. `cargo run -p apex-compose` runs it alone
//! (what `spin build` does).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

/// The guest crates built for `wasm32-wasip2`.
const CRATES: &[&str] = &[
    "apex-router",
    "apex-adapter-openai",
    "apex-adapter-anthropic",
    "apex-adapter-gemini",
    "apex-adapter-cohere",
    "apex-adapter-ollama",
    "apex-adapter-end",
    "apex-test-rogue-adapter",
    "apex-wasmtime-serve-shim",
];

/// The adapters of the chain, in order (each serves its kinds and delegates the rest onward).
pub const CHAIN: &[&str] = &["openai", "anthropic", "gemini", "cohere", "ollama"];

/// The files written, by name.
pub const OUTPUTS: &[&str] = &[
    "apex.wasm",
    "router.wasm",
    "adapters.wasm",
    "adapter-openai.wasm",
    "adapter-anthropic.wasm",
    "adapter-gemini.wasm",
    "adapter-cohere.wasm",
    "adapter-ollama.wasm",
    "adapter-end.wasm",
    "test-rogue-app.wasm",
    "apex-wasmtime-serve.wasm",
];

/// The target the guest components are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Build and compose everything under the workspace at `root`; returns the output directory.
pub fn build(root: &Path) -> Result<PathBuf> {
    ensure_wasm_target()?;
    let target_dir = root.join("target").join("wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "build",
            "--target",
            WASM_TARGET,
            "--profile",
            "component",
            "--target-dir",
        ])
        .arg(&target_dir);
    for package in CRATES {
        command.args(["-p", package]);
    }
    // The outer build's flags and wrappers are for the host, not for wasm guests.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .context("running cargo for the wasm components")?;
    if !status.success() {
        bail!("building the wasm components failed (see the compiler's messages above)");
    }
    let built = target_dir.join("wasm32-wasip2").join("component");
    let read = |name: &str| -> Result<Vec<u8>> {
        let path = built.join(format!("{name}.wasm"));
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    let router = read("apex_router")?;
    let end = read("apex_adapter_end")?;
    let mut adapters = Vec::with_capacity(CHAIN.len());
    for name in CHAIN {
        adapters.push((*name, read(&format!("apex_adapter_{name}"))?));
    }
    let mut chain = end.clone();
    for (name, adapter) in adapters.iter().rev() {
        chain = plug(adapter, &chain).with_context(|| format!("composing {name} ▶ ..."))?;
    }
    let app = plug(&router, &chain).context("composing router ▶ chain")?;

    let out = root.join("target").join("apex");
    std::fs::create_dir_all(&out)?;
    // Test fixture: the router behind a hostile adapter.
    let rogue = plug(&read("apex_test_rogue_adapter")?, &end).context("composing rogue ▶ end")?;
    let rogue_app = plug(&router, &rogue).context("composing router ▶ rogue")?;
    // `wasmtime serve`: the app behind the shim for the key-value/config drafts it implements.
    let serve_app = plug(&app, &read("apex_wasmtime_serve_shim")?)
        .context("composing app ▶ wasmtime-serve shim")?;
    for (name, bytes) in [
        ("apex.wasm", &app),
        ("apex-wasmtime-serve.wasm", &serve_app),
        ("router.wasm", &router),
        ("adapters.wasm", &chain),
        ("adapter-end.wasm", &end),
        ("test-rogue-app.wasm", &rogue_app),
    ] {
        write(&out.join(name), bytes)?;
    }
    for (name, adapter) in &adapters {
        write(&out.join(format!("adapter-{name}.wasm")), adapter)?;
    }
    Ok(out)
}

/// Make sure the compiler running this build has the `wasm32-wasip2` standard library.
///
/// `rust-toolchain.toml` lists the target, but rustup applies `targets` only when it installs a
/// toolchain: a stable toolchain that was already there before the clone stays without it, and the
/// component build would fail with "can't find crate for `std`". So the build adds it itself, with
/// `rustup target add` for the toolchain in use (`RUSTUP_TOOLCHAIN`, which rustup sets for cargo and
/// its build scripts).
pub fn ensure_wasm_target() -> Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .with_context(|| format!("running `{rustc} --print sysroot`"))?;
    if !sysroot.status.success() {
        bail!("`{rustc} --print sysroot` failed");
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let target_lib = sysroot.join("lib").join("rustlib").join(WASM_TARGET);
    if target_lib.is_dir() {
        return Ok(());
    }
    eprintln!(
        "apex-compose: the {WASM_TARGET} target is not installed for {}; running `rustup target add {WASM_TARGET}`",
        sysroot.display()
    );
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", WASM_TARGET]);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    let status = rustup.status().map_err(|error| {
        anyhow::anyhow!(
            "the {WASM_TARGET} target is missing from {} and rustup could not be run ({error}): \
             install the target for this compiler and build again",
            sysroot.display()
        )
    })?;
    if !status.success() || !target_lib.is_dir() {
        bail!(
            "`rustup target add {WASM_TARGET}` did not install the target into {}: install it and build again",
            sysroot.display()
        );
    }
    Ok(())
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    // Leave unchanged files alone so their mtimes do not trigger rebuilds downstream.
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// `socket` with its imports satisfied by `plug`'s exports where they match (like `wac plug`).
fn plug(socket: &[u8], plug: &[u8]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let socket = Package::from_bytes("apex:socket", None, socket.to_vec(), graph.types_mut())?;
    let socket = graph.register_package(socket)?;
    let plug = Package::from_bytes("apex:plug", None, plug.to_vec(), graph.types_mut())?;
    let plug = graph.register_package(plug)?;
    wac_graph::plug(&mut graph, vec![plug], socket)?;
    Ok(graph.encode(EncodeOptions::default())?)
}
