//! chart (being built)
