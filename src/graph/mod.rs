//! graph: the DAG every later verb walks.
//!
//! Nodes are addressed ([`Address`]); an edge `a → b` means `a` must be done before `b`.
//! Edges come from `${...}` references in release values, `depends_on`, namespace membership,
//! and, once charts render, from Helm's kind install order inside a release.

pub use crate::model::address;
mod kind_order;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};

pub use address::{Address, AddressError};
pub use kind_order::{KIND_ORDER, kind_rank};

use crate::chart::hooks::Stage;
use crate::spec::{Problem, Span, Spec, SpecError, SpecSource};

/// Why one node must come before another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeReason {
    /// A `${...}` reference in the dependent's values (the expression as written).
    Reference(String),
    /// An explicit `depends_on` entry.
    DependsOn,
    /// The dependent lives in this namespace.
    Namespace,
    /// Helm's install order between kinds inside one release.
    KindOrder,
    /// An object belongs to its release: the release is done when its objects are.
    Member,
    /// The dependent holds custom resources of a CRD the dependency declares.
    CustomResources,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub reason: EdgeReason,
    /// Where in todo.toml the edge was written, when it was.
    pub span: Option<Span>,
}

impl Edge {
    fn label(&self) -> String {
        match &self.reason {
            EdgeReason::Reference(expr) => expr.clone(),
            EdgeReason::DependsOn => "depends_on".into(),
            EdgeReason::Namespace => "namespace".into(),
            EdgeReason::KindOrder => "kind order".into(),
            EdgeReason::Member => "member".into(),
            EdgeReason::CustomResources => "custom resources of its CRD".into(),
        }
    }
}

/// An object a release's chart renders (the same identity the cluster and state use).
pub use crate::observe::ObjectKey;

#[derive(Debug, Clone)]
pub struct DependencyGraph {
    /// Each address held once, shared by its node and the index (a platform's 10,000 objects
    /// held every address twice, five strings each).
    graph: StableDiGraph<Arc<Address>, Edge>,
    index: HashMap<Arc<Address>, NodeIndex>,
    /// Ordered pairs already joined by an edge from the spec (petgraph's find_edge scans a
    /// node's edges, which is quadratic for the namespace every node sits in).
    joined: HashSet<(NodeIndex, NodeIndex)>,
    source: SpecSource,
}

impl DependencyGraph {
    /// Builds the graph of images, secrets, namespaces and releases; a cycle is an error
    /// showing the whole cycle, each step labelled where it is written.
    pub fn build(spec: &Spec) -> Result<Self, SpecError> {
        let mut g = DependencyGraph {
            graph: StableDiGraph::new(),
            index: HashMap::new(),
            joined: HashSet::new(),
            source: spec.source.clone(),
        };
        for ns in spec.namespaces() {
            g.add_node(Address::Namespace(ns));
        }
        for name in spec.images.keys() {
            g.add_node(Address::Image(name.clone()));
        }
        for secret in spec.secrets.values() {
            let node = g.add_node(Address::Secret(secret.name.clone()));
            g.add_edge_once(
                Address::Namespace(secret.namespace.clone()),
                node,
                EdgeReason::Namespace,
                None,
            );
        }
        for release in spec.releases.values() {
            g.add_node(Address::Release(release.name.clone()));
        }
        for release in spec.releases.values() {
            let Some(&node) = g.index.get(&Address::Release(release.name.clone())) else {
                continue;
            };
            g.add_edge_once(
                Address::Namespace(release.namespace.clone()),
                node,
                EdgeReason::Namespace,
                None,
            );
            for reference in &release.references {
                g.add_edge_once(
                    reference.target.clone(),
                    node,
                    EdgeReason::Reference(reference.expression()),
                    Some(reference.span),
                );
            }
            for (i, dep) in release.depends_on.iter().enumerate() {
                let span = release.depends_on_spans.get(i).copied();
                g.add_edge_once(dep.clone(), node, EdgeReason::DependsOn, span);
            }
        }
        let cycles = g.cycles();
        if cycles.is_empty() {
            Ok(g)
        } else {
            Err(SpecError::new(&g.source, cycles))
        }
    }

    fn add_node(&mut self, address: Address) -> NodeIndex {
        if let Some(&i) = self.index.get(&address) {
            return i;
        }
        let address = Arc::new(address);
        let i = self.graph.add_node(Arc::clone(&address));
        self.index.insert(address, i);
        i
    }

    /// One edge per ordered pair: the first reason found is the one shown.
    fn add_edge_once(
        &mut self,
        from: Address,
        to: NodeIndex,
        reason: EdgeReason,
        span: Option<Span>,
    ) -> Option<EdgeIndex> {
        let from = *self.index.get(&from)?;
        if !self.joined.insert((from, to)) {
            return None;
        }
        Some(self.graph.add_edge(from, to, Edge { reason, span }))
    }

    /// Adds the rendered objects of `release` under it, replacing any added before.
    ///
    /// Objects are ordered by kind as Helm installs them: every object of one kind group
    /// waits for the previous group; the first group waits for the release's own
    /// dependencies; the release is done when all its objects are.
    pub fn add_release_objects(&mut self, release: &str, objects: &[ObjectKey]) {
        let plain: Vec<(ObjectKey, (Stage, i64))> = objects
            .iter()
            .map(|o| (o.clone(), (Stage::Main, 0)))
            .collect();
        self.add_release_objects_ordered(release, &plain);
    }

    /// [`Self::add_release_objects`] with each object's stage and hook weight: pre-install hooks
    /// first (by weight, then kind), then the objects by kind, then post-install hooks; every
    /// group waits for the one before it.
    pub fn add_release_objects_ordered(
        &mut self,
        release: &str,
        objects: &[(ObjectKey, (Stage, i64))],
    ) {
        let Some(&release_node) = self.index.get(&Address::Release(release.to_string())) else {
            return;
        };
        let stale: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(
                |&i| matches!(&*self.graph[i], Address::Object { release: r, .. } if r == release),
            )
            .collect();
        for i in stale {
            if let Some(a) = self.graph.remove_node(i) {
                self.index.remove(&a);
            }
        }
        let external: Vec<(NodeIndex, Edge)> = self
            .graph
            .edges_directed(release_node, Direction::Incoming)
            .map(|e| (e.source(), e.weight().clone()))
            .collect();

        let mut sorted: Vec<&(ObjectKey, (Stage, i64))> = objects.iter().collect();
        sorted.sort_by_key(|(o, (stage, weight))| (*stage, *weight, kind_rank(&o.kind)));
        let mut groups: Vec<Vec<NodeIndex>> = Vec::new();
        let mut last_rank = None;
        for (object, (stage, weight)) in sorted {
            let address = Address::Object {
                release: release.to_string(),
                api_version: object.api_version.clone(),
                kind: object.kind.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
            };
            if self.index.contains_key(&address) {
                continue;
            }
            let node = self.add_node(address);
            let rank = (*stage, *weight, kind_rank(&object.kind));
            match groups.last_mut() {
                Some(group) if last_rank == Some(rank) => group.push(node),
                _ => groups.push(vec![node]),
            }
            last_rank = Some(rank);
            self.graph.add_edge(
                node,
                release_node,
                Edge {
                    reason: EdgeReason::Member,
                    span: None,
                },
            );
        }
        if let Some(first) = groups.first() {
            for &object in first {
                for (source, edge) in &external {
                    self.graph.add_edge(*source, object, edge.clone());
                }
            }
        }
        for pair in groups.windows(2) {
            if let [before, after] = pair {
                for &a in before {
                    for &b in after {
                        self.graph.add_edge(
                            a,
                            b,
                            Edge {
                                reason: EdgeReason::KindOrder,
                                span: None,
                            },
                        );
                    }
                }
            }
        }
    }

    /// Orders `after` (and its objects) after `before`, unless that would close a cycle
    /// (`before` already waits for `after`): an ordering learnt from what the releases render.
    /// True when the edge is new.
    pub fn add_ordering(&mut self, before: &Address, after: &Address, reason: EdgeReason) -> bool {
        let (Some(&b), Some(&a)) = (self.index.get(before), self.index.get(after)) else {
            return false;
        };
        if b == a
            || self.joined.contains(&(b, a))
            || petgraph::algo::has_path_connecting(&self.graph, a, b, None)
        {
            return false;
        }
        self.joined.insert((b, a));
        let edge = Edge { reason, span: None };
        self.graph.add_edge(b, a, edge.clone());
        // The dependent's objects start after it too (they carry its incoming edges).
        let members: Vec<NodeIndex> = self
            .graph
            .neighbors_directed(a, Direction::Incoming)
            .filter(|&n| matches!(*self.graph[n], Address::Object { .. }))
            .collect();
        for m in members {
            self.graph.add_edge(b, m, edge.clone());
        }
        true
    }

    /// Objects that more than one release renders (same API group, kind, namespace and name):
    /// each pair once, the earlier-added object first. Applying both would make the releases
    /// overwrite each other, so callers report these as errors.
    pub fn conflicting_objects(&self) -> Vec<(Address, Address)> {
        let mut seen: HashMap<(String, String, Option<String>, String), Address> = HashMap::new();
        let mut conflicts = Vec::new();
        for i in self.graph.node_indices() {
            let address = &*self.graph[i];
            let Address::Object {
                release,
                api_version,
                kind,
                namespace,
                name,
            } = address
            else {
                continue;
            };
            let group = api_version
                .rsplit_once('/')
                .map(|(g, _)| g.to_string())
                .unwrap_or_default();
            let key = (group, kind.clone(), namespace.clone(), name.clone());
            match seen.get(&key) {
                Some(first) if first.release() != Some(release.as_str()) => {
                    conflicts.push((first.clone(), address.clone()));
                }
                Some(_) => {}
                None => {
                    seen.insert(key, address.clone());
                }
            }
        }
        conflicts
    }

    pub fn contains(&self, address: &Address) -> bool {
        self.index.contains_key(address)
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Every node, in the order it was added.
    pub fn nodes(&self) -> Vec<Address> {
        self.graph
            .node_indices()
            .map(|i| Address::clone(&self.graph[i]))
            .collect()
    }

    /// Every edge as (before, after, why).
    pub fn edges(&self) -> Vec<(Address, Address, Edge)> {
        (&self.graph)
            .edge_references()
            .map(|e| {
                (
                    Address::clone(&self.graph[e.source()]),
                    Address::clone(&self.graph[e.target()]),
                    e.weight().clone(),
                )
            })
            .collect()
    }

    /// The objects added under a release, in apply order.
    pub fn objects_of(&self, release: &str) -> Vec<Address> {
        self.apply_order()
            .into_iter()
            .filter(|a| matches!(a, Address::Object { release: r, .. } if r == release))
            .collect()
    }

    /// Direct dependencies of a node (what must be done before it), in the order added.
    pub fn dependencies(&self, address: &Address) -> Vec<Address> {
        self.neighbours(address, Direction::Incoming)
    }

    /// Direct dependents of a node (what waits for it), in the order added.
    pub fn dependents(&self, address: &Address) -> Vec<Address> {
        self.neighbours(address, Direction::Outgoing)
    }

    fn neighbours(&self, address: &Address, direction: Direction) -> Vec<Address> {
        let Some(&i) = self.index.get(address) else {
            return Vec::new();
        };
        let mut found: Vec<NodeIndex> = self.graph.neighbors_directed(i, direction).collect();
        found.sort();
        found.dedup();
        found
            .into_iter()
            .map(|n| Address::clone(&self.graph[n]))
            .collect()
    }

    /// A topological order; among nodes that are ready at once, the one added first goes first.
    pub fn apply_order(&self) -> Vec<Address> {
        self.waves_or_order(false).into_iter().flatten().collect()
    }

    /// The reverse of [`apply_order`](Self::apply_order): dependents are removed first.
    pub fn delete_order(&self) -> Vec<Address> {
        let mut order = self.apply_order();
        order.reverse();
        order
    }

    /// Groups of nodes that can run at the same time: every node's dependencies are in earlier
    /// waves, and each node is in the earliest wave it can be.
    pub fn waves(&self) -> Vec<Vec<Address>> {
        self.waves_or_order(true)
    }

    /// Kahn's algorithm; with `by_wave` the result is levelled, otherwise one flat order.
    fn waves_or_order(&self, by_wave: bool) -> Vec<Vec<Address>> {
        let mut remaining: HashMap<NodeIndex, usize> = self
            .graph
            .node_indices()
            .map(|i| {
                let incoming = self
                    .graph
                    .neighbors_directed(i, Direction::Incoming)
                    .collect::<HashSet<_>>()
                    .len();
                (i, incoming)
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<NodeIndex>> = remaining
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(i, _)| Reverse(*i))
            .collect();
        let mut waves: Vec<Vec<Address>> = Vec::new();
        let mut order: Vec<Address> = Vec::new();
        while !ready.is_empty() {
            let current: Vec<NodeIndex> = if by_wave {
                std::iter::from_fn(|| ready.pop().map(|Reverse(i)| i)).collect()
            } else {
                ready.pop().map(|Reverse(i)| vec![i]).unwrap_or_default()
            };
            let mut wave = Vec::with_capacity(current.len());
            for i in current {
                wave.push(Address::clone(&self.graph[i]));
                let next: HashSet<NodeIndex> = self
                    .graph
                    .neighbors_directed(i, Direction::Outgoing)
                    .collect();
                for n in next {
                    if let Some(count) = remaining.get_mut(&n) {
                        *count = count.saturating_sub(1);
                        if *count == 0 {
                            ready.push(Reverse(n));
                        }
                    }
                }
            }
            if by_wave {
                waves.push(wave);
            } else {
                order.extend(wave);
            }
        }
        if by_wave { waves } else { vec![order] }
    }

    /// One problem per cycle, naming every step and pointing at the text that made it.
    fn cycles(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for component in petgraph::algo::tarjan_scc(&self.graph) {
            let is_cycle = component.len() > 1
                || component
                    .first()
                    .is_some_and(|&n| self.graph.find_edge(n, n).is_some());
            if !is_cycle {
                continue;
            }
            let members: HashSet<NodeIndex> = component.iter().copied().collect();
            let Some(&start) = component.iter().min() else {
                continue;
            };
            let Some(edges) = self.shortest_cycle(start, &members) else {
                continue;
            };
            let mut names: Vec<String> = vec![self.graph[start].to_string()];
            let mut problem = Problem::new("cycle", String::new());
            for (step, e) in edges.iter().enumerate() {
                let Some((from, to)) = self.graph.edge_endpoints(*e) else {
                    continue;
                };
                names.push(self.graph[to].to_string());
                let edge = &self.graph[*e];
                if let Some(span) = edge.span {
                    problem = problem.label(
                        span,
                        format!(
                            "({}) {} needs {}",
                            step + 1,
                            self.graph[to],
                            self.graph[from]
                        ),
                    );
                }
            }
            problem.message = format!("dependency cycle: {}", names.join(" → "));
            problems.push(problem.help(
                "→ reads \"is needed by\": each node must be applied before the ones that use it, so remove one of these references or depends_on entries",
            ));
        }
        problems
    }

    /// The shortest path of edges from `start` back to itself inside `members` (BFS).
    fn shortest_cycle(
        &self,
        start: NodeIndex,
        members: &HashSet<NodeIndex>,
    ) -> Option<Vec<EdgeIndex>> {
        if let Some(e) = self.graph.find_edge(start, start) {
            return Some(vec![e]);
        }
        let mut came_by: HashMap<NodeIndex, EdgeIndex> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            let mut out: Vec<_> = self.graph.edges_directed(n, Direction::Outgoing).collect();
            out.sort_by_key(|e| e.id());
            for e in out {
                let t = e.target();
                if !members.contains(&t) {
                    continue;
                }
                if t == start {
                    let mut path = vec![e.id()];
                    let mut at = n;
                    while at != start {
                        let back = *came_by.get(&at)?;
                        path.push(back);
                        at = self.graph.edge_endpoints(back)?.0;
                    }
                    path.reverse();
                    return Some(path);
                }
                if let std::collections::hash_map::Entry::Vacant(v) = came_by.entry(t) {
                    v.insert(e.id());
                    queue.push_back(t);
                }
            }
        }
        None
    }

    /// Graphviz DOT: `todoplan graph --format dot | dot -Tsvg > graph.svg`.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph todoplan {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
        );
        for i in self.graph.node_indices() {
            let address = &*self.graph[i];
            let shape = match address {
                Address::Image(_) => "box3d",
                Address::Secret(_) => "octagon",
                Address::Namespace(_) => "folder",
                Address::Release(_) => "component",
                Address::Object { .. } => "note",
            };
            let _ = writeln!(out, "  {} [shape={shape}];", dot_id(&address.to_string()));
        }
        for e in (&self.graph).edge_references() {
            let edge = e.weight();
            let style = match edge.reason {
                EdgeReason::DependsOn => ", style=bold",
                EdgeReason::Namespace
                | EdgeReason::Member
                | EdgeReason::KindOrder
                | EdgeReason::CustomResources => ", style=dashed",
                EdgeReason::Reference(_) => "",
            };
            let _ = writeln!(
                out,
                "  {} -> {} [label={}{style}];",
                dot_id(&self.graph[e.source()].to_string()),
                dot_id(&self.graph[e.target()].to_string()),
                dot_id(&edge.label()),
            );
        }
        out.push_str("}\n");
        out
    }

    /// A tree like `cargo tree`: each node that nothing depends on, with what it needs below it.
    /// A node already shown in full is marked `(*)`.
    pub fn to_text_tree(&self) -> String {
        let mut out = String::new();
        let mut expanded: HashSet<NodeIndex> = HashSet::new();
        let roots: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|&i| {
                self.graph
                    .neighbors_directed(i, Direction::Outgoing)
                    .next()
                    .is_none()
            })
            .collect();
        // Explicit stack (prefix, node, label, is_last) so deep chains cannot overflow the stack.
        for root in roots {
            let mut stack: Vec<(String, NodeIndex, Option<String>, bool, bool)> =
                vec![(String::new(), root, None, true, true)];
            while let Some((prefix, node, label, last, is_root)) = stack.pop() {
                let connector = if is_root {
                    ""
                } else if last {
                    "└── "
                } else {
                    "├── "
                };
                let seen = !expanded.insert(node);
                let has_children = self
                    .graph
                    .neighbors_directed(node, Direction::Incoming)
                    .next()
                    .is_some();
                let _ = write!(out, "{prefix}{connector}{}", self.graph[node]);
                if let Some(label) = &label {
                    let _ = write!(out, "  ({label})");
                }
                if seen && has_children {
                    out.push_str(" (*)");
                }
                out.push('\n');
                if seen {
                    continue;
                }
                let child_prefix = if is_root {
                    String::new()
                } else if last {
                    format!("{prefix}    ")
                } else {
                    format!("{prefix}│   ")
                };
                let mut children: Vec<(NodeIndex, String)> = self
                    .graph
                    .edges_directed(node, Direction::Incoming)
                    .map(|e| (e.source(), e.weight().label()))
                    .collect();
                children.sort_by_key(|(n, _)| *n);
                let count = children.len();
                for (k, (child, label)) in children.into_iter().enumerate().rev() {
                    stack.push((
                        child_prefix.clone(),
                        child,
                        Some(label),
                        k + 1 == count,
                        false,
                    ));
                }
            }
        }
        out
    }
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests;
