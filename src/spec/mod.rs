//! spec (being built)
