//! go-yaml v2's scanner refusals that yaml-rust2 lets through: tabs where libyaml does not skip
//! them, and unknown `%` directives.
//!
//! yaml-rust2 follows YAML 1.2's tab rules; go-yaml v2 (libyaml's scanner, as helm reads YAML)
//! skips a tab between tokens only in flow context or where no simple key may start, so a tab
//! that starts a line's content (or follows a block `-`/`?`) cannot start any token; inside a
//! plain scalar's continuation a tab left of the block's indentation "violates indentation", and
//! in a block scalar's indentation it is "where an indentation space is expected". Which of
//! these applies depends on the token before the tab, so the text is scanned with yaml-rust2's
//! scanner (the same tokens up to that point) and each tab is judged by libyaml's rules.

use yaml_rust2::scanner::{Scanner, TScalarStyle, Token, TokenType};

/// A refusal: go-yaml's problem text and the char index of its place.
pub struct Refusal {
    pub message: &'static str,
    pub at: usize,
}

/// yaml-rust2's refusal of a tab that starts a quoted scalar's continuation line, which go-yaml
/// reads (the line's leading blanks are dropped): read again with a space there.
pub const TAB_IN_QUOTED: &str = "tab cannot be used as indentation";

/// A token where it starts in the text (yaml-rust2 marks some tokens elsewhere: a block entry
/// after its `-`, a block scalar at its content, a block mapping at its first `:`).
struct Tok {
    at: usize,
    kind: TokenType,
}

/// The first refusal go-yaml's scanner would make in `text`'s first document that yaml-rust2
/// does not make (or makes in other words); `None` when there is none.
pub fn first_refusal(text: &str) -> Option<Refusal> {
    let has_tab = text.contains('\t');
    let has_directive = text.starts_with('%') || text.contains("\n%");
    if !has_tab && !has_directive {
        return None;
    }
    let mut chars: Vec<char> = text.chars().collect();
    let original = chars.clone();
    let mut raw: Vec<Token>;
    // tabs past this place are never reached: a scanner error, or the next document
    let mut limit;
    let mut tries = 0;
    let mut refused_here = None;
    loop {
        raw = Vec::new();
        limit = chars.len();
        let mut content = false;
        let mut scanner = Scanner::new(chars.iter().copied());
        let mut again = false;
        loop {
            match scanner.next_token() {
                Ok(Some(t)) => {
                    match &t.1 {
                        TokenType::DocumentStart if content => {
                            limit = t.0.index();
                            break;
                        }
                        TokenType::StreamStart(_)
                        | TokenType::VersionDirective(..)
                        | TokenType::TagDirective(..)
                        | TokenType::DocumentStart => {}
                        _ => content = true,
                    }
                    raw.push(t);
                }
                Ok(None) => break,
                Err(e) => {
                    let start = e.marker().index().min(chars.len());
                    if e.info() == TAB_IN_QUOTED && chars.get(start) == Some(&'\t') && tries < 64 {
                        chars[start] = ' ';
                        tries += 1;
                        again = true;
                        break;
                    }
                    // `?` then a tab: libyaml takes the key and cannot start a token at the tab
                    let here = scanner.mark().index().min(chars.len());
                    if e.info() == "expected whitespace" && chars.get(here) == Some(&'\t') {
                        refused_here = Some(here);
                    }
                    // yaml-rust2 names the start of a scalar it refuses for a tab: judge that
                    // tab with the scalar as the token before it
                    let style = match e.info() {
                        "while scanning a plain scalar, found a tab" => Some(TScalarStyle::Plain),
                        "a block scalar content cannot start with a tab" => {
                            Some(TScalarStyle::Literal)
                        }
                        _ => None,
                    };
                    if let Some(style) = style {
                        raw.push(Token(*e.marker(), TokenType::Scalar(style, String::new())));
                    }
                    let at = scanner.mark().index().max(start).min(chars.len());
                    limit = chars[at..]
                        .iter()
                        .position(|c| *c == '\n')
                        .map_or(chars.len(), |p| at + p);
                    break;
                }
            }
        }
        if !again {
            break;
        }
    }
    let tokens = placed(&original, raw);
    let mut refusals: Vec<Refusal> = refused_here
        .map(|at| Refusal {
            message: "found character that cannot start any token",
            at,
        })
        .into_iter()
        .collect();
    for t in &tokens {
        if let TokenType::TagDirective(handle, prefix) = &t.kind
            && handle.is_empty()
            && prefix.is_empty()
        {
            // yaml-rust2 reads an unknown directive as an empty %TAG
            refusals.push(Refusal {
                message: "found unknown directive name",
                at: t.at,
            });
        }
    }
    if has_tab {
        refusals.extend(tab_refusal(&original, &tokens, limit));
    }
    refusals.into_iter().min_by_key(|r| r.at)
}

/// The tokens at the places libyaml's tokens start.
fn placed(chars: &[char], raw: Vec<Token>) -> Vec<Tok> {
    let mut out: Vec<Tok> = raw
        .into_iter()
        .map(|t| Tok {
            at: t.0.index().min(chars.len()),
            kind: t.1,
        })
        .collect();
    for k in 0..out.len() {
        match out[k].kind {
            TokenType::BlockEntry => {
                if let Some(p) = chars[..out[k].at.min(chars.len())]
                    .iter()
                    .rposition(|c| *c == '-')
                {
                    out[k].at = p;
                }
            }
            TokenType::Scalar(TScalarStyle::Literal | TScalarStyle::Folded, _) if k > 0 => {
                let from = (out[k - 1].at + 1).min(chars.len());
                if let Some(p) = chars[from..].iter().position(|c| *c == '|' || *c == '>') {
                    out[k].at = from + p;
                }
            }
            _ => {}
        }
    }
    // a block collection starts where its first key or entry does
    for k in (0..out.len()).rev() {
        if matches!(
            out[k].kind,
            TokenType::BlockMappingStart | TokenType::BlockSequenceStart
        ) && let Some(next) = out.get(k + 1)
        {
            out[k].at = next.at;
        }
    }
    out
}

/// Per token: the flow level and the block indentation (libyaml's `parser.indent`) after it.
fn states(chars: &[char], tokens: &[Tok]) -> Vec<(usize, isize)> {
    let mut flow = 0usize;
    let mut indents: Vec<isize> = Vec::new();
    tokens
        .iter()
        .map(|t| {
            match t.kind {
                TokenType::FlowSequenceStart | TokenType::FlowMappingStart => flow += 1,
                TokenType::FlowSequenceEnd | TokenType::FlowMappingEnd => {
                    flow = flow.saturating_sub(1)
                }
                TokenType::BlockSequenceStart | TokenType::BlockMappingStart => {
                    indents.push((t.at - line_start(chars, t.at)) as isize)
                }
                TokenType::BlockEnd => {
                    indents.pop();
                }
                _ => {}
            }
            (flow, indents.last().copied().unwrap_or(-1))
        })
        .collect()
}

fn line_start(chars: &[char], i: usize) -> usize {
    chars[..i]
        .iter()
        .rposition(|c| *c == '\n')
        .map_or(0, |p| p + 1)
}

fn tab_refusal(chars: &[char], tokens: &[Tok], limit: usize) -> Option<Refusal> {
    let states = states(chars, tokens);
    let cannot_start = |at| Refusal {
        message: "found character that cannot start any token",
        at,
    };
    for i in 0..limit.min(chars.len()) {
        if chars[i] != '\t' {
            continue;
        }
        let ls = line_start(chars, i);
        let column = i - ls;
        let leading = chars[ls..i].iter().all(|c| *c == ' ' || *c == '\t');
        let Some(k) = tokens.iter().rposition(|t| t.at < i) else {
            // the stream's start: a simple key may start here
            return Some(cannot_start(i));
        };
        let (flow, indent) = states[k];
        let t = &tokens[k];
        let start = t.at;
        let plain = matches!(t.kind, TokenType::Scalar(TScalarStyle::Plain, _));
        // tabs between tokens are skipped in flow context (not in a plain scalar's indentation)
        if flow > 0 && !(plain && leading) {
            continue;
        }
        if !leading {
            // after a block `-` or `?` only spaces are skipped
            let opener = matches!(t.kind, TokenType::BlockEntry)
                || (matches!(t.kind, TokenType::Key) && chars.get(start) == Some(&'?'));
            if opener && chars[start + 1..i].iter().all(|c| *c == ' ') {
                return Some(cannot_start(i));
            }
            continue;
        }
        match &t.kind {
            TokenType::Scalar(TScalarStyle::Plain, _) => {
                // a comment ends the scalar; otherwise it goes on over the line break
                let commented = (start..i).any(|p| {
                    chars[p] == '#' && (p == 0 || matches!(chars[p - 1], ' ' | '\t' | '\n'))
                });
                if commented {
                    return Some(cannot_start(i));
                }
                if (column as isize) < indent + 1 {
                    return Some(Refusal {
                        message: "found a tab character that violates indentation",
                        at: i,
                    });
                }
            }
            TokenType::Scalar(TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted, _) => {
                if i >= quoted_end(chars, start) {
                    return Some(cannot_start(i));
                }
            }
            TokenType::Scalar(TScalarStyle::Literal | TScalarStyle::Folded, _) => {
                match block_scalar_tab(chars, start, indent, i) {
                    BlockScalar::Refused(at) => {
                        return Some(Refusal {
                            message: "found a tab character where an indentation space is expected",
                            at,
                        });
                    }
                    BlockScalar::Inside => {}
                    BlockScalar::Ended => return Some(cannot_start(i)),
                }
            }
            _ => return Some(cannot_start(i)),
        }
    }
    None
}

/// The char index just past the closing quote of the quoted scalar starting at `start`.
fn quoted_end(chars: &[char], start: usize) -> usize {
    let q = chars[start];
    let mut p = start + 1;
    while p < chars.len() {
        match chars[p] {
            '\\' if q == '"' => p += 2,
            '\'' if q == '\'' && chars.get(p + 1) == Some(&'\'') => p += 2,
            c if c == q => return p + 1,
            _ => p += 1,
        }
    }
    chars.len()
}

enum BlockScalar {
    /// A tab in the indentation: go-yaml's refusal at this place.
    Refused(usize),
    /// The tab is inside the scalar's content.
    Inside,
    /// The scalar ended before the tab's line.
    Ended,
}

/// libyaml's yaml_parser_scan_block_scalar_breaks over the lines of the block scalar whose
/// header starts at `start` (`parent`: the block indentation around it), up to the tab at `tab`.
fn block_scalar_tab(chars: &[char], start: usize, parent: isize, tab: usize) -> BlockScalar {
    let header_end = chars[start..]
        .iter()
        .position(|c| *c == '\n')
        .map_or(chars.len(), |p| start + p);
    let increment = chars[start + 1..header_end]
        .iter()
        .take_while(|c| !c.is_whitespace())
        .find_map(|c| c.to_digit(10).filter(|d| *d > 0));
    let mut indent: usize = match increment {
        Some(d) if parent >= 0 => parent as usize + d as usize,
        Some(d) => d as usize,
        None => 0,
    };
    let mut max_indent = 0;
    let mut p = header_end + 1;
    while p <= tab {
        let mut sp = 0;
        while p + sp < chars.len() && chars[p + sp] == ' ' && (indent == 0 || sp < indent) {
            sp += 1;
        }
        max_indent = max_indent.max(sp);
        let c = chars.get(p + sp).copied();
        if (indent == 0 || sp < indent) && c == Some('\t') {
            return BlockScalar::Refused(p + sp);
        }
        match c {
            None => return BlockScalar::Ended,
            Some('\n') => {}
            Some(_) => {
                if indent == 0 {
                    indent = max_indent.max((parent + 1).max(1) as usize);
                }
                if sp < indent {
                    return BlockScalar::Ended;
                }
            }
        }
        p = chars[p..]
            .iter()
            .position(|c| *c == '\n')
            .map_or(chars.len() + 1, |q| p + q + 1);
    }
    BlockScalar::Inside
}
