//! Link the `todoplan` executable position-dependent (`-no-pie`), as Go links helm and kubectl.
//!
//! A position-independent executable of this size carries some 41,000 relative relocations
//! (vtables and static tables in .data.rel.ro) that the dynamic loader applies at every start,
//! copying each page they touch: a third of the CPU of a short command such as `todoplan render`
//! of a small chart (1.4 ms of 3.9 ms, `perf stat` on the release build). A fixed load address
//! leaves 3. The code itself is compiled position-independent as before (no dependency is
//! rebuilt); only the executable's own address is no longer randomised — the heap, stack and
//! shared libraries still are.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
