//! Parameter sweeps: scenarios derived from one file by setting keys (dotted paths such as
//! `economy.call_fee`, `users.churn_ppm` or `models.0.quality`) to lists of values, combined as a
//! zip (the i-th value of every key together) or a cartesian product.

use crate::scenario::{Scenario, ScenarioError};

/// One swept key and its values (TOML literals: `40000`, `"split=…"`, `{ host_bps = … }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

impl Axis {
    /// Parses `key=v1;v2;v3` (values separated by `;`, so a value may contain commas).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (key, values) = text
            .split_once('=')
            .ok_or(format!("{text:?}: expected key=value;value;…"))?;
        let values: Vec<String> = values.split(';').map(|v| v.trim().to_string()).collect();
        if key.trim().is_empty() || values.iter().any(String::is_empty) {
            return Err(format!("{text:?}: a key and non-empty values are needed"));
        }
        Ok(Self {
            key: key.trim().to_string(),
            values,
        })
    }
}

/// The points of a sweep: each a list of (key, value) settings.
pub fn points(axes: &[Axis], cartesian: bool) -> Result<Vec<Vec<(String, String)>>, String> {
    if axes.is_empty() {
        return Ok(vec![vec![]]);
    }
    if !cartesian {
        let n = axes[0].values.len();
        if axes.iter().any(|a| a.values.len() != n) {
            return Err("a zipped sweep needs the same number of values for every key".into());
        }
        return Ok((0..n)
            .map(|i| {
                axes.iter()
                    .map(|a| (a.key.clone(), a.values[i].clone()))
                    .collect()
            })
            .collect());
    }
    let mut out: Vec<Vec<(String, String)>> = vec![vec![]];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|point| {
                axis.values.iter().map(move |v| {
                    let mut p = point.clone();
                    p.push((axis.key.clone(), v.clone()));
                    p
                })
            })
            .collect();
    }
    Ok(out)
}

/// The scenario `source` with `settings` applied, checked like a file.
pub fn apply(
    source: &str,
    settings: &[(String, String)],
) -> Result<(Scenario, String), ScenarioError> {
    let bad = |message: String| ScenarioError {
        line: None,
        message,
    };
    let mut doc: toml::Value = toml::from_str(source).map_err(|e| bad(e.to_string()))?;
    for (key, literal) in settings {
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {literal}"))
            .map_err(|e| bad(format!("{key} = {literal}: {}", e.message())))?
            .remove("v")
            .expect("parsed above");
        let mut node = &mut doc;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            node = match node {
                toml::Value::Table(t) if last => {
                    t.insert(part.to_string(), value.clone());
                    break;
                }
                toml::Value::Table(t) => t
                    .entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new())),
                toml::Value::Array(a) => {
                    let index: usize = part
                        .parse()
                        .map_err(|_| bad(format!("{key}: {part:?} is not an index")))?;
                    let len = a.len();
                    let slot = a
                        .get_mut(index)
                        .ok_or(bad(format!("{key}: index {index} of {len}")))?;
                    if last {
                        *slot = value.clone();
                        break;
                    }
                    slot
                }
                _ => return Err(bad(format!("{key}: {part:?} is not a table"))),
            };
        }
    }
    let text = toml::to_string(&doc).map_err(|e| bad(e.to_string()))?;
    let scenario = Scenario::parse(&text).map_err(|e| ScenarioError {
        line: None,
        message: format!("with {settings:?}: {}", e.message),
    })?;
    Ok((scenario, text))
}
