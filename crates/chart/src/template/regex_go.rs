//! Go's RE2 syntax for Rust's `regex`. The two dialects agree on most patterns, but Go takes a
//! `-` next to a class escape as a literal (`^[\w-\.]+$`, which Rust rejects as an "invalid
//! range boundary"), and Go's `\w`, `\d`, `\s` and `\b` are ASCII-only where Rust's are Unicode.

/// `\w`, `\d`, `\s` as the ASCII sets Go means, for use inside a class.
fn perl_class_body(c: char) -> Option<&'static str> {
    match c {
        'w' => Some("0-9A-Za-z_"),
        'd' => Some("0-9"),
        's' => Some(r"\t\n\x0C\r "),
        _ => None,
    }
}

/// Rewrite a Go pattern so Rust's regex reads it as Go does.
pub fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let e = chars[i + 1];
                match (e, perl_class_body(e.to_ascii_lowercase())) {
                    (_, Some(body)) if e.is_ascii_lowercase() => {
                        out.push('[');
                        out.push_str(body);
                        out.push(']');
                    }
                    (_, Some(body)) => {
                        out.push_str("[^");
                        out.push_str(body);
                        out.push(']');
                    }
                    ('b', None) => out.push_str(r"(?-u:\b)"),
                    ('B', None) => out.push_str(r"(?-u:\B)"),
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
                i += 2;
            }
            '[' => {
                i = translate_class(&chars, i, &mut out);
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Copy the class starting at `chars[start] == '['`, returning the index after it. Follows
/// Go's parseClass: a `-` that does not sit between two single characters is a literal.
fn translate_class(chars: &[char], start: usize, out: &mut String) -> usize {
    let mut i = start + 1;
    out.push('[');
    if i < chars.len() && chars[i] == '^' {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && !first {
            out.push(']');
            return i + 1;
        }
        first = false;
        // POSIX class [:alpha:]
        if c == '['
            && chars.get(i + 1) == Some(&':')
            && let Some(end) = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == ':' && chars[j + 1] == ']')
        {
            out.extend(&chars[i..end + 2]);
            i = end + 2;
            continue;
        }
        if c == '\\' && i + 1 < chars.len() {
            let e = chars[i + 1];
            if let Some(body) = perl_class_body(e) {
                out.push_str(body);
                i += 2;
                continue;
            }
            if perl_class_body(e.to_ascii_lowercase()).is_some() || matches!(e, 'p' | 'P') {
                // negated classes and Unicode classes: same meaning in both dialects
                let end = if matches!(e, 'p' | 'P') && chars.get(i + 2) == Some(&'{') {
                    (i + 2..chars.len())
                        .find(|&j| chars[j] == '}')
                        .map_or(chars.len(), |j| j + 1)
                } else {
                    (i + 3).min(chars.len())
                };
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
        }
        // A single character, maybe the low end of a range.
        let (lo_end, _) = class_char(chars, i);
        if c == '-' {
            out.push_str(r"\-");
        } else {
            out.extend(&chars[i..lo_end]);
        }
        i = lo_end;
        if i + 1 < chars.len() && chars[i] == '-' && chars[i + 1] != ']' {
            let (hi_end, hi_is_class) = class_char(chars, i + 1);
            if !hi_is_class {
                out.push('-');
                out.extend(&chars[i + 1..hi_end]);
                i = hi_end;
            }
        }
    }
    // unterminated: let the regex crate report it
    i
}

/// The end of one (possibly escaped) class character at `i`, and whether it is a class escape.
fn class_char(chars: &[char], i: usize) -> (usize, bool) {
    if chars[i] == '\\' && i + 1 < chars.len() {
        let e = chars[i + 1];
        let is_class = perl_class_body(e.to_ascii_lowercase()).is_some() || matches!(e, 'p' | 'P');
        if e == 'x' && chars.get(i + 2) == Some(&'{') {
            let end = (i + 2..chars.len())
                .find(|&j| chars[j] == '}')
                .map_or(chars.len(), |j| j + 1);
            return (end, false);
        }
        if e == 'x' {
            return ((i + 4).min(chars.len()), false);
        }
        return (i + 2, is_class);
    }
    (i + 1, false)
}

/// Whether regex-lite reads a translated pattern exactly as the regex crate does: no flag group
/// (the translation writes `\b` as one), escapes only of ASCII punctuation, `\t \n \r \f \v`
/// and two-digit `\x`, and no bracket inside a class (POSIX classes, nesting) or `]` first in
/// one. regex-lite compiles such a pattern in microseconds; the regex crate builds UTF-8
/// automata for a negated class such as `[^/]`, which took a tenth of a small chart's render.
pub fn lite_reads_alike(translated: &str) -> bool {
    if translated.contains("(?") {
        return false;
    }
    let mut in_class = false;
    let mut chars = translated.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() || matches!(e, 't' | 'n' | 'r' | 'f' | 'v') => {
                }
                Some('x') => {
                    for _ in 0..2 {
                        if chars.next_if(char::is_ascii_hexdigit).is_none() {
                            return false;
                        }
                    }
                }
                _ => return false,
            },
            '[' if in_class => return false,
            '[' => {
                in_class = true;
                chars.next_if_eq(&'^');
                if chars.peek() == Some(&']') {
                    return false;
                }
            }
            ']' => in_class = false,
            _ => {}
        }
    }
    true
}

/// regex-lite stands in for the regex crate only where they match alike: random Go patterns
/// over the syntax both share, translated, and random texts.
#[cfg(test)]
mod lite_agrees_with_the_regex_crate {
    use super::{lite_reads_alike, translate};
    use proptest::prelude::*;

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a",
            "b",
            "é",
            " ",
            ".",
            "^",
            "$",
            "*",
            "+?",
            "?",
            "|",
            "(",
            ")",
            "[",
            "]",
            "[^",
            "-",
            "{2}",
            "\\s",
            "\\S",
            "\\d",
            "\\w",
            "\\W",
            "\\.",
            "\\-",
            "\\/",
            "\\b",
            "\\t",
            "\\x41",
            "(?i)",
            "[[:alpha:]]",
            "/",
            ":",
        ])
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "A", "b", "é", " ", "\t", "\n", "\u{a0}", "/", ":", "-", "1", "_",
            ]),
            0..6,
        )
        .prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn same_matches(
            pieces in prop::collection::vec(piece(), 1..7),
            texts in prop::collection::vec(text(), 1..6),
        ) {
            let translated = translate(&pieces.concat());
            if lite_reads_alike(&translated)
                && let Ok(lite) = regex_lite::Regex::new(&translated)
            {
                let full = regex::Regex::new(&translated);
                prop_assert!(full.is_ok(), "lite compiled {:?}, regex did not", translated);
                let full = full.unwrap();
                for t in &texts {
                    prop_assert_eq!(lite.is_match(t), full.is_match(t), "pattern {:?}, text {:?}", translated, t);
                }
            }
        }
    }

    #[test]
    fn the_repo_charts_image_check_is_lite() {
        let t = translate("(:[^/]+|@sha256:[0-9a-f]{64})$");
        assert!(lite_reads_alike(&t), "{t}");
        for p in [r"\bx", "(?i)a", r"\pL", "[[:alpha:]]", "[]a]", r"\x{41}"] {
            assert!(!lite_reads_alike(&translate(p)), "{p}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn go_match(pattern: &str, text: &str) -> bool {
        regex::Regex::new(&translate(pattern))
            .unwrap_or_else(|e| panic!("{pattern} -> {}: {e}", translate(pattern)))
            .is_match(text)
    }

    #[test]
    fn dash_after_a_class_escape_is_a_literal() {
        let go_pattern = String::from(r"^[\w-\.]+$");
        assert!(
            regex::Regex::new(&go_pattern).is_err(),
            "Rust alone rejects it"
        );
        assert!(go_match(r"^[\w-\.]+$", "redis-ha.svc"));
        assert!(!go_match(r"^[\w-\.]+$", "a/b"));
        assert!(go_match(r"^[a-z-.]+$", "a-b.c"));
        assert!(go_match(r"^[\d-]+$", "1-2"));
        assert!(go_match(r"^[^\s-]+$", "ab"));
        assert!(!go_match(r"^[^\s-]+$", "a-b"));
    }

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        assert!(!go_match(r"^\w+$", "café"));
        assert!(go_match(r"^\w+$", "cafe_1"));
        assert!(!go_match(r"^\d$", "٣"));
        assert!(go_match(r"^[[:alpha:]]+\s\D$", "ab x"));
        assert!(go_match(r"\bword\b", "a word."));
    }

    #[test]
    fn ordinary_patterns_are_unchanged() {
        for p in [
            r"^v?(\d+)\.(\d+)",
            r"[a-z]{2,}",
            r"(?i)^abc$",
            r"a\.b",
            r"[\]]",
        ] {
            let t = translate(p);
            assert!(regex::Regex::new(&t).is_ok(), "{p} -> {t}");
        }
        assert_eq!(translate(r"[a-z]{2,}"), r"[a-z]{2,}");
        assert_eq!(translate(r"a\.b"), r"a\.b");
    }
}
