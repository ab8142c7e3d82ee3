//! Field-level diffs as YAML unified diffs (similar).

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// YAML for display; keys keep the object's own order.
pub fn to_yaml(value: &Value) -> String {
    serde_yaml_ng::to_string(value).unwrap_or_else(|e| format!("# cannot render as YAML: {e}\n"))
}

/// One line of a rendered diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    Context(String),
    Added(String),
    Removed(String),
    /// A gap between hunks.
    Skip,
}

/// Unified diff of the YAML forms with `context` lines around each change.
pub fn diff_lines(before: Option<&Value>, after: Option<&Value>, context: usize) -> Vec<DiffLine> {
    let old = before.map(to_yaml).unwrap_or_default();
    let new = after.map(to_yaml).unwrap_or_default();
    let diff = TextDiff::from_lines(&old, &new);
    let mut out = Vec::new();
    for (i, group) in diff.grouped_ops(context).iter().enumerate() {
        if i > 0 {
            out.push(DiffLine::Skip);
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let line = change.value().trim_end_matches('\n').to_string();
                out.push(match change.tag() {
                    ChangeTag::Equal => DiffLine::Context(line),
                    ChangeTag::Insert => DiffLine::Added(line),
                    ChangeTag::Delete => DiffLine::Removed(line),
                });
            }
        }
    }
    out
}

/// Plain unified text (`+`/`-`/` ` prefixes), as used in markdown and JSON.
pub fn unified_text(lines: &[DiffLine]) -> String {
    let mut s = String::new();
    for l in lines {
        match l {
            DiffLine::Context(t) => s.push_str(&format!("  {t}\n")),
            DiffLine::Added(t) => s.push_str(&format!("+ {t}\n")),
            DiffLine::Removed(t) => s.push_str(&format!("- {t}\n")),
            DiffLine::Skip => s.push_str("  ...\n"),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_changed_field_and_its_context_appear() {
        let before =
            json!({"spec": {"replicas": 1, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}});
        let after =
            json!({"spec": {"replicas": 2, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}});
        let lines = diff_lines(Some(&before), Some(&after), 1);
        assert!(
            lines.contains(&DiffLine::Removed("  replicas: 1".into())),
            "{lines:?}"
        );
        assert!(
            lines.contains(&DiffLine::Added("  replicas: 2".into())),
            "{lines:?}"
        );
        assert!(
            !lines
                .iter()
                .any(|l| matches!(l, DiffLine::Context(t) if t.contains("f: 6")))
        );
    }

    #[test]
    fn creation_is_all_additions() {
        let after = json!({"kind": "ConfigMap", "data": {"a": "b"}});
        let lines = diff_lines(None, Some(&after), 3);
        assert!(
            lines.iter().all(|l| matches!(l, DiffLine::Added(_))),
            "{lines:?}"
        );
    }
}
