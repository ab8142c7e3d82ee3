//! images (being built)
