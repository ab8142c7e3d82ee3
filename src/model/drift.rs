//! One change made in the cluster outside todoplan, as drift detection reports it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftItem {
    pub address: String,
    /// Dotted field path, or "(object)" for a deleted/unmanaged object.
    pub field: String,
    pub kind: DriftKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
    /// Field manager that owns the live value, from managedFields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
    /// What apply does about it, when that is not "restores the declared value".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    Changed,
    Deleted,
    /// Carries this project's labels but todoplan never applied it.
    Unmanaged,
}
