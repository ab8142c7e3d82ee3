//! Plan: the difference between todo.toml and what exists, per address, with field-level diffs.

pub mod approval;
pub mod checks;
pub mod compute;
pub mod desired;
pub mod diff;
pub mod helm_owners;
pub mod images;
pub mod incremental;
pub mod model;
pub mod normalize;
pub mod output;
pub mod ownership;
pub mod pending_kinds;
pub mod planfile;
pub mod protection;
pub mod redact;
pub mod values_diff;

pub use model::*;
