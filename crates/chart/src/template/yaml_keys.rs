//! The words of helm's refusal of a YAML map key. go-yaml v2 decodes a document into Go values
//! (`map[interface {}]interface {}`, `[]interface {}`, int, uint64, float64, string, bool, nil)
//! and refuses a key that is a list or a map (`yaml: invalid map key: %#v`, the first one it
//! decodes); sigs.k8s.io/yaml then converts the keys to strings and refuses a null or uint64
//! key (`unsupported map key of type: %s, key: %+#v, value: %+#v`). Both print Go values, so
//! this second reading of the document (only when `yaml_load` met such a key) decodes it as
//! go-yaml does, node by node: aliases decoded afresh, merge keys (a list of maps from its
//! end), go-yaml's other refusals in the order it meets them.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::value::{Value, go_bytes};
use super::yaml_load::{
    FLOAT_TAG, MERGE_TAG, Receiver, go_base0_int, read_first_document, resolve,
};
use super::yaml_parse::Event;

/// How helm refuses the first document of `text`, if it does for a key: the message and
/// whether it is sigs.k8s.io/yaml's (no `yaml: ` before it). `None` when go-yaml reads it and
/// sigs.k8s.io/yaml converts it (a refused key in a map that a repeated key replaced). A
/// document nested past what this reading follows is refused with go-yaml's words, unprinted.
pub(super) fn refusal(text: &str) -> Option<(String, bool)> {
    let text = text.to_string();
    // the document nests as deep as go-yaml reads it, and aliases nest their anchors' nodes:
    // the decoding recurses on a stack of its own
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || refusal_here(&text))
        .ok()
        .and_then(|t| t.join().ok())
        .unwrap_or(Err(()))
        .unwrap_or_else(|()| Some(("invalid map key".into(), false)))
}

const STACK: usize = 512 << 20;
/// Levels of recursion the stack above holds with room to spare.
const MAX_DEPTH: usize = 100_000;

/// `Err` when the document is deeper than this reading follows.
fn refusal_here(text: &str) -> Result<Option<(String, bool)>, ()> {
    let mut tree = Tree::default();
    if read_first_document(text, &mut tree).is_err() {
        return Ok(None);
    }
    let Some(root) = tree.root else {
        return Ok(None);
    };
    let mut d = Decoder {
        nodes: &tree.nodes,
        decode_count: 0,
        alias_count: 0,
        alias_depth: 0,
        aliases: HashSet::new(),
        depth: 0,
    };
    let v = match d.unmarshal(root) {
        Ok(v) => v,
        Err(Stop::Fail(message)) => return Ok(Some((message, false))),
        Err(Stop::TooDeep) => return Err(()),
    };
    let mut depth = 0;
    match unsupported_key(&v, &mut depth) {
        Some(Ok(m)) => Ok(Some((m, true))),
        Some(Err(())) => Err(()),
        None => Ok(None),
    }
}

/// A Go value as go-yaml v2 decodes a node into an interface{}.
#[derive(Debug, Clone)]
enum Go {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(Rc<str>),
    List(Vec<Go>),
    /// A Go map: one entry per distinct key (NaN keys never meet), printed sorted.
    Map(Vec<(Go, Go)>),
}

enum Kind {
    Scalar {
        value: String,
        tag: Option<String>,
        implicit: bool,
    },
    Seq,
    Map,
    /// The anchor's name, and its node when the alias was read (go-yaml's n.alias).
    Alias(String, Option<usize>),
}

struct Node {
    kind: Kind,
    children: Vec<usize>,
}

/// go-yaml's parser: the document's nodes, an anchor naming the node that starts with it.
#[derive(Default)]
struct Tree {
    nodes: Vec<Node>,
    stack: Vec<usize>,
    anchors: HashMap<String, usize>,
    root: Option<usize>,
}

impl Tree {
    fn add(&mut self, kind: Kind, anchor: Option<String>) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            kind,
            children: Vec::new(),
        });
        if let Some(a) = anchor {
            self.anchors.insert(a, id);
        }
        match self.stack.last() {
            Some(&parent) => self.nodes[parent].children.push(id),
            None => {
                if self.root.is_none() {
                    self.root = Some(id);
                }
            }
        }
        id
    }
}

impl Receiver for Tree {
    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Scalar {
                anchor,
                tag,
                value,
                plain_implicit,
                ..
            } => {
                self.add(
                    Kind::Scalar {
                        value,
                        tag,
                        implicit: plain_implicit,
                    },
                    anchor,
                );
            }
            Event::SequenceStart { anchor, .. } => {
                let id = self.add(Kind::Seq, anchor);
                self.stack.push(id);
            }
            Event::MappingStart { anchor, .. } => {
                let id = self.add(Kind::Map, anchor);
                self.stack.push(id);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.stack.pop();
            }
            Event::Alias { anchor } => {
                let target = self.anchors.get(&anchor).copied();
                self.add(Kind::Alias(anchor, target), None);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

enum Stop {
    /// go-yaml's failf, without its `yaml: `.
    Fail(String),
    /// Deeper than this reading recurses.
    TooDeep,
}

/// go-yaml v2's decoder, for an interface{} target.
struct Decoder<'a> {
    nodes: &'a [Node],
    decode_count: u64,
    alias_count: u64,
    alias_depth: u64,
    /// The alias nodes being decoded (go-yaml's d.aliases).
    aliases: HashSet<usize>,
    depth: usize,
}

fn allowed_alias_ratio(decode_count: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if decode_count <= LOW {
        0.99
    } else if decode_count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decode_count - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

fn fail_want_map() -> Stop {
    Stop::Fail("map merge requires map or sequence of maps as the value".into())
}

impl Decoder<'_> {
    /// The start of go-yaml's unmarshal: its counts and the excessive aliasing check.
    fn count(&mut self) -> Result<(), Stop> {
        self.decode_count += 1;
        if self.alias_depth > 0 {
            self.alias_count += 1;
        }
        if self.alias_count > 100
            && self.decode_count > 1000
            && self.alias_count as f64 / self.decode_count as f64
                > allowed_alias_ratio(self.decode_count)
        {
            return Err(Stop::Fail("document contains excessive aliasing".into()));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), Stop> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Stop::TooDeep);
        }
        Ok(())
    }

    /// go-yaml's alias: the anchor's node decoded again, unless this alias is inside it.
    fn alias<T>(
        &mut self,
        n: usize,
        f: impl FnOnce(&mut Self, usize) -> Result<T, Stop>,
    ) -> Result<T, Stop> {
        let Kind::Alias(name, target) = &self.nodes[n].kind else {
            return Err(Stop::TooDeep);
        };
        if self.aliases.contains(&n) {
            return Err(Stop::Fail(format!("anchor '{name}' value contains itself")));
        }
        // the parser refuses an unknown anchor before any decoding
        let Some(target) = *target else {
            return Err(Stop::TooDeep);
        };
        self.aliases.insert(n);
        self.alias_depth += 1;
        let r = f(self, target);
        self.alias_depth -= 1;
        self.aliases.remove(&n);
        r
    }

    fn unmarshal(&mut self, n: usize) -> Result<Go, Stop> {
        self.count()?;
        self.enter()?;
        let nodes = self.nodes;
        let r = match &nodes[n].kind {
            Kind::Alias(..) => self.alias(n, Self::unmarshal),
            Kind::Scalar {
                value,
                tag,
                implicit,
            } => scalar(value, tag.as_deref(), *implicit).map_err(Stop::Fail),
            Kind::Seq => {
                let mut items = Vec::with_capacity(nodes[n].children.len());
                for &c in &nodes[n].children {
                    items.push(self.unmarshal(c)?);
                }
                Ok(Go::List(items))
            }
            Kind::Map => {
                let mut entries = Vec::new();
                self.mapping(n, &mut entries)?;
                Ok(Go::Map(entries))
            }
        };
        self.depth -= 1;
        r
    }

    /// go-yaml's mapping into a map that exists (a new one, or the one a merge key fills).
    fn mapping(&mut self, n: usize, out: &mut Vec<(Go, Go)>) -> Result<(), Stop> {
        let nodes = self.nodes;
        for pair in nodes[n].children.chunks(2) {
            let [k, v] = *pair else {
                break;
            };
            if is_merge(&nodes[k].kind) {
                self.merge(v, out)?;
                continue;
            }
            let key = self.unmarshal(k)?;
            if matches!(key, Go::List(_) | Go::Map(_)) {
                let mut depth = 0;
                let shown = sharp_v(&key, true, &mut depth).ok_or(Stop::TooDeep)?;
                return Err(Stop::Fail(format!("invalid map key: {shown}")));
            }
            let value = self.unmarshal(v)?;
            match out.iter_mut().find(|(k, _)| go_eq(k, &key)) {
                Some(entry) => entry.1 = value,
                None => out.push((key, value)),
            }
        }
        Ok(())
    }

    /// The unmarshal of a mapping (or an alias of one) into the map `out`.
    fn unmarshal_into(&mut self, n: usize, out: &mut Vec<(Go, Go)>) -> Result<(), Stop> {
        self.count()?;
        self.enter()?;
        let r = match self.nodes[n].kind {
            Kind::Alias(..) => self.alias(n, |d, t| d.unmarshal_into(t, out)),
            Kind::Map => self.mapping(n, out),
            _ => Err(fail_want_map()),
        };
        self.depth -= 1;
        r
    }

    /// go-yaml's merge: a map, an alias of one, or a list of them (the last first).
    fn merge(&mut self, n: usize, out: &mut Vec<(Go, Go)>) -> Result<(), Stop> {
        let nodes = self.nodes;
        let is_map = |i: usize| match nodes[i].kind {
            Kind::Map => true,
            Kind::Alias(_, Some(t)) => matches!(nodes[t].kind, Kind::Map),
            Kind::Alias(_, None) => true,
            _ => false,
        };
        match nodes[n].kind {
            Kind::Map | Kind::Alias(..) => {
                if !is_map(n) {
                    return Err(fail_want_map());
                }
                self.unmarshal_into(n, out)
            }
            Kind::Seq => {
                for &c in nodes[n].children.iter().rev() {
                    if !is_map(c) {
                        return Err(fail_want_map());
                    }
                    self.unmarshal_into(c, out)?;
                }
                Ok(())
            }
            Kind::Scalar { .. } => Err(fail_want_map()),
        }
    }
}

/// go-yaml's isMerge.
fn is_merge(kind: &Kind) -> bool {
    matches!(kind, Kind::Scalar { value, tag, implicit }
        if value == "<<" && (*implicit || tag.as_deref() == Some(MERGE_TAG)))
}

/// A scalar as go-yaml v2 decodes it into an interface{}: an integer is an int (a uint64 past
/// int64), a timestamp and a `!!binary` a string.
fn scalar(text: &str, tag: Option<&str>, implicit: bool) -> Result<Go, String> {
    Ok(match resolve(text, tag, implicit)? {
        Value::Nil => Go::Nil,
        Value::Bool(b) => Go::Bool(b),
        Value::Float(f) => match go_base0_int(&text.replace('_', "")) {
            Some((neg, n)) if tag != Some(FLOAT_TAG) => {
                if neg {
                    Go::Int((n as i64).wrapping_neg())
                } else if n > i64::MAX as u64 {
                    Go::Uint(n)
                } else {
                    Go::Int(n as i64)
                }
            }
            _ => Go::Float(f),
        },
        Value::Str(s) => Go::Str(s),
        _ => Go::Nil,
    })
}

/// Go's == on two interface{} map keys.
fn go_eq(a: &Go, b: &Go) -> bool {
    match (a, b) {
        (Go::Nil, Go::Nil) => true,
        (Go::Bool(x), Go::Bool(y)) => x == y,
        (Go::Int(x), Go::Int(y)) => x == y,
        (Go::Uint(x), Go::Uint(y)) => x == y,
        (Go::Float(x), Go::Float(y)) => x == y,
        (Go::Str(x), Go::Str(y)) => x == y,
        _ => false,
    }
}

/// sigs.k8s.io/yaml's convertToJSONableObject: the first key it cannot write as a string (a
/// null or a uint64). Go walks a map in no set order; this takes its entries as they came.
/// `Some(Err(()))` past the depth this reading follows.
fn unsupported_key(v: &Go, depth: &mut usize) -> Option<Result<String, ()>> {
    *depth += 1;
    if *depth > MAX_DEPTH {
        return Some(Err(()));
    }
    let found = match v {
        Go::List(items) => items.iter().find_map(|e| unsupported_key(e, depth)),
        Go::Map(entries) => entries.iter().find_map(|(k, e)| {
            let type_name = match k {
                Go::Nil => "%!s(<nil>)",
                Go::Uint(_) => "uint64",
                _ => return unsupported_key(e, depth),
            };
            let mut d = 0;
            Some(
                sharp_v(k, true, &mut d)
                    .zip(sharp_v(e, true, &mut d))
                    .map(|(key, value)| {
                        format!(
                            "unsupported map key of type: {type_name}, key: {key}, value: {value}"
                        )
                    })
                    .ok_or(()),
            )
        }),
        _ => None,
    };
    *depth -= 1;
    found
}

/// fmt's %#v (and %+#v) of a Go value; `top` when it is the operand, not inside a slice or map.
fn sharp_v(v: &Go, top: bool, depth: &mut usize) -> Option<String> {
    *depth += 1;
    if *depth > MAX_DEPTH {
        return None;
    }
    let go = |v: Value| super::gofmt::sprintf("%#v", &[v]);
    let s = match v {
        Go::Nil if top => "<nil>".to_string(),
        Go::Nil => "interface {}(nil)".to_string(),
        Go::Bool(b) => b.to_string(),
        Go::Int(i) => i.to_string(),
        Go::Uint(u) => format!("{u:#x}"),
        Go::Float(f) => go(Value::Float(*f)),
        Go::Str(s) => go(Value::Str(s.clone())),
        Go::List(items) => {
            let mut out = String::from("[]interface {}{");
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&sharp_v(e, false, depth)?);
            }
            out.push('}');
            out
        }
        Go::Map(entries) => {
            let mut sorted: Vec<&(Go, Go)> = entries.iter().collect();
            sorted.sort_by(|a, b| key_order(&a.0, &b.0));
            let mut out = String::from("map[interface {}]interface {}{");
            for (i, (k, e)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&sharp_v(k, false, depth)?);
                out.push(':');
                out.push_str(&sharp_v(e, false, depth)?);
            }
            out.push('}');
            out
        }
    };
    *depth -= 1;
    Some(s)
}

/// internal/fmtsort's order of interface{} keys in helm's binary: nil first, then by type
/// (string, uint64, int, float64, bool: the order of their type descriptors), then by value
/// (a NaN before the other floats).
fn key_order(a: &Go, b: &Go) -> Ordering {
    fn rank(v: &Go) -> u8 {
        match v {
            Go::Nil => 0,
            Go::Str(_) => 1,
            Go::Uint(_) => 2,
            Go::Int(_) => 3,
            Go::Float(_) => 4,
            Go::Bool(_) => 5,
            Go::List(_) | Go::Map(_) => 6,
        }
    }
    match (a, b) {
        (Go::Str(x), Go::Str(y)) => go_bytes(x).cmp(&go_bytes(y)),
        (Go::Uint(x), Go::Uint(y)) => x.cmp(y),
        (Go::Int(x), Go::Int(y)) => x.cmp(y),
        (Go::Float(x), Go::Float(y)) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        },
        (Go::Bool(x), Go::Bool(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    fn show(text: &str) -> String {
        match refusal(text) {
            Some((m, true)) => m,
            Some((m, false)) => format!("yaml: {m}"),
            None => "none".into(),
        }
    }

    #[test]
    fn keys_as_go_yaml_and_sigs_yaml_refuse_them() {
        assert_eq!(
            show("[a, 1]: x\n"),
            r#"yaml: invalid map key: []interface {}{"a", 1}"#
        );
        assert_eq!(
            show("{b: 1, 1: [~], ~: x, 1.5: w, true: z}: x\n"),
            r#"yaml: invalid map key: map[interface {}]interface {}{interface {}(nil):"x", "b":1, 1:[]interface {}{interface {}(nil)}, 1.5:"w", true:"z"}"#
        );
        assert_eq!(
            show("~: {a: 1e8}\n"),
            r#"unsupported map key of type: %!s(<nil>), key: <nil>, value: map[interface {}]interface {}{"a":1e+08}"#
        );
        assert_eq!(
            show("a:\n  18446744073709551615: ~\n"),
            "unsupported map key of type: uint64, key: 0xffffffffffffffff, value: <nil>"
        );
        assert_eq!(
            show("<<: [{[a]: 1}, {[b]: 2}]\n"),
            r#"yaml: invalid map key: []interface {}{"b"}"#
        );
        assert_eq!(show("a: {~: 1}\na: 2\n"), "none");
        assert_eq!(
            show("a: &x [*x]\n? [b]\n: 1\n"),
            "yaml: anchor 'x' value contains itself"
        );
    }
}
