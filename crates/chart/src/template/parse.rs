//! Parser for Go text/template source: text, actions with `{{-`/`-}}` trim markers, comments,
//! pipelines with variables, and the control structures (if/else if/with/else with/range/
//! define/template/block/break/continue). Every node keeps its byte offset so execution errors
//! can name line and column.

use std::rc::Rc;

/// A parse failure at a byte offset of the source.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

pub type PResult<T> = Result<T, ParseError>;

#[derive(Debug, Clone)]
pub enum Node {
    Text(Rc<str>),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        offset: usize,
        name: String,
        pipe: Option<Pipe>,
        /// Where Go places the node (its name) and how Go prints it (`{{template "t" .}}`),
        /// for its errors' `at <...>`.
        at: usize,
        go_text: Rc<str>,
    },
    Break(usize),
    Continue(usize),
}

/// The shared shape of if/with/range: a pipeline, a body, an optional else body.
#[derive(Debug, Clone)]
pub struct Branch {
    pub offset: usize,
    pub pipe: Pipe,
    pub body: Vec<Node>,
    pub else_body: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub offset: usize,
    /// Declared (`:=`) or assigned (`=`) variables, without the `$`-prefix stripped.
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub struct Command {
    pub offset: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub enum Arg {
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Int(usize, i64),
    Float(usize, f64),
    Str(usize, Rc<str>),
    /// `.A.B`
    Field(usize, Vec<String>),
    /// `$x.A.B` (name includes the `$`)
    Var(usize, String, Vec<String>),
    /// A function name.
    Ident(usize, String),
    /// `(pipeline)` optionally followed by `.A.B`
    Pipe(usize, Box<Pipe>, Vec<String>),
}

impl Arg {
    pub fn offset(&self) -> usize {
        match self {
            Arg::Dot(o)
            | Arg::Nil(o)
            | Arg::Bool(o, _)
            | Arg::Int(o, _)
            | Arg::Float(o, _)
            | Arg::Str(o, _)
            | Arg::Field(o, _)
            | Arg::Var(o, _, _)
            | Arg::Ident(o, _)
            | Arg::Pipe(o, _, _) => *o,
        }
    }
}

/// A parsed template file: its main body plus the `define`d templates it holds.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub body: Vec<Node>,
    pub defines: Vec<(String, Vec<Node>)>,
}

pub fn parse(src: &str) -> PResult<Parsed> {
    let items = lex(src)?;
    let mut p = Parser {
        items,
        pos: 0,
        defines: Vec::new(),
        loop_depth: 0,
    };
    let (body, end) = p.parse_list()?;
    if let Some(end) = end {
        return Err(ParseError {
            offset: end.offset,
            message: format!("unexpected {{{{{}}}}}", end.word),
        });
    }
    Ok(Parsed {
        body,
        defines: p.defines,
    })
}

// ---------------------------------------------------------------- lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    Field(String),
    Var(String),
    Ident(String),
    Str(String),
    Number(String),
    Char(i64),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

/// A `template` node as Go's parser places and prints it: at its name, as
/// `{{template "name" PIPE}}` with the pipeline's tokens one space apart (none inside
/// parentheses nor before a chained field), strings quoted as Go quotes them.
fn template_go_form(name: &str, offset: usize, toks: &[Token]) -> (usize, Rc<str>) {
    let at = toks.first().map_or(offset, |t| t.offset);
    let mut text = format!("{{{{template {}", super::gofmt::go_quote(name));
    let mut prev: Option<&Tok> = None;
    for (i, t) in toks.iter().enumerate().skip(1) {
        let glued = i > 1
            && (matches!(prev, Some(Tok::LParen))
                || matches!(t.tok, Tok::RParen)
                || (!t.spaced && matches!(t.tok, Tok::Field(_))));
        if !glued {
            text.push(' ');
        }
        match &t.tok {
            Tok::Dot => text.push('.'),
            Tok::Field(f) => {
                text.push('.');
                text.push_str(f);
            }
            Tok::Var(v) | Tok::Ident(v) | Tok::Number(v) => text.push_str(v),
            Tok::Str(v) => text.push_str(&super::gofmt::go_quote(v)),
            Tok::Char(c) => text.push_str(&c.to_string()),
            Tok::Pipe => text.push('|'),
            Tok::LParen => text.push('('),
            Tok::RParen => text.push(')'),
            Tok::Declare => text.push_str(":="),
            Tok::Assign => text.push('='),
            Tok::Comma => text.push(','),
        }
        prev = Some(&t.tok);
    }
    text.push_str("}}");
    (at, Rc::from(text))
}

/// Go's parse-tree `String()` of the node that starts at `offset` of `src`, as its execution
/// errors print it in `at <...>`: a command (`index .Values "a"`, up to a `|` or the end of
/// its parentheses) or, with `operand`, one argument (`.Values.a`, `(semver "1").Major`,
/// `"x"`), its tokens one space apart but none inside parentheses nor before a chained field,
/// strings and numbers as written. `None` when no action can be read there.
pub fn go_node_string(src: &str, offset: usize, operand: bool) -> Option<String> {
    let (toks, _, _) = lex_action(src, offset, offset).ok()?;
    if toks.first()?.offset != offset {
        return None;
    }
    let glued_field = |t: &Token| matches!(t.tok, Tok::Field(_)) && !t.spaced;
    let mut depth = 0i32;
    let mut n = 0;
    for (i, t) in toks.iter().enumerate() {
        if operand && i > 0 && depth == 0 && !glued_field(t) {
            break;
        }
        match t.tok {
            Tok::LParen => depth += 1,
            Tok::RParen if depth == 0 => break,
            Tok::RParen => depth -= 1,
            Tok::Pipe if depth == 0 => break,
            _ => {}
        }
        n = i + 1;
    }
    let mut out = String::new();
    for (i, t) in toks[..n].iter().enumerate() {
        let glued = i > 0
            && (matches!(toks[i - 1].tok, Tok::LParen)
                || matches!(t.tok, Tok::RParen | Tok::Comma)
                || glued_field(t));
        if i > 0 && !glued {
            out.push(' ');
        }
        out.push_str(src.get(t.offset..t.end)?);
    }
    Some(out)
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    offset: usize,
    /// Where its text ends (the text is what Go's nodes print: strings and numbers as written).
    end: usize,
    /// Whitespace came before it; `.Field` chains only bind without space.
    spaced: bool,
}

#[derive(Debug)]
enum Item {
    Text(String),
    Action { offset: usize, toks: Vec<Token> },
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn lex(src: &str) -> PResult<Vec<Item>> {
    let b = src.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    let mut trim_next_text = false;
    while pos < b.len() {
        let open = src[pos..].find("{{").map(|i| pos + i);
        let text_end = open.unwrap_or(b.len());
        let mut text = &src[pos..text_end];
        if trim_next_text {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let Some(open) = open else {
            if !text.is_empty() {
                items.push(Item::Text(text.to_string()));
            }
            break;
        };
        let mut inner = open + 2;
        if b.len() > inner + 1 && b[inner] == b'-' && is_space(b[inner + 1]) {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            inner += 2;
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        // Comment: {{/* ... */}}
        let mut k = inner;
        while k < b.len() && is_space(b[k]) {
            k += 1;
        }
        if src[k..].starts_with("/*") {
            let close = src[k + 2..]
                .find("*/")
                .map(|i| k + 2 + i)
                .ok_or(ParseError {
                    offset: open,
                    message: "unclosed comment".into(),
                })?;
            let mut after = close + 2;
            let rest = &src[after..];
            let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
            let ws = rest.len() - trimmed.len();
            if ws > 0 && trimmed.starts_with("-}}") {
                trim_next_text = true;
                after += ws + 3;
            } else if rest.starts_with("}}") {
                trim_next_text = false;
                after += 2;
            } else {
                return Err(ParseError {
                    offset: close,
                    message: "comment ends before closing delimiter".into(),
                });
            }
            pos = after;
            continue;
        }
        let (toks, end, trim) = lex_action(src, inner, open)?;
        items.push(Item::Action { offset: open, toks });
        trim_next_text = trim;
        pos = end;
    }
    Ok(items)
}

/// Lex tokens from `start` until the closing `}}`; returns tokens, offset after the delimiter,
/// and whether the right trim marker was present.
fn lex_action(src: &str, start: usize, open: usize) -> PResult<(Vec<Token>, usize, bool)> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = start;
    let mut spaced = true;
    loop {
        if i >= b.len() {
            return Err(ParseError {
                offset: open,
                message: "unclosed action".into(),
            });
        }
        let c = b[i];
        if is_space(c) {
            // right trim marker " -}}"
            if i + 3 < b.len() + 1 && src[i + 1..].starts_with("-}}") {
                return Ok((toks, i + 4, true));
            }
            i += 1;
            spaced = true;
            continue;
        }
        if src[i..].starts_with("}}") {
            return Ok((toks, i + 2, false));
        }
        let offset = i;
        let tok = match c {
            b'|' => {
                i += 1;
                Tok::Pipe
            }
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Declare
            }
            b'=' => {
                i += 1;
                Tok::Assign
            }
            b'"' => {
                let (s, end) = lex_quoted(src, i)?;
                i = end;
                Tok::Str(s)
            }
            b'`' => {
                let end = src[i + 1..].find('`').ok_or(ParseError {
                    offset: i,
                    message: "unterminated raw quoted string".into(),
                })?;
                let s = src[i + 1..i + 1 + end].to_string();
                i = i + 2 + end;
                Tok::Str(s)
            }
            b'\'' => {
                let (v, end) = lex_char(src, i)?;
                i = end;
                Tok::Char(v)
            }
            b'.' => {
                let next = b.get(i + 1).copied();
                if next.is_some_and(|n| n.is_ascii_digit()) {
                    let end = scan_number(b, i);
                    let s = src[i..end].to_string();
                    i = end;
                    Tok::Number(s)
                } else if next.is_some_and(is_ident_byte) {
                    let end = scan_ident(b, i + 1);
                    let s = src[i + 1..end].to_string();
                    i = end;
                    Tok::Field(s)
                } else {
                    i += 1;
                    Tok::Dot
                }
            }
            b'$' => {
                let end = scan_ident(b, i + 1);
                let s = src[i..end].to_string();
                i = end;
                Tok::Var(s)
            }
            b'0'..=b'9' => {
                let end = scan_number(b, i);
                let s = src[i..end].to_string();
                i = end;
                Tok::Number(s)
            }
            b'+' | b'-'
                if b.get(i + 1)
                    .is_some_and(|n| n.is_ascii_digit() || *n == b'.') =>
            {
                let end = scan_number(b, i + 1);
                let s = src[i..end].to_string();
                i = end;
                Tok::Number(s)
            }
            c if is_ident_byte(c) => {
                let end = scan_ident(b, i);
                let s = src[i..end].to_string();
                i = end;
                Tok::Ident(s)
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ParseError {
                    offset: i,
                    message: format!("unrecognized character in action: {ch:?}"),
                });
            }
        };
        toks.push(Token {
            tok,
            offset,
            end: i,
            spaced,
        });
        spaced = false;
    }
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

fn scan_ident(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ident_byte(b[i]) {
        i += 1;
    }
    i
}

fn scan_number(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        let c = b[i];
        let exp_sign =
            (c == b'+' || c == b'-') && i > 0 && matches!(b[i - 1], b'e' | b'E' | b'p' | b'P');
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exp_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// A Go interpreted string literal: `\x` and octal escapes are bytes (a Go string may hold
/// invalid UTF-8, kept as `string_from_go_bytes` keeps it), `\u` and `\U` characters.
fn lex_quoted(src: &str, start: usize) -> PResult<(String, usize)> {
    let mut out: Vec<u8> = Vec::new();
    let mut chars = src[start + 1..].char_indices();
    // the source is a template string: a marker is its byte
    let push = |out: &mut Vec<u8>, c: char| match super::value::raw_byte(c) {
        Some(b) => out.push(b),
        None => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    };
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => {
                return Ok((super::value::string_from_go_bytes(&out), start + 1 + k + 1));
            }
            '\n' => break,
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push(b'\n'),
                    't' => out.push(b'\t'),
                    'r' => out.push(b'\r'),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    '\'' => out.push(b'\''),
                    'a' => out.push(0x07),
                    'b' => out.push(0x08),
                    'f' => out.push(0x0c),
                    'v' => out.push(0x0b),
                    'x' | 'u' | 'U' | '0'..='7' => {
                        let (n, radix) = match e {
                            'x' => (2, 16),
                            'u' => (4, 16),
                            'U' => (8, 16),
                            _ => (2, 8),
                        };
                        let mut digits = String::new();
                        if radix == 8 {
                            digits.push(e);
                        }
                        for _ in 0..n {
                            if let Some((_, h)) = chars.next() {
                                digits.push(h);
                            }
                        }
                        let v = u32::from_str_radix(&digits, radix)
                            .ok()
                            .filter(|v| radix == 16 || *v <= 0xFF)
                            .ok_or_else(|| ParseError {
                                offset: start,
                                message: if radix == 8 {
                                    format!("invalid escape \\{digits}")
                                } else {
                                    format!("invalid escape \\{e}{digits}")
                                },
                            })?;
                        if e == 'u' || e == 'U' {
                            // a character (of the markers' range too): its UTF-8
                            let c = char::from_u32(v).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        } else {
                            out.push(v as u8);
                        }
                    }
                    other => {
                        return Err(ParseError {
                            offset: start + 1 + k,
                            message: format!("unknown escape sequence: \\{other}"),
                        });
                    }
                }
            }
            c => push(&mut out, c),
        }
    }
    Err(ParseError {
        offset: start,
        message: "unterminated quoted string".into(),
    })
}

fn lex_char(src: &str, start: usize) -> PResult<(i64, usize)> {
    let rest = &src[start + 1..];
    let end = rest.find('\'').ok_or(ParseError {
        offset: start,
        message: "unterminated character constant".into(),
    })?;
    let body = &rest[..end];
    let v = if let Some(esc) = body.strip_prefix('\\') {
        match esc {
            "n" => '\n' as i64,
            "t" => '\t' as i64,
            "\\" => '\\' as i64,
            "'" => '\'' as i64,
            "r" => '\r' as i64,
            _ => {
                return Err(ParseError {
                    offset: start,
                    message: format!("malformed character constant: '{body}'"),
                });
            }
        }
    } else {
        // the source's runes (a character of the markers' range is held as four markers)
        let mut cs = super::value::go_runes(body);
        match (cs.next(), cs.next()) {
            (Some(c), None) => c.rune() as i64,
            _ => {
                return Err(ParseError {
                    offset: start,
                    message: format!("malformed character constant: '{body}'"),
                });
            }
        }
    };
    Ok((v, start + 1 + end + 1))
}

fn parse_number(s: &str, offset: usize) -> PResult<Arg> {
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bn) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        i64::from_str_radix(bn, 2).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|c| c.is_ascii_digit()) {
        i64::from_str_radix(&body[1..], 8).ok()
    } else {
        body.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Ok(Arg::Int(offset, if neg { -i } else { i }));
    }
    match body.parse::<f64>() {
        Ok(f) if !body.starts_with("0x") => Ok(Arg::Float(offset, if neg { -f } else { f })),
        _ => Err(ParseError {
            offset,
            message: format!("bad number syntax: {s:?}"),
        }),
    }
}

// ---------------------------------------------------------------- parsing

struct Parser {
    items: Vec<Item>,
    pos: usize,
    defines: Vec<(String, Vec<Node>)>,
    loop_depth: usize,
}

/// The control word that ended a list: `end` or `else` (with the rest of its tokens).
struct EndMark {
    word: String,
    offset: usize,
    rest: Vec<Token>,
}

impl Parser {
    /// Parse nodes until `{{end}}`/`{{else ...}}` (returned) or the end of input (None).
    fn parse_list(&mut self) -> PResult<(Vec<Node>, Option<EndMark>)> {
        let mut nodes = Vec::new();
        while self.pos < self.items.len() {
            let idx = self.pos;
            self.pos += 1;
            let item = std::mem::replace(&mut self.items[idx], Item::Text(String::new()));
            match item {
                Item::Text(t) => nodes.push(Node::Text(Rc::from(t))),
                Item::Action { offset, toks } => {
                    if toks.is_empty() {
                        return Err(ParseError {
                            offset,
                            message: "missing value for command".into(),
                        });
                    }
                    let word = match &toks[0].tok {
                        Tok::Ident(w) => w.clone(),
                        _ => String::new(),
                    };
                    match word.as_str() {
                        "end" | "else" => {
                            return Ok((
                                nodes,
                                Some(EndMark {
                                    word,
                                    offset,
                                    rest: toks[1..].to_vec(),
                                }),
                            ));
                        }
                        "if" | "with" | "range" => {
                            nodes.push(self.parse_branch(&word, offset, &toks[1..])?)
                        }
                        "define" | "block" => {
                            let (name, pipe) = self.template_header(&word, offset, &toks[1..])?;
                            let saved = self.loop_depth;
                            self.loop_depth = 0;
                            let (body, end) = self.parse_list()?;
                            self.loop_depth = saved;
                            match end {
                                Some(e) if e.word == "end" && e.rest.is_empty() => {}
                                Some(e) => {
                                    return Err(ParseError {
                                        offset: e.offset,
                                        message: format!("unexpected {{{{{}}}}} in {word}", e.word),
                                    });
                                }
                                None => {
                                    return Err(ParseError {
                                        offset,
                                        message: format!("unexpected EOF in {word} {name:?}"),
                                    });
                                }
                            }
                            self.defines.push((name.clone(), body));
                            if word == "block" {
                                let (at, go_text) = template_go_form(&name, offset, &toks[1..]);
                                nodes.push(Node::Template {
                                    offset,
                                    name,
                                    pipe,
                                    at,
                                    go_text,
                                });
                            }
                        }
                        "template" => {
                            let (name, pipe) = self.template_header(&word, offset, &toks[1..])?;
                            let (at, go_text) = template_go_form(&name, offset, &toks[1..]);
                            nodes.push(Node::Template {
                                offset,
                                name,
                                pipe,
                                at,
                                go_text,
                            });
                        }
                        "break" | "continue" => {
                            if self.loop_depth == 0 {
                                return Err(ParseError {
                                    offset,
                                    message: format!("{{{{{word}}}}} outside {{{{range}}}}"),
                                });
                            }
                            if toks.len() > 1 {
                                return Err(ParseError {
                                    offset,
                                    message: format!("unexpected token in {{{{{word}}}}}"),
                                });
                            }
                            nodes.push(if word == "break" {
                                Node::Break(offset)
                            } else {
                                Node::Continue(offset)
                            });
                        }
                        _ => {
                            let pipe = parse_pipe(&toks, offset, false, "command")?;
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
            }
        }
        Ok((nodes, None))
    }

    fn template_header(
        &mut self,
        word: &str,
        offset: usize,
        toks: &[Token],
    ) -> PResult<(String, Option<Pipe>)> {
        let name = match toks.first().map(|t| &t.tok) {
            Some(Tok::Str(s)) => s.clone(),
            _ => {
                return Err(ParseError {
                    offset,
                    message: format!("missing or bad name in {word} clause"),
                });
            }
        };
        if word == "define" {
            if toks.len() > 1 {
                return Err(ParseError {
                    offset: toks[1].offset,
                    message: "unexpected token in define clause".into(),
                });
            }
            return Ok((name, None));
        }
        let pipe = if toks.len() > 1 {
            Some(parse_pipe(&toks[1..], toks[1].offset, false, word)?)
        } else {
            None
        };
        Ok((name, pipe))
    }

    fn parse_branch(&mut self, word: &str, offset: usize, toks: &[Token]) -> PResult<Node> {
        let pipe = parse_pipe(toks, offset, word == "range", word)?;
        if word == "range" {
            self.loop_depth += 1;
        }
        let (body, end) = self.parse_list()?;
        if word == "range" {
            self.loop_depth -= 1;
        }
        let Some(end) = end else {
            return Err(ParseError {
                offset,
                message: format!("unexpected EOF: {{{{{word}}}}} has no {{{{end}}}}"),
            });
        };
        let mut else_body = None;
        if end.word == "else" {
            // `{{else if ...}}` / `{{else with ...}}` nest a branch that consumes our {{end}}.
            match end.rest.first().map(|t| &t.tok) {
                Some(Tok::Ident(w)) if w == "if" || w == "with" => {
                    let w = w.clone();
                    let nested = self.parse_branch(&w, end.offset, &end.rest[1..])?;
                    else_body = Some(vec![nested]);
                }
                Some(_) => {
                    return Err(ParseError {
                        offset: end.offset,
                        message: "unexpected token in {{else}}".into(),
                    });
                }
                None => {
                    let (eb, end2) = self.parse_list()?;
                    match end2 {
                        Some(e) if e.word == "end" => {}
                        Some(e) => {
                            return Err(ParseError {
                                offset: e.offset,
                                message: "expected {{end}}; found {{else}}".into(),
                            });
                        }
                        None => {
                            return Err(ParseError {
                                offset,
                                message: format!(
                                    "unexpected EOF: {{{{{word}}}}} has no {{{{end}}}}"
                                ),
                            });
                        }
                    }
                    else_body = Some(eb);
                }
            }
        } else if !end.rest.is_empty() {
            return Err(ParseError {
                offset: end.offset,
                message: "unexpected token in {{end}}".into(),
            });
        }
        let br = Branch {
            offset,
            pipe,
            body,
            else_body,
        };
        Ok(match word {
            "if" => Node::If(br),
            "with" => Node::With(br),
            _ => Node::Range(br),
        })
    }
}

fn parse_pipe(toks: &[Token], offset: usize, in_range: bool, ctx: &str) -> PResult<Pipe> {
    let mut i = 0;
    let mut decl = Vec::new();
    let mut is_assign = false;
    // Variable declarations: `$x :=`, `$x =`, range's `$i, $v :=`.
    if let Some(Tok::Var(v)) = toks.first().map(|t| &t.tok) {
        match toks.get(1).map(|t| &t.tok) {
            Some(Tok::Declare) | Some(Tok::Assign) => {
                is_assign = toks[1].tok == Tok::Assign;
                decl.push(v.clone());
                i = 2;
            }
            Some(Tok::Comma) if in_range => {
                if let (Some(Tok::Var(v2)), Some(t3)) =
                    (toks.get(2).map(|t| &t.tok), toks.get(3).map(|t| &t.tok))
                    && (*t3 == Tok::Declare || *t3 == Tok::Assign)
                {
                    is_assign = *t3 == Tok::Assign;
                    decl.push(v.clone());
                    decl.push(v2.clone());
                    i = 4;
                } else {
                    return Err(ParseError {
                        offset: toks[1].offset,
                        message: "too many declarations in range".into(),
                    });
                }
            }
            _ => {}
        }
    }
    let (pipe_cmds, used) = parse_cmds(&toks[i..], offset)?;
    if used != toks.len() - i {
        let t = &toks[i + used];
        return Err(ParseError {
            offset: t.offset,
            message: format!("unexpected {} in {ctx}", describe(&t.tok)),
        });
    }
    if pipe_cmds.is_empty() {
        return Err(ParseError {
            offset,
            message: format!("missing value for {ctx}"),
        });
    }
    Ok(Pipe {
        offset: toks.get(i).map(|t| t.offset).unwrap_or(offset),
        decl,
        is_assign,
        cmds: pipe_cmds,
    })
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::RParen => "<)>".into(),
        Tok::LParen => "<(>".into(),
        Tok::Pipe => "<|>".into(),
        Tok::Comma => "<,>".into(),
        Tok::Declare => "<:=>".into(),
        Tok::Assign => "<=>".into(),
        other => format!("{other:?}"),
    }
}

/// Parse commands separated by `|` until a `)` or the end; returns how many tokens were used.
fn parse_cmds(toks: &[Token], offset: usize) -> PResult<(Vec<Command>, usize)> {
    let mut cmds = Vec::new();
    let mut i = 0;
    let mut args = Vec::new();
    let mut cmd_offset = toks.first().map(|t| t.offset).unwrap_or(offset);
    while i < toks.len() {
        match &toks[i].tok {
            Tok::RParen => break,
            Tok::Pipe => {
                if args.is_empty() {
                    return Err(ParseError {
                        offset: toks[i].offset,
                        message: "missing value for command".into(),
                    });
                }
                cmds.push(Command {
                    offset: cmd_offset,
                    args: std::mem::take(&mut args),
                });
                i += 1;
                cmd_offset = toks.get(i).map(|t| t.offset).unwrap_or(offset);
                if i >= toks.len() || toks[i].tok == Tok::RParen {
                    return Err(ParseError {
                        offset: toks[i - 1].offset,
                        message: "missing command after |".into(),
                    });
                }
            }
            _ => {
                if !args.is_empty() && !toks[i].spaced && !matches!(toks[i].tok, Tok::LParen) {
                    return Err(ParseError {
                        offset: toks[i].offset,
                        message: format!("unexpected {} in operand", describe(&toks[i].tok)),
                    });
                }
                let (arg, used) = parse_operand(&toks[i..])?;
                args.push(arg);
                i += used;
            }
        }
    }
    if !args.is_empty() {
        cmds.push(Command {
            offset: cmd_offset,
            args,
        });
    }
    Ok((cmds, i))
}

fn parse_operand(toks: &[Token]) -> PResult<(Arg, usize)> {
    let t = &toks[0];
    let off = t.offset;
    let mut used = 1;
    let arg = match &t.tok {
        Tok::Dot => Arg::Dot(off),
        Tok::Field(f) => {
            let mut fields = vec![f.clone()];
            while let Some(Token {
                tok: Tok::Field(f2),
                spaced: false,
                ..
            }) = toks.get(used)
            {
                fields.push(f2.clone());
                used += 1;
            }
            return Ok((Arg::Field(off, fields), used));
        }
        Tok::Var(v) => {
            let mut fields = Vec::new();
            while let Some(Token {
                tok: Tok::Field(f2),
                spaced: false,
                ..
            }) = toks.get(used)
            {
                fields.push(f2.clone());
                used += 1;
            }
            return Ok((Arg::Var(off, v.clone(), fields), used));
        }
        Tok::Ident(w) => match w.as_str() {
            "true" => Arg::Bool(off, true),
            "false" => Arg::Bool(off, false),
            "nil" => Arg::Nil(off),
            _ => Arg::Ident(off, w.clone()),
        },
        Tok::Str(s) => Arg::Str(off, Rc::from(s.as_str())),
        Tok::Number(n) => parse_number(n, off)?,
        Tok::Char(c) => Arg::Int(off, *c),
        Tok::LParen => {
            let (cmds, n) = parse_cmds(&toks[1..], off)?;
            if toks.get(1 + n).map(|t| &t.tok) != Some(&Tok::RParen) {
                return Err(ParseError {
                    offset: off,
                    message: "unclosed left paren".into(),
                });
            }
            if cmds.is_empty() {
                return Err(ParseError {
                    offset: off,
                    message: "missing value for parenthesized pipeline".into(),
                });
            }
            used = n + 2;
            let mut fields = Vec::new();
            while let Some(Token {
                tok: Tok::Field(f2),
                spaced: false,
                ..
            }) = toks.get(used)
            {
                fields.push(f2.clone());
                used += 1;
            }
            let pipe = Pipe {
                offset: off,
                decl: Vec::new(),
                is_assign: false,
                cmds,
            };
            return Ok((Arg::Pipe(off, Box::new(pipe), fields), used));
        }
        other => {
            return Err(ParseError {
                offset: off,
                message: format!("unexpected {} in operand", describe(other)),
            });
        }
    };
    Ok((arg, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(nodes: &[Node]) -> Vec<String> {
        nodes
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn trim_markers_eat_adjacent_whitespace() {
        let p = parse("a  \n {{- 1 -}} \n b").unwrap();
        assert_eq!(texts(&p.body), vec!["a", "b"]);
    }

    #[test]
    fn dash_without_space_is_a_number() {
        let p = parse("{{-3}}").unwrap();
        match &p.body[0] {
            Node::Action(pipe) => assert!(matches!(pipe.cmds[0].args[0], Arg::Int(_, -3))),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn comments_vanish_and_can_trim() {
        let p = parse("a {{- /* hi */ -}} b").unwrap();
        assert_eq!(texts(&p.body), vec!["a", "b"]);
    }

    #[test]
    fn define_is_collected_and_else_if_nests() {
        let p = parse(r#"{{define "x"}}{{if .a}}1{{else if .b}}2{{else}}3{{end}}{{end}}"#).unwrap();
        assert_eq!(p.defines.len(), 1);
        let body = &p.defines[0].1;
        let Node::If(br) = &body[0] else {
            panic!("not an if")
        };
        assert!(matches!(br.else_body.as_deref(), Some([Node::If(_)])));
    }

    #[test]
    fn errors_point_at_the_offending_offset() {
        let e = parse("ok\n{{ if .x }}").unwrap_err();
        assert_eq!(e.offset, 3);
        let e = parse("{{ .x | }}").unwrap_err();
        assert!(e.message.contains("missing command"), "{}", e.message);
        let e = parse("{{ break }}").unwrap_err();
        assert!(e.message.contains("outside"), "{}", e.message);
    }

    #[test]
    fn chains_and_range_declarations() {
        let p = parse("{{ range $i, $v := .list }}{{ (index $v 0).Name }}{{ end }}").unwrap();
        let Node::Range(br) = &p.body[0] else {
            panic!()
        };
        assert_eq!(br.pipe.decl, vec!["$i", "$v"]);
        let Node::Action(a) = &br.body[0] else {
            panic!()
        };
        assert!(matches!(&a.cmds[0].args[0], Arg::Pipe(_, _, f) if f == &vec!["Name".to_string()]));
    }

    #[test]
    fn strings_unescape_like_go() {
        let p = parse(r#"{{ "a\tb\u00e9" }}{{ `raw\n` }}"#).unwrap();
        let Node::Action(a) = &p.body[0] else {
            panic!()
        };
        assert!(matches!(&a.cmds[0].args[0], Arg::Str(_, s) if &**s == "a\tbé"));
        let Node::Action(a) = &p.body[1] else {
            panic!()
        };
        assert!(matches!(&a.cmds[0].args[0], Arg::Str(_, s) if &**s == "raw\\n"));
    }
}
