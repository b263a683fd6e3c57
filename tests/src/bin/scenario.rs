//! The main job (see [`tests::scenario`]): `scripts/run.sh` builds the wasm and runs it. Exits
//! non-zero if a check fails.

fn main() {
    if !tests::scenario::run(tests::scenario::DEFAULT_SIZE) {
        std::process::exit(1);
    }
}
