//! secrets (being built)
