//! todoplan: a declarative plan/apply engine for the Todo app stack.
//!
//! The modules are layers; each uses only the ones below it (`tests/testsuite/module_layers.rs`
//! keeps it so). Top to bottom, which is also the way to follow one value from todo.toml to the
//! cluster:
//!
//! - `cli`: parses a verb's arguments, calls one operation, prints its report.
//! - `ops`: the operations (plan, apply, destroy, rollback, validate, import, render, rbac).
//!   They own the lock, the state, cancellation and exit statuses, and carry every plan out
//!   through one path (`ops::carry`).
//! - `apply`: the executor: walks the plan's graph in waves, writes with server-side apply,
//!   waits for readiness, prunes, records each step in the state's journal.
//! - `plan`: the planner: renders the desired objects (`plan::desired`, the one builder), reads
//!   what exists, dry-runs, diffs, applies the protection gate, and prints plans.
//! - `checks`: plan-time checks over the desired and live objects (Secret keys, selectors, …).
//! - `drift`, `state`, `graph`: drift rules, the state backends, the dependency graph.
//! - `secrets`: secret values from the environment, files, or generated and kept.
//! - `spec`: todo.toml, typed, every value with its source span.
//! - `observe`, `chart`, `images`: the cluster (behind the `Cluster` trait), chart rendering
//!   (its own crate, `todoplan-chart`), image build contexts, builds and delivery.
//! - `model`: what every stage shares (addresses, object identity, redaction, masking).

pub mod apply;
pub use todoplan_chart as chart;
pub mod checks;
pub mod cli;
pub mod drift;
pub mod graph;
pub mod images;
pub mod model;
pub mod observe;
pub mod ops;
pub mod plan;
pub mod secrets;
pub mod spec;
pub mod state;
