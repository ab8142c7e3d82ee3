//! Redaction lives in `model::redaction` (every stage needs it, and it needs no stage); this
//! path stays for the plan stage's callers.

pub use crate::model::redaction::*;
