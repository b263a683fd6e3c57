//! The check every canister's test suite runs: its committed `.did` equals the interface it exports.

use candid_parser::utils::{service_equal, CandidSource};

/// Panics unless the file at `path` describes the same service as `exported`.
/// With `UPDATE_DID` set, rewrites the file first.
pub fn assert_did_matches(path: &std::path::Path, exported: &str) {
    if std::env::var_os("UPDATE_DID").is_some() {
        std::fs::write(path, exported).expect("write the .did file");
    }
    let on_disk = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
    service_equal(CandidSource::Text(exported), CandidSource::Text(&on_disk)).unwrap_or_else(|e| {
        panic!(
            "{} differs from the code ({e}); run UPDATE_DID=1 cargo test",
            path.display()
        )
    });
}

/// The documents whose dfx commands the canisters' tests check against their `.did` files.
pub fn documented_dfx_commands() -> String {
    [
        include_str!("../../docs/cli-walkthrough.md"),
        include_str!("../../docs/governance.md"),
    ]
    .concat()
}

/// Values for the shell variables the README's dfx commands use.
pub const README_SHELL_VARIABLES: &[(&str, &str)] = &[
    ("$ME", "2vxsx-fae"),
    ("$LEDGER", "ryjl3-tyaaa-aaaaa-aaaba-cai"),
    (
        "$(dfx canister id royalties)",
        "rrkah-fqaaa-aaaaa-aaaaq-cai",
    ),
    ("$NOW", "1764000000000000000"),
    (
        "$(dfx canister id inference_proxy)",
        "ryjl3-tyaaa-aaaaa-aaaba-cai",
    ),
    ("$API_KEY", "0123456789abcdef0123456789abcdef"),
    (
        "$(dfx canister id governance)",
        "rno2w-sqaaa-aaaaa-aaacq-cai",
    ),
    (
        "$NODE_PK",
        "\\3b\\6a\\27\\bc\\ce\\b6\\a4\\2d\\62\\a3\\a8\\d0\\2a\\6f\\0d\\73\\65\\32\\15\\77\\1d\\e2\\43\\a6\\3a\\c0\\48\\a1\\8b\\59\\da\\29",
    ),
];

/// A Candid argument a README passes to dfx for `canister`: to a method, or (`method == None`) as the
/// install/upgrade argument of `dfx deploy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DfxArgument {
    pub method: Option<String>,
    pub text: String,
}

/// Reads the shell quoting of one argument at the start of `rest`; returns it unquoted.
fn shell_quoted(rest: &str) -> Option<String> {
    let mut chars = rest.chars();
    match chars.next()? {
        '\'' => Some(chars.take_while(|c| *c != '\'').collect()),
        '"' => {
            let mut out = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => return Some(out),
                    '\\' => match chars.next()? {
                        e @ ('"' | '\\' | '$' | '`') => out.push(e),
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    },
                    c => out.push(c),
                }
            }
            None
        }
        _ => None,
    }
}

/// Every Candid argument the shell code blocks of `markdown` pass to dfx for `canister`, with the
/// shell variables in `vars` substituted (longest names first).
pub fn dfx_arguments(markdown: &str, canister: &str, vars: &[(&str, &str)]) -> Vec<DfxArgument> {
    let mut vars = vars.to_vec();
    vars.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let substitute = |text: String| {
        vars.iter()
            .fold(text, |t, (name, value)| t.replace(name, value))
    };
    let call = format!("dfx canister call {canister} ");
    let deploy = format!("dfx deploy {canister} ");
    let mut found = Vec::new();
    for (start, _) in markdown.match_indices("dfx ") {
        let rest = &markdown[start..];
        if let Some(after) = rest.strip_prefix(&call) {
            let (method, args) = after.split_once(' ').unwrap_or((after, ""));
            if let Some(text) = shell_quoted(args) {
                found.push(DfxArgument {
                    method: Some(method.to_string()),
                    text: substitute(text),
                });
            }
        } else if rest.starts_with(&deploy) {
            let line_end = rest.find('\n').unwrap_or(rest.len());
            if let Some(at) = rest[..line_end].find("--argument ") {
                if let Some(text) = shell_quoted(&rest[at + "--argument ".len()..]) {
                    found.push(DfxArgument {
                        method: None,
                        text: substitute(text),
                    });
                }
            }
        }
    }
    found
}

/// Panics unless every dfx argument for `canister` in `markdown` parses as Candid and type-checks
/// against the method's (or the service's init) argument types in the `.did` at `did_path`.
/// Returns how many were checked.
pub fn assert_dfx_arguments_typecheck(
    markdown: &str,
    canister: &str,
    did_path: &std::path::Path,
    vars: &[(&str, &str)],
) -> usize {
    use candid::types::TypeInner;
    let did = std::fs::read_to_string(did_path).expect("read the .did");
    let (env, actor) = CandidSource::Text(&did).load().expect("the .did parses");
    let actor = actor.expect("the .did has a service");
    let arguments = dfx_arguments(markdown, canister, vars);
    for arg in &arguments {
        let types = match &arg.method {
            Some(method) => env
                .get_method(&actor, method)
                .unwrap_or_else(|e| panic!("README calls {canister}.{method}: {e}"))
                .args
                .clone(),
            None => match actor.as_ref() {
                TypeInner::Class(init, _) => init.clone(),
                _ => vec![],
            },
        };
        let parsed = candid_parser::parse_idl_args(&arg.text).unwrap_or_else(|e| {
            panic!("README argument for {canister} {arg:?} does not parse: {e}")
        });
        parsed
            .annotate_types(true, &env, &types)
            .unwrap_or_else(|e| {
                panic!("README argument for {canister} {arg:?} does not type-check: {e}")
            });
    }
    arguments.len()
}

/// The README check every canister runs: each dfx command the README shows for `canister` type-checks
/// against its `.did`, and there are at least `at_least` of them (so a renamed canister cannot make the
/// check vacuous).
pub fn assert_readme_dfx_commands(
    readme: &str,
    canister: &str,
    did_path: &std::path::Path,
    at_least: usize,
) {
    let checked =
        assert_dfx_arguments_typecheck(readme, canister, did_path, README_SHELL_VARIABLES);
    assert!(
        checked >= at_least,
        "only {checked} {canister} commands found in docs/cli-walkthrough.md and docs/governance.md"
    );
}
