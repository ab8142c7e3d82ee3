//! The README's list of supported template functions is the engine's list: nothing claimed
//! that does not exist, nothing supported that is not written down.

use std::collections::BTreeSet;

#[test]
fn readme_lists_exactly_the_supported_functions() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("### Supported functions")
        .expect("README has a Supported functions heading");
    let end = readme[start..]
        .find("Not supported")
        .map(|i| start + i)
        .expect("README says what is not supported");
    let section = &readme[start..end];
    let mut listed = BTreeSet::new();
    // Backticked runs (which may wrap lines) hold space-separated names; prose is skipped.
    for (i, chunk) in section.split('`').enumerate() {
        if i % 2 == 1 {
            for w in chunk.split_whitespace() {
                if w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !w.starts_with("must")
                {
                    listed.insert(w.to_string());
                }
            }
        }
    }
    // prose examples in backticks that are not function names
    for not_fn in ["x", "1"] {
        listed.remove(not_fn);
    }
    let known: BTreeSet<String> = todoplan::chart::template::funcs::names()
        .into_iter()
        .filter(|n| !n.starts_with("must"))
        .map(str::to_string)
        .collect();
    let claimed_missing: Vec<_> = listed.difference(&known).collect();
    let undocumented: Vec<_> = known.difference(&listed).collect();
    assert!(
        claimed_missing.is_empty(),
        "README lists unknown functions: {claimed_missing:?}"
    );
    assert!(
        undocumented.is_empty(),
        "functions missing from the README: {undocumented:?}"
    );
}
