//! Plan: the difference between todo.toml and what exists, per address, with field-level diffs.

pub mod diff;
pub mod model;
pub mod normalize;
pub mod output;
pub mod redact;

pub use model::*;
