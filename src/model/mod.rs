//! What every stage shares and that imports nothing from the crate: addresses, object
//! accessors, redaction and masking of secret values, drift items, progress lines, smoke checks.

pub mod address;
pub mod desired;
pub mod drift;
pub mod input;
pub mod masking;
pub mod object;
pub mod progress;
pub mod redaction;
pub mod smoke;
