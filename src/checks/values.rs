//! `value.placeholder`, `value.credential`: values nobody meant to ship (`changeme`,
//! `<your-url>`, `example.com` in prod) and passwords written where git keeps them (ConfigMaps,
//! plain env, values files, todo.toml's release values) instead of a Secret.
//!
//! A message names the placeholder it matched but never the value of a credential.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::index::{Index, kind};
use super::source::SourceKind;
use super::{CheckInput, Severity, Sink};

static ANGLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<[A-Za-z][A-Za-z0-9 _.-]*>").expect("valid regex"));
/// `scheme://user:password@`: the user and password of a URL.
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://([^/:@\s]*):([^/@\s]*)@").expect("valid regex")
});
static EXAMPLE_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(^|[^A-Za-z0-9-])example\.(com|org|net)\b").expect("valid regex")
});

/// Passwords that are themselves placeholders.
const PLACEHOLDER_PASSWORDS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "secret",
    "changeme",
    "xxx",
    "xxxx",
    "***",
    "pwd",
    "mypassword",
];

/// What makes a value a placeholder, as shown in the message (never the whole value).
fn placeholder(value: &str, prod: bool) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    for token in [
        "changeme",
        "change-me",
        "change_me",
        "replaceme",
        "replace-me",
        "placeholder",
    ] {
        if lower.contains(token) {
            return Some(format!("`{token}`"));
        }
    }
    if !value.contains('\n')
        && !value.contains("</")
        && let Some(m) = ANGLE.find(value)
    {
        return Some(format!("`{}`", m.as_str()));
    }
    if let Some(c) = URL_USERINFO.captures(value) {
        let password = c.get(2).map(|m| m.as_str()).unwrap_or("");
        if PLACEHOLDER_PASSWORDS.contains(&password.to_ascii_lowercase().as_str()) {
            return Some("`user:password@` in a URL".to_string());
        }
    }
    if prod && !value.contains('\n') && EXAMPLE_DOMAIN.is_match(value) {
        return Some("`example.com`-style domain in a prod overlay".to_string());
    }
    None
}

/// `jwtSecretKey` → `JWT_SECRET_KEY`, so one list of words covers both spellings.
fn upper_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev_lower = false;
    for ch in key.chars() {
        if ch.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        out.push(match ch {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        });
    }
    out
}

const CREDENTIAL_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
];

/// Endings of keys that name or describe a credential rather than hold it.
const NOT_A_VALUE: &[&str] = &[
    "_NAME",
    "_FILE",
    "_PATH",
    "_DIR",
    "_REF",
    "_KEY_REF",
    "_ENABLED",
    "_LENGTH",
    "_TTL",
    "_EXPIRE",
    "_EXPIRES",
    "_MINUTES",
    "_SECONDS",
    "_HOURS",
    "_DAYS",
    "_ALGORITHM",
    "_TYPE",
    "_URL",
    "_ENDPOINT",
    "_HEADER",
    "_MOUNT",
    "_VERSION",
    "_KEYS",
    "_NAMES",
    "_PROVIDER",
];

fn credential_key(key: &str) -> bool {
    let k = upper_snake(key);
    CREDENTIAL_WORDS.iter().any(|w| k.contains(w))
        && !NOT_A_VALUE.iter().any(|s| k.ends_with(s))
        && !k.starts_with("EXISTING")
        && !k.starts_with("USE_")
}

/// Whether `value` at `key` would be a credential written as a literal (what `value.credential`
/// flags): such values are recorded only as digests.
pub fn looks_like_credential(key: &str, value: &str) -> bool {
    (credential_key(key) && literal_credential(value)) || url_password(value)
}

/// A literal that could be a credential (not empty, a flag, a number, a path, a reference).
fn literal_credential(value: &str) -> bool {
    let v = value.trim();
    if v.len() < 4 || v.contains("$(") || v.contains("${") || v.contains("{{") {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "null" | "none" | "enabled" | "disabled"
    ) || v.parse::<f64>().is_ok()
        || v.starts_with('/')
        // The name of a key or variable holding it (passwordKey: POSTGRES_PASSWORD).
        || v.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    // A URL is a credential only through a password written in it (checked apart).
    !v.contains("://")
}

/// A password written into a URL (`postgresql://app:s3cret@db`), not a placeholder or a
/// `$(VAR)` expansion.
fn url_password(value: &str) -> bool {
    URL_USERINFO.captures(value).is_some_and(|c| {
        let password = c.get(2).map(|m| m.as_str()).unwrap_or("");
        !password.is_empty()
            && !password.starts_with("$(")
            && !password.starts_with("${")
            && !password.contains("{{")
            && !PLACEHOLDER_PASSWORDS.contains(&password.to_ascii_lowercase().as_str())
    })
}

fn is_prod(env: Option<&str>) -> bool {
    env.is_some_and(|e| {
        let e = e.to_ascii_lowercase();
        e == "prod" || e == "production" || e.starts_with("prod-") || e.starts_with("prod_")
    })
}

/// Judges one key/value pair; `(id, message)`.
fn judge(key: &str, value: &str, prod: bool) -> Option<(&'static str, String)> {
    if let Some(what) = placeholder(value, prod) {
        return Some((
            "value.placeholder",
            format!("`{key}` holds a placeholder ({what}); set the real value"),
        ));
    }
    if url_password(value) {
        return Some((
            "value.credential",
            format!(
                "`{key}` is a URL with a password written in it; keep the password in a Secret (todo.toml [secrets]) and compose the URL with $(VAR)"
            ),
        ));
    }
    if credential_key(key) && literal_credential(value) {
        return Some((
            "value.credential",
            format!(
                "`{key}` looks like a credential written as a literal value; move it to todo.toml [secrets] and read it with secretKeyRef"
            ),
        ));
    }
    None
}

fn check_objects(index: &Index<'_>, prod: bool, sink: &mut Sink<'_>) {
    for o in index.planned {
        if kind(&o.object) != "ConfigMap" {
            continue;
        }
        let Some(data) = o.object.get("data").and_then(Value::as_object) else {
            continue;
        };
        for (key, value) in data {
            let Some(value) = value.as_str() else {
                continue;
            };
            if let Some((id, message)) = judge(key, value, prod) {
                sink.push_located(
                    id,
                    Severity::Warning,
                    &o.address,
                    o.release.as_deref(),
                    format!("data.{key}"),
                    message,
                    key,
                    Some(value),
                );
            }
        }
    }
    for pod in index.pods.iter().filter(|p| p.planned) {
        for (path, c) in pod.containers() {
            let env = c.get("env").and_then(Value::as_array);
            for (i, e) in env.into_iter().flatten().enumerate() {
                let (Some(key), Some(value)) = (
                    e.get("name").and_then(Value::as_str),
                    e.get("value").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if let Some((id, message)) = judge(key, value, prod) {
                    sink.push_located(
                        id,
                        Severity::Warning,
                        &pod.address,
                        pod.release,
                        format!("{path}.env[{i}].value"),
                        message,
                        key,
                        Some(value),
                    );
                }
            }
        }
    }
}

/// `key: value` pairs of a YAML file by line, with their dotted path (indentation decides
/// nesting). A line scan, not a parse: enough to find the line, and it never fails.
fn yaml_pairs(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut block_indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
            continue;
        }
        let mut indent = line.len() - trimmed.len();
        if let Some(b) = block_indent {
            if indent > b {
                continue;
            }
            block_indent = None;
        }
        let mut body = trimmed;
        while let Some(rest) = body.strip_prefix("- ") {
            indent += 2;
            body = rest.trim_start();
        }
        let Some((raw_key, raw_value)) = split_yaml_pair(body) else {
            continue;
        };
        while stack.last().is_some_and(|(d, _)| *d >= indent) {
            stack.pop();
        }
        let key = raw_key.trim_matches(|c| c == '"' || c == '\'').to_string();
        let value = strip_comment(raw_value).trim();
        if value.is_empty() {
            stack.push((indent, key));
            continue;
        }
        if value.starts_with('|') || value.starts_with('>') {
            block_indent = Some(indent);
            continue;
        }
        let path: Vec<&str> = stack
            .iter()
            .map(|(_, k)| k.as_str())
            .chain([key.as_str()])
            .collect();
        let value = value.trim_matches(|c| c == '"' || c == '\'').to_string();
        out.push((i + 1, path.join("."), value));
    }
    out
}

fn split_yaml_pair(body: &str) -> Option<(&str, &str)> {
    let (key, value) = if let Some(rest) = body.strip_prefix('"') {
        let end = rest.find('"')?;
        let after = rest[end + 1..].trim_start().strip_prefix(':')?;
        (&body[..end + 2], after)
    } else {
        let colon = body
            .find(": ")
            .or_else(|| body.strip_suffix(':').map(|k| k.len()))?;
        (&body[..colon], body.get(colon + 1..).unwrap_or(""))
    };
    if key.is_empty() || key.contains(' ') && !key.starts_with('"') || key.starts_with('{') {
        return None;
    }
    Some((key, value))
}

fn strip_comment(value: &str) -> &str {
    let v = value.trim_start();
    if v.starts_with('"') || v.starts_with('\'') {
        let quote = &v[..1];
        return match v[1..].find(quote) {
            Some(end) => &v[..end + 2],
            None => v,
        };
    }
    v.split(" #").next().unwrap_or(v)
}

static TOML_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([A-Za-z0-9_.\-]+)\s*=\s*"((?:[^"\\]|\\.)*)""#).expect("valid regex")
});

static TOML_INLINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9_.\-]+)\s*=\s*\{").expect("valid regex"));

/// `key = "value"` pairs of todo.toml inside release values tables (the base's and the active
/// overlay's): (line, release, dotted key, value).
fn toml_release_pairs(text: &str, env: Option<&str>) -> Vec<(usize, String, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('#') {
            continue;
        }
        if t.starts_with('[') {
            let header = t.trim_start_matches('[').split(']').next().unwrap_or("");
            let parts: Vec<&str> = header.trim().split('.').collect();
            let other_env = parts.first() == Some(&"env") && parts.get(1).copied() != env;
            if other_env {
                current = None;
                continue;
            }
            let at = parts.iter().position(|p| *p == "releases");
            current = at.and_then(|at| {
                let release = parts.get(at + 1)?;
                // Only the values table: chart paths and timeouts are not values.
                (parts.get(at + 2) == Some(&"values")).then(|| {
                    (
                        release.to_string(),
                        parts.get(at + 3..).map(|p| p.join(".")).unwrap_or_default(),
                    )
                })
            });
            continue;
        }
        let Some((release, prefix)) = &current else {
            continue;
        };
        let code = t.split(" #").next().unwrap_or(t);
        // `config = { A = "x" }`: the inline table's key prefixes the pairs inside it.
        let inline = TOML_INLINE
            .captures(code)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str());
        for c in TOML_PAIR.captures_iter(code) {
            let key = c.get(1).map(|m| m.as_str()).unwrap_or("");
            let value = c.get(2).map(|m| m.as_str()).unwrap_or("");
            let path = [prefix.as_str(), inline.unwrap_or(""), key]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(".");
            out.push((i + 1, release.clone(), path, value.to_string()));
        }
    }
    out
}

fn check_sources(input: &CheckInput, prod: bool, sink: &mut Sink<'_>) {
    // A value already reported on the object it renders into is not reported again.
    let reported: HashSet<String> = sink
        .findings
        .iter()
        .filter(|f| f.id.starts_with("value."))
        .filter_map(|f| f.source.clone())
        .collect();
    let mut found = Vec::new();
    for file in &input.sources {
        let pairs: Vec<(usize, String, String, String)> = match file.kind {
            SourceKind::Spec => toml_release_pairs(&file.text, input.env.as_deref()),
            SourceKind::ValuesFile => yaml_pairs(&file.text)
                .into_iter()
                .map(|(n, k, v)| (n, file.release.clone().unwrap_or_default(), k, v))
                .collect(),
            // The chart's defaults are the chart author's; its objects are checked instead.
            SourceKind::ChartValues => continue,
        };
        for (line, release, path, value) in pairs {
            if value.contains("${") {
                continue;
            }
            let location = format!("{}:{line}", file.path);
            if reported.contains(&location) {
                continue;
            }
            let last = path.rsplit('.').next().unwrap_or(&path);
            if let Some((id, message)) = judge(last, &value, prod) {
                found.push(super::Finding {
                    id: id.to_string(),
                    severity: Severity::Warning,
                    address: format!("release.{release}"),
                    field: path.clone(),
                    message,
                    source: Some(location),
                });
            }
        }
    }
    sink.findings.extend(found);
}

pub(crate) fn check(index: &Index<'_>, input: &CheckInput, sink: &mut Sink<'_>) {
    let prod = is_prod(input.env.as_deref());
    check_objects(index, prod, sink);
    check_sources(input, prod, sink);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_named_by_the_token_not_the_value() {
        assert_eq!(
            placeholder("changeme", false).as_deref(),
            Some("`changeme`")
        );
        assert_eq!(
            placeholder("postgresql://<user>:<pw>@db/x", false).as_deref(),
            Some("`<user>`")
        );
        assert!(placeholder("postgresql://app:password@db/x", false).is_some());
        assert!(placeholder("https://todo.example.com", true).is_some());
        assert!(placeholder("https://todo.example.com", false).is_none());
        assert!(placeholder("<html><body></body></html>", false).is_none());
        assert!(placeholder("http://localhost:3000", true).is_none());
    }

    #[test]
    fn credentials_need_a_credential_key_and_a_literal() {
        assert!(judge("JWT_SECRET_KEY", "d9f8a7b6c5", false).is_some());
        assert!(judge("jwtSecretKey", "d9f8a7b6c5", false).is_some());
        assert!(judge("passwordKey", "POSTGRES_PASSWORD", false).is_none());
        assert!(judge("secretName", "todo-app", false).is_none());
        assert!(judge("POSTGRES_PASSWORD_FILE", "/run/secrets/pw", false).is_none());
        assert!(judge("TOKEN_EXPIRE_MINUTES", "30", false).is_none());
        assert!(judge("API_TOKEN", "", false).is_none());
        assert!(judge("DATABASE_URL", "postgresql://u:$(PW)@db:5432/x", false).is_none());
        let (id, message) = judge("DATABASE_URL", "postgresql://u:hunter22@db/x", false).unwrap();
        assert_eq!(id, "value.credential");
        assert!(!message.contains("hunter22"), "{message}");
    }

    #[test]
    fn yaml_pairs_track_nesting_lists_and_block_scalars() {
        let text = "secrets:\n  jwtSecretKey: \"abc\" # note\n  list:\n    - name: x\n      token: t0k3n\nscript: |\n  password: inside-a-block\nlast: 1\n";
        let pairs = yaml_pairs(text);
        let paths: Vec<(usize, &str, &str)> = pairs
            .iter()
            .map(|(n, k, v)| (*n, k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            paths,
            vec![
                (2, "secrets.jwtSecretKey", "abc"),
                (4, "secrets.list.name", "x"),
                (5, "secrets.list.token", "t0k3n"),
                (8, "last", "1"),
            ]
        );
    }

    #[test]
    fn toml_pairs_come_only_from_release_values_tables() {
        let text = "[releases.api]\nchart = \"c\"\n[releases.api.values]\nconfig = { API_TOKEN = \"abc123\", LEVEL = \"x\" }\n[env.prod.releases.api.values]\nauth.password = \"pw\"\n[secrets.app.keys]\nX = { env = \"Y\" }\n";
        let keys = |env| -> Vec<(usize, String)> {
            toml_release_pairs(text, env)
                .into_iter()
                .map(|(n, _, k, _)| (n, k))
                .collect()
        };
        assert_eq!(
            keys(Some("prod")),
            vec![
                (4, "config.API_TOKEN".to_string()),
                (4, "config.LEVEL".to_string()),
                (6, "auth.password".to_string())
            ]
        );
        assert_eq!(
            keys(None).len(),
            2,
            "another overlay's values are not this plan's"
        );
    }
}
