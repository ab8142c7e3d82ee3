//! Reading YAML the way Helm does: sigs.k8s.io/yaml on top of go-yaml v2, so YAML 1.1 plain
//! scalars (`yes`, `on`, `off`, `y`, `0755`, `0x1F`, `1_000`), numbers as float64, map keys
//! turned into strings (`on:` is the key "true"), a repeated key keeps its last value, merge
//! keys (`<<`) as go-yaml v2 applies them, and only the first document of a stream.
//!
//! serde_yaml_ng resolves scalars by YAML 1.2 and refuses repeated keys, and its data model
//! cannot tell a quoted `"yes"` from a plain `yes`; the event parser of yaml-rust2 reports each
//! scalar's style, which is what the YAML 1.1 rules need.

use std::collections::BTreeMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::value::Value;

/// A YAML syntax error, with the byte offset it points at, as go-yaml v2 words it.
#[derive(Debug, Clone)]
pub struct YamlError {
    /// go-yaml's problem text (libyaml's words, without the context).
    pub message: String,
    pub offset: usize,
    /// 1-based line and column of the place.
    pub line: usize,
    pub column: usize,
    /// The line go-yaml names in its message, if any.
    pub go_line: Option<usize>,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.go_line {
            Some(line) => write!(f, "yaml: line {line}: {}", self.message),
            None => write!(f, "yaml: {}", self.message),
        }
    }
}

/// Problems libyaml's parser (not its scanner) reports: go-yaml names their line 0-based.
const PARSER_PROBLEMS: &[&str] = &[
    "did not find expected <document start>",
    "did not find expected '-' indicator",
    "did not find expected key",
    "did not find expected ',' or '}'",
    "did not find expected ',' or ']'",
    "did not find expected node content",
    "found duplicate %YAML directive",
    "found incompatible YAML document",
    "found undefined tag handle",
];

/// go-yaml v2's words for an error of yaml-rust2 (both follow libyaml): the problem without
/// its context ("while parsing a node, "), in libyaml's words where yaml-rust2 has its own,
/// and the line go-yaml's fail() names: none on the first line, else a parser error's 0-based
/// line and a scanner error's 1-based one.
fn go_yaml_error(info: &str, line: usize) -> (String, Option<usize>) {
    let problem = match info.strip_prefix("while ") {
        Some(rest) => rest.split_once(", ").map_or(info, |(_, p)| p),
        None => info,
    };
    let problem = match problem {
        "simple key expect ':'" | "simple key expected" => "could not find expected ':'",
        "expected ',' or ']'" => "did not find expected ',' or ']'",
        "did not find expected <document-start>" => "did not find expected <document start>",
        p if p.starts_with("unexpected character")
            || p.starts_with("tab")
            || p == "did not find expected next token" =>
        {
            "found character that cannot start any token"
        }
        p => p,
    };
    let line0 = line.saturating_sub(1);
    let go_line = match line0 {
        0 => None,
        n if PARSER_PROBLEMS.contains(&problem) => Some(n),
        n => Some(n + 1),
    };
    (problem.to_string(), go_line)
}

/// Parse the first document of `text` (an empty text is `Nil`).
pub fn load(text: &str) -> Result<Value, YamlError> {
    let mut builder = Builder::default();
    read_first_document(text, &mut builder)?;
    if let Some(message) = builder.error {
        return Err(YamlError {
            message,
            offset: 0,
            line: 1,
            column: 1,
            go_line: None,
        });
    }
    Ok(builder.root.unwrap_or(Value::Nil))
}

/// The first YAML document of `text` with every scalar value as sigs.k8s.io/yaml hands it to a
/// Go `string` field (helm's Chart.yaml fields, `[]string` and `map[string]string` ones
/// included): go-yaml v2 reads it with YAML 1.1's rules, and the converter writes a bool as
/// `true`/`false`, an integer in decimal, a float as strconv.FormatFloat(f, 'g', -1, 32); a
/// null is `Nil` (the field keeps its zero value, "").
pub fn load_as_strings(text: &str) -> Result<Value, YamlError> {
    let mut builder = Builder {
        strings: true,
        ..Builder::default()
    };
    read_first_document(text, &mut builder)?;
    if let Some(message) = builder.error {
        return Err(YamlError {
            message,
            offset: 0,
            line: 1,
            column: 1,
            go_line: None,
        });
    }
    Ok(builder.root.unwrap_or(Value::Nil))
}

/// The head of the first document of `text` (its `apiVersion`, `kind`, `metadata.name`,
/// `metadata.namespace` and `helm.sh/hook` annotation, as `load` would read them), for sorting
/// and printing rendered manifests without building the whole tree: the YAML is still parsed
/// to the end, so a syntax error is the same error `load` gives. A document that is not a
/// mapping comes back as what `load` makes of it at its root (a scalar, or an empty list).
/// `Ok(None)` when `load` is needed to be sure: aliases, merge keys, tags, complex keys, or a
/// key `load` would refuse.
pub fn load_head(text: &str) -> Result<Option<serde_json::Value>, YamlError> {
    let mut reader = HeadReader::default();
    read_first_document(text, &mut reader)?;
    if reader.unsure {
        return Ok(None);
    }
    Ok(Some(reader.into_json()))
}

/// The paths `load_head` keeps.
const HEAD_PATHS: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "annotations", "helm.sh/hook"],
];

enum HeadFrame {
    Seq,
    Map {
        /// The key read, waiting for its value.
        key: Option<String>,
        /// Where this map sits, when it is on the way to a kept path.
        path: Option<Vec<String>>,
    },
}

enum HeadRoot {
    Map,
    Seq,
    Scalar(serde_json::Value),
}

#[derive(Default)]
struct HeadReader {
    stack: Vec<HeadFrame>,
    root: Option<HeadRoot>,
    /// Kept values by their index in HEAD_PATHS, in document order (a repeated key's last wins).
    found: Vec<(usize, serde_json::Value)>,
    unsure: bool,
    done: bool,
}

/// Whether the kept path `kept` starts with `path` (or is it).
fn kept_under(kept: &[&str], path: &[String]) -> bool {
    kept.len() >= path.len() && kept.iter().zip(path).all(|(a, b)| a == b)
}

fn head_path_index(path: &[String]) -> Option<usize> {
    HEAD_PATHS
        .iter()
        .position(|p| p.len() == path.len() && kept_under(p, path))
}

fn leads_to_head_path(path: &[String]) -> bool {
    HEAD_PATHS
        .iter()
        .any(|p| p.len() > path.len() && kept_under(p, path))
}

impl HeadReader {
    /// The path of the value about to be read in the innermost map, when it is kept or on
    /// the way to a kept one.
    fn value_path(&self) -> Option<Vec<String>> {
        match self.stack.last() {
            Some(HeadFrame::Map {
                key: Some(k),
                path: Some(p),
            }) => {
                let mut p = p.clone();
                p.push(k.clone());
                Some(p)
            }
            _ => None,
        }
    }

    /// A value is complete: the innermost map's key is used up; a root is the document.
    fn value_done(&mut self) {
        match self.stack.last_mut() {
            None => self.done = true,
            Some(HeadFrame::Map { key, .. }) => *key = None,
            Some(HeadFrame::Seq) => {}
        }
    }

    fn record(&mut self, path: Option<Vec<String>>, v: serde_json::Value) {
        if let Some(i) = path.as_deref().and_then(head_path_index) {
            self.found.push((i, v));
        }
    }

    /// A node starts where a key is expected: a complex key, which `load` refuses or reads
    /// its own way.
    fn at_key(&self) -> bool {
        matches!(self.stack.last(), Some(HeadFrame::Map { key: None, .. }))
    }

    fn start_collection(&mut self, map: bool, tagged: bool) {
        if tagged || self.at_key() {
            self.unsure = true;
            return;
        }
        if self.stack.is_empty() {
            self.root = Some(if map { HeadRoot::Map } else { HeadRoot::Seq });
        }
        let path = if self.stack.is_empty() {
            Some(Vec::new())
        } else {
            self.value_path()
        };
        // a mapping or list where a kept scalar belongs: present, and not a string
        let placeholder = if map {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::Value::Array(Vec::new())
        };
        self.record(path.clone(), placeholder);
        self.stack.push(if map {
            HeadFrame::Map {
                key: None,
                path: path.filter(|p| leads_to_head_path(p)),
            }
        } else {
            HeadFrame::Seq
        });
    }

    fn into_json(self) -> serde_json::Value {
        match self.root {
            None => serde_json::Value::Null,
            Some(HeadRoot::Scalar(v)) => v,
            Some(HeadRoot::Seq) => serde_json::Value::Array(Vec::new()),
            Some(HeadRoot::Map) => {
                let mut root = serde_json::Value::Object(Default::default());
                for (i, v) in self.found {
                    let path = HEAD_PATHS[i];
                    let mut at = &mut root;
                    for key in &path[..path.len() - 1] {
                        let serde_json::Value::Object(m) = at else {
                            break;
                        };
                        at = m
                            .entry(key.to_string())
                            .or_insert_with(|| serde_json::Value::Object(Default::default()));
                    }
                    if let serde_json::Value::Object(m) = at {
                        m.insert(path[path.len() - 1].to_string(), v);
                    }
                }
                root
            }
        }
    }
}

impl MarkedEventReceiver for HeadReader {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        if self.unsure || (self.done && !matches!(ev, Event::DocumentEnd | Event::StreamEnd)) {
            return;
        }
        match ev {
            Event::Scalar(text, style, _anchor, tag) => {
                if tag.is_some() {
                    self.unsure = true;
                    return;
                }
                if self.stack.is_empty() {
                    self.root = Some(HeadRoot::Scalar(resolve(&text, style, None).to_json()));
                    self.done = true;
                    return;
                }
                if self.at_key() {
                    if text == "<<" && style == TScalarStyle::Plain {
                        self.unsure = true;
                        return;
                    }
                    let Ok(k) = key_string(&resolve(&text, style, None)) else {
                        self.unsure = true;
                        return;
                    };
                    if let Some(HeadFrame::Map { key, path }) = self.stack.last_mut() {
                        // a repeated key replaces all that was kept under its first value
                        if let Some(p) = path {
                            let mut full = p.clone();
                            full.push(k.clone());
                            self.found
                                .retain(|(i, _)| !kept_under(HEAD_PATHS[*i], &full));
                        }
                        *key = Some(k);
                    }
                    return;
                }
                let path = self.value_path();
                if path.as_deref().and_then(head_path_index).is_some() {
                    self.record(path, resolve(&text, style, None).to_json());
                }
                self.value_done();
            }
            Event::MappingStart(_anchor, tag) => self.start_collection(true, tag.is_some()),
            Event::SequenceStart(_anchor, tag) => self.start_collection(false, tag.is_some()),
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            Event::Alias(_) => self.unsure = true,
            Event::DocumentEnd => {
                if self.root.is_some() {
                    self.done = true;
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
        }
    }
}

/// yaml-rust2's refusal of a tab right after a mapping's `:` (`key:\tvalue`), which go-yaml reads.
const TAB_AFTER_COLON: &str = "':' must be followed by a valid YAML whitespace";

/// yaml-rust2's refusal of a quoted scalar's line left of the block's indentation, which
/// go-yaml reads (libyaml checks no indentation inside quotes).
const QUOTED_INDENTATION: &str = "invalid indentation in quoted scalar";

/// Feed the events of `text`'s first document to `receiver`; a syntax error points at its place.
/// A refusal of go-yaml's scanner that yaml-rust2 does not make (see `yaml_tabs`) wins over
/// what yaml-rust2 finds on a later line, or says about the same tab.
fn read_first_document<R: MarkedEventReceiver + Default>(
    text: &str,
    receiver: &mut R,
) -> Result<(), YamlError> {
    let refusal = super::yaml_tabs::first_refusal(text);
    let read = read_with_yaml_rust2(text, receiver);
    let Some(r) = refusal else {
        return read;
    };
    let offset = char_to_byte(text, r.at);
    let line = text[..offset].matches('\n').count() + 1;
    if let Err(e) = &read
        && e.line < line
        && !e.message.contains("tab")
    {
        return read;
    }
    Err(YamlError {
        message: r.message.to_string(),
        offset,
        line,
        column: offset - text[..offset].rfind('\n').map_or(0, |p| p + 1) + 1,
        go_line: (line > 1).then_some(line),
    })
}

fn read_with_yaml_rust2<R: MarkedEventReceiver + Default>(
    text: &str,
    receiver: &mut R,
) -> Result<(), YamlError> {
    let mut first = Parser::new_from_str(text).load(&mut EofChomp::new(receiver, text), false);
    // go-yaml reads `key:<tab>value`: read it again with those tabs as spaces (each tab one
    // space, so every place keeps its offset), as often as the refusal comes back; and a
    // quoted scalar's lines at any indentation: read it again with those lines indented (a
    // quoted scalar drops a line's leading blanks, so its value stays the same)
    let mut patched: Option<String> = None;
    for _ in 0..64 {
        let Err(e) = &first else { break };
        let src = patched.get_or_insert_with(|| text.to_string());
        let at = char_to_byte(src, e.marker().index());
        if e.info() == super::yaml_tabs::TAB_IN_QUOTED && src[at..].starts_with('\t') {
            src.replace_range(at..at + 1, " ");
        } else if e.info() == QUOTED_INDENTATION {
            if !indent_quoted_lines(src, at) {
                break;
            }
        } else if e.info() == TAB_AFTER_COLON {
            let Some(colon) = src[..at].rfind(':') else {
                break;
            };
            if !src[colon + 1..at].bytes().all(|b| b == b' ' || b == b'\t') {
                break;
            }
            let spaces = " ".repeat(at - colon - 1);
            src.replace_range(colon + 1..at, &spaces);
        } else {
            break;
        }
        *receiver = R::default();
        first = Parser::new_from_str(src).load(&mut EofChomp::new(receiver, src), false);
    }
    let shown = patched.as_deref().unwrap_or(text);
    first.map_err(|e| {
        let m = e.marker();
        let offset = char_to_byte(shown, m.index()).min(text.len());
        let (mut message, mut go_line) = go_yaml_error(e.info(), m.line());
        if message == "found unknown anchor" {
            // go-yaml's decoder names the alias, without a line
            let name: String = text[offset..]
                .trim_start_matches('*')
                .chars()
                .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
                .collect();
            message = format!("unknown anchor '{name}' referenced");
            go_line = None;
        }
        if message == "found unexpected document indicator" {
            // libyaml names the indicator's line; yaml-rust2 the scalar's start
            let line0 = text[..offset].matches('\n').count()
                + text[offset..]
                    .split('\n')
                    .skip(1)
                    .position(|l| l.starts_with("---") || l.starts_with("..."))
                    .map_or(0, |p| p + 1);
            go_line = (line0 > 0).then_some(line0 + 1);
        }
        if message == "found unexpected end of stream" {
            // libyaml names the place it stopped at, the end; yaml-rust2 the scalar's start
            let line0 = text.matches('\n').count();
            go_line = (line0 > 0).then_some(line0 + 1);
        }
        YamlError {
            message,
            offset,
            line: m.line(),
            column: m.col() + 1,
            go_line,
        }
    })
}

/// Passes events on, but for a block scalar that ends the text without a final line break:
/// libyaml adds no line break there (`a: |\n  x` is "x"), yaml-rust2 adds one. The scalar is
/// held until the next event shows whether only ends follow it.
struct EofChomp<'a, R> {
    inner: &'a mut R,
    pending: Vec<(Event, Marker)>,
    /// The text's last line without its indentation, when the text ends without a line break.
    last_line: Option<String>,
}

impl<'a, R: MarkedEventReceiver> EofChomp<'a, R> {
    fn new(inner: &'a mut R, text: &str) -> Self {
        let last = text.rsplit('\n').next().unwrap_or("");
        let last = last.trim_start_matches([' ', '\t']);
        let last_line =
            (!text.ends_with(['\n', '\r']) && !last.is_empty()).then(|| last.to_string());
        EofChomp {
            inner,
            pending: Vec::new(),
            last_line,
        }
    }

    fn flush(&mut self, at_end: bool) {
        for (k, (ev, mark)) in std::mem::take(&mut self.pending).into_iter().enumerate() {
            let ev = match ev {
                Event::Scalar(mut v, style, anchor, tag) if k == 0 && at_end => {
                    if let Some(last) = &self.last_line
                        && v.ends_with('\n')
                        && v[..v.len() - 1].ends_with(last.as_str())
                    {
                        v.pop();
                    }
                    Event::Scalar(v, style, anchor, tag)
                }
                ev => ev,
            };
            self.inner.on_event(ev, mark);
        }
    }
}

impl<R: MarkedEventReceiver> MarkedEventReceiver for EofChomp<'_, R> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.last_line.is_none() {
            return self.inner.on_event(ev, mark);
        }
        if !self.pending.is_empty() {
            match ev {
                Event::MappingEnd | Event::SequenceEnd => {
                    self.pending.push((ev, mark));
                    return;
                }
                Event::DocumentEnd | Event::StreamEnd => {
                    self.flush(true);
                    return self.inner.on_event(ev, mark);
                }
                _ => self.flush(false),
            }
        }
        if let Event::Scalar(_, TScalarStyle::Literal | TScalarStyle::Folded, ..) = ev {
            self.pending.push((ev, mark));
            return;
        }
        self.inner.on_event(ev, mark);
    }
}

/// Indent every line of the quoted scalar starting at byte `at` of `src` past its opening
/// quote's column (a line holding a document marker is left as it is: both refuse it).
/// Whether anything changed.
fn indent_quoted_lines(src: &mut String, at: usize) -> bool {
    let Some(q) = src[at..].chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return false;
    };
    let chars: Vec<char> = src[at..].chars().collect();
    let mut end = 1;
    while end < chars.len() {
        match chars[end] {
            '\\' if q == '"' => end += 2,
            '\'' if q == '\'' && chars.get(end + 1) == Some(&'\'') => end += 2,
            c if c == q => break,
            _ => end += 1,
        }
    }
    let mut end = at
        + chars[..end.min(chars.len())]
            .iter()
            .map(|c| c.len_utf8())
            .sum::<usize>();
    let column = at - src[..at].rfind('\n').map_or(0, |p| p + 1);
    let pad = " ".repeat(column + 1);
    let mut changed = false;
    let mut p = at;
    while let Some(nl) = src[p..end.min(src.len())].find('\n') {
        let ls = p + nl + 1;
        let rest = &src[ls..];
        let marker = (rest.starts_with("---") || rest.starts_with("..."))
            && rest[3..].chars().next().is_none_or(|c| c.is_whitespace());
        let spaces = rest.len() - rest.trim_start_matches(' ').len();
        if !marker && spaces <= column {
            src.insert_str(ls, &pad);
            end += pad.len();
            changed = true;
            p = ls + pad.len();
        } else {
            p = ls;
        }
        if p >= src.len() {
            break;
        }
    }
    changed
}

fn char_to_byte(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map {
        entries: BTreeMap<String, Value>,
        anchor: usize,
        /// The key read, waiting for its value; `Merge` for `<<`.
        key: Option<Key>,
    },
}

enum Key {
    Plain(String),
    Merge,
}

/// Nodes that aliases may copy into one document: go-yaml refuses "excessive aliasing" too, and
/// a few lines of nested aliases (a "billion laughs" document) would otherwise expand without end.
const MAX_ALIAS_NODES: usize = 1_000_000;

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::List(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(m) => 1 + m.borrow().values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

#[derive(Default)]
struct Builder {
    /// Resolve scalar values as sigs.k8s.io/yaml converts them for a Go string field (see
    /// `load_as_strings`).
    strings: bool,
    stack: Vec<Frame>,
    /// Anchored values with their node counts.
    anchors: BTreeMap<usize, (Value, usize)>,
    alias_nodes: usize,
    root: Option<Value>,
    done: bool,
    error: Option<String>,
}

impl Builder {
    fn finish(&mut self, v: Value, anchor: usize, is_merge_key: bool) {
        if anchor > 0 {
            let nodes = count_nodes(&v);
            self.anchors.insert(anchor, (v.deep_copy(), nodes));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(v);
                }
                self.done = true;
            }
            Some(Frame::Seq(items, _)) => items.push(v),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    *key = Some(if is_merge_key {
                        Key::Merge
                    } else {
                        match key_string(&v) {
                            Ok(k) => Key::Plain(k),
                            Err(e) => {
                                if self.error.is_none() {
                                    self.error = Some(e);
                                }
                                Key::Plain(String::new())
                            }
                        }
                    });
                }
                // go-yaml v2 stores each entry as it comes: a repeated key keeps the last
                // value, and `<<` writes the merged map's keys over what is there so far.
                Some(Key::Plain(k)) => {
                    entries.insert(k, v);
                }
                Some(Key::Merge) => match merge_sources(&v) {
                    Some(sources) => {
                        for src in sources {
                            for (k, val) in src {
                                entries.insert(k, val);
                            }
                        }
                    }
                    None => {
                        if self.error.is_none() {
                            self.error = Some(
                                "map merge requires map or sequence of maps as the value".into(),
                            );
                        }
                    }
                },
            },
        }
    }
}

/// The maps a `<<` value merges, earliest winning (so applied last).
fn merge_sources(v: &Value) -> Option<Vec<BTreeMap<String, Value>>> {
    match v {
        Value::Map(m) => Some(vec![m.borrow().clone()]),
        Value::List(items) => {
            let mut out = Vec::new();
            for item in items.iter().rev() {
                out.push(item.as_map()?.borrow().clone());
            }
            Some(out)
        }
        _ => None,
    }
}

/// sigs.k8s.io/yaml's conversion of a go-yaml key to a JSON object key.
fn key_string(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::Str(s) => s.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) => go_format_float32_g(*f),
        other => {
            return Err(format!("unsupported map key of type {}", other.type_name()));
        }
    })
}

/// strconv.FormatFloat(f, 'g', -1, 32), with YAML's spellings of the special values.
fn go_format_float32_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let x = f as f32;
    let exp = if x == 0.0 {
        0
    } else {
        x.abs().log10().floor() as i32
    };
    if (-4..21).contains(&exp) {
        format!("{x}")
    } else {
        let s = format!("{x:e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = match e.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', e),
                };
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        if self.done && !matches!(ev, Event::DocumentEnd | Event::StreamEnd) {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let is_merge = text == "<<"
                    && style == TScalarStyle::Plain
                    && tag.is_none()
                    && matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                let is_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                let v = if self.strings && !is_key {
                    resolve_as_string(&text, style, tag.as_ref())
                } else {
                    resolve(&text, style, tag.as_ref())
                };
                self.finish(v, anchor, is_merge);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(Vec::new(), anchor)),
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, anchor)) = self.stack.pop() {
                    self.finish(Value::list(items), anchor, false);
                }
            }
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                entries: BTreeMap::new(),
                anchor,
                key: None,
            }),
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    entries, anchor, ..
                }) = self.stack.pop()
                {
                    self.finish(Value::map(entries), anchor, false);
                }
            }
            Event::Alias(id) => {
                // Each alias is its own copy, as go-yaml decodes it afresh: a template that
                // `set`s a key through one reference must not see it through another.
                let Some((v, nodes)) = self.anchors.get(&id) else {
                    self.finish(Value::Nil, 0, false);
                    return;
                };
                self.alias_nodes = self.alias_nodes.saturating_add(*nodes);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    if self.error.is_none() {
                        self.error = Some("document contains excessive aliasing".into());
                    }
                    self.done = true;
                    return;
                }
                let v = v.deep_copy();
                self.finish(v, 0, false);
            }
            Event::DocumentEnd => {
                if self.root.is_some() {
                    self.done = true;
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
        }
    }
}

fn tag_name(tag: &Tag) -> String {
    match (tag.handle.as_str(), tag.suffix.as_str()) {
        ("!!", s) => s.to_string(),
        (h, s) if h.starts_with("tag:yaml.org,2002:") => format!("{}{s}", &h[18..]),
        (_, s) if s.starts_with("tag:yaml.org,2002:") => s[18..].to_string(),
        (h, s) => format!("{h}{s}"),
    }
}

/// go-yaml v2's resolve for one scalar, then the JSON round trip sigs.k8s.io/yaml does
/// (every number becomes a float64).
fn resolve(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    let tag = tag.map(tag_name);
    match tag.as_deref() {
        Some("str" | "binary") => Value::str(text),
        Some("bool" | "int" | "float" | "null" | "timestamp") => resolve_plain(text),
        _ if style != TScalarStyle::Plain => Value::str(text),
        _ => resolve_plain(text),
    }
}

/// A scalar as sigs.k8s.io/yaml converts it for a Go string (see `load_as_strings`).
fn resolve_as_string(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    let v = resolve(text, style, tag);
    let Value::Float(f) = v else {
        return match v {
            Value::Bool(b) => Value::str(if b { "true" } else { "false" }),
            other => other,
        };
    };
    if let Some(i) = go_int_text(&text.replace('_', "")) {
        return Value::string(i);
    }
    Value::string(if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if !text.trim_start_matches(['+', '-']).starts_with('.') {
            // strconv.ParseFloat refuses a number out of range: go-yaml keeps the text
            return Value::str(text);
        }
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format_float32_shortest_g(f)
    })
}

/// strconv.FormatFloat(f, 'g', -1, 32): the shortest digits of the float32, in %e form when
/// the exponent is below -4 or at least 6.
fn format_float32_shortest_g(f: f64) -> String {
    let x = f as f32;
    let e = format!("{x:e}");
    let exp: i32 = e
        .split_once('e')
        .and_then(|(_, x)| x.parse().ok())
        .unwrap_or(0);
    if x != 0.0 && !(-4..6).contains(&exp) {
        let m = e.split_once('e').map_or(e.as_str(), |(m, _)| m);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        format!("{x}")
    }
}

/// strconv.ParseInt, then ParseUint, with base 0, printed in decimal (FormatInt/FormatUint).
fn go_int_text(s: &str) -> Option<String> {
    match go_base0_int(s)? {
        (_, 0) => Some("0".into()),
        (true, n) => Some(format!("-{n}")),
        (false, n) => Some(n.to_string()),
    }
}

/// The sign and magnitude of an integer as strconv.ParseInt/ParseUint read it with base 0
/// (0x, 0o, 0b prefixes; a leading 0 is octal); `None` past int64 below zero or uint64 above.
fn go_base0_int(s: &str) -> Option<(bool, u64)> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, r)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, r)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = u64::from_str_radix(digits, radix).ok()?;
    if neg && n > i64::MAX as u64 + 1 {
        return None;
    }
    Some((neg, n))
}

/// go-yaml v2's resolve("", text) gives !!str: what the emitter writes plain. Only a first
/// character in its table (sign, digit, `yYnNtTfFoO~`, `.`) can make another type, so `<<`
/// resolves as a string here (though a plain `<<` key reads back as a merge).
pub fn resolves_as_str(text: &str) -> bool {
    let Some(&first) = text.as_bytes().first() else {
        return false;
    };
    if !(first.is_ascii_digit() || b"+-yYnNtTfFoO~.".contains(&first)) {
        return true;
    }
    if (first.is_ascii_digit() || first == b'+' || first == b'-') && is_go_yaml_timestamp(text) {
        return false;
    }
    matches!(resolve_plain(text), Value::Str(_))
}

/// parseTimestamp: four digits and '-', then one of go-yaml's time.Parse layouts:
/// 2006-1-2T15:4:5.999999999Z07:00 (or a lowercase t), 2006-1-2 15:4:5.999999999, 2006-1-2.
fn is_go_yaml_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut i = 5;
    // one or two digits, in range
    let num = |i: &mut usize, lo: u32, hi: u32| -> Option<u32> {
        let start = *i;
        while *i < b.len() && *i < start + 2 && b[*i].is_ascii_digit() {
            *i += 1;
        }
        let n: u32 = s.get(start..*i)?.parse().ok()?;
        (lo..=hi).contains(&n).then_some(n)
    };
    let Some(month) = num(&mut i, 1, 12) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    let Some(day) = num(&mut i, 1, 31) else {
        return false;
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > days {
        return false;
    }
    if i == b.len() {
        return true;
    }
    let zone = match b[i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return false,
    };
    i += 1;
    if num(&mut i, 0, 23).is_none() || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if num(&mut i, 0, 59).is_none() || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if num(&mut i, 0, 59).is_none() {
        return false;
    }
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if !zone {
        return i == b.len();
    }
    match &b[i..] {
        [b'Z'] => true,
        [s, h1, h2, b':', m1, m2] if (*s == b'+' || *s == b'-') => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Value::Nil,
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first == b'.' {
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
        return Value::str(text);
    }
    if !(first.is_ascii_digit() || first == b'-' || first == b'+') {
        return Value::str(text);
    }
    let plain = text.replace('_', "");
    if let Some(n) = go_parse_int(&plain) {
        return Value::Float(n);
    }
    if is_yaml_style_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::str(text)
}

/// strconv.ParseInt/ParseUint with base 0, as a float64 like the JSON round trip leaves it.
fn go_parse_int(s: &str) -> Option<f64> {
    let (neg, n) = go_base0_int(s)?;
    Some(if neg { -(n as f64) } else { n as f64 })
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `load_head` agrees with `load` on every document: the same error, or the same head.
#[cfg(test)]
mod head_agrees_with_load {
    use super::{HEAD_PATHS, load, load_head};
    use proptest::prelude::*;
    use serde_json::Value;

    /// What `load_head` keeps of a fully loaded document.
    fn head_of(full: &Value) -> Value {
        let Value::Object(_) = full else {
            return match full {
                Value::Array(_) => Value::Array(Vec::new()),
                other => other.clone(),
            };
        };
        let mut head = serde_json::json!({});
        for path in HEAD_PATHS {
            let pointer: String = path
                .iter()
                .map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1")))
                .collect();
            let Some(v) = full.pointer(&pointer) else {
                continue;
            };
            let v = match v {
                Value::Object(_) => serde_json::json!({}),
                Value::Array(_) => Value::Array(Vec::new()),
                other => other.clone(),
            };
            let mut at = &mut head;
            for key in &path[..path.len() - 1] {
                at = at
                    .as_object_mut()
                    .unwrap()
                    .entry(key.to_string())
                    .or_insert_with(|| serde_json::json!({}));
            }
            at.as_object_mut()
                .unwrap()
                .insert(path[path.len() - 1].to_string(), v);
        }
        head
    }

    fn entry() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "kind: Deployment\n",
            "kind: \"Service\"\n",
            "kind: 'Job'\n",
            "kind: 1\n",
            "kind: yes\n",
            "kind: ~\n",
            "kind: {a: 1}\n",
            "kind:\n- x\n",
            "kind: !!str Pod\n",
            "kind: &k Secret\n",
            "other: *k\n",
            "apiVersion: v1\n",
            "apiVersion: apps/v1\n",
            "metadata:\n  name: a\n",
            "metadata:\n  name: b\n  namespace: ns\n  annotations:\n    helm.sh/hook: pre-install\n",
            "metadata:\n  annotations:\n    \"helm.sh/hook\": post-install,pre-upgrade\n    other: x\n",
            "metadata:\n  annotations:\n    helm.sh/hook: 5\n",
            "metadata: {name: c, annotations: {helm.sh/hook: test}}\n",
            "metadata: x\n",
            "metadata:\n  name: d\n  name: e\n",
            "<<: {kind: ConfigMap}\n",
            "spec:\n  replicas: 3\n  template:\n    metadata:\n      name: inner\n",
            "spec: {~: 1}\n",
            "? [a]\n: b\n",
            "on: true\n",
            "data:\n  kind: NotMe\n  list: [1, 2, {kind: x}]\n",
            "# a comment\n",
            "kind: [unclosed\n",
            "  bad: indent\n",
            "---\nkind: SecondDoc\n",
        ])
    }

    fn document() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => prop::collection::vec(entry(), 0..7).prop_map(|e| e.concat()),
            1 => prop::sample::select(vec!["just text", "- a\n- b\n", "~", "", "[1, 2]", "'quoted'"])
                .prop_map(str::to_string),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn same_error_or_same_head(doc in document()) {
            let full = load(&doc);
            match load_head(&doc) {
                Err(e) => {
                    let f = full.err();
                    prop_assert!(f.is_some(), "head refused {:?}: {}", doc, e);
                    prop_assert_eq!(f.unwrap().to_string(), e.to_string());
                }
                Ok(None) => {}
                Ok(Some(head)) => {
                    let full = full.map_err(|e| TestCaseError::fail(format!("load refused {doc:?} ({e}), head did not")))?;
                    prop_assert_eq!(head, head_of(&full.to_json()), "document {:?}", doc);
                }
            }
        }
    }

    #[test]
    fn a_plain_manifest_is_read_without_load() {
        let doc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    helm.sh/hook: test\nspec:\n  ports: [{port: 80}]\n";
        let head = load_head(doc).unwrap().expect("sure");
        assert_eq!(
            head,
            serde_json::json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "annotations": {"helm.sh/hook": "test"}}})
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::value::go_sprint;

    fn show(text: &str) -> String {
        super::super::yaml::to_json(&load(text).unwrap())
    }

    #[test]
    fn yaml_1_1_booleans_in_values_and_keys() {
        assert_eq!(
            show("a: yes\nb: off\nc: y\nd: \"yes\"\ne: 'on'\non: 1\nn: x\n"),
            r#"{"a":true,"b":false,"c":true,"d":"yes","e":"on","false":"x","true":1}"#
        );
    }

    #[test]
    fn go_numbers() {
        assert_eq!(
            show("o: 0755\nh: 0x1F\nu: 1_000\nf: 1e3\nd: .5\ns: 1.2.3\nb: 0b101\nv: 010.5\n"),
            r#"{"b":5,"d":0.5,"f":1000,"h":31,"o":493,"s":"1.2.3","u":1000,"v":10.5}"#
        );
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        assert_eq!(show("a: 1\nb: 2\na: 3\n"), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn only_the_first_document() {
        assert_eq!(show("a: 1\n---\nb: 2\n"), r#"{"a":1}"#);
        assert_eq!(show("a: 1\n---\n"), r#"{"a":1}"#);
        assert!(matches!(load("").unwrap(), Value::Nil));
        assert!(matches!(load("---\n").unwrap(), Value::Nil));
    }

    #[test]
    fn merge_keys_and_aliases_as_go_yaml_v2() {
        let v = load("base: &b {x: 1, z: 2}\nm:\n  x: 0\n  <<: *b\n  z: 3\nl: [*b]\n").unwrap();
        assert_eq!(
            go_sprint(&v),
            "map[base:map[x:1 z:2] l:[map[x:1 z:2]] m:map[x:1 z:3]]"
        );
    }

    #[test]
    fn block_scalars_and_tags_stay_strings() {
        assert_eq!(
            show("a: |\n  yes\nb: !!str 12\nc: !!int \"7\"\n"),
            r#"{"a":"yes\n","b":"12","c":7}"#
        );
    }

    #[test]
    fn nested_aliases_cannot_expand_without_end() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = load(&doc).unwrap_err();
        assert!(e.message.contains("excessive aliasing"), "{e}");
    }

    #[test]
    fn errors_point_at_the_place() {
        let e = load("a: 1\nb: [1\n").unwrap_err();
        assert!(e.offset > 4, "{e:?}");
        assert!(e.to_string().starts_with("yaml: line"), "{e}");
    }
}
