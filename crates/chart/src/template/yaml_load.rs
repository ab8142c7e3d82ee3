//! Reading YAML the way Helm does: sigs.k8s.io/yaml on top of go-yaml v2, so YAML 1.1 plain
//! scalars (`yes`, `on`, `off`, `y`, `0755`, `0x1F`, `1_000`), numbers as float64, map keys
//! turned into strings (`on:` is the key "true"), a repeated key keeps its last value, merge
//! keys (`<<`) as go-yaml v2 applies them, and only the first document of a stream.
//!
//! The text is read by `yaml_parse`, a port of go-yaml v2's reader, scanner and parser: its
//! events (with each scalar's style and tag) are what the YAML 1.1 rules need, and its errors
//! are go-yaml's own.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::value::Value;
use super::yaml_parse::{Event, ParseError, Parser, ScalarStyle};

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
    /// encoding/json's refusal (sigs.k8s.io/yaml's last step), not go-yaml's: no `yaml: `.
    pub json: bool,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.go_line {
            _ if self.json => write!(f, "{}", self.message),
            Some(line) => write!(f, "yaml: line {line}: {}", self.message),
            None => write!(f, "yaml: {}", self.message),
        }
    }
}

/// Parse the first document of `text` (an empty text is `Nil`).
pub fn load(text: &str) -> Result<Value, YamlError> {
    let mut builder = Builder::default();
    read_first_document(text, &mut builder)?;
    refused_key(text, &builder)?;
    if let Some(message) = builder.error {
        return Err(plain_error(&message));
    }
    let v = builder.root.unwrap_or(Value::Nil);
    // sigs.k8s.io/yaml's json.Marshal of what go-yaml read: no number for NaN and ±Inf
    if let Some(f) = first_non_finite(&v) {
        let shown = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return Err(YamlError {
            json: true,
            ..plain_error(&format!("json: unsupported value: {shown}"))
        });
    }
    Ok(v)
}

/// The first NaN or infinity in the order json.Marshal writes `v` (map keys sorted), found
/// without recursion (a document nests up to go-yaml's 10,000 flow and 10,000 block levels).
fn first_non_finite(v: &Value) -> Option<f64> {
    let mut stack = vec![v.clone()];
    while let Some(v) = stack.pop() {
        match v {
            Value::Float(f) if !f.is_finite() => return Some(f),
            Value::List(items) => stack.extend(items.iter().rev().cloned()),
            Value::Map(m) => stack.extend(m.borrow().values().rev().cloned()),
            _ => {}
        }
    }
    None
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
    refused_key(text, &builder)?;
    if let Some(message) = builder.error {
        return Err(plain_error(&message));
    }
    Ok(builder.root.unwrap_or(Value::Nil))
}

/// helm's refusal of a map key in the first document of `text` (a list, a map, a null or a
/// uint64 key, in go-yaml's or sigs.k8s.io/yaml's words), if it has one; `None` for a
/// document without such a key, or one that does not parse.
pub fn key_refusal(text: &str) -> Option<YamlError> {
    let mut builder = Builder::default();
    read_first_document(text, &mut builder).ok()?;
    refused_key(text, &builder).err()
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

/// What takes the events of a document's one node.
pub(super) trait Receiver {
    fn on_event(&mut self, ev: Event);
}

impl Receiver for HeadReader {
    fn on_event(&mut self, ev: Event) {
        if self.unsure || self.done {
            return;
        }
        match ev {
            Event::Scalar {
                value,
                style,
                tag,
                plain_implicit,
                ..
            } => {
                if tag.is_some() {
                    self.unsure = true;
                    return;
                }
                // a NaN or infinity is refused by load (no JSON for it)
                let Ok(v) = resolve(&value, None, plain_implicit)
                    .map_err(drop)
                    .and_then(|v| match v {
                        Value::Float(f) if !f.is_finite() => Err(()),
                        v => Ok(v),
                    })
                else {
                    self.unsure = true;
                    return;
                };
                if self.stack.is_empty() {
                    self.root = Some(HeadRoot::Scalar(v.to_json()));
                    self.done = true;
                    return;
                }
                if self.at_key() {
                    if (value == "<<" && style == ScalarStyle::Plain)
                        || is_uint64_key(&value, None, &v)
                    {
                        self.unsure = true;
                        return;
                    }
                    let Ok(k) = key_string(&v) else {
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
                    self.record(path, v.to_json());
                }
                self.value_done();
            }
            Event::MappingStart { tag, .. } => self.start_collection(true, tag.is_some()),
            Event::SequenceStart { tag, .. } => self.start_collection(false, tag.is_some()),
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            Event::Alias { .. } => self.unsure = true,
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

/// go-yaml v2's decoder reading `text` (its parser's `parse`): the stream's start, then the
/// first document's start, its one node (each event to `receiver`) and its end; an empty text
/// is read as "\n". An alias to an anchor not seen yet is refused as the decoder refuses it.
pub(super) fn read_first_document<R: Receiver>(
    text: &str,
    receiver: &mut R,
) -> Result<(), YamlError> {
    let bytes = super::value::go_bytes(text);
    let input: &[u8] = if bytes.is_empty() { b"\n" } else { &bytes };
    let mut parser = Parser::new(input);
    let next = |parser: &mut Parser| match parser.next_event() {
        Ok(Some(ev)) => Ok(ev),
        Ok(None) => Err(plain_error(
            "attempted to go past the end of stream; corrupted value?",
        )),
        Err(e) => Err(yaml_error(text, e)),
    };
    next(&mut parser)?; // the stream's start
    match next(&mut parser)? {
        Event::DocumentStart => {}
        _ => return Ok(()), // the stream's end: an empty stream
    }
    let mut anchors: HashSet<String> = HashSet::new();
    let mut depth = 0usize;
    loop {
        let ev = next(&mut parser)?;
        match &ev {
            Event::Alias { anchor } if !anchors.contains(anchor) => {
                return Err(plain_error(&format!(
                    "unknown anchor '{anchor}' referenced"
                )));
            }
            Event::Scalar {
                anchor: Some(a), ..
            }
            | Event::SequenceStart {
                anchor: Some(a), ..
            }
            | Event::MappingStart {
                anchor: Some(a), ..
            } => {
                anchors.insert(a.clone());
            }
            _ => {}
        }
        match ev {
            Event::SequenceStart { .. } | Event::MappingStart { .. } => depth += 1,
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        receiver.on_event(ev);
        if depth == 0 {
            break;
        }
    }
    next(&mut parser)?; // the document's end
    Ok(())
}

/// helm's refusal of a key the builder met (a list, a map, a null or a uint64), in go-yaml's
/// or sigs.k8s.io/yaml's words, with go-yaml's other refusals in the order it meets them.
fn refused_key(text: &str, builder: &Builder) -> Result<(), YamlError> {
    if !builder.key_refused {
        return Ok(());
    }
    match super::yaml_keys::refusal(text) {
        Some((message, sigs)) => Err(YamlError {
            json: sigs,
            ..plain_error(&message)
        }),
        None => Ok(()),
    }
}

/// Whether a scalar key is an integer past int64 (go-yaml's uint64, a key sigs.k8s.io/yaml
/// refuses).
fn is_uint64_key(text: &str, tag: Option<&str>, v: &Value) -> bool {
    matches!(v, Value::Float(_))
        && tag != Some(FLOAT_TAG)
        && matches!(go_base0_int(&text.replace('_', "")), Some((false, n)) if n > i64::MAX as u64)
}

/// An error go-yaml raises itself (no place).
fn plain_error(message: &str) -> YamlError {
    YamlError {
        message: message.to_string(),
        offset: 0,
        line: 1,
        column: 1,
        go_line: None,
        json: false,
    }
}

/// The parser's error at its place in `text`.
fn yaml_error(text: &str, e: ParseError) -> YamlError {
    let mut offset = e.offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |p| p + 1);
    YamlError {
        go_line: e.go_line(),
        message: e.problem.into_owned(),
        offset,
        line: text[..offset].matches('\n').count() + 1,
        column: text[line_start..offset].chars().count() + 1,
        json: false,
    }
}

enum Frame {
    Seq(Vec<Value>, Option<Anchor>),
    Map {
        entries: BTreeMap<String, Value>,
        anchor: Option<Anchor>,
        /// The key read, waiting for its value; `Merge` for `<<`.
        key: Option<Key>,
    },
}

/// An anchor's name and which of its definitions this is.
struct Anchor {
    name: String,
    generation: usize,
}

enum Key {
    Plain(String),
    Merge,
}

/// Nodes that aliases may copy into one document: go-yaml refuses "excessive aliasing" too, and
/// a few lines of nested aliases (a "billion laughs" document) would otherwise expand without end.
const MAX_ALIAS_NODES: usize = 1_000_000;

fn count_nodes(v: &Value) -> usize {
    let mut stack = vec![v.clone()];
    let mut n = 0usize;
    while let Some(v) = stack.pop() {
        n += 1;
        match v {
            Value::List(items) => stack.extend(items.iter().cloned()),
            Value::Map(m) => stack.extend(m.borrow().values().cloned()),
            _ => {}
        }
    }
    n
}

/// An anchor's node: being read (an alias to it is inside it), or read with its node count.
enum Anchored {
    Open,
    Done(Value, usize),
}

#[derive(Default)]
struct Builder {
    /// Resolve scalar values as sigs.k8s.io/yaml converts them for a Go string field (see
    /// `load_as_strings`).
    strings: bool,
    stack: Vec<Frame>,
    /// The latest definition of each anchor (go-yaml's document anchors), by generation.
    anchors: HashMap<String, (usize, Anchored)>,
    generations: usize,
    alias_nodes: usize,
    root: Option<Value>,
    done: bool,
    error: Option<String>,
    /// A key go-yaml or sigs.k8s.io/yaml refuses was met (see `refused_key`).
    key_refused: bool,
}

impl Builder {
    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    /// A node with an anchor starts: the anchor names it from now on.
    fn define(&mut self, name: String, node: Anchored) -> Anchor {
        self.generations += 1;
        self.anchors.insert(name.clone(), (self.generations, node));
        Anchor {
            name,
            generation: self.generations,
        }
    }

    fn finish(&mut self, v: Value, anchor: Option<Anchor>, is_merge_key: bool) {
        self.finish_key(v, anchor, is_merge_key, None);
    }

    /// A node is read; `key_text` is the map key a scalar makes, when it is one.
    fn finish_key(
        &mut self,
        v: Value,
        anchor: Option<Anchor>,
        is_merge_key: bool,
        key_text: Option<String>,
    ) {
        if let Some(a) = anchor
            && let Some((generation, node)) = self.anchors.get_mut(&a.name)
            && *generation == a.generation
        {
            let nodes = count_nodes(&v);
            *node = Anchored::Done(v.deep_copy(), nodes);
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
                    } else if let Some(k) = key_text {
                        Key::Plain(k)
                    } else {
                        match key_string(&v) {
                            Ok(k) => Key::Plain(k),
                            Err(_) => {
                                self.key_refused = true;
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

impl Receiver for Builder {
    fn on_event(&mut self, ev: Event) {
        if self.done {
            return;
        }
        match ev {
            Event::Scalar {
                anchor,
                tag,
                value,
                plain_implicit,
                ..
            } => {
                let at_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                // go-yaml's isMerge
                let is_merge = at_key
                    && value == "<<"
                    && (plain_implicit || tag.as_deref() == Some(MERGE_TAG));
                let v = if self.strings && !at_key {
                    resolve_as_string(&value, tag.as_deref(), plain_implicit)
                } else {
                    resolve(&value, tag.as_deref(), plain_implicit)
                };
                let v = v.unwrap_or_else(|e| {
                    self.fail(e);
                    Value::Nil
                });
                // a scalar key as sigs.k8s.io/yaml writes it: an integer in decimal, a float
                // as strconv.FormatFloat(f, 'g', -1, 32)
                let key_text = match &v {
                    Value::Float(f) if at_key => Some(if f.is_finite() {
                        match go_int_text(&value.replace('_', "")) {
                            Some(i) if tag.as_deref() != Some(FLOAT_TAG) => i,
                            _ => format_float32_shortest_g(*f),
                        }
                    } else {
                        go_format_float32_g(*f)
                    }),
                    _ => None,
                };
                if at_key && is_uint64_key(&value, tag.as_deref(), &v) {
                    self.key_refused = true;
                }
                let anchor = anchor.map(|a| self.define(a, Anchored::Open));
                self.finish_key(v, anchor, is_merge, key_text);
            }
            Event::SequenceStart { anchor, .. } => {
                let anchor = anchor.map(|a| self.define(a, Anchored::Open));
                self.stack.push(Frame::Seq(Vec::new(), anchor))
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, anchor)) = self.stack.pop() {
                    self.finish(Value::list(items), anchor, false);
                }
            }
            Event::MappingStart { anchor, .. } => {
                let anchor = anchor.map(|a| self.define(a, Anchored::Open));
                self.stack.push(Frame::Map {
                    entries: BTreeMap::new(),
                    anchor,
                    key: None,
                })
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    entries, anchor, ..
                }) = self.stack.pop()
                {
                    self.finish(Value::map(entries), anchor, false);
                }
            }
            Event::Alias { anchor } => {
                // Each alias is its own copy, as go-yaml decodes it afresh: a template that
                // `set`s a key through one reference must not see it through another.
                let v = match self.anchors.get(&anchor) {
                    Some((_, Anchored::Done(v, nodes))) => {
                        self.alias_nodes = self.alias_nodes.saturating_add(*nodes);
                        if self.alias_nodes > MAX_ALIAS_NODES {
                            self.fail("document contains excessive aliasing".into());
                            self.done = true;
                            return;
                        }
                        v.deep_copy()
                    }
                    // the alias is inside its anchor's node: go-yaml's decoder would recurse
                    Some((_, Anchored::Open)) => {
                        self.fail(format!("anchor '{anchor}' value contains itself"));
                        Value::Nil
                    }
                    None => Value::Nil,
                };
                self.finish(v, None, false);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

const STR_TAG: &str = "tag:yaml.org,2002:str";
const BOOL_TAG: &str = "tag:yaml.org,2002:bool";
const INT_TAG: &str = "tag:yaml.org,2002:int";
pub(super) const FLOAT_TAG: &str = "tag:yaml.org,2002:float";
const NULL_TAG: &str = "tag:yaml.org,2002:null";
const TIMESTAMP_TAG: &str = "tag:yaml.org,2002:timestamp";
const BINARY_TAG: &str = "tag:yaml.org,2002:binary";
pub(super) const MERGE_TAG: &str = "tag:yaml.org,2002:merge";

/// go-yaml's shortTag.
fn short_tag(tag: &str) -> String {
    match tag.strip_prefix("tag:yaml.org,2002:") {
        Some(rest) => format!("!!{rest}"),
        None => tag.to_string(),
    }
}

/// go-yaml v2's decoding of a scalar into an interface{} (an untagged quoted or block scalar is
/// a string; otherwise `resolve` with its tag, a `!!binary` decoded from base64, a timestamp
/// kept as its text), then the JSON round trip sigs.k8s.io/yaml does (every number becomes a
/// float64). `Err` is go-yaml's refusal of a value its tag does not fit.
pub(super) fn resolve(
    text: &str,
    tag: Option<&str>,
    plain_implicit: bool,
) -> Result<Value, String> {
    if tag.is_none() && !plain_implicit {
        return Ok(Value::str(text));
    }
    let tag = tag.unwrap_or("");
    if !matches!(
        tag,
        "" | STR_TAG | BOOL_TAG | INT_TAG | FLOAT_TAG | NULL_TAG | TIMESTAMP_TAG
    ) {
        if tag == BINARY_TAG {
            use base64::Engine;
            return match base64::engine::general_purpose::STANDARD.decode(text) {
                Ok(bytes) => Ok(Value::string(super::value::string_from_go_bytes(&bytes))),
                Err(_) => Err("!!binary value contains invalid base64 data".into()),
            };
        }
        return Ok(Value::str(text));
    }
    let (rtag, v) = if tag == STR_TAG {
        (STR_TAG, Value::str(text))
    } else {
        let v = resolve_plain(text);
        let rtag = match &v {
            Value::Str(_) if is_go_yaml_timestamp(text) && matches!(tag, "" | TIMESTAMP_TAG) => {
                TIMESTAMP_TAG
            }
            Value::Str(_) => STR_TAG,
            Value::Bool(_) => BOOL_TAG,
            Value::Nil => NULL_TAG,
            Value::Float(_) if is_int_text(text) => INT_TAG,
            _ => FLOAT_TAG,
        };
        (rtag, v)
    };
    if tag.is_empty() || tag == rtag || (tag == FLOAT_TAG && rtag == INT_TAG) {
        return Ok(v);
    }
    Err(format!(
        "cannot decode {} `{text}` as a {}",
        short_tag(rtag),
        short_tag(tag)
    ))
}

/// Whether go-yaml resolves `text` (a number by resolve_plain) as an integer.
fn is_int_text(text: &str) -> bool {
    go_base0_int(&text.replace('_', "")).is_some()
}

/// A scalar as sigs.k8s.io/yaml converts it for a Go string (see `load_as_strings`).
fn resolve_as_string(text: &str, tag: Option<&str>, plain_implicit: bool) -> Result<Value, String> {
    let v = resolve(text, tag, plain_implicit)?;
    let Value::Float(f) = v else {
        return Ok(match v {
            Value::Bool(b) => Value::str(if b { "true" } else { "false" }),
            other => other,
        });
    };
    if let Some(i) = go_int_text(&text.replace('_', "")) {
        return Ok(Value::string(i));
    }
    Ok(Value::string(if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format_float32_shortest_g(f)
    }))
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
pub(super) fn go_base0_int(s: &str) -> Option<(bool, u64)> {
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
    // strconv.ParseFloat refuses a number out of range: go-yaml keeps the text
    if first == b'.' {
        if let Ok(f) = text.parse::<f64>()
            && f.is_finite()
        {
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
        && f.is_finite()
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

    /// What helm's fromYaml gives for each text (checked against helm 3.17.3).
    #[test]
    fn line_breaks_controls_and_encodings_as_go_yaml_reads_them() {
        let x = |n: usize| "x".repeat(n);
        for (text, want) in [
            // LS and PS are line breaks kept as they are, never folded to a space; NEL is "\n"
            ("k: a\u{2028}  b\n", r#"{"k":"a\u2028b"}"#),
            ("k: a\u{85}  b\n", r#"{"k":"a b"}"#),
            ("k: a\u{2029}\n\n  b\n", r#"{"k":"a\u2029\n\nb"}"#),
            ("k: 'a\u{2028} b'\n", r#"{"k":"a\u2028b"}"#),
            ("k: \"a\\\u{2028}  b\"\n", r#"{"k":"ab"}"#),
            ("k: |\n  a\u{2028}  b\n", r#"{"k":"a\u2028b\n"}"#),
            ("k: >\n  a\u{85}  b\n  c\n", r#"{"k":"a b c\n"}"#),
            // a lone `|2+` header at the end: no line break to keep
            ("k: |2+\n", r#"{"k":""}"#),
            ("k: |2+\n\n", r#"{"k":"\n"}"#),
            // tags
            ("a: !!binary aGk=\n", r#"{"a":"hi"}"#),
            ("a: !foo 12\n", r#"{"a":"12"}"#),
            ("a: 1e999\n", r#"{"a":"1e999"}"#),
            ("1e6: a\n1000000: b\n", r#"{"1000000":"b","1e+06":"a"}"#),
        ] {
            assert_eq!(show(text), want, "{text:?}");
        }
        for (text, want) in [
            ("k: a\u{1}\n", "yaml: control characters are not allowed"),
            ("k: a\u{9f}\n", "yaml: control characters are not allowed"),
            ("k: \u{fffe}\n", "yaml: control characters are not allowed"),
            ("a: &x [*x]\n", "yaml: anchor 'x' value contains itself"),
            (
                "a: !!int abc\n",
                "yaml: cannot decode !!str `abc` as a !!int",
            ),
            ("a: .inf\n", "json: unsupported value: +Inf"),
            (
                "\u{feff}\u{feff}k: v\nl: w\n",
                "yaml: line 1: did not find expected key",
            ),
            (
                &format!("#{}\nk: v\u{1}\n", x(600)),
                "yaml: control characters are not allowed",
            ),
        ] {
            assert_eq!(load(text).unwrap_err().to_string(), want, "{text:?}");
        }
        // past the 512 bytes read first, a later document is never decoded
        assert_eq!(
            show(&format!("k0: v\n---\n#{}\n\u{1}", x(600))),
            r#"{"k0":"v"}"#
        );
        // Go strings: UTF-16 with its BOM, and invalid UTF-8
        let go = |b: &[u8]| crate::template::value::string_from_go_bytes(b);
        assert_eq!(
            show(&go(b"\xff\xfek\x00:\x00 \x00v\x00\n\x00")),
            r#"{"k":"v"}"#
        );
        assert_eq!(
            load(&go(b"k: \xc3(")).unwrap_err().to_string(),
            "yaml: invalid trailing UTF-8 octet"
        );
    }

    #[test]
    fn deep_nesting_is_read_without_overflowing_the_stack() {
        // go-yaml's limits: 10,000 block levels and 10,000 flow levels in them, read on a
        // stack the size of a main thread's
        let n = 9_999;
        let doc = format!("{}{}{}", "- ".repeat(n), "[".repeat(n), "]".repeat(n));
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || {
                let v = load(&doc).unwrap();
                drop(v);
                let _ = load_head(&doc);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// No text panics the loaders: any bytes (a Go string may hold invalid UTF-8).
        #[test]
        fn no_input_panics(bytes in proptest::collection::vec(
            proptest::prelude::prop_oneof![
                proptest::prelude::any::<u8>(),
                proptest::sample::select(b"-:?[]{},#&*!|>'\"%@` \t\n\r\\0123456789abxyz".to_vec()),
            ],
            0..400,
        )) {
            let text = crate::template::value::string_from_go_bytes(&bytes);
            let _ = load(&text);
            let _ = load_head(&text);
            let _ = load_as_strings(&text);
        }
    }

    #[test]
    fn errors_point_at_the_place() {
        let e = load("a: 1\nb: [1\n").unwrap_err();
        assert!(e.offset > 4, "{e:?}");
        assert!(e.to_string().starts_with("yaml: line"), "{e}");
    }
}
