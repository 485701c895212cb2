//! Writes the committed seed corpus: `cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus`.
//!
//! Replaces `corpus/<target>/seed_*` with [`strait_fuzz::seeds`]; other files there (minimised
//! regressions) are kept.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut total = 0;
    for (target, seeds) in strait_fuzz::seeds::all() {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed_"))
            {
                std::fs::remove_file(path)?;
            }
        }
        for (name, data) in &seeds {
            total += data.len();
            std::fs::write(dir.join(format!("seed_{name}")), data)?;
        }
        println!("{target}: {} seeds", seeds.len());
    }
    println!("{total} bytes in all");
    Ok(())
}
