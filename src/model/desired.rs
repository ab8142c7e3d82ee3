//! What a plan wants to exist: one rendered, resolved object with the facts the planner and the
//! checks need about it. Built by `plan::desired`, read by `checks` and `plan`.

use std::time::Duration;

use serde_json::Value;

use super::address::Address;
use super::object::ObjectKey;

/// One object to exist. Secret objects hold plaintext: keep them in memory only.
#[derive(Clone)]
pub struct DesiredObject {
    pub address: Address,
    pub object: Value,
    /// Its release, or None for namespace and secret nodes.
    pub release: Option<String>,
    /// Never delete without --allow-data-loss.
    pub protect: bool,
    pub timeout: Duration,
}

impl std::fmt::Debug for DesiredObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DesiredObject({})", self.address)
    }
}

impl DesiredObject {
    pub fn key(&self) -> ObjectKey {
        ObjectKey::of(&self.object)
    }
}
