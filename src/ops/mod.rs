//! The operations behind the verbs: each takes typed inputs and returns a typed report; the CLI
//! parses arguments, calls one, and prints. Every operation plans with the one planner
//! (`plan::compute::diff_objects`, behind the protection gate) and carries plans out with the one
//! executor (`apply::execute`): apply, saved plans, destroy (a plan against nothing), rollback and
//! `--atomic` (a plan against a recorded revision).

pub mod apply;
pub mod base;
pub mod carry;
pub mod destroy;
pub mod exit;
pub mod import;
pub mod init;
pub mod rbac;
pub mod rollback;
pub mod state_migrate;
pub mod state_view;
pub mod workspace;
