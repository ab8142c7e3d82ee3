//! go-yaml v2's reader, scanner and parser (readerc.go, scannerc.go, parserc.go: its port of
//! libyaml), as helm reads values files and `fromYaml` text through sigs.k8s.io/yaml. Ported
//! rule for rule, so that the events, the values of scalars and the errors (their words, and
//! the line go-yaml names) are go-yaml's:
//!
//! - the reader decodes the input in chunks of 512 bytes as the scanner asks for characters,
//!   and refuses a chunk holding a character outside YAML's printable set ("control characters
//!   are not allowed": C0 controls but tab, CR and LF, DEL, C1 controls but NEL, U+FFFE,
//!   U+FFFF), invalid UTF-8, or bad UTF-16; text past the point the scanner reaches is never
//!   read. A UTF-8 BOM is dropped, a UTF-16 one selects UTF-16.
//! - NEL, LS and PS are line breaks everywhere (`is_break`); a scalar's line break is read as
//!   "\n" (CR, LF, CRLF, NEL) or as itself (LS, PS), and only a "\n" folds to a space.
//! - libyaml's quirks are kept: `is_bom` looks at the start of the reader's buffer (so a
//!   U+FEFF that starts a refill makes the scanner skip the first character of later lines),
//!   a parser error names its line 0-based, a simple key is looked up by token number.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

/// A place in the input: characters read, 0-based line and column, and the byte offset in the
/// decoded text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    pub index: usize,
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Reader,
    Scanner,
    Parser,
}

/// libyaml's error: the problem, where it was found, and the mark of its context.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub kind: ErrorKind,
    pub problem: Cow<'static, str>,
    pub problem_mark: Mark,
    pub context_mark: Mark,
    /// The byte offset of the place (for a reader error, of the refused character).
    pub offset: usize,
}

impl ParseError {
    /// The line go-yaml's `fail` names: the problem's (0-based for a parser error, 1-based for
    /// a scanner error), else the context's (0-based), none when that is 0.
    pub fn go_line(&self) -> Option<usize> {
        let line = if self.problem_mark.line != 0 {
            self.problem_mark.line + usize::from(self.kind == ErrorKind::Scanner)
        } else {
            self.context_mark.line
        };
        (line != 0).then_some(line)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias {
        anchor: String,
    },
    Scalar {
        anchor: Option<String>,
        /// The resolved tag (`tag:yaml.org,2002:str`, `!foo`, `!`), if the node has one.
        tag: Option<String>,
        value: String,
        style: ScalarStyle,
        /// Plain without a tag, or tagged `!` (go-yaml's `implicit`).
        plain_implicit: bool,
    },
    SequenceStart {
        anchor: Option<String>,
        tag: Option<String>,
    },
    SequenceEnd,
    MappingStart {
        anchor: Option<String>,
        tag: Option<String>,
    },
    MappingEnd,
}

#[derive(Clone, Debug)]
enum TokenKind {
    StreamStart,
    StreamEnd,
    VersionDirective(u8, u8),
    TagDirective(Vec<u8>, Vec<u8>),
    DocumentStart,
    DocumentEnd,
    BlockSequenceStart,
    BlockMappingStart,
    BlockEnd,
    FlowSequenceStart,
    FlowSequenceEnd,
    FlowMappingStart,
    FlowMappingEnd,
    BlockEntry,
    FlowEntry,
    Key,
    Value,
    Alias(Vec<u8>),
    Anchor(Vec<u8>),
    /// Handle and suffix.
    Tag(Vec<u8>, Vec<u8>),
    Scalar(Vec<u8>, ScalarStyle),
}

/// A token's kind without its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    StreamStart,
    StreamEnd,
    VersionDirective,
    TagDirective,
    DocumentStart,
    DocumentEnd,
    BlockSequenceStart,
    BlockMappingStart,
    BlockEnd,
    FlowSequenceStart,
    FlowSequenceEnd,
    FlowMappingStart,
    FlowMappingEnd,
    BlockEntry,
    FlowEntry,
    Key,
    Value,
    Alias,
    Anchor,
    Tag,
    Scalar,
}

impl TokenKind {
    fn k(&self) -> K {
        match self {
            TokenKind::StreamStart => K::StreamStart,
            TokenKind::StreamEnd => K::StreamEnd,
            TokenKind::VersionDirective(..) => K::VersionDirective,
            TokenKind::TagDirective(..) => K::TagDirective,
            TokenKind::DocumentStart => K::DocumentStart,
            TokenKind::DocumentEnd => K::DocumentEnd,
            TokenKind::BlockSequenceStart => K::BlockSequenceStart,
            TokenKind::BlockMappingStart => K::BlockMappingStart,
            TokenKind::BlockEnd => K::BlockEnd,
            TokenKind::FlowSequenceStart => K::FlowSequenceStart,
            TokenKind::FlowSequenceEnd => K::FlowSequenceEnd,
            TokenKind::FlowMappingStart => K::FlowMappingStart,
            TokenKind::FlowMappingEnd => K::FlowMappingEnd,
            TokenKind::BlockEntry => K::BlockEntry,
            TokenKind::FlowEntry => K::FlowEntry,
            TokenKind::Key => K::Key,
            TokenKind::Value => K::Value,
            TokenKind::Alias(_) => K::Alias,
            TokenKind::Anchor(_) => K::Anchor,
            TokenKind::Tag(..) => K::Tag,
            TokenKind::Scalar(..) => K::Scalar,
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    kind: TokenKind,
    start: Mark,
}

#[derive(Clone, Copy, Debug, Default)]
struct SimpleKey {
    possible: bool,
    required: bool,
    token_number: usize,
    mark: Mark,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Any,
    Utf8,
    Utf16Le,
    Utf16Be,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    StreamStart,
    ImplicitDocumentStart,
    DocumentStart,
    DocumentContent,
    DocumentEnd,
    BlockNode,
    BlockSequenceFirstEntry,
    BlockSequenceEntry,
    IndentlessSequenceEntry,
    BlockMappingFirstKey,
    BlockMappingKey,
    BlockMappingValue,
    FlowSequenceFirstEntry,
    FlowSequenceEntry,
    FlowSequenceEntryMappingKey,
    FlowSequenceEntryMappingValue,
    FlowSequenceEntryMappingEnd,
    FlowMappingFirstKey,
    FlowMappingKey,
    FlowMappingValue,
    FlowMappingEmptyValue,
    End,
}

/// The ASCII bytes a stream may hold: printable ones, tab, LF and CR.
const ASCII_OK: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0x20;
    while c <= 0x7E {
        t[c] = true;
        c += 1;
    }
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

/// go-yaml's simple keys by token number: a map of small integers, hashed by one multiply.
#[derive(Default)]
struct TokenHasher(u64);

impl std::hash::Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type TokenMap = HashMap<usize, usize, std::hash::BuildHasherDefault<TokenHasher>>;

/// The raw buffer's size: the reader decodes this much input at a time.
const RAW_CHUNK: usize = 512;
const MAX_FLOW_LEVEL: usize = 10000;
const MAX_INDENTS: usize = 10000;

type R<T> = Result<T, ParseError>;

pub struct Parser<'a> {
    input: &'a [u8],
    /// The decoded text (the input itself when it is UTF-8).
    buf: Cow<'a, [u8]>,
    /// The current character's offset in `buf` (libyaml's buffer_pos); past the end reads NUL.
    pos: usize,
    /// Characters decoded and not yet consumed (with the NULs added at the end).
    unread: isize,
    /// The input not yet decoded starts here; the raw buffer holds it up to `raw_end`.
    raw_pos: usize,
    raw_end: usize,
    eof: bool,
    encoding: Encoding,
    /// The offset in `buf` of the character the reader's buffer started with at its last refill.
    buffer_start: usize,
    mark: Mark,

    stream_start_produced: bool,
    stream_end_produced: bool,
    flow_level: usize,
    tokens: VecDeque<Token>,
    tokens_parsed: usize,
    token_available: bool,
    indent: isize,
    indents: Vec<isize>,
    simple_key_allowed: bool,
    simple_keys: Vec<SimpleKey>,
    simple_keys_by_tok: TokenMap,

    state: State,
    states: Vec<State>,
    marks: Vec<Mark>,
    tag_directives: Vec<(Vec<u8>, Vec<u8>)>,
    failed: bool,
    /// Take runs of plain ASCII at once (`ascii_run`); off, every character is taken alone.
    bulk: bool,
}

fn width(b: u8) -> usize {
    if b & 0x80 == 0 {
        1
    } else if b & 0xE0 == 0xC0 {
        2
    } else if b & 0xF0 == 0xE0 {
        3
    } else if b & 0xF8 == 0xF0 {
        4
    } else {
        0
    }
}

fn is_alpha_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn as_hex(c: u8) -> u32 {
    match c {
        b'A'..=b'F' => u32::from(c - b'A') + 10,
        b'a'..=b'f' => u32::from(c - b'a') + 10,
        _ => u32::from(c.wrapping_sub(b'0')),
    }
}

fn push_utf8(s: &mut Vec<u8>, value: u32) {
    if value <= 0x7F {
        s.push(value as u8);
    } else if value <= 0x7FF {
        s.push((0xC0 + (value >> 6)) as u8);
        s.push((0x80 + (value & 0x3F)) as u8);
    } else if value <= 0xFFFF {
        s.push((0xE0 + (value >> 12)) as u8);
        s.push((0x80 + ((value >> 6) & 0x3F)) as u8);
        s.push((0x80 + (value & 0x3F)) as u8);
    } else {
        s.push((0xF0 + (value >> 18)) as u8);
        s.push((0x80 + ((value >> 12) & 0x3F)) as u8);
        s.push((0x80 + ((value >> 6) & 0x3F)) as u8);
        s.push((0x80 + (value & 0x3F)) as u8);
    }
}

/// The characters YAML lets a stream hold: #x9 | #xA | #xD | [#x20-#x7E] | #x85 |
/// [#xA0-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
fn is_allowed(value: u32) -> bool {
    matches!(value, 0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

fn string_of(v: Vec<u8>) -> String {
    match String::from_utf8(v) {
        Ok(s) => super::value::go_string(s),
        Err(e) => super::value::string_from_go_bytes(e.as_bytes()),
    }
}

impl<'a> Parser<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Parser {
            input,
            buf: Cow::Borrowed(input),
            pos: 0,
            unread: 0,
            raw_pos: 0,
            raw_end: 0,
            eof: false,
            encoding: Encoding::Any,
            buffer_start: 0,
            mark: Mark::default(),
            stream_start_produced: false,
            stream_end_produced: false,
            flow_level: 0,
            tokens: VecDeque::new(),
            tokens_parsed: 0,
            token_available: false,
            indent: 0,
            indents: Vec::new(),
            simple_key_allowed: false,
            simple_keys: Vec::new(),
            simple_keys_by_tok: TokenMap::default(),
            state: State::StreamStart,
            states: Vec::new(),
            marks: Vec::new(),
            tag_directives: Vec::new(),
            failed: false,
            bulk: true,
        }
    }

    // ---- reader (readerc.go) ----

    fn reader_error(&self, problem: &'static str, offset: usize) -> ParseError {
        ParseError {
            kind: ErrorKind::Reader,
            problem: Cow::Borrowed(problem),
            problem_mark: Mark::default(),
            context_mark: Mark::default(),
            offset,
        }
    }

    /// yaml_parser_update_raw_buffer: read the next part of the input into the raw buffer.
    fn update_raw_buffer(&mut self) {
        if self.eof {
            return;
        }
        if self.raw_end == self.input.len() {
            self.eof = true;
            return;
        }
        self.raw_end = (self.raw_pos + RAW_CHUNK).min(self.input.len());
    }

    fn determine_encoding(&mut self) {
        while !self.eof && self.raw_end - self.raw_pos < 3 {
            self.update_raw_buffer();
        }
        let raw = &self.input[self.raw_pos..self.raw_end];
        if raw.starts_with(b"\xff\xfe") {
            self.encoding = Encoding::Utf16Le;
            self.raw_pos += 2;
        } else if raw.starts_with(b"\xfe\xff") {
            self.encoding = Encoding::Utf16Be;
            self.raw_pos += 2;
        } else if raw.starts_with(b"\xef\xbb\xbf") {
            self.encoding = Encoding::Utf8;
            self.raw_pos += 3;
        } else {
            self.encoding = Encoding::Utf8;
        }
        if self.encoding == Encoding::Utf8 {
            self.pos = self.raw_pos;
        } else {
            self.buf = Cow::Owned(Vec::new());
            self.pos = 0;
        }
    }

    /// yaml_parser_update_buffer: make `length` characters available, decoding more input.
    fn update_buffer(&mut self, length: isize) -> R<()> {
        if self.unread >= length {
            return Ok(());
        }
        if self.encoding == Encoding::Any {
            self.determine_encoding();
        }
        // the unread characters move to the start of the buffer
        self.buffer_start = self.pos;
        let mut first = true;
        while self.unread < length {
            if !first || self.raw_pos == self.raw_end {
                self.update_raw_buffer();
            }
            first = false;
            match self.encoding {
                Encoding::Utf16Le | Encoding::Utf16Be => self.decode_utf16()?,
                _ => self.decode_utf8()?,
            }
            if self.eof {
                // the NUL that ends the stream
                self.unread += 1;
                break;
            }
        }
        Ok(())
    }

    /// Decode the raw buffer's UTF-8 (the characters stay where they are in the input).
    fn decode_utf8(&mut self) -> R<()> {
        let raw = self.input;
        let end = self.raw_end;
        let mut p = self.raw_pos;
        let mut chars = 0isize;
        while p < end {
            // printable ASCII, tab, LF, CR: one character each
            let run = raw[p..end]
                .iter()
                .take_while(|&&c| ASCII_OK[c as usize])
                .count();
            p += run;
            chars += run as isize;
            if p == end {
                break;
            }
            let octet = raw[p];
            if octet < 0x80 {
                return Err(self.reader_error("control characters are not allowed", p));
            }
            let w = width(octet);
            if w == 0 {
                return Err(self.reader_error("invalid leading UTF-8 octet", p));
            }
            if w > end - p {
                if self.eof {
                    return Err(self.reader_error("incomplete UTF-8 octet sequence", p));
                }
                break;
            }
            let mut value = u32::from(match w {
                2 => octet & 0x1F,
                3 => octet & 0x0F,
                _ => octet & 0x07,
            });
            for k in 1..w {
                let o = raw[p + k];
                if o & 0xC0 != 0x80 {
                    return Err(self.reader_error("invalid trailing UTF-8 octet", p + k));
                }
                value = (value << 6) + u32::from(o & 0x3F);
            }
            let long_enough = match w {
                2 => value >= 0x80,
                3 => value >= 0x800,
                _ => value >= 0x10000,
            };
            if !long_enough {
                return Err(self.reader_error("invalid length of a UTF-8 sequence", p));
            }
            if (0xD800..=0xDFFF).contains(&value) || value > 0x10FFFF {
                return Err(self.reader_error("invalid Unicode character", p));
            }
            if !is_allowed(value) {
                return Err(self.reader_error("control characters are not allowed", p));
            }
            p += w;
            chars += 1;
        }
        self.raw_pos = p;
        self.unread += chars;
        Ok(())
    }

    /// Decode the raw buffer's UTF-16 into UTF-8 at the end of `buf`.
    fn decode_utf16(&mut self) -> R<()> {
        let (low, high) = if self.encoding == Encoding::Utf16Le {
            (0, 1)
        } else {
            (1, 0)
        };
        let raw = self.input;
        let end = self.raw_end;
        let mut p = self.raw_pos;
        let mut out = Vec::new();
        let mut chars = 0isize;
        let mut failure = None;
        while p < end {
            let unit = |at: usize| u32::from(raw[at + low]) + (u32::from(raw[at + high]) << 8);
            if end - p < 2 {
                if self.eof {
                    failure = Some(self.reader_error("incomplete UTF-16 character", p));
                }
                break;
            }
            let mut value = unit(p);
            if value & 0xFC00 == 0xDC00 {
                failure = Some(self.reader_error("unexpected low surrogate area", p));
                break;
            }
            let w = if value & 0xFC00 == 0xD800 {
                if end - p < 4 {
                    if self.eof {
                        failure = Some(self.reader_error("incomplete UTF-16 surrogate pair", p));
                    }
                    break;
                }
                let value2 = unit(p + 2);
                if value2 & 0xFC00 != 0xDC00 {
                    failure = Some(self.reader_error("expected low surrogate area", p + 2));
                    break;
                }
                value = 0x10000 + ((value & 0x3FF) << 10) + (value2 & 0x3FF);
                4
            } else {
                2
            };
            if !is_allowed(value) {
                failure = Some(self.reader_error("control characters are not allowed", p));
                break;
            }
            p += w;
            chars += 1;
            push_utf8(&mut out, value);
        }
        if let Some(e) = failure {
            return Err(e);
        }
        self.raw_pos = p;
        self.unread += chars;
        self.buf.to_mut().extend_from_slice(&out);
        Ok(())
    }

    #[inline]
    fn cache(&mut self, length: isize) -> R<()> {
        if self.unread >= length {
            Ok(())
        } else {
            self.update_buffer(length)
        }
    }

    // ---- character classes (yamlprivateh.go) ----

    #[inline]
    fn b(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }

    #[inline]
    fn at(&self, k: usize) -> u8 {
        self.b(self.pos + k)
    }

    fn is_break_at(&self, i: usize) -> bool {
        match self.b(i) {
            b'\r' | b'\n' => true,
            0xC2 => self.b(i + 1) == 0x85,
            0xE2 => self.b(i + 1) == 0x80 && matches!(self.b(i + 2), 0xA8 | 0xA9),
            _ => false,
        }
    }

    fn is_breakz_at(&self, i: usize) -> bool {
        self.b(i) == 0 || self.is_break_at(i)
    }

    fn is_blankz_at(&self, i: usize) -> bool {
        matches!(self.b(i), b' ' | b'\t') || self.is_breakz_at(i)
    }

    fn is_blank(&self) -> bool {
        matches!(self.at(0), b' ' | b'\t')
    }

    fn is_break(&self) -> bool {
        self.is_break_at(self.pos)
    }

    fn is_breakz(&self) -> bool {
        self.is_breakz_at(self.pos)
    }

    fn is_blankz(&self) -> bool {
        self.is_blankz_at(self.pos)
    }

    /// is_bom(parser.buffer, ...) reads the start of the buffer, not the current character.
    fn buffer_starts_with_bom(&self) -> bool {
        let s = self.buffer_start;
        self.b(s) == 0xEF && self.b(s + 1) == 0xBB && self.b(s + 2) == 0xBF
    }

    fn mark(&self) -> Mark {
        Mark {
            offset: self.pos,
            ..self.mark
        }
    }

    // ---- reading characters (scannerc.go) ----

    /// How many of the next characters are ASCII bytes `keep` accepts, short of the last
    /// `reserve` decoded ones: a loop that takes one such character and then caches `reserve`
    /// would refill nothing over them, so they can be taken at once (the loop then goes on
    /// character by character, and refills where go-yaml refills).
    #[inline]
    fn ascii_run(&self, reserve: isize, keep: impl Fn(u8) -> bool) -> usize {
        if !self.bulk {
            return 0;
        }
        let max = (self.unread - reserve).max(0) as usize;
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        rest.iter()
            .take(max)
            .take_while(|&&c| c < 0x80 && keep(c))
            .count()
    }

    /// Skip `n` ASCII characters (see `ascii_run`).
    #[inline]
    fn skip_ascii(&mut self, n: usize) {
        self.pos += n;
        self.mark.index += n;
        self.mark.column += n;
        self.unread -= n as isize;
    }

    /// Read `n` ASCII characters into `s` (see `ascii_run`).
    #[inline]
    fn read_ascii(&mut self, n: usize, s: &mut Vec<u8>) {
        s.extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.skip_ascii(n);
    }

    fn skip(&mut self) {
        self.mark.index += 1;
        self.mark.column += 1;
        self.unread -= 1;
        self.pos += width(self.at(0));
    }

    fn skip_line(&mut self) {
        if self.at(0) == b'\r' && self.at(1) == b'\n' {
            self.mark.index += 2;
            self.mark.column = 0;
            self.mark.line += 1;
            self.unread -= 2;
            self.pos += 2;
        } else if self.is_break() {
            self.mark.index += 1;
            self.mark.column = 0;
            self.mark.line += 1;
            self.unread -= 1;
            self.pos += width(self.at(0));
        }
    }

    fn read(&mut self, s: &mut Vec<u8>) {
        let w = width(self.at(0)).max(1);
        for k in 0..w {
            s.push(self.at(k));
        }
        self.pos += w;
        self.mark.index += 1;
        self.mark.column += 1;
        self.unread -= 1;
    }

    fn read_line(&mut self, s: &mut Vec<u8>) {
        let c = self.at(0);
        if c == b'\r' && self.at(1) == b'\n' {
            s.push(b'\n');
            self.pos += 2;
            self.mark.index += 1;
            self.unread -= 1;
        } else if c == b'\r' || c == b'\n' {
            s.push(b'\n');
            self.pos += 1;
        } else if c == 0xC2 && self.at(1) == 0x85 {
            s.push(b'\n');
            self.pos += 2;
        } else if c == 0xE2 && self.at(1) == 0x80 && matches!(self.at(2), 0xA8 | 0xA9) {
            s.extend_from_slice(&[c, 0x80, self.at(2)]);
            self.pos += 3;
        } else {
            return;
        }
        self.mark.index += 1;
        self.mark.column = 0;
        self.mark.line += 1;
        self.unread -= 1;
    }

    // ---- scanner ----

    fn scanner_error(&self, context_mark: Mark, problem: &'static str) -> ParseError {
        ParseError {
            kind: ErrorKind::Scanner,
            problem: Cow::Borrowed(problem),
            problem_mark: self.mark(),
            context_mark,
            offset: self.pos.min(self.buf.len()),
        }
    }

    fn scanner_error_string(&self, context_mark: Mark, problem: String) -> ParseError {
        ParseError {
            problem: Cow::Owned(problem),
            ..self.scanner_error(context_mark, "")
        }
    }

    fn insert_token(&mut self, at: Option<usize>, token: Token) {
        match at {
            None => self.tokens.push_back(token),
            Some(i) => self.tokens.insert(i.min(self.tokens.len()), token),
        }
    }

    fn push_token(&mut self, kind: TokenKind, start: Mark) {
        self.tokens.push_back(Token { kind, start });
    }

    fn fetch_more_tokens(&mut self) -> R<()> {
        loop {
            if !self.tokens.is_empty() {
                let Some(&i) = self.simple_keys_by_tok.get(&self.tokens_parsed) else {
                    break;
                };
                if !self.simple_key_is_valid(i)? {
                    break;
                }
            }
            self.fetch_next_token()?;
        }
        self.token_available = true;
        Ok(())
    }

    fn fetch_next_token(&mut self) -> R<()> {
        self.cache(1)?;
        if !self.stream_start_produced {
            self.fetch_stream_start();
            return Ok(());
        }
        self.scan_to_next_token()?;
        self.unroll_indent(self.mark.column as isize);
        self.cache(4)?;
        let c = self.at(0);
        if c == 0 {
            return self.fetch_stream_end();
        }
        let column0 = self.mark.column == 0;
        if column0 && c == b'%' {
            return self.fetch_directive();
        }
        if column0
            && c == b'-'
            && self.at(1) == b'-'
            && self.at(2) == b'-'
            && self.is_blankz_at(self.pos + 3)
        {
            return self.fetch_document_indicator(TokenKind::DocumentStart);
        }
        if column0
            && c == b'.'
            && self.at(1) == b'.'
            && self.at(2) == b'.'
            && self.is_blankz_at(self.pos + 3)
        {
            return self.fetch_document_indicator(TokenKind::DocumentEnd);
        }
        match c {
            b'[' => return self.fetch_flow_collection_start(TokenKind::FlowSequenceStart),
            b'{' => return self.fetch_flow_collection_start(TokenKind::FlowMappingStart),
            b']' => return self.fetch_flow_collection_end(TokenKind::FlowSequenceEnd),
            b'}' => return self.fetch_flow_collection_end(TokenKind::FlowMappingEnd),
            b',' => return self.fetch_flow_entry(),
            _ => {}
        }
        let next_blankz = self.is_blankz_at(self.pos + 1);
        if c == b'-' && next_blankz {
            return self.fetch_block_entry();
        }
        if c == b'?' && (self.flow_level > 0 || next_blankz) {
            return self.fetch_key();
        }
        if c == b':' && (self.flow_level > 0 || next_blankz) {
            return self.fetch_value();
        }
        match c {
            b'*' => return self.fetch_anchor(true),
            b'&' => return self.fetch_anchor(false),
            b'!' => return self.fetch_tag(),
            b'|' if self.flow_level == 0 => return self.fetch_block_scalar(true),
            b'>' if self.flow_level == 0 => return self.fetch_block_scalar(false),
            b'\'' => return self.fetch_flow_scalar(true),
            b'"' => return self.fetch_flow_scalar(false),
            _ => {}
        }
        let indicator = matches!(
            c,
            b'-' | b'?'
                | b':'
                | b','
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'#'
                | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'\''
                | b'"'
                | b'%'
                | b'@'
                | b'`'
        );
        if !(self.is_blankz() || indicator)
            || (c == b'-' && !matches!(self.at(1), b' ' | b'\t'))
            || (self.flow_level == 0 && (c == b'?' || c == b':') && !next_blankz)
        {
            return self.fetch_plain_scalar();
        }
        Err(self.scanner_error(self.mark(), "found character that cannot start any token"))
    }

    fn simple_key_is_valid(&mut self, i: usize) -> R<bool> {
        let key = self.simple_keys[i];
        if !key.possible {
            return Ok(false);
        }
        if key.mark.line < self.mark.line || key.mark.index + 1024 < self.mark.index {
            if key.required {
                return Err(self.scanner_error(key.mark, "could not find expected ':'"));
            }
            self.simple_keys[i].possible = false;
            return Ok(false);
        }
        Ok(true)
    }

    fn save_simple_key(&mut self) -> R<()> {
        let required = self.flow_level == 0 && self.indent == self.mark.column as isize;
        if self.simple_key_allowed {
            let key = SimpleKey {
                possible: true,
                required,
                token_number: self.tokens_parsed + self.tokens.len(),
                mark: self.mark(),
            };
            self.remove_simple_key()?;
            let last = self.simple_keys.len() - 1;
            self.simple_keys[last] = key;
            self.simple_keys_by_tok.insert(key.token_number, last);
        }
        Ok(())
    }

    fn remove_simple_key(&mut self) -> R<()> {
        let i = self.simple_keys.len() - 1;
        let key = self.simple_keys[i];
        if key.possible {
            if key.required {
                return Err(self.scanner_error(key.mark, "could not find expected ':'"));
            }
            self.simple_keys[i].possible = false;
            self.simple_keys_by_tok.remove(&key.token_number);
        }
        Ok(())
    }

    fn increase_flow_level(&mut self) -> R<()> {
        self.simple_keys.push(SimpleKey {
            possible: false,
            required: false,
            token_number: self.tokens_parsed + self.tokens.len(),
            mark: self.mark(),
        });
        self.flow_level += 1;
        if self.flow_level > MAX_FLOW_LEVEL {
            let mark = self.simple_keys[self.simple_keys.len() - 1].mark;
            return Err(
                self.scanner_error_string(mark, format!("exceeded max depth of {MAX_FLOW_LEVEL}"))
            );
        }
        Ok(())
    }

    fn decrease_flow_level(&mut self) {
        if self.flow_level > 0 {
            self.flow_level -= 1;
            if let Some(key) = self.simple_keys.pop() {
                self.simple_keys_by_tok.remove(&key.token_number);
            }
        }
    }

    fn roll_indent(
        &mut self,
        column: isize,
        number: Option<usize>,
        kind: TokenKind,
        mark: Mark,
    ) -> R<()> {
        if self.flow_level > 0 {
            return Ok(());
        }
        if self.indent < column {
            self.indents.push(self.indent);
            self.indent = column;
            if self.indents.len() > MAX_INDENTS {
                let mark = self.simple_keys[self.simple_keys.len() - 1].mark;
                return Err(
                    self.scanner_error_string(mark, format!("exceeded max depth of {MAX_INDENTS}"))
                );
            }
            let token = Token { kind, start: mark };
            let at = number.map(|n| n.saturating_sub(self.tokens_parsed));
            self.insert_token(at, token);
        }
        Ok(())
    }

    fn unroll_indent(&mut self, column: isize) {
        if self.flow_level > 0 {
            return;
        }
        while self.indent > column {
            let m = self.mark();
            self.push_token(TokenKind::BlockEnd, m);
            self.indent = self.indents.pop().unwrap_or(-1);
        }
    }

    fn fetch_stream_start(&mut self) {
        self.indent = -1;
        self.simple_keys.push(SimpleKey::default());
        self.simple_keys_by_tok.clear();
        self.simple_key_allowed = true;
        self.stream_start_produced = true;
        let m = self.mark();
        self.push_token(TokenKind::StreamStart, m);
    }

    fn fetch_stream_end(&mut self) -> R<()> {
        if self.mark.column != 0 {
            self.mark.column = 0;
            self.mark.line += 1;
        }
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let m = self.mark();
        self.push_token(TokenKind::StreamEnd, m);
        Ok(())
    }

    fn fetch_directive(&mut self) -> R<()> {
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_directive()?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_document_indicator(&mut self, kind: TokenKind) -> R<()> {
        self.unroll_indent(-1);
        self.remove_simple_key()?;
        self.simple_key_allowed = false;
        let start = self.mark();
        self.skip();
        self.skip();
        self.skip();
        self.push_token(kind, start);
        Ok(())
    }

    fn fetch_flow_collection_start(&mut self, kind: TokenKind) -> R<()> {
        self.save_simple_key()?;
        self.increase_flow_level()?;
        self.simple_key_allowed = true;
        let start = self.mark();
        self.skip();
        self.push_token(kind, start);
        Ok(())
    }

    fn fetch_flow_collection_end(&mut self, kind: TokenKind) -> R<()> {
        self.remove_simple_key()?;
        self.decrease_flow_level();
        self.simple_key_allowed = false;
        let start = self.mark();
        self.skip();
        self.push_token(kind, start);
        Ok(())
    }

    fn fetch_flow_entry(&mut self) -> R<()> {
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let start = self.mark();
        self.skip();
        self.push_token(TokenKind::FlowEntry, start);
        Ok(())
    }

    fn fetch_block_entry(&mut self) -> R<()> {
        if self.flow_level == 0 {
            if !self.simple_key_allowed {
                return Err(self.scanner_error(
                    self.mark(),
                    "block sequence entries are not allowed in this context",
                ));
            }
            let m = self.mark();
            self.roll_indent(
                self.mark.column as isize,
                None,
                TokenKind::BlockSequenceStart,
                m,
            )?;
        }
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let start = self.mark();
        self.skip();
        self.push_token(TokenKind::BlockEntry, start);
        Ok(())
    }

    fn fetch_key(&mut self) -> R<()> {
        if self.flow_level == 0 {
            if !self.simple_key_allowed {
                return Err(
                    self.scanner_error(self.mark(), "mapping keys are not allowed in this context")
                );
            }
            let m = self.mark();
            self.roll_indent(
                self.mark.column as isize,
                None,
                TokenKind::BlockMappingStart,
                m,
            )?;
        }
        self.remove_simple_key()?;
        self.simple_key_allowed = self.flow_level == 0;
        let start = self.mark();
        self.skip();
        self.push_token(TokenKind::Key, start);
        Ok(())
    }

    fn fetch_value(&mut self) -> R<()> {
        let i = self.simple_keys.len() - 1;
        if self.simple_key_is_valid(i)? {
            let key = self.simple_keys[i];
            let token = Token {
                kind: TokenKind::Key,
                start: key.mark,
            };
            self.insert_token(
                Some(key.token_number.saturating_sub(self.tokens_parsed)),
                token,
            );
            self.roll_indent(
                key.mark.column as isize,
                Some(key.token_number),
                TokenKind::BlockMappingStart,
                key.mark,
            )?;
            self.simple_keys[i].possible = false;
            self.simple_keys_by_tok.remove(&key.token_number);
            self.simple_key_allowed = false;
        } else {
            if self.flow_level == 0 {
                if !self.simple_key_allowed {
                    return Err(self.scanner_error(
                        self.mark(),
                        "mapping values are not allowed in this context",
                    ));
                }
                let m = self.mark();
                self.roll_indent(
                    self.mark.column as isize,
                    None,
                    TokenKind::BlockMappingStart,
                    m,
                )?;
            }
            self.simple_key_allowed = self.flow_level == 0;
        }
        let start = self.mark();
        self.skip();
        self.push_token(TokenKind::Value, start);
        Ok(())
    }

    fn fetch_anchor(&mut self, alias: bool) -> R<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_anchor(alias)?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_tag(&mut self) -> R<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_tag()?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_block_scalar(&mut self, literal: bool) -> R<()> {
        self.remove_simple_key()?;
        self.simple_key_allowed = true;
        let token = self.scan_block_scalar(literal)?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_flow_scalar(&mut self, single: bool) -> R<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_flow_scalar(single)?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn fetch_plain_scalar(&mut self) -> R<()> {
        self.save_simple_key()?;
        self.simple_key_allowed = false;
        let token = self.scan_plain_scalar()?;
        self.tokens.push_back(token);
        Ok(())
    }

    fn scan_to_next_token(&mut self) -> R<()> {
        loop {
            self.cache(1)?;
            if self.mark.column == 0 && self.buffer_starts_with_bom() {
                self.skip();
            }
            self.cache(1)?;
            let tabs = self.flow_level > 0 || !self.simple_key_allowed;
            while self.at(0) == b' ' || (tabs && self.at(0) == b'\t') {
                self.skip();
                self.cache(1)?;
                let n = self.ascii_run(1, |c| c == b' ' || (tabs && c == b'\t'));
                self.skip_ascii(n);
            }
            if self.at(0) == b'#' {
                while !self.is_breakz() {
                    self.skip();
                    self.cache(1)?;
                    let n = self.ascii_run(1, |c| !matches!(c, b'\r' | b'\n' | 0));
                    self.skip_ascii(n);
                }
            }
            if self.is_break() {
                self.cache(2)?;
                self.skip_line();
                if self.flow_level == 0 {
                    self.simple_key_allowed = true;
                }
            } else {
                break;
            }
        }
        Ok(())
    }

    fn scan_directive(&mut self) -> R<Token> {
        let start = self.mark();
        self.skip();
        let name = self.scan_directive_name(start)?;
        let kind = if name == b"YAML" {
            let (major, minor) = self.scan_version_directive_value(start)?;
            TokenKind::VersionDirective(major, minor)
        } else if name == b"TAG" {
            let (handle, prefix) = self.scan_tag_directive_value(start)?;
            TokenKind::TagDirective(handle, prefix)
        } else {
            return Err(self.scanner_error(start, "found unknown directive name"));
        };
        self.cache(1)?;
        while self.is_blank() {
            self.skip();
            self.cache(1)?;
        }
        if self.at(0) == b'#' {
            while !self.is_breakz() {
                self.skip();
                self.cache(1)?;
            }
        }
        if !self.is_breakz() {
            return Err(self.scanner_error(start, "did not find expected comment or line break"));
        }
        if self.is_break() {
            self.cache(2)?;
            self.skip_line();
        }
        Ok(Token { kind, start })
    }

    fn scan_directive_name(&mut self, start: Mark) -> R<Vec<u8>> {
        self.cache(1)?;
        let mut s = Vec::new();
        while is_alpha_byte(self.at(0)) {
            self.read(&mut s);
            self.cache(1)?;
        }
        if s.is_empty() {
            return Err(self.scanner_error(start, "could not find expected directive name"));
        }
        if !self.is_blankz() {
            return Err(self.scanner_error(start, "found unexpected non-alphabetical character"));
        }
        Ok(s)
    }

    fn scan_version_directive_value(&mut self, start: Mark) -> R<(u8, u8)> {
        self.cache(1)?;
        while self.is_blank() {
            self.skip();
            self.cache(1)?;
        }
        let major = self.scan_version_directive_number(start)?;
        if self.at(0) != b'.' {
            return Err(self.scanner_error(start, "did not find expected digit or '.' character"));
        }
        self.skip();
        let minor = self.scan_version_directive_number(start)?;
        Ok((major, minor))
    }

    fn scan_version_directive_number(&mut self, start: Mark) -> R<u8> {
        self.cache(1)?;
        let mut value: u8 = 0;
        let mut length = 0;
        while self.at(0).is_ascii_digit() {
            length += 1;
            if length > 2 {
                return Err(self.scanner_error(start, "found extremely long version number"));
            }
            value = value * 10 + (self.at(0) - b'0');
            self.skip();
            self.cache(1)?;
        }
        if length == 0 {
            return Err(self.scanner_error(start, "did not find expected version number"));
        }
        Ok(value)
    }

    fn scan_tag_directive_value(&mut self, start: Mark) -> R<(Vec<u8>, Vec<u8>)> {
        self.cache(1)?;
        while self.is_blank() {
            self.skip();
            self.cache(1)?;
        }
        let handle = self.scan_tag_handle(true, start)?;
        self.cache(1)?;
        if !self.is_blank() {
            return Err(self.scanner_error(start, "did not find expected whitespace"));
        }
        while self.is_blank() {
            self.skip();
            self.cache(1)?;
        }
        let prefix = self.scan_tag_uri(true, &[], start)?;
        self.cache(1)?;
        if !self.is_blankz() {
            return Err(self.scanner_error(start, "did not find expected whitespace or line break"));
        }
        Ok((handle, prefix))
    }

    fn scan_anchor(&mut self, alias: bool) -> R<Token> {
        let start = self.mark();
        self.skip();
        self.cache(1)?;
        let mut s = Vec::new();
        while is_alpha_byte(self.at(0)) {
            self.read(&mut s);
            self.cache(1)?;
        }
        if s.is_empty()
            || !(self.is_blankz()
                || matches!(
                    self.at(0),
                    b'?' | b':' | b',' | b']' | b'}' | b'%' | b'@' | b'`'
                ))
        {
            return Err(self.scanner_error(
                start,
                "did not find expected alphabetic or numeric character",
            ));
        }
        let kind = if alias {
            TokenKind::Alias(s)
        } else {
            TokenKind::Anchor(s)
        };
        Ok(Token { kind, start })
    }

    fn scan_tag(&mut self) -> R<Token> {
        let start = self.mark();
        self.cache(2)?;
        let (handle, suffix);
        if self.at(1) == b'<' {
            self.skip();
            self.skip();
            suffix = self.scan_tag_uri(false, &[], start)?;
            if self.at(0) != b'>' {
                return Err(self.scanner_error(start, "did not find the expected '>'"));
            }
            self.skip();
            handle = Vec::new();
        } else {
            let h = self.scan_tag_handle(false, start)?;
            if h[0] == b'!' && h.len() > 1 && h[h.len() - 1] == b'!' {
                suffix = self.scan_tag_uri(false, &[], start)?;
                handle = h;
            } else {
                let s = self.scan_tag_uri(false, &h, start)?;
                if s.is_empty() {
                    handle = Vec::new();
                    suffix = b"!".to_vec();
                } else {
                    handle = b"!".to_vec();
                    suffix = s;
                }
            }
        }
        self.cache(1)?;
        if !self.is_blankz() {
            return Err(self.scanner_error(start, "did not find expected whitespace or line break"));
        }
        Ok(Token {
            kind: TokenKind::Tag(handle, suffix),
            start,
        })
    }

    fn scan_tag_handle(&mut self, directive: bool, start: Mark) -> R<Vec<u8>> {
        self.cache(1)?;
        if self.at(0) != b'!' {
            return Err(self.scanner_error(start, "did not find expected '!'"));
        }
        let mut s = Vec::new();
        self.read(&mut s);
        self.cache(1)?;
        while is_alpha_byte(self.at(0)) {
            self.read(&mut s);
            self.cache(1)?;
        }
        if self.at(0) == b'!' {
            self.read(&mut s);
        } else if directive && s != b"!" {
            return Err(self.scanner_error(start, "did not find expected '!'"));
        }
        Ok(s)
    }

    fn scan_tag_uri(&mut self, directive: bool, head: &[u8], start: Mark) -> R<Vec<u8>> {
        let mut s = Vec::new();
        let mut has_tag = !head.is_empty();
        if head.len() > 1 {
            s.extend_from_slice(&head[1..]);
        }
        self.cache(1)?;
        loop {
            let c = self.at(0);
            if !(is_alpha_byte(c)
                || matches!(
                    c,
                    b';' | b'/'
                        | b'?'
                        | b':'
                        | b'@'
                        | b'&'
                        | b'='
                        | b'+'
                        | b'$'
                        | b','
                        | b'.'
                        | b'!'
                        | b'~'
                        | b'*'
                        | b'\''
                        | b'('
                        | b')'
                        | b'['
                        | b']'
                        | b'%'
                ))
            {
                break;
            }
            if c == b'%' {
                self.scan_uri_escapes(directive, start, &mut s)?;
            } else {
                self.read(&mut s);
            }
            self.cache(1)?;
            has_tag = true;
        }
        if !has_tag {
            return Err(self.scanner_error(start, "did not find expected tag URI"));
        }
        Ok(s)
    }

    fn scan_uri_escapes(&mut self, _directive: bool, start: Mark, s: &mut Vec<u8>) -> R<()> {
        let mut w = 1024usize;
        while w > 0 {
            self.cache(3)?;
            if !(self.at(0) == b'%'
                && self.at(1).is_ascii_hexdigit()
                && self.at(2).is_ascii_hexdigit())
            {
                return Err(self.scanner_error(start, "did not find URI escaped octet"));
            }
            let octet = ((as_hex(self.at(1)) << 4) + as_hex(self.at(2))) as u8;
            if w == 1024 {
                w = width(octet);
                if w == 0 {
                    return Err(self.scanner_error(start, "found an incorrect leading UTF-8 octet"));
                }
            } else if octet & 0xC0 != 0x80 {
                return Err(self.scanner_error(start, "found an incorrect trailing UTF-8 octet"));
            }
            s.push(octet);
            self.skip();
            self.skip();
            self.skip();
            w -= 1;
        }
        Ok(())
    }

    fn scan_block_scalar(&mut self, literal: bool) -> R<Token> {
        let start = self.mark();
        self.skip();
        self.cache(1)?;
        let mut chomping = 0i8;
        let mut increment = 0isize;
        if matches!(self.at(0), b'+' | b'-') {
            chomping = if self.at(0) == b'+' { 1 } else { -1 };
            self.skip();
            self.cache(1)?;
            if self.at(0).is_ascii_digit() {
                if self.at(0) == b'0' {
                    return Err(
                        self.scanner_error(start, "found an indentation indicator equal to 0")
                    );
                }
                increment = isize::from(self.at(0) - b'0');
                self.skip();
            }
        } else if self.at(0).is_ascii_digit() {
            if self.at(0) == b'0' {
                return Err(self.scanner_error(start, "found an indentation indicator equal to 0"));
            }
            increment = isize::from(self.at(0) - b'0');
            self.skip();
            self.cache(1)?;
            if matches!(self.at(0), b'+' | b'-') {
                chomping = if self.at(0) == b'+' { 1 } else { -1 };
                self.skip();
            }
        }
        self.cache(1)?;
        while self.is_blank() {
            self.skip();
            self.cache(1)?;
        }
        if self.at(0) == b'#' {
            while !self.is_breakz() {
                self.skip();
                self.cache(1)?;
            }
        }
        if !self.is_breakz() {
            return Err(self.scanner_error(start, "did not find expected comment or line break"));
        }
        if self.is_break() {
            self.cache(2)?;
            self.skip_line();
        }
        let mut indent: isize = 0;
        if increment > 0 {
            indent = if self.indent >= 0 {
                self.indent + increment
            } else {
                increment
            };
        }
        let mut s = Vec::new();
        let mut leading_break = Vec::new();
        let mut trailing_breaks = Vec::new();
        self.scan_block_scalar_breaks(&mut indent, &mut trailing_breaks, start)?;
        self.cache(1)?;
        let mut leading_blank = false;
        while self.mark.column as isize == indent && self.at(0) != 0 {
            let trailing_blank = self.is_blank();
            if !literal
                && !leading_blank
                && !trailing_blank
                && leading_break.first() == Some(&b'\n')
            {
                if trailing_breaks.is_empty() {
                    s.push(b' ');
                }
            } else {
                s.extend_from_slice(&leading_break);
            }
            leading_break.clear();
            s.append(&mut trailing_breaks);
            leading_blank = self.is_blank();
            while !self.is_breakz() {
                self.read(&mut s);
                self.cache(1)?;
                let n = self.ascii_run(1, |c| !matches!(c, b'\r' | b'\n' | 0));
                self.read_ascii(n, &mut s);
            }
            self.cache(2)?;
            self.read_line(&mut leading_break);
            self.scan_block_scalar_breaks(&mut indent, &mut trailing_breaks, start)?;
        }
        if chomping != -1 {
            s.extend_from_slice(&leading_break);
        }
        if chomping == 1 {
            s.extend_from_slice(&trailing_breaks);
        }
        let style = if literal {
            ScalarStyle::Literal
        } else {
            ScalarStyle::Folded
        };
        Ok(Token {
            kind: TokenKind::Scalar(s, style),
            start,
        })
    }

    fn scan_block_scalar_breaks(
        &mut self,
        indent: &mut isize,
        breaks: &mut Vec<u8>,
        start: Mark,
    ) -> R<()> {
        let mut max_indent: isize = 0;
        loop {
            self.cache(1)?;
            while (*indent == 0 || (self.mark.column as isize) < *indent) && self.at(0) == b' ' {
                self.skip();
                self.cache(1)?;
            }
            max_indent = max_indent.max(self.mark.column as isize);
            if (*indent == 0 || (self.mark.column as isize) < *indent) && self.at(0) == b'\t' {
                return Err(self.scanner_error(
                    start,
                    "found a tab character where an indentation space is expected",
                ));
            }
            if !self.is_break() {
                break;
            }
            self.cache(2)?;
            self.read_line(breaks);
        }
        if *indent == 0 {
            *indent = max_indent.max(self.indent + 1).max(1);
        }
        Ok(())
    }

    fn scan_flow_scalar(&mut self, single: bool) -> R<Token> {
        let start = self.mark();
        self.skip();
        let mut s = Vec::new();
        let mut leading_break = Vec::new();
        let mut trailing_breaks = Vec::new();
        let mut whitespaces = Vec::new();
        loop {
            self.cache(4)?;
            if self.mark.column == 0
                && ((self.at(0) == b'-' && self.at(1) == b'-' && self.at(2) == b'-')
                    || (self.at(0) == b'.' && self.at(1) == b'.' && self.at(2) == b'.'))
                && self.is_blankz_at(self.pos + 3)
            {
                return Err(self.scanner_error(start, "found unexpected document indicator"));
            }
            if self.at(0) == 0 {
                return Err(self.scanner_error(start, "found unexpected end of stream"));
            }
            let mut leading_blanks = false;
            while !self.is_blankz() {
                let c = self.at(0);
                if single && c == b'\'' && self.at(1) == b'\'' {
                    s.push(b'\'');
                    self.skip();
                    self.skip();
                } else if c == if single { b'\'' } else { b'"' } {
                    break;
                } else if !single && c == b'\\' && self.is_break_at(self.pos + 1) {
                    self.cache(3)?;
                    self.skip();
                    self.skip_line();
                    leading_blanks = true;
                    break;
                } else if !single && c == b'\\' {
                    let mut code_length = 0usize;
                    match self.at(1) {
                        b'0' => s.push(0),
                        b'a' => s.push(0x07),
                        b'b' => s.push(0x08),
                        b't' | b'\t' => s.push(0x09),
                        b'n' => s.push(0x0A),
                        b'v' => s.push(0x0B),
                        b'f' => s.push(0x0C),
                        b'r' => s.push(0x0D),
                        b'e' => s.push(0x1B),
                        b' ' => s.push(b' '),
                        b'"' => s.push(b'"'),
                        b'\'' => s.push(b'\''),
                        b'\\' => s.push(b'\\'),
                        b'N' => s.extend_from_slice(b"\xC2\x85"),
                        b'_' => s.extend_from_slice(b"\xC2\xA0"),
                        b'L' => s.extend_from_slice(b"\xE2\x80\xA8"),
                        b'P' => s.extend_from_slice(b"\xE2\x80\xA9"),
                        b'x' => code_length = 2,
                        b'u' => code_length = 4,
                        b'U' => code_length = 8,
                        _ => {
                            return Err(self.scanner_error(start, "found unknown escape character"));
                        }
                    }
                    self.skip();
                    self.skip();
                    if code_length > 0 {
                        self.cache(code_length as isize)?;
                        let mut value: u32 = 0;
                        for k in 0..code_length {
                            if !self.at(k).is_ascii_hexdigit() {
                                return Err(self.scanner_error(
                                    start,
                                    "did not find expected hexdecimal number",
                                ));
                            }
                            value = (value << 4) + as_hex(self.at(k));
                        }
                        if (0xD800..=0xDFFF).contains(&value) || value > 0x10FFFF {
                            return Err(self.scanner_error(
                                start,
                                "found invalid Unicode character escape code",
                            ));
                        }
                        push_utf8(&mut s, value);
                        for _ in 0..code_length {
                            self.skip();
                        }
                    }
                } else {
                    self.read(&mut s);
                }
                self.cache(2)?;
                let n = self.ascii_run(2, |c| {
                    !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0 | b'\'' | b'"' | b'\\')
                });
                self.read_ascii(n, &mut s);
            }
            self.cache(1)?;
            if self.at(0) == if single { b'\'' } else { b'"' } {
                break;
            }
            while self.is_blank() || self.is_break() {
                if self.is_blank() {
                    if !leading_blanks {
                        self.read(&mut whitespaces);
                    } else {
                        self.skip();
                    }
                } else {
                    self.cache(2)?;
                    if !leading_blanks {
                        whitespaces.clear();
                        self.read_line(&mut leading_break);
                        leading_blanks = true;
                    } else {
                        self.read_line(&mut trailing_breaks);
                    }
                }
                self.cache(1)?;
            }
            if leading_blanks {
                if leading_break.first() == Some(&b'\n') {
                    if trailing_breaks.is_empty() {
                        s.push(b' ');
                    } else {
                        s.extend_from_slice(&trailing_breaks);
                    }
                } else {
                    s.extend_from_slice(&leading_break);
                    s.extend_from_slice(&trailing_breaks);
                }
                trailing_breaks.clear();
                leading_break.clear();
            } else {
                s.append(&mut whitespaces);
            }
        }
        self.skip();
        let style = if single {
            ScalarStyle::SingleQuoted
        } else {
            ScalarStyle::DoubleQuoted
        };
        Ok(Token {
            kind: TokenKind::Scalar(s, style),
            start,
        })
    }

    fn scan_plain_scalar(&mut self) -> R<Token> {
        let mut s = Vec::new();
        let mut leading_break = Vec::new();
        let mut trailing_breaks = Vec::new();
        let mut whitespaces = Vec::new();
        let mut leading_blanks = false;
        let indent = self.indent + 1;
        let start = self.mark();
        loop {
            self.cache(4)?;
            if self.mark.column == 0
                && ((self.at(0) == b'-' && self.at(1) == b'-' && self.at(2) == b'-')
                    || (self.at(0) == b'.' && self.at(1) == b'.' && self.at(2) == b'.'))
                && self.is_blankz_at(self.pos + 3)
            {
                break;
            }
            if self.at(0) == b'#' {
                break;
            }
            while !self.is_blankz() {
                let c = self.at(0);
                if (c == b':' && self.is_blankz_at(self.pos + 1))
                    || (self.flow_level > 0 && matches!(c, b',' | b'?' | b'[' | b']' | b'{' | b'}'))
                {
                    break;
                }
                if leading_blanks || !whitespaces.is_empty() {
                    if leading_blanks {
                        if leading_break.first() == Some(&b'\n') {
                            if trailing_breaks.is_empty() {
                                s.push(b' ');
                            } else {
                                s.extend_from_slice(&trailing_breaks);
                            }
                        } else {
                            s.extend_from_slice(&leading_break);
                            s.extend_from_slice(&trailing_breaks);
                        }
                        trailing_breaks.clear();
                        leading_break.clear();
                        leading_blanks = false;
                    } else {
                        s.append(&mut whitespaces);
                    }
                }
                self.read(&mut s);
                self.cache(2)?;
                let flow = self.flow_level > 0;
                let n = self.ascii_run(2, |c| {
                    let stop = matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0 | b':')
                        || (flow && matches!(c, b',' | b'?' | b'[' | b']' | b'{' | b'}'));
                    !stop
                });
                self.read_ascii(n, &mut s);
            }
            if !(self.is_blank() || self.is_break()) {
                break;
            }
            self.cache(1)?;
            while self.is_blank() || self.is_break() {
                if self.is_blank() {
                    if leading_blanks && (self.mark.column as isize) < indent && self.at(0) == b'\t'
                    {
                        return Err(self.scanner_error(
                            start,
                            "found a tab character that violates indentation",
                        ));
                    }
                    if !leading_blanks {
                        self.read(&mut whitespaces);
                    } else {
                        self.skip();
                    }
                } else {
                    self.cache(2)?;
                    if !leading_blanks {
                        whitespaces.clear();
                        self.read_line(&mut leading_break);
                        leading_blanks = true;
                    } else {
                        self.read_line(&mut trailing_breaks);
                    }
                }
                self.cache(1)?;
            }
            if self.flow_level == 0 && (self.mark.column as isize) < indent {
                break;
            }
        }
        if leading_blanks {
            self.simple_key_allowed = true;
        }
        Ok(Token {
            kind: TokenKind::Scalar(s, ScalarStyle::Plain),
            start,
        })
    }

    // ---- parser (parserc.go) ----

    /// The next token's kind and start, fetched if need be.
    fn peek_token(&mut self) -> R<(K, Mark)> {
        if !self.token_available {
            self.fetch_more_tokens()?;
        }
        match self.tokens.front() {
            Some(t) => Ok((t.kind.k(), t.start)),
            None => Err(self.parser_error("did not find expected <stream-start>", self.mark())),
        }
    }

    /// Consume the next token (peeked before).
    fn skip_token(&mut self) -> Option<Token> {
        self.token_available = false;
        self.tokens_parsed += 1;
        let t = self.tokens.pop_front();
        self.stream_end_produced = matches!(
            t,
            Some(Token {
                kind: TokenKind::StreamEnd,
                ..
            })
        );
        t
    }

    fn parser_error(&self, problem: &'static str, problem_mark: Mark) -> ParseError {
        ParseError {
            kind: ErrorKind::Parser,
            problem: Cow::Borrowed(problem),
            problem_mark,
            context_mark: Mark::default(),
            offset: problem_mark.offset,
        }
    }

    fn parser_error_context(
        &self,
        context_mark: Mark,
        problem: &'static str,
        problem_mark: Mark,
    ) -> ParseError {
        ParseError {
            context_mark,
            ..self.parser_error(problem, problem_mark)
        }
    }

    fn pop_state(&mut self) {
        self.state = self.states.pop().unwrap_or(State::End);
    }

    /// The next event; `None` after the stream's end or an error.
    pub fn next_event(&mut self) -> R<Option<Event>> {
        if self.failed || self.stream_end_produced || self.state == State::End {
            return Ok(None);
        }
        let r = self.state_machine();
        if r.is_err() {
            self.failed = true;
        }
        r.map(Some)
    }

    fn state_machine(&mut self) -> R<Event> {
        match self.state {
            State::StreamStart => self.parse_stream_start(),
            State::ImplicitDocumentStart => self.parse_document_start(true),
            State::DocumentStart => self.parse_document_start(false),
            State::DocumentContent => self.parse_document_content(),
            State::DocumentEnd => self.parse_document_end(),
            State::BlockNode => self.parse_node(true, false),
            State::BlockSequenceFirstEntry => self.parse_block_sequence_entry(true),
            State::BlockSequenceEntry => self.parse_block_sequence_entry(false),
            State::IndentlessSequenceEntry => self.parse_indentless_sequence_entry(),
            State::BlockMappingFirstKey => self.parse_block_mapping_key(true),
            State::BlockMappingKey => self.parse_block_mapping_key(false),
            State::BlockMappingValue => self.parse_block_mapping_value(),
            State::FlowSequenceFirstEntry => self.parse_flow_sequence_entry(true),
            State::FlowSequenceEntry => self.parse_flow_sequence_entry(false),
            State::FlowSequenceEntryMappingKey => self.parse_flow_sequence_entry_mapping_key(),
            State::FlowSequenceEntryMappingValue => self.parse_flow_sequence_entry_mapping_value(),
            State::FlowSequenceEntryMappingEnd => self.parse_flow_sequence_entry_mapping_end(),
            State::FlowMappingFirstKey => self.parse_flow_mapping_key(true),
            State::FlowMappingKey => self.parse_flow_mapping_key(false),
            State::FlowMappingValue => self.parse_flow_mapping_value(false),
            State::FlowMappingEmptyValue => self.parse_flow_mapping_value(true),
            State::End => Ok(Event::StreamEnd),
        }
    }

    fn parse_stream_start(&mut self) -> R<Event> {
        let (k, start) = self.peek_token()?;
        if k != K::StreamStart {
            return Err(self.parser_error("did not find expected <stream-start>", start));
        }
        self.state = State::ImplicitDocumentStart;
        self.skip_token();
        Ok(Event::StreamStart)
    }

    fn parse_document_start(&mut self, implicit: bool) -> R<Event> {
        let (mut k, _) = self.peek_token()?;
        if !implicit {
            while k == K::DocumentEnd {
                self.skip_token();
                k = self.peek_token()?.0;
            }
        }
        let directive_or_marker = matches!(
            k,
            K::VersionDirective | K::TagDirective | K::DocumentStart | K::StreamEnd
        );
        if implicit && !directive_or_marker {
            self.process_directives()?;
            self.states.push(State::DocumentEnd);
            self.state = State::BlockNode;
            Ok(Event::DocumentStart)
        } else if k != K::StreamEnd {
            self.process_directives()?;
            let (k, start) = self.peek_token()?;
            if k != K::DocumentStart {
                return Err(self.parser_error("did not find expected <document start>", start));
            }
            self.states.push(State::DocumentEnd);
            self.state = State::DocumentContent;
            self.skip_token();
            Ok(Event::DocumentStart)
        } else {
            self.state = State::End;
            self.skip_token();
            Ok(Event::StreamEnd)
        }
    }

    fn parse_document_content(&mut self) -> R<Event> {
        let (k, _) = self.peek_token()?;
        if matches!(
            k,
            K::VersionDirective
                | K::TagDirective
                | K::DocumentStart
                | K::DocumentEnd
                | K::StreamEnd
        ) {
            self.pop_state();
            return Ok(empty_scalar());
        }
        self.parse_node(true, false)
    }

    fn parse_document_end(&mut self) -> R<Event> {
        let (k, _) = self.peek_token()?;
        if k == K::DocumentEnd {
            self.skip_token();
        }
        self.tag_directives.clear();
        self.state = State::DocumentStart;
        Ok(Event::DocumentEnd)
    }

    fn parse_node(&mut self, block: bool, indentless_sequence: bool) -> R<Event> {
        let (mut k, mut start) = self.peek_token()?;
        if k == K::Alias {
            self.pop_state();
            let Some(Token {
                kind: TokenKind::Alias(name),
                ..
            }) = self.skip_token()
            else {
                unreachable!("an alias token was peeked")
            };
            return Ok(Event::Alias {
                anchor: string_of(name),
            });
        }
        let start_mark = start;
        let mut anchor = None;
        let mut tag_token: Option<(Vec<u8>, Vec<u8>)> = None;
        let mut tag_mark = Mark::default();
        let take_anchor = |p: &mut Self| match p.skip_token() {
            Some(Token {
                kind: TokenKind::Anchor(name),
                ..
            }) => Some(name),
            _ => None,
        };
        let take_tag = |p: &mut Self| match p.skip_token() {
            Some(Token {
                kind: TokenKind::Tag(h, s),
                ..
            }) => Some((h, s)),
            _ => None,
        };
        if k == K::Anchor {
            anchor = take_anchor(self);
            (k, start) = self.peek_token()?;
            if k == K::Tag {
                tag_mark = start;
                tag_token = take_tag(self);
                (k, start) = self.peek_token()?;
            }
        } else if k == K::Tag {
            tag_mark = start;
            tag_token = take_tag(self);
            (k, start) = self.peek_token()?;
            if k == K::Anchor {
                anchor = take_anchor(self);
                (k, start) = self.peek_token()?;
            }
        }
        let mut tag: Vec<u8> = Vec::new();
        if let Some((handle, suffix)) = tag_token {
            if handle.is_empty() {
                tag = suffix;
            } else {
                if let Some((_, prefix)) = self.tag_directives.iter().find(|(h, _)| *h == handle) {
                    tag = prefix.clone();
                    tag.extend_from_slice(&suffix);
                }
                if tag.is_empty() {
                    return Err(self.parser_error_context(
                        start_mark,
                        "found undefined tag handle",
                        tag_mark,
                    ));
                }
            }
        }
        let anchor = anchor.map(string_of);
        let tag_is_bang = tag.as_slice() == b"!";
        let tag = (!tag.is_empty()).then(|| string_of(tag));
        if indentless_sequence && k == K::BlockEntry {
            self.state = State::IndentlessSequenceEntry;
            return Ok(Event::SequenceStart { anchor, tag });
        }
        if k == K::Scalar {
            self.pop_state();
            let Some(Token {
                kind: TokenKind::Scalar(value, style),
                ..
            }) = self.skip_token()
            else {
                unreachable!("a scalar token was peeked")
            };
            let plain_implicit = (tag.is_none() && style == ScalarStyle::Plain) || tag_is_bang;
            return Ok(Event::Scalar {
                anchor,
                tag,
                value: string_of(value),
                style,
                plain_implicit,
            });
        }
        match k {
            K::FlowSequenceStart => {
                self.state = State::FlowSequenceFirstEntry;
                return Ok(Event::SequenceStart { anchor, tag });
            }
            K::FlowMappingStart => {
                self.state = State::FlowMappingFirstKey;
                return Ok(Event::MappingStart { anchor, tag });
            }
            K::BlockSequenceStart if block => {
                self.state = State::BlockSequenceFirstEntry;
                return Ok(Event::SequenceStart { anchor, tag });
            }
            K::BlockMappingStart if block => {
                self.state = State::BlockMappingFirstKey;
                return Ok(Event::MappingStart { anchor, tag });
            }
            _ => {}
        }
        if anchor.is_some() || tag.is_some() {
            self.pop_state();
            return Ok(Event::Scalar {
                anchor,
                plain_implicit: tag.is_none(),
                tag,
                value: String::new(),
                style: ScalarStyle::Plain,
            });
        }
        Err(self.parser_error_context(start_mark, "did not find expected node content", start))
    }

    fn parse_block_sequence_entry(&mut self, first: bool) -> R<Event> {
        if first {
            let (_, m) = self.peek_token()?;
            self.marks.push(m);
            self.skip_token();
        }
        let (k, start) = self.peek_token()?;
        match k {
            K::BlockEntry => {
                self.skip_token();
                let (k, _) = self.peek_token()?;
                if !matches!(k, K::BlockEntry | K::BlockEnd) {
                    self.states.push(State::BlockSequenceEntry);
                    self.parse_node(true, false)
                } else {
                    self.state = State::BlockSequenceEntry;
                    Ok(empty_scalar())
                }
            }
            K::BlockEnd => {
                self.pop_state();
                self.marks.pop();
                self.skip_token();
                Ok(Event::SequenceEnd)
            }
            _ => {
                let context = self.marks.pop().unwrap_or_default();
                Err(self.parser_error_context(
                    context,
                    "did not find expected '-' indicator",
                    start,
                ))
            }
        }
    }

    fn parse_indentless_sequence_entry(&mut self) -> R<Event> {
        let (k, _) = self.peek_token()?;
        if k == K::BlockEntry {
            self.skip_token();
            let (k, _) = self.peek_token()?;
            if !matches!(k, K::BlockEntry | K::Key | K::Value | K::BlockEnd) {
                self.states.push(State::IndentlessSequenceEntry);
                return self.parse_node(true, false);
            }
            self.state = State::IndentlessSequenceEntry;
            return Ok(empty_scalar());
        }
        self.pop_state();
        Ok(Event::SequenceEnd)
    }

    fn parse_block_mapping_key(&mut self, first: bool) -> R<Event> {
        if first {
            let (_, m) = self.peek_token()?;
            self.marks.push(m);
            self.skip_token();
        }
        let (k, start) = self.peek_token()?;
        match k {
            K::Key => {
                self.skip_token();
                let (k, _) = self.peek_token()?;
                if !matches!(k, K::Key | K::Value | K::BlockEnd) {
                    self.states.push(State::BlockMappingValue);
                    self.parse_node(true, true)
                } else {
                    self.state = State::BlockMappingValue;
                    Ok(empty_scalar())
                }
            }
            K::BlockEnd => {
                self.pop_state();
                self.marks.pop();
                self.skip_token();
                Ok(Event::MappingEnd)
            }
            _ => {
                let context = self.marks.pop().unwrap_or_default();
                Err(self.parser_error_context(context, "did not find expected key", start))
            }
        }
    }

    fn parse_block_mapping_value(&mut self) -> R<Event> {
        let (k, _) = self.peek_token()?;
        if k == K::Value {
            self.skip_token();
            let (k, _) = self.peek_token()?;
            if !matches!(k, K::Key | K::Value | K::BlockEnd) {
                self.states.push(State::BlockMappingKey);
                return self.parse_node(true, true);
            }
        }
        self.state = State::BlockMappingKey;
        Ok(empty_scalar())
    }

    /// The start of a flow collection's entry, as go-yaml's parse_flow_sequence_entry and
    /// parse_flow_mapping_key share it: the collection's mark on the first one, then the `,`
    /// before any other (its absence is the error naming `close`). The token that follows.
    fn flow_entry_start(&mut self, first: bool, end: K, close: char) -> R<K> {
        if first {
            let (_, m) = self.peek_token()?;
            self.marks.push(m);
            self.skip_token();
        }
        let (k, start) = self.peek_token()?;
        if k == end || first {
            return Ok(k);
        }
        if k != K::FlowEntry {
            let context = self.marks.pop().unwrap_or_default();
            return Err(self.parser_error_context(
                context,
                if close == ']' {
                    "did not find expected ',' or ']'"
                } else {
                    "did not find expected ',' or '}'"
                },
                start,
            ));
        }
        self.skip_token();
        Ok(self.peek_token()?.0)
    }

    fn parse_flow_sequence_entry(&mut self, first: bool) -> R<Event> {
        let k = self.flow_entry_start(first, K::FlowSequenceEnd, ']')?;
        if k != K::FlowSequenceEnd {
            if k == K::Key {
                self.state = State::FlowSequenceEntryMappingKey;
                self.skip_token();
                return Ok(Event::MappingStart {
                    anchor: None,
                    tag: None,
                });
            } else if k != K::FlowSequenceEnd {
                self.states.push(State::FlowSequenceEntry);
                return self.parse_node(false, false);
            }
        }
        self.pop_state();
        self.marks.pop();
        self.skip_token();
        Ok(Event::SequenceEnd)
    }

    fn parse_flow_sequence_entry_mapping_key(&mut self) -> R<Event> {
        let (k, _) = self.peek_token()?;
        if !matches!(k, K::Value | K::FlowEntry | K::FlowSequenceEnd) {
            self.states.push(State::FlowSequenceEntryMappingValue);
            return self.parse_node(false, false);
        }
        self.skip_token();
        self.state = State::FlowSequenceEntryMappingValue;
        Ok(empty_scalar())
    }

    fn parse_flow_sequence_entry_mapping_value(&mut self) -> R<Event> {
        let (k, _) = self.peek_token()?;
        if k == K::Value {
            self.skip_token();
            let (k, _) = self.peek_token()?;
            if !matches!(k, K::FlowEntry | K::FlowSequenceEnd) {
                self.states.push(State::FlowSequenceEntryMappingEnd);
                return self.parse_node(false, false);
            }
        }
        self.state = State::FlowSequenceEntryMappingEnd;
        Ok(empty_scalar())
    }

    fn parse_flow_sequence_entry_mapping_end(&mut self) -> R<Event> {
        self.peek_token()?;
        self.state = State::FlowSequenceEntry;
        Ok(Event::MappingEnd)
    }

    fn parse_flow_mapping_key(&mut self, first: bool) -> R<Event> {
        let k = self.flow_entry_start(first, K::FlowMappingEnd, '}')?;
        if k != K::FlowMappingEnd {
            if k == K::Key {
                self.skip_token();
                let (k, _) = self.peek_token()?;
                if !matches!(k, K::Value | K::FlowEntry | K::FlowMappingEnd) {
                    self.states.push(State::FlowMappingValue);
                    return self.parse_node(false, false);
                }
                self.state = State::FlowMappingValue;
                return Ok(empty_scalar());
            } else if k != K::FlowMappingEnd {
                self.states.push(State::FlowMappingEmptyValue);
                return self.parse_node(false, false);
            }
        }
        self.pop_state();
        self.marks.pop();
        self.skip_token();
        Ok(Event::MappingEnd)
    }

    fn parse_flow_mapping_value(&mut self, empty: bool) -> R<Event> {
        let (k, _) = self.peek_token()?;
        if empty {
            self.state = State::FlowMappingKey;
            return Ok(empty_scalar());
        }
        if k == K::Value {
            self.skip_token();
            let (k, _) = self.peek_token()?;
            if !matches!(k, K::FlowEntry | K::FlowMappingEnd) {
                self.states.push(State::FlowMappingKey);
                return self.parse_node(false, false);
            }
        }
        self.state = State::FlowMappingKey;
        Ok(empty_scalar())
    }

    fn process_directives(&mut self) -> R<()> {
        let mut version_seen = false;
        loop {
            let (k, start) = self.peek_token()?;
            match k {
                K::VersionDirective => {
                    let Some(Token {
                        kind: TokenKind::VersionDirective(major, minor),
                        ..
                    }) = self.tokens.front().cloned()
                    else {
                        break;
                    };
                    if version_seen {
                        return Err(self.parser_error("found duplicate %YAML directive", start));
                    }
                    if major != 1 || minor != 1 {
                        return Err(self.parser_error("found incompatible YAML document", start));
                    }
                    version_seen = true;
                }
                K::TagDirective => {
                    let Some(Token {
                        kind: TokenKind::TagDirective(handle, prefix),
                        ..
                    }) = self.tokens.front().cloned()
                    else {
                        break;
                    };
                    if self.tag_directives.iter().any(|(h, _)| *h == handle) {
                        return Err(self.parser_error("found duplicate %TAG directive", start));
                    }
                    self.tag_directives.push((handle, prefix));
                }
                _ => break,
            }
            self.skip_token();
        }
        for (handle, prefix) in [(&b"!"[..], &b"!"[..]), (b"!!", b"tag:yaml.org,2002:")] {
            if !self.tag_directives.iter().any(|(h, _)| h == handle) {
                self.tag_directives.push((handle.to_vec(), prefix.to_vec()));
            }
        }
        Ok(())
    }
}

fn empty_scalar() -> Event {
    Event::Scalar {
        anchor: None,
        tag: None,
        value: String::new(),
        style: ScalarStyle::Plain,
        plain_implicit: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every event of every document, then the error if any.
    fn events(input: &[u8], bulk: bool) -> (Vec<Event>, Option<ParseError>) {
        let mut p = Parser::new(input);
        p.bulk = bulk;
        let mut out = Vec::new();
        loop {
            match p.next_event() {
                Ok(Some(ev)) => out.push(ev),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "k",
            ": ",
            "- ",
            "a b",
            "'",
            "\"",
            "\\",
            "\\\n",
            "\n",
            "\n  ",
            "  ",
            "\t",
            "#",
            " # c",
            "[",
            "]",
            "{",
            "}",
            ", ",
            "? ",
            "|",
            ">",
            "|2+",
            ">-",
            "&a ",
            "*a",
            "!!str ",
            "---",
            "...",
            "%YAML 1.1\n",
            "\r\n",
            "\u{85}",
            "\u{2028}",
            "\u{2029}",
            "\u{feff}",
            "é",
            "😀",
            "\u{1}",
            "\u{7f}",
            "\u{80}",
            "\u{fffe}",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// Taking runs of ASCII at once reads what go-yaml's character-by-character loops read,
        /// and refills the reader's buffer at the same places (where a U+FEFF there changes
        /// what the scanner skips).
        #[test]
        fn runs_read_as_single_characters(
            parts in prop::collection::vec(piece(), 0..80),
            pad in 0usize..600,
        ) {
            let mut doc = "x".repeat(pad);
            doc.insert(0, '#');
            doc.push('\n');
            doc.push_str(&parts.concat());
            let text = if pad % 3 == 0 { parts.concat() } else { doc };
            prop_assert_eq!(events(text.as_bytes(), true), events(text.as_bytes(), false));
        }

        /// No input panics the reader, the scanner or the parser.
        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
            let _ = events(&bytes, true);
        }
    }

    #[test]
    fn a_refill_at_a_byte_order_mark_skips_a_character_of_later_lines() {
        // the first BOM is dropped; the reader's buffer starts at the second one, so the
        // scanner skips the first character of each line after it
        let (_, e) = events("\u{feff}\u{feff}k: v\nl: w\n".as_bytes(), true);
        let e = e.expect("go-yaml refuses it");
        assert_eq!(e.problem, "did not find expected key");
        assert_eq!(e.go_line(), Some(1));
    }

    #[test]
    fn deep_nesting_stops_at_go_yaml_limits() {
        let (_, e) = events("[".repeat(10_001).as_bytes(), true);
        assert_eq!(e.unwrap().problem, "exceeded max depth of 10000");
        let mut deep = String::new();
        for i in 0..10_001 {
            deep.push_str(&" ".repeat(i));
            deep.push_str("- \n");
        }
        let (_, e) = events(deep.as_bytes(), true);
        assert!(e.is_some());
    }
}
