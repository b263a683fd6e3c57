//! Runs `docs/walkthrough.md` as a script: its `sh` blocks in order, each `# expect: REGEX` line
//! checking the output of the command before it (or the value of the variable that command sets),
//! read as one line (icp-cli prints records over many). An expectation may name the walk-through's
//! shell variables (`$NODE`): it is expanded as a double-quoted string.

/// One command of the walk-through and what its output must match.
#[derive(Debug, PartialEq, Eq)]
pub struct Step {
    pub command: String,
    pub expect: Option<String>,
}

/// The commands of the `sh` blocks of `markdown`, in order (lines ending in `\` continue).
pub fn steps(markdown: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in markdown.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_block = trimmed == "```sh";
            continue;
        }
        if !in_block || trimmed.is_empty() {
            continue;
        }
        if let Some(regex) = trimmed.strip_prefix("# expect:") {
            let last = steps.last_mut().expect("an expectation follows a command");
            assert!(last.expect.is_none(), "one expectation per command");
            last.expect = Some(regex.trim().to_string());
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some(continued) = line.strip_suffix('\\') {
            pending.push_str(continued);
            continue;
        }
        pending.push_str(line);
        steps.push(Step {
            command: std::mem::take(&mut pending),
            expect: None,
        });
    }
    steps
}

/// A bash script that runs `steps`, stops at the first failing command or unmet expectation, and
/// says which step it was (`+ step N` before each).
pub fn script(steps: &[Step]) -> String {
    let mut out = String::from(
        "set -euo pipefail\n\
         expect() { if ! printf '%s' \"$1\" | tr '\\n' ' ' | grep -Eq -- \"$2\"; then echo \"walkthrough: step $3 expected /$2/\"; exit 1; fi; }\n",
    );
    for (n, step) in steps.iter().enumerate() {
        out.push_str(&format!("echo '+ step {n}'\n"));
        let Some(regex) = &step.expect else {
            out.push_str(&step.command);
            out.push('\n');
            continue;
        };
        assert!(!regex.contains('"'), "an expectation has no double quote");
        let assigned = step
            .command
            .split_once('=')
            .filter(|(name, rest)| {
                !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    && rest.starts_with("$(")
            })
            .map(|(name, _)| name.to_string());
        match assigned {
            Some(name) => out.push_str(&format!(
                "{}\necho \"${name}\"\nexpect \"${name}\" \"{regex}\" {n}\n",
                step.command
            )),
            None => out.push_str(&format!(
                "out=$({} 2>&1) || {{ echo \"$out\"; echo 'walkthrough: step {n} failed'; exit 1; }}\n\
                 echo \"$out\"\nexpect \"$out\" \"{regex}\" {n}\n",
                step.command
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_read_from_sh_blocks_with_their_expectations() {
        let doc = "text\n```sh\nA=$(echo 1)\n# expect: ^1$\necho a \\\n  b\n# a comment\n```\n```\nnot run\n```\n```sh\nls\n# expect: x\n```\n";
        assert_eq!(
            steps(doc),
            vec![
                Step {
                    command: "A=$(echo 1)".into(),
                    expect: Some("^1$".into())
                },
                Step {
                    command: "echo a   b".into(),
                    expect: None
                },
                Step {
                    command: "ls".into(),
                    expect: Some("x".into())
                },
            ]
        );
    }

    fn run(script: &str) -> (bool, String) {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    #[test]
    fn a_script_fails_on_an_unmet_expectation_or_a_failing_command() {
        let pass = steps("```sh\nA=$(echo 42)\n# expect: ^42$\nprintf 'x\\ny'\n# expect: x y\necho $A\n# expect: ^$A$\n```\n");
        assert!(run(&script(&pass)).0);
        let (ok, out) = run(&script(&steps("```sh\necho hi\n# expect: bye\n```\n")));
        assert!(!ok);
        assert!(out.contains("step 0 expected /bye/"), "{out}");
        assert!(!run(&script(&steps("```sh\nfalse\necho after\n```\n"))).0);
        assert!(!run(&script(&steps("```sh\nA=$(false)\n# expect: .*\n```\n"))).0);
    }
}
