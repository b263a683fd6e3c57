//! Embeds the web app's built files (`frontend/dist`, or the directory `NEURANFT_FRONTEND_DIST`
//! names) in the canister: each file, and beside each compressible one its gzip'd bytes
//! (`<path>.gz`, what the asset router serves to a browser that accepts gzip). Writes
//! `$OUT_DIR/assets.rs`: `ASSETS: &[(&str, &[u8])]`, paths relative to the dist root.
//!
//! The wasm build needs the files (`scripts/build-canisters.sh` builds them first); a native build
//! (clippy, the workspace's tests) embeds none when they have not been built, since only the wasm is
//! ever installed.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Extensions worth compressing (text); images and fonts are compressed already.
const COMPRESSIBLE: &[&str] = &[
    "html", "js", "mjs", "css", "json", "svg", "txt", "map", "wasm",
];

fn main() {
    println!("cargo:rerun-if-env-changed=NEURANFT_FRONTEND_DIST");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = std::env::var_os("NEURANFT_FRONTEND_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../frontend/dist"));
    println!("cargo:rerun-if-changed={}", dist.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");

    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
        files.sort();
    } else if wasm {
        panic!(
            "{} has no index.html: build the web app first (scripts/build-canisters.sh does: \
             npm ci && npm run build in frontend/)",
            dist.display()
        );
    }

    let gz_dir = out.join("gz");
    std::fs::create_dir_all(&gz_dir).expect("OUT_DIR is writable");
    let mut table = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (n, relative) in files.iter().enumerate() {
        let source = dist.join(relative);
        table.push_str(&format!(
            "    ({relative:?}, include_bytes!({:?})),\n",
            source.display().to_string()
        ));
        let extension = Path::new(relative)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if COMPRESSIBLE.contains(&extension) {
            let bytes = std::fs::read(&source).expect("a file just listed reads");
            let compressed = gzip(&bytes);
            if compressed.len() < bytes.len() {
                let target = gz_dir.join(format!("{n}.gz"));
                std::fs::write(&target, compressed).expect("OUT_DIR is writable");
                table.push_str(&format!(
                    "    ({:?}, include_bytes!({:?})),\n",
                    format!("{relative}.gz"),
                    target.display().to_string()
                ));
            }
        }
    }
    table.push_str("];\n");
    std::fs::write(out.join("assets.rs"), table).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry reads").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("under the root");
            let text = relative
                .to_str()
                .expect("the web app's file names are UTF-8");
            files.push(text.replace('\\', "/"));
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}
