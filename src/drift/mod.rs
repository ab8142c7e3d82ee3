//! drift (being built)
