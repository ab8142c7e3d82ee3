//! What a chart's values say: which value paths feed a Secret the chart renders, which name
//! an image, and which hold a Secret's name. Found by rendering the chart with todoplan's own
//! renderer (no helm binary), once with a unique marker in every string value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::chart::{self, Capabilities, RenderOptions, RenderRequest};
use crate::model::object::Metadata;

/// A value path, e.g. `["backend", "image", "repository"]`.
pub type ValuePath = Vec<String>;

pub fn dotted(path: &[String]) -> String {
    path.join(".")
}

/// A Secret the chart renders with at least one key taken from values.
#[derive(Debug, Clone)]
pub struct ChartSecret {
    /// Its name as rendered with the chart's default values.
    pub name: String,
    /// The template that renders it, relative to the chart root (`templates/secret.yaml`).
    pub template: String,
    /// Each data key, with the value paths its value is made from (empty: not from values).
    pub keys: Vec<(String, Vec<ValuePath>)>,
    /// A value that switches the template off: (path, `true` when the template is wrapped in
    /// `if .Values.PATH`, `false` when in `if not .Values.PATH`).
    pub guard: Option<(ValuePath, bool)>,
}

#[derive(Debug, Default)]
pub struct ChartFacts {
    /// The chart's name (Chart.yaml), used as the release name.
    pub name: String,
    /// Every scalar leaf of the values a user sees: the chart's values.yaml, its subcharts'
    /// (under their names) and every `values-<env>.yaml`, first definition first.
    pub leaves: Vec<(ValuePath, Value)>,
    /// Leaves set by each env values file: (file, leaves).
    pub env_leaves: Vec<(PathBuf, Vec<(ValuePath, Value)>)>,
    pub secrets: Vec<ChartSecret>,
    /// Why Secrets could not be examined, when they could not.
    pub problem: Option<String>,
}

const MARKER: &str = "tpinitmarker";

pub fn examine(
    chart_dir: &Path,
    env_files: &[PathBuf],
    release_name: &str,
) -> Result<ChartFacts, String> {
    let mut user = Vec::new();
    for file in env_files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let parsed: Value = serde_yaml_ng::from_str(&text)
            .map_err(|e| format!("{} is not YAML: {e}", file.display()))?;
        user.push((file.clone(), parsed));
    }
    examine_values(chart_dir, &user, release_name)
}

/// [`examine`] with the user's values already read: (where they come from, values).
/// The chart is rendered as release `release_name`, the name todo.toml will give it: the names
/// its templates derive from the release (`{{ .Release.Name }}-secrets`) are the real ones.
pub fn examine_values(
    chart_dir: &Path,
    user: &[(PathBuf, Value)],
    release_name: &str,
) -> Result<ChartFacts, String> {
    let loaded = chart::load::load_chart(chart_dir).map_err(|e| e.to_string())?;
    let mut facts = ChartFacts {
        name: loaded.meta.name.clone(),
        ..ChartFacts::default()
    };
    let mut root_leaves = Vec::new();
    for (k, v) in &loaded.values {
        collect_leaves(&v.to_json(), &mut vec![k.clone()], &mut root_leaves);
    }
    let mut all = root_leaves.clone();
    for (name, dep) in loaded.declared_subcharts() {
        let mut sub = Vec::new();
        for (k, v) in &dep.borrow().values {
            collect_leaves(&v.to_json(), &mut vec![name.clone(), k.clone()], &mut sub);
        }
        push_new(&mut all, sub);
    }
    for (file, parsed) in user {
        let mut leaves = Vec::new();
        if let Value::Object(map) = parsed {
            for (k, v) in map {
                collect_leaves(v, &mut vec![k.clone()], &mut leaves);
            }
        }
        push_new(&mut all, leaves.clone());
        facts.env_leaves.push((file.clone(), leaves));
    }
    facts.leaves = all;

    // Every string a user can set gets its own marker; a Secret whose data holds a marker takes
    // that key from that value.
    // A schema or template may constrain a string (an enum, a pattern, a semver): when marking
    // every string fails, empty and credential-like ones are marked, then credential-like ones
    // only, which is where secrets live.
    let attempt = |level: u8| {
        let mut markers: Vec<ValuePath> = Vec::new();
        let mut marked = Value::Object(Default::default());
        for (path, value) in &facts.leaves {
            // What is not marked keeps the value the user gave (or the chart's default).
            let Some(s) = value.as_str() else {
                if !value.is_null() {
                    set_path(&mut marked, path, value.clone());
                }
                continue;
            };
            // Image references are not secrets, and charts often check their form.
            let image = path
                .iter()
                .any(|p| p.to_ascii_lowercase().contains("image"));
            if image && s.is_empty() {
                let stand_in = match path.last().map(String::as_str) {
                    Some("tag") => "init",
                    Some("repository") => "registry.invalid/init",
                    Some("ref" | "image") => "registry.invalid/init:init",
                    _ => continue,
                };
                set_path(&mut marked, path, Value::String(stand_in.into()));
                continue;
            }
            if image
                || markers.contains(path)
                || (level == 1 && !s.is_empty() && !credential_like(path, ""))
                || (level == 2 && !credential_like(path, ""))
            {
                set_path(&mut marked, path, value.clone());
                continue;
            }
            set_path(
                &mut marked,
                path,
                Value::String(format!("{MARKER}{}x", markers.len())),
            );
            markers.push(path.clone());
        }
        render(chart_dir, marked, release_name).map(|r| (r, markers))
    };
    let (rendered, markers) = match attempt(0).or_else(|_| attempt(1)).or_else(|_| attempt(2)) {
        Ok(r) => r,
        Err(e) => {
            facts.problem = Some(format!(
                "rendering the chart with marked values failed, so its Secrets were not examined: {e}"
            ));
            return Ok(facts);
        }
    };
    let defaults: BTreeMap<String, String> = markers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let v = facts
                .leaves
                .iter()
                .find(|(lp, _)| lp == p)
                .and_then(|(_, v)| v.as_str())
                .unwrap_or("")
                .to_string();
            (format!("{MARKER}{i}x"), v)
        })
        .collect();
    let marker_re = regex::Regex::new(&format!("{MARKER}([0-9]+)x")).expect("static pattern");
    for m in &rendered {
        if m.kind() != "Secret" || m.hook.is_some() {
            continue;
        }
        let Some(raw_name) = m.object.metadata_field("name").and_then(Value::as_str) else {
            continue;
        };
        let name = marker_re
            .replace_all(raw_name, |c: &regex::Captures| {
                defaults.get(&c[0]).cloned().unwrap_or_default()
            })
            .to_string();
        let mut keys = Vec::new();
        let decode = |v: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        for (field, encoded) in [("data", true), ("stringData", false)] {
            let Some(map) = m.object.get(field).and_then(Value::as_object) else {
                continue;
            };
            for (key, v) in map {
                let text = match v.as_str() {
                    Some(s) if encoded => decode(s).unwrap_or_default(),
                    Some(s) => s.to_string(),
                    None => String::new(),
                };
                let paths: Vec<ValuePath> = marker_re
                    .captures_iter(&text)
                    .filter_map(|c| c[1].parse::<usize>().ok())
                    .filter_map(|i| markers.get(i).cloned())
                    .collect();
                keys.push((key.clone(), paths));
            }
        }
        if keys.iter().all(|(_, p)| p.is_empty()) {
            continue;
        }
        let template = m
            .source
            .split_once('/')
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default();
        let guard = guard_of(chart_dir, &template);
        facts.secrets.push(ChartSecret {
            name,
            template,
            keys,
            guard,
        });
    }
    Ok(facts)
}

/// Whether `path = value` looks like a credential. Names of things are not (`secretName`,
/// `existingSecret`, `passwordFile`), nor a key name under a `...Key` (`passwordKey:
/// POSTGRES_PASSWORD`); `jwtSecretKey: dev-Zq7v...` is.
pub fn credential_like(path: &[String], value: &str) -> bool {
    let last = path
        .last()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    if [
        "name",
        "ref",
        "file",
        "path",
        "existingsecret",
        "enabled",
        "create",
    ]
    .iter()
    .any(|s| last.ends_with(s))
    {
        return false;
    }
    let key_name = !value.is_empty()
        && value.len() <= 63
        && (value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            || value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'));
    if (last.ends_with("key") || last.ends_with("keys")) && key_name {
        return false;
    }
    [
        "password",
        "secret",
        "key",
        "token",
        "credential",
        "auth",
        "jwt",
        "dsn",
        "url",
    ]
    .iter()
    .any(|w| last.contains(w))
}

/// Renders the chart with `inline` values over its defaults, as release `release_name`.
pub fn render(
    chart_dir: &Path,
    inline: Value,
    release_name: &str,
) -> Result<Vec<chart::Manifest>, String> {
    let request = RenderRequest {
        chart_dir,
        release_name,
        namespace: "default",
        values_files: &[],
        inline_values: inline,
        revision: 1,
        is_upgrade: false,
        capabilities: Capabilities::default(),
        lookup: None,
    };
    chart::render_with(&request, &RenderOptions::default())
        .map(|r| r.manifests)
        .map_err(|e| e.to_string())
}

/// The `if .Values.X` (or `if not .Values.X`) that wraps a whole template, as a value path from
/// the release's root (a subchart's template is under its name).
fn guard_of(chart_dir: &Path, template: &str) -> Option<(ValuePath, bool)> {
    let text = std::fs::read_to_string(chart_dir.join(template)).ok()?;
    let re = regex::Regex::new(
        r"^\s*(?:\{\{-?\s*/\*.*?\*/\s*-?\}\}\s*)*\{\{-?\s*if\s+(not\s+)?\.Values\.([A-Za-z0-9_.]+)\s*-?\}\}",
    )
    .expect("static pattern");
    let caps = re.captures(&text)?;
    let mut path: ValuePath = Vec::new();
    let mut parts = template.split('/').peekable();
    while let Some(p) = parts.next() {
        if p == "charts"
            && let Some(sub) = parts.next()
        {
            path.push(sub.to_string());
        }
    }
    path.extend(caps[2].split('.').map(str::to_string));
    Some((path, caps.get(1).is_none()))
}

fn collect_leaves(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<(ValuePath, Value)>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                prefix.push(k.clone());
                collect_leaves(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Object(_) => {}
        other => out.push((prefix.clone(), other.clone())),
    }
}

fn push_new(all: &mut Vec<(ValuePath, Value)>, more: Vec<(ValuePath, Value)>) {
    for (p, v) in more {
        match all.iter_mut().find(|(q, _)| *q == p) {
            // An empty default is filled in by a later file (values-dev.yaml sets the image).
            Some((_, old)) if old.as_str() == Some("") && !v.is_null() => *old = v,
            Some(_) => {}
            None => all.push((p, v)),
        }
    }
}

pub fn set_path(root: &mut Value, path: &[String], value: Value) {
    let mut here = root;
    for (i, seg) in path.iter().enumerate() {
        if !here.is_object() {
            *here = Value::Object(Default::default());
        }
        let map = here.as_object_mut().expect("made an object above");
        if i + 1 == path.len() {
            map.insert(seg.clone(), value);
            return;
        }
        here = map
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_told_from_names_of_things() {
        let p = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        assert!(credential_like(
            &p("secrets.jwtSecretKey"),
            "dev-jwt-Zq7vX93kLpR2"
        ));
        assert!(credential_like(&p("auth.password"), "hunter2"));
        assert!(!credential_like(&p("secretName"), "backend-secret"));
        assert!(!credential_like(&p("auth.existingSecret"), "pg"));
        assert!(!credential_like(
            &p("database.passwordKey"),
            "POSTGRES_PASSWORD"
        ));
        assert!(!credential_like(&p("replicaCount"), "2"));
    }

    #[test]
    fn set_path_builds_tables() {
        let mut v = Value::Object(Default::default());
        set_path(&mut v, &["a".into(), "b".into()], Value::Bool(true));
        set_path(&mut v, &["a".into(), "c".into()], Value::from(1));
        assert_eq!(v, serde_json::json!({"a": {"b": true, "c": 1}}));
    }
}
