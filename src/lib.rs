//! todoplan: a declarative plan/apply engine for the Todo app stack.
//!
//! Read the modules in data-flow order: `spec` (todo.toml) → `chart` (render releases) →
//! `images` (build contexts) → `secrets` → `graph` (the DAG) → `observe` (what exists) →
//! `plan` (the difference) → `apply` (carry it out) → `state` (the record) → `drift`.

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
