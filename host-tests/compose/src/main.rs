//! `cargo run -p apex-compose`: build the components and write `target/apex/*.wasm` (what
//! spin.toml runs). Run from anywhere inside the workspace.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..");
    let out = apex_compose::build(&root.canonicalize()?)?;
    println!("components written to {}", out.display());
    Ok(())
}
