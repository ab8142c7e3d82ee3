//! observe (being built)
