//! The house's rules, checked on the sources: no circle of modules importing each other within a
//! crate, no source file over 700 lines, and canister shells (`src/main.rs` of a crate with an
//! `ic.rs`) under 270 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 700;
const MAX_SHELL_LINES: usize = 270;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every crate's `src` directory (a folder at the top with `Cargo.toml` and `src/`).
fn crate_sources() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").is_file() && p.join("src").is_dir())
        .map(|p| p.join("src"))
        .collect();
    dirs.sort();
    dirs
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// A file's module path inside its crate: `state/mod.rs` and `state.rs` are `state`,
/// `state/neurons.rs` is `state::neurons`; `lib.rs`, `main.rs` and `bin/*` are the root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return vec![];
    }
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The modules a file names by `crate::a::b` or `super::b`, resolved to absolute module paths.
fn references(module: &[String], text: &str) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let words = |rest: &str| -> Vec<String> {
        rest.split("::")
            .map(|w| {
                w.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|w| !w.is_empty() && w.chars().next().is_some_and(|c| c.is_lowercase()))
            .collect()
    };
    for (i, _) in text.match_indices("crate::") {
        let before = text[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        found.insert(words(&text[i + "crate::".len()..]));
    }
    // `super` in `a/b.rs` (module `a::b`) and in `a/mod.rs` (module `a`) is the module's parent.
    let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
    for (i, _) in text.match_indices("super::") {
        let before = text[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut path = parent.clone();
        path.extend(words(&text[i + "super::".len()..]));
        found.insert(path);
    }
    found
}

/// Edges between sibling modules: `a::x` naming `a::y` (or anything below it) is `x → y` under `a`.
fn sibling_edges(from: &[String], to: &[String]) -> Option<(Vec<String>, String, String)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return None; // a module and its own descendant or ancestor
    }
    Some((
        from[..common].to_vec(),
        from[common].clone(),
        to[common].clone(),
    ))
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_module_imports_a_sibling_that_imports_it_back() {
    let mut circles = Vec::new();
    for src in crate_sources() {
        let modules: BTreeSet<Vec<String>> = rust_files(&src)
            .iter()
            .map(|f| module_of(&src, f))
            .collect();
        // parent module → (sibling → siblings it names)
        let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for file in rust_files(&src) {
            let module = module_of(&src, &file);
            if module.is_empty() {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for target in references(&module, &text) {
                // Only names that are modules of this crate count (not types or functions).
                let target: Vec<String> = (1..=target.len())
                    .rev()
                    .map(|n| target[..n].to_vec())
                    .find(|prefix| modules.contains(prefix))
                    .unwrap_or_default();
                if target.is_empty() {
                    continue;
                }
                if let Some((parent, a, b)) = sibling_edges(&module, &target) {
                    graphs
                        .entry(parent)
                        .or_default()
                        .entry(a)
                        .or_default()
                        .insert(b);
                }
            }
        }
        for (parent, graph) in graphs {
            if let Some(cycle) = find_cycle(&graph) {
                circles.push(format!(
                    "{}: under `{}`: {}",
                    src.display(),
                    parent.join("::"),
                    cycle.join(" → ")
                ));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn source_files_stay_short_and_shells_thin() {
    let mut long = Vec::new();
    for src in crate_sources() {
        for file in rust_files(&src) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            let is_shell =
                file.file_name().is_some_and(|n| n == "main.rs") && src.join("ic.rs").is_file();
            let limit = if is_shell { MAX_SHELL_LINES } else { MAX_LINES };
            if lines > limit {
                long.push(format!(
                    "{} has {lines} lines (at most {limit})",
                    file.display()
                ));
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_circle_and_only_a_circle() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    };
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])),
        None
    );
    let cycle = find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])).unwrap();
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    let src = Path::new("/x/src");
    let module = module_of(src, Path::new("/x/src/state/neurons.rs"));
    assert_eq!(module, vec!["state", "neurons"]);
    let refs = references(
        &module,
        "use super::codecs::Followees; crate::flows::run();",
    );
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(refs.contains(&path(&["state", "codecs"])), "{refs:?}");
    assert!(refs.contains(&path(&["flows", "run"])), "{refs:?}");
}
