//! A compiled regular expression, by the cheapest engine that matches it as the regex crate
//! would. regex-lite compiles in microseconds where the regex crate builds UTF-8 automata and
//! a DFA (a negated class such as `[^/]` or `[^ \t…]` took a tenth to a quarter of a small
//! chart's render). The two agree on explicit classes, literals, punctuation escapes, anchors
//! and repetition, and differ on Unicode-aware features (case folding, `\b`, `\p{…}`): each
//! caller says which of its patterns are in the shared subset (values.schema.json's ECMA
//! patterns, templates' Go patterns), property-tested against the regex crate.

#[derive(Clone)]
pub enum Pattern {
    Lite(regex_lite::Regex),
    Full(regex::Regex),
}

impl Pattern {
    /// regex-lite for `lite` (a pattern in the shared subset) when given and it compiles;
    /// otherwise the regex crate's compilation, `full`.
    pub fn lite_or<E>(
        lite: Option<&str>,
        full: impl FnOnce() -> Result<regex::Regex, E>,
    ) -> Result<Pattern, E> {
        if let Some(Ok(re)) = lite.map(regex_lite::Regex::new) {
            return Ok(Pattern::Lite(re));
        }
        full().map(Pattern::Full)
    }

    pub fn is_match(&self, text: &str) -> bool {
        match self {
            Pattern::Lite(re) => re.is_match(text),
            Pattern::Full(re) => re.is_match(text),
        }
    }
}
