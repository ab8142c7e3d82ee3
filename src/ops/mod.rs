//! The operations behind the verbs: each takes typed inputs and returns a typed report, and every
//! verb ends with an [`exit::ExitStatus`]. The CLI parses arguments, calls them, and prints.
//! Every operation plans with the one planner (`plan::compute`, behind the protection gate) and
//! carries plans out through one path ([`carry::execute`], on a [`carry::Session`] that holds
//! the connection, the lock and the state): apply and saved plans ([`apply::carry_out`]),
//! destroy (a plan against nothing), rollback and `--atomic`'s undo (a plan against a recorded
//! revision). Validate is the plan made without a cluster ([`validate`]).

pub mod apply;
pub mod base;
pub mod carry;
pub mod destroy;
pub mod digest_key;
pub mod exit;
pub mod history;
pub mod import;
pub mod init;
pub mod rbac;
pub mod rollback;
pub mod state_migrate;
pub mod state_view;
pub mod validate;
pub mod workspace;
