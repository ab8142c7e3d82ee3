//! Pointing a finding at the line to change: todo.toml or a values file of the release.
//!
//! Rendered objects do not remember which values line produced them, so this is a search, in
//! the order the values apply from the top: todo.toml's own sections of the release (inline
//! values win over files), then its values files from last to first, then the chart's
//! values.yaml. A line holding both the key and the value is preferred, then one holding the
//! value, then one holding the key. It can miss (a value computed in a template) or pick an
//! earlier mention of the same text; then the finding has no source, or a near one.

use std::collections::HashMap;

/// What a source file is to the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// todo.toml (its `[releases.NAME]` and `[env.*.releases.NAME]` sections).
    Spec,
    /// A values file named in `values_files`.
    ValuesFile,
    /// The chart's own values.yaml.
    ChartValues,
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// As shown in findings (relative to todo.toml's directory when inside it).
    pub path: String,
    pub text: String,
    /// The release it belongs to; None for todo.toml (shared by all releases).
    pub release: Option<String>,
    pub kind: SourceKind,
}

/// The release a todo.toml table header belongs to: `[releases.NAME...]` or
/// `[env.ENV.releases.NAME...]`.
fn release_of_header(header: &str) -> Option<&str> {
    let rest = match header.strip_prefix("env.") {
        Some(env_rest) => env_rest.split_once('.')?.1,
        None => header,
    };
    let rest = rest.strip_prefix("releases.")?;
    Some(rest.split('.').next().unwrap_or(rest))
}

/// Sources prepared once per run: todo.toml's lines grouped by the release whose tables hold
/// them, so pointing a finding at a line costs that release's lines, not the whole file.
pub struct SourceIndex<'a> {
    files: &'a [SourceFile],
    /// release → (todo.toml path, line number, line).
    spec_lines: HashMap<&'a str, Vec<(&'a str, usize, &'a str)>>,
}

impl<'a> SourceIndex<'a> {
    pub fn build(files: &'a [SourceFile]) -> SourceIndex<'a> {
        let mut spec_lines: HashMap<&'a str, Vec<(&'a str, usize, &'a str)>> = HashMap::new();
        for f in files.iter().filter(|f| f.kind == SourceKind::Spec) {
            let mut current: Option<&'a str> = None;
            for (i, line) in f.text.lines().enumerate() {
                let t = line.trim_start();
                if t.starts_with('[') {
                    let header = t.trim_start_matches('[').split(']').next().unwrap_or("");
                    current = release_of_header(header.trim());
                    continue;
                }
                if let Some(release) = current {
                    spec_lines
                        .entry(release)
                        .or_default()
                        .push((f.path.as_str(), i + 1, line));
                }
            }
        }
        SourceIndex { files, spec_lines }
    }

    /// `file:line` where `key` (and `value`) of `release` is set, when found.
    pub fn locate(&self, release: Option<&str>, key: &str, value: Option<&str>) -> Option<String> {
        let release = release?;
        if let Some(lines) = self.spec_lines.get(release) {
            // One todo.toml: its lines for the release, in file order.
            if let Some(n) = find_in(lines.iter().map(|(_, n, l)| (*n, *l)), key, value) {
                let path = lines.first().map(|(p, _, _)| *p).unwrap_or("todo.toml");
                return Some(format!("{path}:{n}"));
            }
        }
        self.files
            .iter()
            .rev()
            .filter(|s| s.kind == SourceKind::ValuesFile && s.release.as_deref() == Some(release))
            .chain(self.files.iter().filter(|s| {
                s.kind == SourceKind::ChartValues && s.release.as_deref() == Some(release)
            }))
            .find_map(|s| {
                find_in(
                    s.text.lines().enumerate().map(|(i, l)| (i + 1, l)),
                    key,
                    value,
                )
                .map(|n| format!("{}:{n}", s.path))
            })
    }
}

fn find_in<'t>(
    lines: impl Iterator<Item = (usize, &'t str)>,
    key: &str,
    value: Option<&str>,
) -> Option<usize> {
    let key_lower = key.to_ascii_lowercase();
    let has_key = |l: &str| {
        if key.is_empty() {
            return false;
        }
        let l = l.to_ascii_lowercase();
        // As a key: `key:` (YAML), `key =` (TOML), or a dotted TOML key ending in it.
        l.contains(&format!("{key_lower}:"))
            || l.contains(&format!("{key_lower} ="))
            || l.contains(&format!("{key_lower}="))
    };
    let code: Vec<(usize, &str)> = lines
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .map(|(n, l)| (n, l.split(" #").next().unwrap_or(l)))
        .collect();
    if let Some(v) = value.filter(|v| v.len() >= 3) {
        let with_value = || code.iter().filter(|(_, l)| l.contains(v));
        if let Some((n, _)) = with_value().find(|(_, l)| has_key(l)) {
            return Some(*n);
        }
        if let Some((n, _)) = with_value().next() {
            return Some(*n);
        }
    }
    code.iter().find(|(_, l)| has_key(l)).map(|(n, _)| *n)
}

/// [`SourceIndex::locate`] over sources not indexed yet.
pub fn locate(
    sources: &[SourceFile],
    release: Option<&str>,
    key: &str,
    value: Option<&str>,
) -> Option<String> {
    SourceIndex::build(sources).locate(release, key, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str, release: Option<&str>, kind: SourceKind) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
            release: release.map(str::to_string),
            kind,
        }
    }

    #[test]
    fn todo_toml_wins_over_values_files_and_only_the_release_s_own_sections_count() {
        let spec = file(
            "todo.toml",
            "[releases.a.values]\nsecretName = \"x-app\"\n\n[releases.b.values]\nsecretName = \"y-app\"\n",
            None,
            SourceKind::Spec,
        );
        let values = file(
            "values-dev.yaml",
            "secretName: y-app\n",
            Some("b"),
            SourceKind::ValuesFile,
        );
        let sources = [spec, values];
        assert_eq!(
            locate(&sources, Some("b"), "secretName", Some("y-app")).as_deref(),
            Some("todo.toml:5")
        );
        assert_eq!(
            locate(&sources, Some("a"), "secretName", Some("y-app")).as_deref(),
            Some("todo.toml:2"),
            "the key matches in a's section even though the value does not"
        );
    }

    #[test]
    fn later_values_files_are_searched_first_and_comments_are_skipped() {
        let sources = [
            file(
                "a.yaml",
                "url: https://changeme\n",
                Some("r"),
                SourceKind::ValuesFile,
            ),
            file(
                "b.yaml",
                "# url: https://changeme\nother: 1\nurl: https://changeme\n",
                Some("r"),
                SourceKind::ValuesFile,
            ),
        ];
        assert_eq!(
            locate(&sources, Some("r"), "url", Some("https://changeme")).as_deref(),
            Some("b.yaml:3")
        );
        assert_eq!(
            locate(&sources, Some("r"), "nothing", Some("nowhere")),
            None
        );
    }

    #[test]
    fn env_overlay_sections_of_the_release_are_searched() {
        let spec = file(
            "todo.toml",
            "[releases.web]\nchart = \"c\"\n[env.prod.releases.web.values]\nhost = \"example.com\"\n",
            None,
            SourceKind::Spec,
        );
        assert_eq!(
            locate(&[spec], Some("web"), "host", Some("example.com")).as_deref(),
            Some("todo.toml:4")
        );
    }
}
