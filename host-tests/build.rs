//! Builds and composes the guest components (see `apex-compose`), then copies them into `OUT_DIR`
//! for `components.rs` to embed.

use std::path::PathBuf;

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .context("workspace root")?
        .to_path_buf();
    for watched in [
        "components",
        "wit",
        "host-tests/rogue-adapter",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let built = apex_compose::build(&root)?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    for name in apex_compose::OUTPUTS {
        let bytes = std::fs::read(built.join(name)).with_context(|| format!("reading {name}"))?;
        apex_compose::write(&out_dir.join(name), &bytes)?;
    }
    Ok(())
}
