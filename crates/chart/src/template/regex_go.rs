//! Go's RE2 syntax for Rust's `regex`. The two dialects agree on most patterns, but Go takes a
//! `-` next to a class escape as a literal (`^[\w-\.]+$`, which Rust rejects as an "invalid
//! range boundary"), Go's `\w`, `\d`, `\s` and `\b` are ASCII-only where Rust's are Unicode, and
//! Go's `\p{...}` names and sets come from Go's own Unicode tables (go_unicode.rs).

use super::go_unicode;

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
    let mut names: Vec<String> = Vec::new();
    // Where in `out` the last expression Go pushed starts, and where the repetition that ends it
    // ends (when it is one): `a*(?i)*` repeats `a*`, which Rust reads only as `(?:a*)*`.
    let mut groups: Vec<usize> = Vec::new();
    let mut atom_start: Option<usize> = None;
    let mut repeat_end: Option<usize> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let before = out.len();
        let mut is_repeat = false;
        match c {
            '(' if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&')') => {}
            '(' if flag_group_then_repeat(&chars[i..]).is_some() => {}
            '(' => {
                groups.push(before);
                (atom_start, repeat_end) = (None, None);
            }
            ')' => (atom_start, repeat_end) = (groups.pop(), None),
            '|' => (atom_start, repeat_end) = (None, None),
            '*' | '+' | '?' | '{' => is_repeat = true,
            _ => (atom_start, repeat_end) = (Some(before), None),
        }
        match c {
            '(' if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&')') => {
                // an empty flag group: nothing in Go, refused by Rust
                i += 3;
            }
            '(' if flag_group_then_repeat(&chars[i..]).is_some() => {
                // `a(?i)*`: a flag group pushes nothing in Go, so the repetition applies to what
                // precedes it; Rust refuses a repetition there: write it before the group
                // (a group that turns U on makes that repetition ungreedy: Go reads the
                // operator under the new flags)
                let (group, repeat) = flag_group_then_repeat(&chars[i..]).unwrap_or_default();
                let op = &chars[i + group..i + group + repeat];
                let mut sets_u = false;
                let groups: String = chars[i..i + group].iter().collect();
                for flags in groups.split(')').filter(|g| !g.is_empty()) {
                    let flags = flags.trim_start_matches("(?");
                    let (on, off) = flags.split_once('-').unwrap_or((flags, ""));
                    if on.contains('U') {
                        sets_u = true;
                    }
                    if off.contains('U') {
                        sets_u = false;
                    }
                }
                let mut op_text: String = op.iter().collect();
                match (sets_u, op.last()) {
                    (true, Some('?')) if op.len() > 1 => {
                        op_text.pop();
                    }
                    (true, _) => op_text.push('?'),
                    _ => {}
                }
                match (atom_start, repeat_end) {
                    (Some(start), Some(end)) => {
                        // a repetition of a repetition: grouped, the flags left after it
                        out.insert_str(end, &format!("){op_text}"));
                        out.insert_str(start, "(?:");
                        repeat_end = Some(end + 4 + op_text.len());
                    }
                    _ => {
                        out.push_str(&op_text);
                        repeat_end = Some(out.len());
                    }
                }
                out.extend(&chars[i..i + group]);
                i += group + repeat;
            }
            '(' if chars.get(i + 1) == Some(&'?') && named_group_len(&chars[i..]).is_some() => {
                // Go allows a name twice (`${name}` expands the first group of that name);
                // Rust refuses it: a repeated name's group is written unnamed
                let (len, name) = named_group_len(&chars[i..]).unwrap_or_default();
                if names.contains(&name) {
                    out.push('(');
                } else {
                    out.extend(&chars[i..i + len]);
                    names.push(name);
                }
                i += len;
            }
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
                    ('0'..='7', None) => {
                        // Go's octal escape (up to three digits); Rust reads \1 as a backreference
                        let end = octal_end(&chars, i);
                        push_octal(&mut out, &chars[i + 1..end]);
                        i = end;
                        continue;
                    }
                    ('p' | 'P', None)
                        if let Some(end) = translate_unicode_class(&chars, i, false, &mut out) =>
                    {
                        i = end;
                        continue;
                    }
                    ('p' | 'P' | 'x', None) if chars.get(i + 2) == Some(&'{') => {
                        // \x{hex} (and a \p{Name} Go refuses): braces that are no repetition
                        let end = chars[i..]
                            .iter()
                            .position(|c| *c == '}')
                            .map_or(chars.len(), |k| i + k + 1);
                        out.extend(&chars[i..end]);
                        i = end;
                        continue;
                    }
                    ('Q', None) => {
                        // \Q...\E: literal text (to the end when there is no \E)
                        let rest: String = chars[i + 2..].iter().collect();
                        let (lit, skip) = match rest.find("\\E") {
                            Some(end) => (&rest[..end], rest[..end].chars().count() + 2),
                            None => (rest.as_str(), rest.chars().count()),
                        };
                        out.push_str(&regex_syntax::escape(lit));
                        i += 2 + skip;
                        continue;
                    }
                    ('x', None) => {
                        // \xHH: one character (a repetition after it repeats all of it)
                        let end = (i + 4).min(chars.len());
                        out.extend(&chars[i..end]);
                        i = end;
                        continue;
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
            '{' => {
                // Go reads a `{` that does not start a counted repetition as a literal
                let rest: String = chars[i..].iter().collect();
                match go_repeat(&rest) {
                    Some((_, _, after)) => {
                        let len = rest.chars().count() - after.chars().count();
                        out.extend(&chars[i..i + len]);
                        i += len;
                    }
                    None => {
                        // a literal: an expression of its own
                        is_repeat = false;
                        (atom_start, repeat_end) = (Some(before), None);
                        out.push_str("\\{");
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
        if is_repeat {
            repeat_end = Some(out.len());
        }
    }
    out
}

/// The end of Go's octal escape `\` + up to three octal digits starting at `chars[i]`.
fn octal_end(chars: &[char], i: usize) -> usize {
    let mut end = i + 2;
    while end < chars.len() && end < i + 4 && ('0'..='7').contains(&chars[end]) {
        end += 1;
    }
    end
}

/// Octal digits as the `\x{..}` escape Rust reads.
fn push_octal(out: &mut String, digits: &[char]) {
    let text: String = digits.iter().collect();
    let value = u32::from_str_radix(&text, 8).unwrap_or(0);
    out.push_str(&format!("\\x{{{value:x}}}"));
}

/// One class character as Rust reads it (an octal escape rewritten).
fn push_class_char(out: &mut String, piece: &[char]) {
    if piece.len() >= 2 && piece[0] == '\\' && ('0'..='7').contains(&piece[1]) {
        push_octal(out, &piece[1..]);
    } else if let [c @ ('[' | '&' | '~')] = piece {
        // literals in Go; a nested class or a set operation (`&&`, `~~`) in Rust
        out.push('\\');
        out.push(*c);
    } else {
        out.extend(piece);
    }
}

/// `(?P<name>` or `(?<name>` at the start of `chars`: its length and the name.
fn named_group_len(chars: &[char]) -> Option<(usize, String)> {
    let begin = match chars.get(2)? {
        'P' if chars.get(3) == Some(&'<') => 4,
        '<' => 3,
        _ => return None,
    };
    let end = chars.iter().position(|c| *c == '>')?;
    let name: String = chars.get(begin..end)?.iter().collect();
    (!name.is_empty() && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()))
        .then_some((end + 1, name))
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
            if matches!(e, 'p' | 'P')
                && let Some(end) = translate_unicode_class(chars, i, true, out)
            {
                i = end;
                continue;
            }
            if perl_class_body(e.to_ascii_lowercase()).is_some() || matches!(e, 'p' | 'P') {
                // negated classes and Unicode classes: same meaning in both dialects
                let end = if matches!(e, 'p' | 'P') && chars.get(i + 2) == Some(&'{') {
                    (i + 2..chars.len())
                        .find(|&j| chars[j] == '}')
                        .map_or(chars.len(), |j| j + 1)
                } else if matches!(e, 'p' | 'P') {
                    (i + 3).min(chars.len())
                } else {
                    i + 2
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
            push_class_char(out, &chars[i..lo_end]);
        }
        i = lo_end;
        if i + 1 < chars.len() && chars[i] == '-' && chars[i + 1] != ']' {
            let (hi_end, hi_is_class) = class_char(chars, i + 1);
            if !hi_is_class {
                out.push('-');
                push_class_char(out, &chars[i + 1..hi_end]);
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
        if ('0'..='7').contains(&e) {
            return (octal_end(chars, i), false);
        }
        return (i + 2, is_class);
    }
    (i + 1, false)
}

/// `\p` or `\P` at `chars[i]` (with a one-letter name or one in braces), written as the class of
/// the characters Go's tables give that name: the regex crate knows other names (`Alphabetic`,
/// `Old_Italic`, which Go refuses) and a later Unicode (16.0, where Go has 15.0). The index after
/// it, or None when Go knows no such name.
fn translate_unicode_class(
    chars: &[char],
    i: usize,
    in_class: bool,
    out: &mut String,
) -> Option<usize> {
    let (name, end): (String, usize) = if chars.get(i + 2) == Some(&'{') {
        let close = (i + 3..chars.len()).find(|&j| chars[j] == '}')?;
        (chars[i + 3..close].iter().collect(), close + 1)
    } else {
        (chars.get(i + 2)?.to_string(), i + 3)
    };
    let (table, invert) = go_unicode_table(&name)?;
    let negated = (chars[i + 1] == 'P') != invert;
    let ranges = table.ranges();
    // the regex crate has no surrogates (Go's Cs): a class without them
    let mut body = String::new();
    for &(lo, hi) in &ranges {
        for (lo, hi) in [(lo, hi.min(0xD7FF)), (lo.max(0xE000), hi)] {
            if lo <= hi {
                push_hex(&mut body, lo);
                if hi > lo {
                    body.push('-');
                    push_hex(&mut body, hi);
                }
            }
        }
    }
    match (negated, body.is_empty()) {
        (false, false) if in_class => out.push_str(&body),
        (false, false) => {
            out.push('[');
            out.push_str(&body);
            out.push(']');
        }
        // nothing: a class that matches nothing (the regex crate reads `[]` otherwise)
        (false, true) => out.push_str(r"[^\x{0}-\x{10FFFF}]"),
        (true, true) => out.push_str(r"[\x{0}-\x{10FFFF}]"),
        (true, false) => {
            out.push_str("[^");
            out.push_str(&body);
            out.push(']');
        }
    }
    Some(end)
}

fn push_hex(out: &mut String, c: u32) {
    use std::fmt::Write;
    let _ = write!(out, "\\x{{{c:X}}}");
}

/// A table Go's regexp/syntax names in `\p{...}` (its unicodeTable).
#[derive(Debug, PartialEq)]
enum GoTable {
    Any,
    Ascii,
    /// The general categories whose bits are set (indexes into go_unicode::CATEGORIES).
    Categories(u64),
    /// An index into go_unicode::SCRIPTS.
    Script(u8),
}

impl GoTable {
    /// The code points, as sorted ranges that neither touch nor overlap.
    fn ranges(&self) -> Vec<(u32, u32)> {
        let runs: Box<dyn Iterator<Item = (u32, u32)>> = match *self {
            GoTable::Any => return vec![(0, 0x10FFFF)],
            GoTable::Ascii => return vec![(0, 0x7F)],
            GoTable::Categories(mask) => Box::new(
                go_unicode::CATEGORY_RUNS
                    .iter()
                    .filter(move |r| mask & (1 << r.2) != 0)
                    .map(|r| (r.0, r.1)),
            ),
            GoTable::Script(s) => Box::new(
                go_unicode::SCRIPT_RUNS
                    .iter()
                    .filter(move |r| r.2 == s)
                    .map(|r| (r.0, r.1)),
            ),
        };
        let mut out: Vec<(u32, u32)> = Vec::new();
        for (lo, hi) in runs {
            match out.last_mut() {
                Some(last) if last.1 + 1 == lo => last.1 = hi,
                _ => out.push((lo, hi)),
            }
        }
        out
    }
}

/// Go's canonicalName: `_`, `-` and spaces dropped, the first letter upper case, the others
/// lower case (bytes, as Go reads them).
fn canonical_name(name: &str) -> String {
    let mut out = Vec::with_capacity(name.len());
    let mut first = true;
    for &c in name.as_bytes() {
        match c {
            b'_' | b'-' | b' ' => continue,
            _ if first => {
                first = false;
                out.push(c.to_ascii_uppercase());
            }
            _ => out.push(c.to_ascii_lowercase()),
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The general categories a Go category name covers (`L`, `Lu`, `LC`), as a mask.
fn category_mask(name: &str) -> Option<u64> {
    let cats = go_unicode::CATEGORIES;
    let mask = |f: &dyn Fn(&str) -> bool| {
        cats.iter()
            .enumerate()
            .filter(|(_, c)| f(c))
            .fold(0u64, |m, (i, _)| m | 1 << i)
    };
    match name {
        "LC" => Some(mask(&|c| matches!(c, "Lu" | "Ll" | "Lt"))),
        "C" | "L" | "M" | "N" | "P" | "S" | "Z" => Some(mask(&|c| c.starts_with(name))),
        _ if cats.contains(&name) => Some(mask(&|c| c == name)),
        _ => None,
    }
}

/// Go's parseUnicodeClass's lookup of `name` (what `\p{name}` holds): the table and whether
/// the class is its complement (a leading `^`, or `Assigned`, Go's complement of Cn).
fn go_unicode_table(name: &str) -> Option<(GoTable, bool)> {
    let (name, invert) = match name.strip_prefix('^') {
        Some(rest) => (rest, true),
        None => (name, false),
    };
    let name = canonical_name(name);
    let found = match name.as_str() {
        "Any" => Some((GoTable::Any, false)),
        "Assigned" => Some((GoTable::Categories(category_mask("Cn")?), true)),
        "Ascii" => Some((GoTable::Ascii, false)),
        "Lc" => Some((GoTable::Categories(category_mask("LC")?), false)),
        n => category_mask(n)
            .map(|m| (GoTable::Categories(m), false))
            .or_else(|| {
                let s = go_unicode::SCRIPTS.iter().position(|s| *s == n)?;
                Some((GoTable::Script(s as u8), false))
            })
            .or_else(|| {
                let (_, cat) = go_unicode::CATEGORY_ALIASES
                    .iter()
                    .find(|(alias, _)| canonical_name(alias) == n)?;
                Some((GoTable::Categories(category_mask(cat)?), false))
            }),
    };
    found.map(|(t, inv)| (t, inv != invert))
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

/// Go's regexp/syntax parse of `pattern`, for its errors only: the first error Go's parser
/// meets, worded as its Error prints (`code: `expr``), or None when Go reads the pattern. The
/// regex crate reads the same syntax with other rules at the edges (it takes `a**`, `a{1001}`,
/// `[[:foo:]]`), so the error a chart sees, and whether it sees one, follow Go.
pub fn go_error(pattern: &str) -> Option<String> {
    go_parse(pattern)
        .err()
        .map(|(code, expr)| format!("{code}: `{expr}`"))
}

type GoErr = (&'static str, String);

fn go_err<T>(code: &'static str, expr: &str) -> Result<T, GoErr> {
    Err((code, expr.to_string()))
}

/// What the parse stack holds, for the checks Go makes on it.
#[derive(Clone, Copy, PartialEq)]
enum Item {
    /// `(`, or a `(?flags:` group
    Paren,
    /// `|`
    Bar,
    /// an expression (a repetition needs one before it)
    Expr,
}

const MAX_REPEAT: i64 = 1000;

fn go_parse(s: &str) -> Result<(), GoErr> {
    let mut stack: Vec<Item> = Vec::new();
    let mut t = s;
    let mut last_repeat: Option<&str> = None;
    while let Some(c) = t.chars().next() {
        let mut repeat: Option<&str> = None;
        match c {
            '(' if t[1..].starts_with('?') => {
                let (rest, opens) = go_perl_flags(t)?;
                if opens {
                    stack.push(Item::Paren);
                }
                t = rest;
            }
            '(' => {
                stack.push(Item::Paren);
                t = &t[1..];
            }
            '|' => {
                stack.push(Item::Bar);
                t = &t[1..];
            }
            ')' => {
                // pop back to the matching paren
                loop {
                    match stack.pop() {
                        Some(Item::Paren) => break,
                        Some(_) => {}
                        None => return go_err("unexpected )", s),
                    }
                }
                stack.push(Item::Expr);
                t = &t[1..];
            }
            '[' => {
                t = go_class(t)?;
                stack.push(Item::Expr);
            }
            '*' | '+' | '?' | '{' => {
                let before = t;
                let after = if c == '{' {
                    match go_repeat(t) {
                        None => {
                            // not a repetition: a literal `{`
                            stack.push(Item::Expr);
                            t = &t[1..];
                            last_repeat = None;
                            continue;
                        }
                        Some((min, max, after)) => {
                            if !(0..=MAX_REPEAT).contains(&min)
                                || max > MAX_REPEAT
                                || (max >= 0 && min > max)
                            {
                                return go_err(
                                    "invalid repeat count",
                                    &before[..before.len() - after.len()],
                                );
                            }
                            after
                        }
                    }
                } else {
                    &t[1..]
                };
                let after = after.strip_prefix('?').unwrap_or(after);
                if let Some(last) = last_repeat {
                    return go_err(
                        "invalid nested repetition operator",
                        &last[..last.len() - after.len()],
                    );
                }
                if stack.last().is_none_or(|i| *i != Item::Expr) {
                    return go_err(
                        "missing argument to repetition operator",
                        &before[..before.len() - after.len()],
                    );
                }
                repeat = Some(before);
                t = after;
            }
            '\\' => {
                let rest = go_escape_outside_class(t)?;
                // an empty \Q\E is nothing
                let quoted = t.strip_prefix("\\Q").map(|q| &q[..q.len() - rest.len()]);
                if !matches!(quoted, Some("" | "\\E")) {
                    stack.push(Item::Expr);
                }
                t = rest;
            }
            _ => {
                stack.push(Item::Expr);
                t = &t[c.len_utf8()..];
            }
        }
        last_repeat = repeat;
    }
    if stack.contains(&Item::Paren) {
        return go_err("missing closing )", s);
    }
    Ok(())
}

/// parsePerlFlags: a named capture or a flag group at `t` (which starts with `(?`); the rest,
/// and whether a group opens.
fn go_perl_flags(t: &str) -> Result<(&str, bool), GoErr> {
    let named = if t.len() > 4 && t[2..].starts_with("P<") {
        Some(4)
    } else if t.len() > 3 && t[2..].starts_with('<') {
        Some(3)
    } else {
        None
    };
    if let Some(begin) = named {
        let Some(end) = t.find('>') else {
            return go_err("invalid named capture", t);
        };
        let name = &t[begin..end];
        if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
            return go_err("invalid named capture", &t[..=end]);
        }
        return Ok((&t[end + 1..], true));
    }
    let mut rest = &t[2..];
    let mut negated = false;
    let mut saw_flag = false;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            'i' | 'm' | 's' | 'U' => saw_flag = true,
            '-' if !negated => {
                negated = true;
                saw_flag = false;
            }
            ':' | ')' if !negated || saw_flag => return Ok((rest, c == ':')),
            _ => break,
        }
    }
    go_err(
        "invalid or unsupported Perl syntax",
        &t[..t.len() - rest.len()],
    )
}

/// parseRepeat: `{min}`, `{min,}` or `{min,max}` at `t` (max -1 for none; min -1 when a number
/// is too big); None when it is not of that form (then `{` is a literal).
fn go_repeat(t: &str) -> Option<(i64, i64, &str)> {
    let s = t.strip_prefix('{')?;
    let (min, s) = go_int(s)?;
    let (mut min, max, s) = if let Some(s) = s.strip_prefix(',') {
        if s.starts_with('}') {
            (min, -1, s)
        } else {
            let (max, s) = go_int(s)?;
            (min, max, s)
        }
    } else {
        (min, min, s)
    };
    if max == -2 {
        min = -1;
    }
    let rest = s.strip_prefix('}')?;
    Some((
        if min == -2 { -1 } else { min },
        if max == -2 { -1 } else { max },
        rest,
    ))
}

/// parseInt: decimal digits without a leading zero; -2 when too big.
fn go_int(s: &str) -> Option<(i64, &str)> {
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || (digits >= 2 && s.starts_with('0')) {
        return None;
    }
    let n = s[..digits]
        .parse::<i64>()
        .ok()
        .filter(|n| *n < 100_000_000)
        .unwrap_or(-2);
    Some((n, &s[digits..]))
}

/// An escape outside a class at `t` (which starts with `\`): the rest after it.
fn go_escape_outside_class(t: &str) -> Result<&str, GoErr> {
    match t[1..].chars().next() {
        Some('A' | 'b' | 'B' | 'z') => return Ok(&t[2..]),
        Some('C') => return go_err("invalid escape sequence", &t[..2]),
        Some('Q') => {
            return Ok(match t[2..].find("\\E") {
                Some(end) => &t[2 + end + 2..],
                None => "",
            });
        }
        _ => {}
    }
    if let Some(rest) = go_unicode_class(t)? {
        return Ok(rest);
    }
    if let Some(rest) = go_perl_class(t) {
        return Ok(rest);
    }
    go_escape(t).map(|(_, rest)| rest)
}

/// `\d \D \s \S \w \W` at `t`.
fn go_perl_class(t: &str) -> Option<&str> {
    let b = t.as_bytes();
    (b.len() >= 2 && b[0] == b'\\' && b"dDsSwW".contains(&b[1])).then(|| &t[2..])
}

/// `\pX`, `\p{Name}` (and `\P`) at `t`: the rest after it, None when `t` holds none, the
/// error when the name is unknown.
fn go_unicode_class(t: &str) -> Result<Option<&str>, GoErr> {
    let b = t.as_bytes();
    if b.len() < 2 || b[0] != b'\\' || !matches!(b[1], b'p' | b'P') {
        return Ok(None);
    }
    let Some(c) = t[2..].chars().next() else {
        return go_err("invalid character class range", t);
    };
    let seq_len = if c == '{' {
        match t.find('}') {
            Some(end) => end + 1,
            None => return go_err("invalid character class range", t),
        }
    } else {
        2 + c.len_utf8()
    };
    let seq = &t[..seq_len];
    let name = if c == '{' {
        &seq[3..seq_len - 1]
    } else {
        &seq[2..]
    };
    if go_unicode_table(name).is_none() {
        return go_err("invalid character class range", seq);
    }
    Ok(Some(&t[seq_len..]))
}

/// parseEscape: one escaped character at `t` (which starts with `\`).
fn go_escape(t: &str) -> Result<(char, &str), GoErr> {
    let mut chars = t[1..].char_indices();
    let Some((_, c)) = chars.next() else {
        return go_err("trailing backslash at end of expression", "");
    };
    let after = 1 + c.len_utf8();
    let invalid = |end: usize| go_err("invalid escape sequence", &t[..end]);
    let rest = &t[after..];
    match c {
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c, rest)),
        '1'..='7' if !rest.starts_with(|d: char| ('0'..='7').contains(&d)) => invalid(after),
        '0'..='7' => {
            let n = rest
                .bytes()
                .take(2)
                .take_while(|d| (b'0'..=b'7').contains(d))
                .count();
            Ok(('\0', &rest[n..]))
        }
        'x' => {
            if let Some(hex) = rest.strip_prefix('{') {
                let mut value: u32 = 0;
                for (k, d) in hex.char_indices() {
                    if d == '}' {
                        if k == 0 {
                            return invalid(after + 1 + k + 1);
                        }
                        return Ok(('\0', &hex[k + 1..]));
                    }
                    let Some(v) = d.to_digit(16) else {
                        return invalid(after + 1 + k + d.len_utf8());
                    };
                    value = value * 16 + v;
                    if value > 0x10FFFF {
                        return invalid(after + 1 + k + 1);
                    }
                }
                return invalid(t.len());
            }
            let mut it = rest.chars();
            match (it.next(), it.next()) {
                (Some(x), Some(y)) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit() => {
                    Ok(('\0', &rest[2..]))
                }
                (Some(x), Some(y)) => invalid(after + x.len_utf8() + y.len_utf8()),
                (Some(x), None) => invalid(after + x.len_utf8()),
                _ => invalid(after),
            }
        }
        'a' | 'f' | 'n' | 'r' | 't' | 'v' => Ok(('\0', rest)),
        _ => invalid(after),
    }
}

/// POSIX classes Go knows, `[:name:]` and `[:^name:]`.
const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// parseClass: the class at `s` (which starts with `[`); the rest after it.
fn go_class(s: &str) -> Result<&str, GoErr> {
    let mut t = &s[1..];
    if let Some(r) = t.strip_prefix('^') {
        t = r;
    }
    let mut first = true;
    while t.is_empty() || !t.starts_with(']') || first {
        first = false;
        if t.len() > 2
            && t.starts_with("[:")
            && let Some(i) = t[2..].find(":]")
        {
            let name = &t[..i + 4];
            let bare = name[2..name.len() - 2].trim_start_matches('^');
            if !POSIX_CLASSES.contains(&bare) || name[2..].starts_with("^^") {
                return go_err("invalid character class range", name);
            }
            t = &t[i + 4..];
            continue;
        }
        if let Some(rest) = go_unicode_class(t)? {
            t = rest;
            continue;
        }
        if let Some(rest) = go_perl_class(t) {
            t = rest;
            continue;
        }
        let range_start = t;
        let (lo, rest) = go_class_char(t, s)?;
        t = rest;
        if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
            let (hi, rest) = go_class_char(&t[1..], s)?;
            t = rest;
            if hi < lo {
                return go_err(
                    "invalid character class range",
                    &range_start[..range_start.len() - t.len()],
                );
            }
        }
    }
    Ok(&t[1..])
}

/// parseClassChar: one character of a class (escaped or not), with its value where it is known
/// (escapes other than `\x`/octal count as their letter, enough to order ranges of literals).
fn go_class_char<'a>(t: &'a str, whole: &str) -> Result<(u32, &'a str), GoErr> {
    let Some(c) = t.chars().next() else {
        return go_err("missing closing ]", whole);
    };
    if c == '\\' {
        let (e, rest) = go_escape(t)?;
        let value = if e == '\0' {
            // a numeric escape: its value
            escape_value(&t[..t.len() - rest.len()])
        } else {
            e as u32
        };
        return Ok((value, rest));
    }
    Ok((c as u32, &t[c.len_utf8()..]))
}

fn escape_value(esc: &str) -> u32 {
    let body = &esc[1..];
    match body.chars().next() {
        Some('x') => {
            let hex = body[1..].trim_start_matches('{').trim_end_matches('}');
            u32::from_str_radix(hex, 16).unwrap_or(0)
        }
        Some('0'..='7') => u32::from_str_radix(body, 8).unwrap_or(0),
        Some('a') => 7,
        Some('f') => 12,
        Some('n') => 10,
        Some('r') => 13,
        Some('t') => 9,
        Some('v') => 11,
        _ => 0,
    }
}

/// At `(?flags)` followed by a repetition (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each maybe
/// lazy): the lengths of the group and of the repetition.
fn flag_group_then_repeat(t: &[char]) -> Option<(usize, usize)> {
    // one flag group or several in a row
    let mut group = 0;
    while t.get(group) == Some(&'(') && t.get(group + 1) == Some(&'?') {
        let Some(close) = t[group..].iter().position(|c| *c == ')') else {
            break;
        };
        if close < 3
            || !t[group + 2..group + close]
                .iter()
                .all(|c| "imsU-".contains(*c))
        {
            break;
        }
        group += close + 1;
    }
    if group == 0 {
        return None;
    }
    let rest = &t[group..];
    let mut n = match rest.first()? {
        '*' | '+' | '?' => 1,
        '{' => {
            let end = rest.iter().position(|c| *c == '}')?;
            let body: String = rest[1..end].iter().collect();
            let (lo, hi) = body.split_once(',').unwrap_or((&body, &body));
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            if !digits(lo) || !(hi.is_empty() || digits(hi)) {
                return None;
            }
            end + 1
        }
        _ => return None,
    };
    if rest.get(n) == Some(&'?') {
        n += 1;
    }
    Some((group, n))
}

/// Whatever Go's parser takes (go_error is None), the regex crate compiles once translated: a
/// chart's pattern is refused only with Go's own error.
#[cfg(test)]
mod go_syntax_is_enough {
    use super::{go_error, translate};
    use proptest::prelude::*;

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a",
            "é",
            ".",
            "^",
            "$",
            "*",
            "+",
            "?",
            "??",
            "|",
            "(",
            ")",
            "[",
            "]",
            "[^",
            "-",
            "{2}",
            "{1,3}",
            "{2,}",
            "{",
            "}",
            ",",
            "\\d",
            "\\W",
            "\\.",
            "\\b",
            "\\z",
            "\\A",
            "\\x41",
            "\\x{3b1}",
            "\\101",
            "\\0",
            "\\Q",
            "\\E",
            "(?i)a",
            "(?i)",
            "(?-s)",
            "(?s:",
            "(?-i:",
            "(?P<n>",
            "(?<m>",
            "[[:alpha:]]",
            "[[:^digit:]]",
            "\\pL",
            "\\p{Greek}",
            "\\p{^greek}",
            "\\p{Cs}",
            "\\P{Cs}",
            "\\PN",
            "&&",
            "~~",
            "--",
            "[a-z]",
            "\\\\",
            "\\{",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        #[test]
        fn what_go_reads_compiles(pieces in prop::collection::vec(piece(), 1..8)) {
            let p = pieces.concat();
            if go_error(&p).is_none() {
                let t = translate(&p);
                prop_assert!(regex::Regex::new(&t).is_ok(), "Go reads {:?}; the regex crate refuses {:?}: {:?}", p, t, regex::Regex::new(&t).err());
            }
        }
    }

    #[test]
    fn a_repetition_after_a_flag_group_may_repeat_a_repetition() {
        for (p, want) in [
            ("](?i)*(?i)*", "(?:]*)*(?i)(?i)"),
            ("a{2}(?i)+b", "(?:a{2})+(?i)b"),
            ("(ab)*(?s)?", "(?:(ab)*)?(?s)"),
            ("a(?i)*", "a*(?i)"),
            ("\\x41*(?i)*", "(?:\\x41*)*(?i)"),
        ] {
            assert_eq!(go_error(p), None, "{p}");
            assert_eq!(translate(p), want, "{p}");
            assert!(regex::Regex::new(&translate(p)).is_ok(), "{p}");
        }
    }

    #[test]
    fn unicode_classes_as_go_reads_them() {
        // Go's names, whatever their case, `_`, `-` and spaces (but scripts whose name holds
        // `_` or a capital inside, which Go's lookup misses)
        for p in [
            r"\p{Greek}",
            r"\pl",
            r"\p{ greek }",
            r"\p{^Greek}",
            r"\P{^Greek}",
            r"\p{Letter}",
            r"\p{cased_letter}",
            r"\p{Lc}",
            r"\p{Any}",
            r"\p{ascii}",
            r"\p{Assigned}",
            r"\p{Cn}",
            r"\p{Nko}",
            r"\p{punct}",
            r"[\p{Greek}\d]",
        ] {
            assert_eq!(go_error(p), None, "{p}");
        }
        for p in [
            r"\p{Alphabetic}",
            r"\p{Old_Italic}",
            r"\p{SignWriting}",
            r"\p{Garay}",
            r"\p{Latn}",
            r"\p{L&}",
            r"\p{}",
            r"\p{^}",
            r"\pé",
            r"\p",
        ] {
            let want = format!("invalid character class range: `{p}`");
            assert_eq!(go_error(p), Some(want), "{p}");
        }
        let m = |p: &str, t: &str| regex::Regex::new(&translate(p)).unwrap().is_match(t);
        assert!(m(r"^\p{Greek}+$", "αΩ"));
        assert!(m(r"^\p{^Greek}$", "a") && !m(r"\p{^Greek}", "α"));
        assert!(m(r"^[^\P{Greek}]$", "α") && !m(r"[^\P{Greek}]", "a"));
        // U+1C89 is a letter since Unicode 16; Go's 15.0 has it unassigned (and C holds Cn)
        assert!(!m(r"\pL", "\u{1C89}") && m(r"\p{Cn}", "\u{1C89}") && m(r"\pC", "\u{1C89}"));
        assert!(!m(r"\p{Assigned}", "\u{1C89}") && m(r"\p{Assigned}", "a"));
        // surrogates: no string holds one
        assert!(!m(r"\p{Cs}", "a") && !m(r"[\p{Cs}]", "a") && m(r"[\p{Cs}a]", "a"));
        assert!(m(r"^\P{Cs}$", "a") && m(r"^\P{Any}|a$", "a") && !m(r"\P{Any}", "b"));
        assert!(m(r"(?i)^\p{Lu}$", "a") && !m(r"(?i)\P{Lu}", "a") && m(r"^\p{Lu}$", "A"));
        assert!(m(r"^[\p{Greek}-z]+$", "α-z"));
    }

    #[test]
    fn errors_in_gos_words() {
        for (p, want) in [
            ("a(", "missing closing ): `a(`"),
            ("a)", "unexpected ): `a)`"),
            ("[a", "missing closing ]: `[a`"),
            ("a**", "invalid nested repetition operator: `**`"),
            ("x*?*", "invalid nested repetition operator: `*?*`"),
            ("a{1001}", "invalid repeat count: `{1001}`"),
            ("(*)", "missing argument to repetition operator: `*`"),
            ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
            ("[a-\\d]", "invalid escape sequence: `\\d`"),
            ("(?<=a)", "invalid named capture: `(?<=a)`"),
            ("\\x{110000}", "invalid escape sequence: `\\x{110000`"),
        ] {
            assert_eq!(go_error(p).as_deref(), Some(want), "{p}");
        }
        for p in [
            "a{2",
            "x{,3}",
            "\\Q(",
            "(?P<n>a)(?P<n>b)",
            "[]a]",
            "\\101",
            "a{,}",
        ] {
            assert_eq!(go_error(p), None, "{p}");
        }
    }
}
