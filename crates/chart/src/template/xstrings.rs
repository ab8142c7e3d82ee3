//! huandu/xstrings v1.5's ToSnakeCase/ToKebabCase (sprig's `snakecase`, `kebabcase`), ported
//! word by word: the string is cut into runs of connectors (`-`, `_`, spaces), punctuation, an
//! upper-case word (`HTTP` in `HTTPServer`), letters, numbers and other runes, which are joined
//! with the connector by xstrings' rules.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// unicode.IsLetter minus the CJK ideographs xstrings leaves out.
fn is_alphabet(c: char) -> bool {
    if !c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    let n = c as u32;
    !((0x4E00..=0x9FCC).contains(&n)
        || (0x3400..=0x4D85).contains(&n)
        || (0x20000..=0x2B81D).contains(&n))
}

/// unicode.IsPunct (categories Pc, Pd, Ps, Pe, Pi, Pf, Po), approximated for ASCII exactly and
/// by Rust's ASCII-and-general punctuation check beyond.
fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return matches!(
            c,
            '!' | '"'
                | '#'
                | '%'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | ','
                | '-'
                | '.'
                | '/'
                | ':'
                | ';'
                | '?'
                | '@'
                | '['
                | '\\'
                | ']'
                | '_'
                | '{'
                | '}'
        );
    }
    matches!(c as u32, 0xA1 | 0xA7 | 0xAB | 0xB6 | 0xB7 | 0xBB | 0xBF | 0x2010..=0x2027 | 0x2030..=0x205E | 0x3001..=0x3003 | 0x3008..=0x3011)
}

fn is_upper(c: char) -> bool {
    c.is_uppercase()
}

fn is_number(c: char) -> bool {
    c.is_numeric()
}

/// (kind, word, rest)
fn next_word(s: &[char]) -> (Word, &[char], &[char]) {
    if s.is_empty() {
        return (Word::Invalid, s, s);
    }
    let r = s[0];
    let mut end = 1;
    let kind;
    if is_connector(r) {
        kind = Word::Connector;
        while end < s.len() && is_connector(s[end]) {
            end += 1;
        }
    } else if is_punct(r) {
        kind = Word::Punct;
        while end < s.len() && is_punct(s[end]) {
            end += 1;
        }
    } else if is_upper(r) {
        kind = Word::Upper;
        if end < s.len() {
            let r2 = s[end];
            if is_upper(r2) {
                end += 1;
                while end < s.len() && is_upper(s[end]) {
                    end += 1;
                }
                // "HTTPStatus": the S starts the next word
                if end < s.len() && is_alphabet(s[end]) {
                    end -= 1;
                }
            } else if is_alphabet(r2) {
                end += 1;
                while end < s.len() && is_alphabet(s[end]) && !is_upper(s[end]) {
                    end += 1;
                }
            }
        }
    } else if is_alphabet(r) {
        kind = Word::Alphabet;
        while end < s.len() && is_alphabet(s[end]) && !is_upper(s[end]) {
            end += 1;
        }
    } else if is_number(r) {
        kind = Word::Number;
        while end < s.len() && is_number(s[end]) {
            end += 1;
        }
    } else {
        kind = Word::Other;
        while end < s.len() {
            let c = s[end];
            if is_connector(c) || is_alphabet(c) || is_number(c) || is_punct(c) {
                break;
            }
            end += 1;
        }
    }
    (kind, &s[..end], &s[end..])
}

fn to_lower(out: &mut String, kind: Word, word: &[char], connector: char) {
    if kind != Word::Upper && kind != Word::Connector {
        out.extend(word.iter());
        return;
    }
    for &c in word {
        if is_connector(c) {
            out.push(connector);
        } else if is_upper(c) {
            let mut l = c.to_lowercase();
            match (l.next(), l.next()) {
                (Some(one), None) => out.push(one),
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
}

/// camelCaseToLowerCase(str, connector).
pub fn to_lower_case(text: &str, connector: char) -> String {
    if text.is_empty() {
        return String::new();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 4);
    let (mut wt, mut word, mut remaining) = next_word(&chars);
    while !remaining.is_empty() {
        if wt != Word::Connector {
            to_lower(&mut out, wt, word, connector);
        }
        let prev = wt;
        let last = word;
        (wt, word, remaining) = next_word(remaining);
        match prev {
            Word::Number => {
                while wt == Word::Alphabet || wt == Word::Number {
                    to_lower(&mut out, wt, word, connector);
                    (wt, word, remaining) = next_word(remaining);
                }
                if wt != Word::Invalid && wt != Word::Punct && wt != Word::Connector {
                    out.push(connector);
                }
            }
            Word::Connector => to_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if remaining.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, remaining) = next_word(remaining);
                // a number is part of the word before it: "Bld4Floor" => "bld4_floor"
                if wt != Word::Alphabet {
                    to_lower(&mut out, Word::Number, last, connector);
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                // lower-case letters after a number: "HTTP2xx" => "http_2xx"
                out.push(connector);
                to_lower(&mut out, Word::Number, last, connector);
                while wt == Word::Alphabet || wt == Word::Number {
                    to_lower(&mut out, wt, word, connector);
                    (wt, word, remaining) = next_word(remaining);
                }
                if wt != Word::Invalid && wt != Word::Connector && wt != Word::Punct {
                    out.push(connector);
                }
            }
        }
    }
    to_lower(&mut out, wt, word, connector);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xstrings_own_examples() {
        for (i, o) in [
            ("FirstName", "first_name"),
            ("HTTPServer", "http_server"),
            ("NoHTTPS", "no_https"),
            ("GO_PATH", "go_path"),
            ("GO PATH", "go_path"),
            ("GO-PATH", "go_path"),
            ("http2xx", "http_2xx"),
            ("HTTP20xOK", "http_20x_ok"),
            ("Duration2m3s", "duration_2m3s"),
            ("Bld4Floor3rd", "bld4_floor_3rd"),
        ] {
            assert_eq!(to_lower_case(i, '_'), o, "{i}");
        }
        assert_eq!(to_lower_case("FirstName", '-'), "first-name");
    }
}
