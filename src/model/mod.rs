//! What every stage shares and that imports nothing from the crate.

pub mod masking;
pub mod redaction;
