//! An owned TOML tree in source order where every key and value keeps its span.
//!
//! The toml crate's spanned parse gives borrowed tables in key order; env overlays need to merge
//! trees and the diagnostics need source order, so the spec is read through this tree.

use toml::de::{DeTable, DeValue};

use super::error::{Problem, Span};

/// Deeper nesting than this is refused so no input can exhaust the stack while we walk it.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(Table),
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub entries: Vec<(Key, Node)>,
}

impl Table {
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    pub fn get_entry(&self, name: &str) -> Option<(&Key, &Node)> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(k, v)| (k, v))
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    pub fn remove(&mut self, name: &str) -> Option<(Key, Node)> {
        let index = self.entries.iter().position(|(k, _)| k.name == name)?;
        Some(self.entries.remove(index))
    }

    /// Deep merge: tables merge key by key, anything else in `overlay` replaces the base value.
    pub fn merge(&mut self, overlay: Table) {
        for (key, node) in overlay.entries {
            match self.entries.iter_mut().find(|(k, _)| k.name == key.name) {
                Some((_, existing)) => match (&mut existing.value, node.value) {
                    (Value::Table(base), Value::Table(over)) => base.merge(over),
                    (_, other) => {
                        *existing = Node {
                            span: node.span,
                            value: other,
                        }
                    }
                },
                None => self.entries.push((key, node)),
            }
        }
    }
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// Parses TOML text into the tree; syntax errors come back as problems with spans.
pub fn parse(text: &str) -> Result<Table, Vec<Problem>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|e| {
                let span = e.span().map(Span::from).unwrap_or_else(|| Span::new(0, 0));
                let message = e.message().trim().to_string();
                Problem::new("syntax", format!("TOML syntax error: {message}"))
                    .label(span, message)
                    .help("todo.toml must be valid TOML (https://toml.io)")
            })
            .collect());
    }
    let mut problems = Vec::new();
    let table = convert_table(root.get_ref(), 0, &mut problems);
    if problems.is_empty() {
        Ok(table)
    } else {
        Err(problems)
    }
}

fn convert_table(table: &DeTable<'_>, depth: usize, problems: &mut Vec<Problem>) -> Table {
    let mut entries: Vec<(Key, Node)> = table
        .iter()
        .map(|(k, v)| {
            let key = Key {
                name: k.get_ref().to_string(),
                span: Span::from(k.span()),
            };
            (key, convert_value(v, depth + 1, problems))
        })
        .collect();
    entries.sort_by_key(|(k, _)| k.span.start);
    Table { entries }
}

fn convert_value(
    value: &serde_spanned::Spanned<DeValue<'_>>,
    depth: usize,
    problems: &mut Vec<Problem>,
) -> Node {
    let span = Span::from(value.span());
    if depth > MAX_DEPTH {
        problems.push(
            Problem::new(
                "too-deep",
                format!("values nest deeper than {MAX_DEPTH} levels"),
            )
            .label(span, "nested too deeply"),
        );
        return Node {
            span,
            value: Value::Table(Table::default()),
        };
    }
    let converted = match value.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(n) => Value::Integer(n),
                Err(_) => {
                    problems.push(
                        Problem::new("integer-range", "integer does not fit in 64 bits")
                            .label(span, "out of range"),
                    );
                    Value::Integer(0)
                }
            }
        }
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(n) => Value::Float(n),
            Err(_) => {
                problems.push(
                    Problem::new("float", "this float cannot be read").label(span, "not a float"),
                );
                Value::Float(0.0)
            }
        },
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| convert_value(item, depth + 1, problems))
                .collect(),
        ),
        DeValue::Table(t) => Value::Table(convert_table(t, depth, problems)),
    };
    Node {
        span,
        value: converted,
    }
}
