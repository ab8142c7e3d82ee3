//! `${...}` references inside string values.
//!
//! Grammar: `${` path `}` where path is dot-separated segments of letters, digits, `_` and `-`.
//! `$${` writes a literal `${`. A string may hold several references and text around them.

use std::fmt;

use serde_json::Value as Json;

use super::error::Span;
use crate::model::address::Address;

/// A reference to an attribute of a graph node, e.g. `${images.backend.ref}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub target: Address,
    pub attribute: String,
    /// Where the reference is written in todo.toml (empty when it came from a bare value).
    pub span: Span,
}

impl Reference {
    /// The reference as written, e.g. `${images.backend.ref}`.
    pub fn expression(&self) -> String {
        let (root, name) = match &self.target {
            Address::Image(n) => ("images", n.as_str()),
            Address::Secret(n) => ("secrets", n.as_str()),
            Address::Release(n) => ("releases", n.as_str()),
            Address::Namespace(n) => ("namespaces", n.as_str()),
            Address::Object { release, .. } => ("releases", release.as_str()),
        };
        format!("${{{root}.{name}.{}}}", self.attribute)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression())
    }
}

/// One piece of a string value: literal text or a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    /// The dot-separated path inside `${...}` and the byte range of the whole `${...}` in the string.
    Reference {
        path: Vec<String>,
        range: std::ops::Range<usize>,
    },
}

/// A malformed `${...}` and where it sits in the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub range: std::ops::Range<usize>,
}

/// Splits a string into literal text and references.
pub fn parse_template(s: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = s;
    let mut offset = 0;
    while let Some(pos) = rest.find('$') {
        let (before, from_dollar) = rest.split_at(pos);
        literal.push_str(before);
        let start = offset + pos;
        if let Some(after) = from_dollar.strip_prefix("$${") {
            literal.push_str("${");
            rest = after;
            offset = start + 3;
        } else if let Some(inner_and_more) = from_dollar.strip_prefix("${") {
            let Some(close) = inner_and_more.find('}') else {
                return Err(TemplateError {
                    message: "`${` is not closed by `}`".into(),
                    range: start..s.len(),
                });
            };
            let inner = &inner_and_more[..close];
            let end = start + 2 + close + 1;
            let path: Vec<String> = inner.split('.').map(|p| p.trim().to_string()).collect();
            let valid_segment = |p: &String| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            };
            if !path.iter().all(valid_segment) {
                return Err(TemplateError {
                    message: format!(
                        "`${{{inner}}}` is not a reference: write dot-separated names such as `${{images.backend.ref}}`"
                    ),
                    range: start..end,
                });
            }
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Reference {
                path,
                range: start..end,
            });
            rest = &inner_and_more[close + 1..];
            offset = end;
        } else {
            literal.push('$');
            rest = &from_dollar[1..];
            offset = start + 1;
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// True when the string holds at least one `${...}` (escaped `$${` does not count).
pub fn has_reference(s: &str) -> bool {
    s.contains("${")
        && parse_template(s)
            .map(|p| p.iter().any(|p| matches!(p, Piece::Reference { .. })))
            .unwrap_or(true)
}

/// Turns a path like `images.backend.ref` into a node reference, when it names a node.
pub fn node_reference(path: &[String]) -> Option<Reference> {
    let [root, name, attribute] = path else {
        return None;
    };
    let target = match root.as_str() {
        "images" => Address::Image(name.clone()),
        "secrets" => Address::Secret(name.clone()),
        "releases" => Address::Release(name.clone()),
        _ => return None,
    };
    Some(Reference {
        target,
        attribute: attribute.clone(),
        span: Span::default(),
    })
}

/// Every node reference in a JSON value (spans are empty: JSON carries no positions).
pub fn references_in(value: &Json) -> Vec<Reference> {
    let mut found = Vec::new();
    visit_strings(value, &mut |s| {
        if let Ok(pieces) = parse_template(s) {
            for piece in pieces {
                if let Piece::Reference { path, .. } = piece
                    && let Some(r) = node_reference(&path)
                {
                    found.push(r);
                }
            }
        }
    });
    found
}

fn visit_strings(value: &Json, f: &mut dyn FnMut(&str)) {
    match value {
        Json::String(s) => f(s),
        Json::Array(items) => items.iter().for_each(|i| visit_strings(i, f)),
        Json::Object(map) => map.values().for_each(|v| visit_strings(v, f)),
        _ => {}
    }
}

/// Replaces every node reference in string values with what `resolve` returns.
///
/// A string that is exactly one reference becomes the resolved string; references embedded in
/// text are spliced in. `$${` becomes `${`. Strings that hold no reference are returned as they are.
pub fn interpolate<E>(
    value: &Json,
    resolve: &mut dyn FnMut(&Reference) -> Result<String, E>,
) -> Result<Json, E> {
    Ok(match value {
        Json::String(s) => Json::String(interpolate_str(s, resolve)?),
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|i| interpolate(i, resolve))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(k.clone(), interpolate(v, resolve)?);
            }
            Json::Object(out)
        }
        other => other.clone(),
    })
}

/// [`interpolate`] for one string.
pub fn interpolate_str<E>(
    s: &str,
    resolve: &mut dyn FnMut(&Reference) -> Result<String, E>,
) -> Result<String, E> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let Ok(pieces) = parse_template(s) else {
        return Ok(s.to_string());
    };
    let mut out = String::with_capacity(s.len());
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.push_str(&text),
            Piece::Reference { path, range } => match node_reference(&path) {
                Some(reference) => out.push_str(&resolve(&reference)?),
                None => out.push_str(s.get(range).unwrap_or_default()),
            },
        }
    }
    Ok(out)
}

/// The span of `range` (a byte range of the string's value) in the file, when the string is
/// written without escapes; otherwise the span of the whole string value.
pub fn span_within(
    source: &str,
    value_span: Span,
    value: &str,
    range: &std::ops::Range<usize>,
) -> Span {
    let Some(raw) = source.get(value_span.start..value_span.end) else {
        return value_span;
    };
    let quote_len = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        3
    } else {
        1
    };
    if raw.len() < 2 * quote_len {
        return value_span;
    }
    let inner = raw.get(quote_len..raw.len() - quote_len);
    if inner == Some(value) {
        Span::new(
            value_span.start + quote_len + range.start,
            value_span.start + quote_len + range.end,
        )
    } else {
        value_span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_embedded_and_escaped_references() {
        let pieces = parse_template("http://${releases.api.name}:8000/$${x}").unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Literal("http://".into()),
                Piece::Reference {
                    path: vec!["releases".into(), "api".into(), "name".into()],
                    range: 7..27,
                },
                Piece::Literal(":8000/${x}".into()),
            ]
        );
    }

    #[test]
    fn lone_dollar_is_text() {
        assert_eq!(
            parse_template("cost $5").unwrap(),
            vec![Piece::Literal("cost $5".into())]
        );
    }

    #[test]
    fn unclosed_reference_is_an_error_at_its_start() {
        let err = parse_template("a ${images.x.ref").unwrap_err();
        assert_eq!(err.range, 2..16);
    }

    #[test]
    fn empty_segment_is_an_error() {
        assert!(parse_template("${images..ref}").is_err());
    }

    #[test]
    fn interpolate_replaces_references_and_keeps_other_values() {
        let value = serde_json::json!({
            "image": {"ref": "${images.backend.ref}"},
            "url": "http://${releases.db.name}-postgres:5432",
            "replicas": 2
        });
        let out = interpolate(&value, &mut |r: &Reference| {
            Ok::<_, ()>(match (&r.target, r.attribute.as_str()) {
                (Address::Image(n), "ref") => format!("reg/{n}@sha256:abc"),
                (Address::Release(n), "name") => n.clone(),
                _ => "?".into(),
            })
        })
        .unwrap();
        assert_eq!(
            out,
            serde_json::json!({
                "image": {"ref": "reg/backend@sha256:abc"},
                "url": "http://db-postgres:5432",
                "replicas": 2
            })
        );
    }

    #[test]
    fn references_in_finds_node_references_only() {
        let value =
            serde_json::json!(["${images.a.ref}", "${var.x}", {"k": "x-${secrets.s.name}"}]);
        let found: Vec<String> = references_in(&value)
            .iter()
            .map(|r| r.expression())
            .collect();
        assert_eq!(found, vec!["${images.a.ref}", "${secrets.s.name}"]);
    }

    #[test]
    fn span_within_points_into_plain_strings() {
        let source = r#"x = "a ${b.c.d}""#;
        let span = span_within(source, Span::new(4, 16), "a ${b.c.d}", &(2..10));
        assert_eq!(&source[span.start..span.end], "${b.c.d}");
    }
}
