//! helm's `fromToml` decoder: BurntSushi/toml v1.4.0 (the version helm v3.17 links) as it
//! decodes into a `map[string]interface{}`, rewritten after its lex.go and parse.go so that
//! every text gives what helm gives: the same values (int64, float64, bool, string, time.Time
//! in its zone, `[]interface{}`, `map[string]interface{}` and, for arrays of tables,
//! `[]map[string]interface{}`), the same quirks (a dotted key's table survives `a = 2`, an
//! array value replaces an earlier value of its key, ...) and the same `ParseError` text,
//! `toml: line N (last key "k"): message`, with the line and last key BurntSushi reports.
//!
//! The lexer is BurntSushi's state machine (states named after its functions), reading runes
//! with its `next`/`backup`/`peek` (a backup of up to four runes, the line count moved with
//! them), so an error is found at the same place; the parser pulls items one at a time, as
//! BurntSushi's does from its lexer, and keeps BurntSushi's mapping, key types and implicit
//! tables. A Go panic in BurntSushi (its `BUG` messages, never reached by the inputs tried)
//! is reported as the panic text text/template would wrap.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::rc::Rc;

use super::gofmt::{go_quote, quote_rune};
// Key.String(): parts joined by dots, a part with other than A-Za-z0-9_- quoted
use super::toml_encode::key_string;
use super::value::Value;

/// What fromToml makes of a text.
pub struct Decoded {
    pub value: Value,
    /// The lists that are Go `[]map[string]interface {}` (arrays of tables), for `typeOf`.
    pub map_lists: Vec<Rc<Vec<Value>>>,
}

/// Why a text was not decoded.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// BurntSushi's `ParseError.Error()`: what helm puts in the map's `Error` key.
    Toml(String),
    /// A Go panic inside the decoder (text/template reports it as the call's error).
    Panic(String),
}

/// Decode `text` as helm's fromToml does.
pub fn decode(text: &str) -> Result<Decoded, Failure> {
    let root = parse(text.as_bytes()).map_err(|f| match f {
        Fail::Parse {
            line,
            last_key,
            msg,
        } => Failure::Toml(if last_key.is_empty() {
            format!("toml: line {line}: {msg}")
        } else {
            format!(
                "toml: line {line} (last key {}): {msg}",
                go_quote(&last_key)
            )
        }),
        Fail::Bug(m) => Failure::Panic(m),
    })?;
    let mut map_lists = Vec::new();
    let value = to_value(&Go::Map(root), &mut map_lists);
    Ok(Decoded { value, map_lists })
}

// ------------------------------------------------------------------ values

type GoMap = Rc<RefCell<HashMap<String, Go>>>;

/// A value of BurntSushi's mapping. Maps are shared, as Go maps are.
#[derive(Clone, Debug)]
enum Go {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(TomlTime),
    /// `[]interface{}`
    List(Vec<Go>),
    /// `map[string]interface{}`
    Map(GoMap),
    /// `[]map[string]interface{}` (an array of tables)
    Tables(Vec<GoMap>),
}

/// A time.Time as BurntSushi parses a TOML date-time: its fields, UTC offset (seconds) and
/// zone name as Go prints it.
#[derive(Clone, Debug)]
struct TomlTime {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    nsec: u32,
    offset: i32,
    zone: String,
}

fn new_map() -> GoMap {
    Rc::new(RefCell::new(HashMap::new()))
}

fn to_value(v: &Go, map_lists: &mut Vec<Rc<Vec<Value>>>) -> Value {
    match v {
        Go::Str(s) => Value::str(&super::value::go_string_from_str(s)),
        Go::Int(n) => Value::Int64(*n),
        Go::Float(f) => Value::Float(*f),
        Go::Bool(b) => Value::Bool(*b),
        Go::Time(t) => time_value(t),
        Go::List(l) => Value::list(l.iter().map(|x| to_value(x, map_lists)).collect()),
        Go::Map(m) => map_value(m, map_lists),
        Go::Tables(ts) => {
            let list = Rc::new(ts.iter().map(|m| map_value(m, map_lists)).collect());
            map_lists.push(Rc::clone(&list));
            Value::List(list)
        }
    }
}

fn map_value(m: &GoMap, map_lists: &mut Vec<Rc<Vec<Value>>>) -> Value {
    let m = m.borrow();
    let mut out = BTreeMap::new();
    for (k, v) in m.iter() {
        out.insert(
            super::value::go_string_from_str(k).into_owned(),
            to_value(v, map_lists),
        );
    }
    Value::map(out)
}

fn time_value(t: &TomlTime) -> Value {
    use chrono::NaiveDate;
    let instant = NaiveDate::from_ymd_opt(t.year, t.month, t.day)
        .and_then(|d| d.and_hms_nano_opt(t.hour, t.min, t.sec, t.nsec))
        .and_then(|local| local.checked_sub_signed(chrono::Duration::seconds(t.offset.into())));
    match instant {
        Some(instant) => super::dates::GoTime {
            instant: instant.and_utc(),
            offset: t.offset,
            mono: None,
            zone: Some(Rc::from(t.zone.as_str())),
        }
        .value(),
        None => Value::Nil,
    }
}

// ------------------------------------------------------------------ lexer

/// BurntSushi's `eof` rune.
const EOF: char = '\0';
const RUNE_ERROR: char = '\u{FFFD}';

#[derive(Clone, Copy, Debug, PartialEq)]
enum It {
    Error,
    Eof,
    Text,
    String,
    StringEsc,
    RawString,
    MultilineString,
    RawMultilineString,
    Bool,
    Integer,
    Float,
    Datetime,
    Array,
    ArrayEnd,
    TableStart,
    TableEnd,
    ArrayTableStart,
    ArrayTableEnd,
    KeyStart,
    KeyEnd,
    CommentStart,
    InlineTableStart,
    InlineTableEnd,
}

impl It {
    /// itemType.String().
    fn name(self) -> &'static str {
        match self {
            It::Error => "Error",
            It::Eof => "EOF",
            It::Text => "Text",
            It::String
            | It::StringEsc
            | It::RawString
            | It::MultilineString
            | It::RawMultilineString => "String",
            It::Bool => "Bool",
            It::Integer => "Integer",
            It::Float => "Float",
            It::Datetime => "DateTime",
            It::Array => "Array",
            It::ArrayEnd => "ArrayEnd",
            It::TableStart => "TableStart",
            It::TableEnd => "TableEnd",
            It::KeyStart => "KeyStart",
            It::KeyEnd => "KeyEnd",
            It::CommentStart => "CommentStart",
            It::InlineTableStart => "InlineTableStart",
            It::InlineTableEnd => "InlineTableEnd",
            // BurntSushi's String() has no case for these: it panics
            It::ArrayTableStart | It::ArrayTableEnd => "?",
        }
    }
}

#[derive(Clone, Debug)]
struct Item {
    typ: It,
    /// The text (bytes of the input; valid UTF-8 for every item before an error).
    val: String,
    line: usize,
    /// An error item's message.
    err: String,
}

/// The lexer's states (BurntSushi's stateFn), named after its functions.
#[derive(Clone, Copy, Debug, PartialEq)]
enum St {
    Top,
    TopEnd,
    TableStart,
    TableEnd,
    ArrayTableEnd,
    TableNameStart,
    TableNameEnd,
    BareName,
    QuotedName,
    KeyStart,
    KeyNameStart,
    KeyEnd,
    Value,
    ArrayValue,
    ArrayValueEnd,
    ArrayEnd,
    InlineTableValue,
    InlineTableValueEnd,
    InlineTableEnd,
    String,
    MultilineString,
    RawString,
    MultilineRawString,
    MultilineStringEscape,
    StringEscape,
    ShortUnicodeEscape,
    LongUnicodeEscape,
    NumberOrDateStart,
    NumberOrDate,
    Datetime,
    HexInteger,
    OctalInteger,
    BinaryInteger,
    DecimalNumber,
    DecimalNumberStart,
    BaseNumberOrDate,
    Float,
    Bool,
    CommentStart,
    Comment,
}

struct Lexer<'a> {
    input: &'a [u8],
    start: usize,
    pos: usize,
    line: usize,
    state: Option<St>,
    items: VecDeque<Item>,
    esc: bool,
    prev_widths: [usize; 4],
    nprev: usize,
    at_eof: bool,
    stack: Vec<St>,
    /// A Go panic raised while running a state.
    bug: Option<String>,
}

fn is_whitespace(r: char) -> bool {
    r == '\t' || r == ' '
}
fn is_nl(r: char) -> bool {
    r == '\n' || r == '\r'
}
fn is_control(r: char) -> bool {
    match r {
        '\t' | '\r' | '\n' => false,
        _ => (r as u32) <= 0x1f || r == '\u{7f}',
    }
}
fn is_digit(r: char) -> bool {
    r.is_ascii_digit()
}
fn is_binary(r: char) -> bool {
    r == '0' || r == '1'
}
fn is_octal(r: char) -> bool {
    ('0'..='7').contains(&r)
}
fn is_hex(r: char) -> bool {
    r.is_ascii_hexdigit()
}
fn is_bare_key_char(r: char) -> bool {
    r.is_ascii_alphanumeric() || r == '_' || r == '-'
}

/// utf8.DecodeRune: the rune at the start of `b` and its width; (RuneError, 1) for a byte
/// that does not start a valid sequence.
fn decode_rune(b: &[u8]) -> (char, usize) {
    let n = match b[0] {
        0x00..=0x7f => return (b[0] as char, 1),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (RUNE_ERROR, 1),
    };
    match b.get(..n).and_then(|s| std::str::from_utf8(s).ok()) {
        Some(s) => (s.chars().next().unwrap_or(RUNE_ERROR), n),
        None => (RUNE_ERROR, 1),
    }
}

/// "'" + string(r) + "'", or "end of file".
fn rune_or_eof(r: char) -> String {
    if r == EOF {
        "end of file".into()
    } else {
        format!("'{r}'")
    }
}

impl<'a> Lexer<'a> {
    fn new(input: &'a [u8]) -> Self {
        Lexer {
            input,
            start: 0,
            pos: 0,
            line: 1,
            state: Some(St::Top),
            items: VecDeque::new(),
            esc: false,
            prev_widths: [0; 4],
            nprev: 0,
            at_eof: false,
            stack: Vec::new(),
            bug: None,
        }
    }

    /// nextItem: run states until an item is ready.
    fn next_item(&mut self) -> Result<Item, Fail> {
        loop {
            if let Some(it) = self.items.pop_front() {
                return Ok(it);
            }
            let Some(state) = self.state else {
                // calling a nil stateFn
                return Err(Fail::Bug(
                    "runtime error: invalid memory address or nil pointer dereference".into(),
                ));
            };
            self.state = self.step(state);
            if let Some(b) = self.bug.take() {
                return Err(Fail::Bug(b));
            }
        }
    }

    fn push(&mut self, s: St) {
        self.stack.push(s);
    }

    fn pop(&mut self) -> Option<St> {
        match self.stack.pop() {
            Some(s) => Some(s),
            None => self.errorf("BUG in lexer: no states to pop".into()),
        }
    }

    fn current(&self) -> String {
        String::from_utf8_lossy(self.input.get(self.start..self.pos).unwrap_or_default())
            .into_owned()
    }

    fn emit(&mut self, typ: It) {
        // multi-line strings ending with an incomplete UTF-8 sequence
        if self.start > self.pos {
            let b = self.input.get(self.pos).copied().unwrap_or(0);
            self.error(format!("invalid UTF-8 byte: 0x{b:02x}"));
            return;
        }
        let val = self.current();
        self.push_item(typ, val);
        self.start = self.pos;
    }

    fn emit_trim(&mut self, typ: It) {
        let val = self.current().trim().to_string();
        self.push_item(typ, val);
        self.start = self.pos;
    }

    fn push_item(&mut self, typ: It, val: String) {
        self.items.push_back(Item {
            typ,
            val,
            line: self.line,
            err: String::new(),
        });
    }

    fn next(&mut self) -> char {
        if self.at_eof {
            self.bug = Some("BUG in lexer: next called after EOF".into());
            return EOF;
        }
        if self.pos >= self.input.len() {
            self.at_eof = true;
            return EOF;
        }
        if self.input[self.pos] == b'\n' {
            self.line += 1;
        }
        self.prev_widths[3] = self.prev_widths[2];
        self.prev_widths[2] = self.prev_widths[1];
        self.prev_widths[1] = self.prev_widths[0];
        if self.nprev < 4 {
            self.nprev += 1;
        }
        let (r, w) = decode_rune(&self.input[self.pos..]);
        if r == RUNE_ERROR && w == 1 {
            let b = self.input[self.pos];
            self.error(format!("invalid UTF-8 byte: 0x{b:02x}"));
            return RUNE_ERROR;
        }
        let lone_cr =
            r == '\r' && (self.input.len() - 1 == self.pos || self.input[self.pos + 1] != b'\n');
        if is_control(r) || lone_cr {
            self.error_at_line(format!(
                "TOML files cannot contain control characters: '0x{:02x}'",
                r as u32
            ));
            return RUNE_ERROR;
        }
        self.prev_widths[0] = w;
        self.pos += w;
        r
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    fn backup(&mut self) {
        if self.at_eof {
            self.at_eof = false;
            return;
        }
        if self.nprev < 1 {
            self.bug = Some("BUG in lexer: backed up too far".into());
            return;
        }
        let w = self.prev_widths[0];
        self.prev_widths[0] = self.prev_widths[1];
        self.prev_widths[1] = self.prev_widths[2];
        self.prev_widths[2] = self.prev_widths[3];
        self.nprev -= 1;
        self.pos = self.pos.saturating_sub(w);
        if self.pos < self.input.len() && self.input[self.pos] == b'\n' {
            self.line -= 1;
        }
    }

    fn accept(&mut self, valid: char) -> bool {
        if self.next() == valid {
            return true;
        }
        self.backup();
        false
    }

    fn peek(&mut self) -> char {
        let r = self.next();
        self.backup();
        r
    }

    fn skip(&mut self, pred: fn(char) -> bool) {
        loop {
            let r = self.next();
            if pred(r) && self.bug.is_none() {
                continue;
            }
            self.backup();
            self.ignore();
            return;
        }
    }

    fn error_item(&mut self, line: usize, err: String) -> Option<St> {
        self.items.push_back(Item {
            typ: It::Error,
            val: String::new(),
            line,
            err,
        });
        None
    }

    /// lx.error: at the end of the input, on the line before.
    fn error(&mut self, err: String) -> Option<St> {
        if self.at_eof {
            return self.error_prev_line(err);
        }
        self.error_item(self.line, err)
    }

    fn error_prev_line(&mut self, err: String) -> Option<St> {
        self.error_item(self.line.saturating_sub(1), err)
    }

    /// lx.errorPos (the line is the lexer's).
    fn error_at_line(&mut self, err: String) -> Option<St> {
        self.error_item(self.line, err)
    }

    fn errorf(&mut self, msg: String) -> Option<St> {
        self.error(msg)
    }

    fn step(&mut self, s: St) -> Option<St> {
        match s {
            St::Top => self.lex_top(),
            St::TopEnd => self.lex_top_end(),
            St::TableStart => self.lex_table_start(),
            St::TableEnd => {
                self.emit(It::TableEnd);
                Some(St::TopEnd)
            }
            St::ArrayTableEnd => {
                let r = self.next();
                if r != ']' {
                    return self.errorf(format!(
                        "expected end of table array name delimiter ']', but got {} instead",
                        quote_rune(r, false)
                    ));
                }
                self.emit(It::ArrayTableEnd);
                Some(St::TopEnd)
            }
            St::TableNameStart => self.lex_table_name_start(),
            St::TableNameEnd => self.lex_table_name_end(),
            St::BareName => {
                let r = self.next();
                if is_bare_key_char(r) {
                    return Some(St::BareName);
                }
                self.backup();
                self.emit(It::Text);
                self.pop()
            }
            St::QuotedName => self.lex_quoted_name(),
            St::KeyStart => self.lex_key_start(),
            St::KeyNameStart => self.lex_key_name_start(),
            St::KeyEnd => self.lex_key_end(),
            St::Value => self.lex_value(),
            St::ArrayValue => self.lex_array_value(),
            St::ArrayValueEnd => self.lex_array_value_end(),
            St::ArrayEnd => {
                self.ignore();
                self.emit(It::ArrayEnd);
                self.pop()
            }
            St::InlineTableValue => self.lex_inline_table_value(),
            St::InlineTableValueEnd => self.lex_inline_table_value_end(),
            St::InlineTableEnd => {
                self.ignore();
                self.emit(It::InlineTableEnd);
                self.pop()
            }
            St::String => self.lex_string(),
            St::MultilineString => self.lex_multiline_string(),
            St::RawString => self.lex_raw_string(),
            St::MultilineRawString => self.lex_multiline_raw_string(),
            St::MultilineStringEscape => {
                if is_nl(self.next()) {
                    return Some(St::MultilineString);
                }
                self.backup();
                self.push(St::MultilineString);
                self.lex_string_escape()
            }
            St::StringEscape => self.lex_string_escape(),
            St::ShortUnicodeEscape => self.lex_unicode_escape(4),
            St::LongUnicodeEscape => self.lex_unicode_escape(8),
            St::NumberOrDateStart => {
                let r = self.next();
                if r == '0' {
                    return Some(St::BaseNumberOrDate);
                }
                if !is_digit(r) {
                    return self
                        .errorf(format!("expected a digit but got {}", quote_rune(r, false)));
                }
                Some(St::NumberOrDate)
            }
            St::NumberOrDate => {
                let r = self.next();
                if is_digit(r) {
                    return Some(St::NumberOrDate);
                }
                match r {
                    '-' | ':' => Some(St::Datetime),
                    '_' => Some(St::DecimalNumber),
                    '.' | 'e' | 'E' => Some(St::Float),
                    _ => {
                        self.backup();
                        self.emit(It::Integer);
                        self.pop()
                    }
                }
            }
            St::Datetime => {
                let r = self.next();
                if is_digit(r) || matches!(r, '-' | ':' | 'T' | 't' | ' ' | '.' | 'Z' | 'z' | '+') {
                    return Some(St::Datetime);
                }
                self.backup();
                self.emit_trim(It::Datetime);
                self.pop()
            }
            St::HexInteger => self.lex_based_integer(St::HexInteger, is_hex),
            St::OctalInteger => self.lex_based_integer(St::OctalInteger, is_octal),
            St::BinaryInteger => self.lex_based_integer(St::BinaryInteger, is_binary),
            St::DecimalNumber => {
                let r = self.next();
                if is_digit(r) {
                    return Some(St::DecimalNumber);
                }
                match r {
                    '.' | 'e' | 'E' => Some(St::Float),
                    '_' => Some(St::DecimalNumber),
                    _ => {
                        self.backup();
                        self.emit(It::Integer);
                        self.pop()
                    }
                }
            }
            St::DecimalNumberStart => self.lex_decimal_number_start(),
            St::BaseNumberOrDate => self.lex_base_number_or_date(),
            St::Float => {
                let r = self.next();
                if is_digit(r) || matches!(r, '_' | '.' | '-' | '+' | 'e' | 'E') {
                    return Some(St::Float);
                }
                self.backup();
                self.emit(It::Float);
                self.pop()
            }
            St::Bool => self.lex_bool(),
            St::CommentStart => {
                self.ignore();
                self.emit(It::CommentStart);
                Some(St::Comment)
            }
            St::Comment => {
                let r = self.next();
                if is_nl(r) || r == EOF {
                    self.backup();
                    self.emit(It::Text);
                    return self.pop();
                }
                Some(St::Comment)
            }
        }
    }

    fn lex_top(&mut self) -> Option<St> {
        let r = self.next();
        if is_whitespace(r) || is_nl(r) {
            self.ignore();
            return Some(St::Top);
        }
        match r {
            '#' => {
                self.push(St::Top);
                return Some(St::CommentStart);
            }
            '[' => return Some(St::TableStart),
            EOF => {
                if self.pos > self.start {
                    return self.errorf("unexpected EOF".into());
                }
                self.emit(It::Eof);
                return None;
            }
            _ => {}
        }
        self.backup();
        self.push(St::TopEnd);
        Some(St::KeyStart)
    }

    fn lex_top_end(&mut self) -> Option<St> {
        let r = self.next();
        if r == '#' {
            self.push(St::Top);
            return Some(St::CommentStart);
        }
        if is_whitespace(r) {
            return Some(St::TopEnd);
        }
        if is_nl(r) {
            self.ignore();
            return Some(St::Top);
        }
        if r == EOF {
            self.emit(It::Eof);
            return None;
        }
        self.errorf(format!(
            "expected a top-level item to end with a newline, comment, or EOF, but got {} instead",
            quote_rune(r, false)
        ))
    }

    fn lex_table_start(&mut self) -> Option<St> {
        if self.peek() == '[' {
            self.next();
            self.emit(It::ArrayTableStart);
            self.push(St::ArrayTableEnd);
        } else {
            self.emit(It::TableStart);
            self.push(St::TableEnd);
        }
        Some(St::TableNameStart)
    }

    fn lex_table_name_start(&mut self) -> Option<St> {
        self.skip(is_whitespace);
        let r = self.peek();
        match r {
            ']' | EOF => {
                self.errorf("unexpected end of table name (table names cannot be empty)".into())
            }
            '.' => self.errorf("unexpected table separator (table names cannot be empty)".into()),
            '"' | '\'' => {
                self.ignore();
                self.push(St::TableNameEnd);
                Some(St::QuotedName)
            }
            _ => {
                self.push(St::TableNameEnd);
                Some(St::BareName)
            }
        }
    }

    fn lex_table_name_end(&mut self) -> Option<St> {
        self.skip(is_whitespace);
        let r = self.next();
        match r {
            _ if is_whitespace(r) => Some(St::TableNameEnd),
            '.' => {
                self.ignore();
                Some(St::TableNameStart)
            }
            ']' => self.pop(),
            _ => self.errorf(format!(
                "expected '.' or ']' to end table name, but got {} instead",
                quote_rune(r, false)
            )),
        }
    }

    fn lex_quoted_name(&mut self) -> Option<St> {
        let r = self.next();
        match r {
            _ if is_whitespace(r) => {
                self.ignore();
                Some(St::Value)
            }
            '"' => {
                self.ignore();
                Some(St::String)
            }
            '\'' => {
                self.ignore();
                Some(St::RawString)
            }
            EOF => self.errorf("unexpected EOF; expected value".into()),
            _ => self.errorf(format!(
                "expected value but found {} instead",
                quote_rune(r, false)
            )),
        }
    }

    fn lex_key_start(&mut self) -> Option<St> {
        self.skip(is_whitespace);
        let r = self.peek();
        match r {
            '=' | EOF => self.errorf("unexpected '=': key name appears blank".into()),
            '.' => self.errorf("unexpected '.': keys cannot start with a '.'".into()),
            _ => {
                if r == '"' || r == '\'' {
                    self.ignore();
                }
                self.emit(It::KeyStart);
                Some(St::KeyNameStart)
            }
        }
    }

    fn lex_key_name_start(&mut self) -> Option<St> {
        self.skip(is_whitespace);
        let r = self.peek();
        match r {
            '=' | EOF => self.errorf("unexpected '='".into()),
            '.' => self.errorf("unexpected '.'".into()),
            '"' | '\'' => {
                self.ignore();
                self.push(St::KeyEnd);
                Some(St::QuotedName)
            }
            _ => {
                self.push(St::KeyEnd);
                Some(St::BareName)
            }
        }
    }

    fn lex_key_end(&mut self) -> Option<St> {
        self.skip(is_whitespace);
        let r = self.next();
        match r {
            _ if is_whitespace(r) => {
                self.ignore();
                Some(St::KeyEnd)
            }
            EOF => self.errorf("unexpected EOF; expected key separator '='".into()),
            '.' => {
                self.ignore();
                Some(St::KeyNameStart)
            }
            '=' => {
                self.emit(It::KeyEnd);
                self.ignore();
                Some(St::Value)
            }
            _ => self.errorf(format!(
                "expected '.' or '=', but got {} instead",
                quote_rune(r, false)
            )),
        }
    }

    fn lex_value(&mut self) -> Option<St> {
        let r = self.next();
        if is_whitespace(r) {
            self.ignore();
            return Some(St::Value);
        }
        if is_digit(r) {
            self.backup();
            return Some(St::NumberOrDateStart);
        }
        match r {
            '[' => {
                self.ignore();
                self.emit(It::Array);
                return Some(St::ArrayValue);
            }
            '{' => {
                self.ignore();
                self.emit(It::InlineTableStart);
                return Some(St::InlineTableValue);
            }
            '"' | '\'' => {
                if self.accept(r) {
                    if self.accept(r) {
                        self.ignore();
                        return Some(if r == '"' {
                            St::MultilineString
                        } else {
                            St::MultilineRawString
                        });
                    }
                    self.backup();
                }
                self.ignore();
                return Some(if r == '"' { St::String } else { St::RawString });
            }
            '.' => return self.errorf("floats must start with a digit, not '.'".into()),
            'i' | 'n'
                if (self.accept('n') && self.accept('f'))
                    || (self.accept('a') && self.accept('n')) =>
            {
                self.emit(It::Float);
                return self.pop();
            }
            '-' | '+' => return Some(St::DecimalNumberStart),
            _ => {}
        }
        if super::go_unicode::is_letter(r) {
            self.backup();
            return Some(St::Bool);
        }
        if r == EOF {
            return self.errorf("unexpected EOF; expected value".into());
        }
        self.errorf(format!(
            "expected value but found {} instead",
            quote_rune(r, false)
        ))
    }

    fn lex_array_value(&mut self) -> Option<St> {
        let r = self.next();
        if is_whitespace(r) || is_nl(r) {
            self.ignore();
            return Some(St::ArrayValue);
        }
        match r {
            '#' => {
                self.push(St::ArrayValue);
                Some(St::CommentStart)
            }
            ',' => self.errorf("unexpected comma".into()),
            ']' => Some(St::ArrayEnd),
            _ => {
                self.backup();
                self.push(St::ArrayValueEnd);
                Some(St::Value)
            }
        }
    }

    fn lex_array_value_end(&mut self) -> Option<St> {
        let r = self.next();
        if is_whitespace(r) || is_nl(r) {
            self.ignore();
            return Some(St::ArrayValueEnd);
        }
        match r {
            '#' => {
                self.push(St::ArrayValueEnd);
                Some(St::CommentStart)
            }
            ',' => {
                self.ignore();
                Some(St::ArrayValue)
            }
            ']' => Some(St::ArrayEnd),
            _ => self.errorf(format!(
                "expected a comma (',') or array terminator (']'), but got {}",
                rune_or_eof(r)
            )),
        }
    }

    fn lex_inline_table_value(&mut self) -> Option<St> {
        let r = self.next();
        if is_whitespace(r) {
            self.ignore();
            return Some(St::InlineTableValue);
        }
        if is_nl(r) {
            return self.error_prev_line("newlines not allowed within inline tables".into());
        }
        match r {
            '#' => {
                self.push(St::InlineTableValue);
                Some(St::CommentStart)
            }
            ',' => self.errorf("unexpected comma".into()),
            '}' => Some(St::InlineTableEnd),
            _ => {
                self.backup();
                self.push(St::InlineTableValueEnd);
                Some(St::KeyStart)
            }
        }
    }

    fn lex_inline_table_value_end(&mut self) -> Option<St> {
        let r = self.next();
        if is_whitespace(r) {
            self.ignore();
            return Some(St::InlineTableValueEnd);
        }
        if is_nl(r) {
            return self.error_prev_line("newlines not allowed within inline tables".into());
        }
        match r {
            '#' => {
                self.push(St::InlineTableValueEnd);
                Some(St::CommentStart)
            }
            ',' => {
                self.ignore();
                self.skip(is_whitespace);
                if self.peek() == '}' {
                    return self.errorf("trailing comma not allowed in inline tables".into());
                }
                Some(St::InlineTableValue)
            }
            '}' => Some(St::InlineTableEnd),
            _ => self.errorf(format!(
                "expected a comma or an inline table terminator '}}', but got {} instead",
                rune_or_eof(r)
            )),
        }
    }

    fn lex_string(&mut self) -> Option<St> {
        let r = self.next();
        match r {
            EOF => self.errorf("unexpected EOF; expected '\"'".into()),
            _ if is_nl(r) => self.error_prev_line("strings cannot contain newlines".into()),
            '\\' => {
                self.push(St::String);
                Some(St::StringEscape)
            }
            '"' => {
                self.backup();
                if self.esc {
                    self.esc = false;
                    self.emit(It::StringEsc);
                } else {
                    self.emit(It::String);
                }
                self.next();
                self.ignore();
                self.pop()
            }
            _ => Some(St::String),
        }
    }

    fn lex_multiline_string(&mut self) -> Option<St> {
        let r = self.next();
        match r {
            EOF => self.errorf("unexpected EOF; expected '\"\"\"'".into()),
            '\\' => Some(St::MultilineStringEscape),
            '"' => {
                if self.accept('"') {
                    if self.accept('"') {
                        if self.peek() == '"' {
                            let cur = self.current();
                            if cur.ends_with("\"\"\"\"\"") && !cur.ends_with("\\\"\"\"\"\"") {
                                return self.errorf("unexpected '\"\"\"\"\"\"'".into());
                            }
                            self.backup();
                            self.backup();
                            return Some(St::MultilineString);
                        }
                        self.backup();
                        self.backup();
                        self.backup();
                        self.esc = false;
                        self.emit(It::MultilineString);
                        self.next();
                        self.next();
                        self.next();
                        self.ignore();
                        return self.pop();
                    }
                    self.backup();
                }
                Some(St::MultilineString)
            }
            _ => Some(St::MultilineString),
        }
    }

    fn lex_raw_string(&mut self) -> Option<St> {
        let r = self.next();
        match r {
            EOF => self.errorf("unexpected EOF; expected \"'\"".into()),
            _ if is_nl(r) => self.error_prev_line("strings cannot contain newlines".into()),
            '\'' => {
                self.backup();
                self.emit(It::RawString);
                self.next();
                self.ignore();
                self.pop()
            }
            _ => Some(St::RawString),
        }
    }

    fn lex_multiline_raw_string(&mut self) -> Option<St> {
        let r = self.next();
        match r {
            EOF => self.errorf("unexpected EOF; expected \"'''\"".into()),
            '\'' => {
                if self.accept('\'') {
                    if self.accept('\'') {
                        if self.peek() == '\'' {
                            if self.current().ends_with("'''''") {
                                return self.errorf("unexpected \"''''''\"".into());
                            }
                            self.backup();
                            self.backup();
                            return Some(St::MultilineRawString);
                        }
                        self.backup();
                        self.backup();
                        self.backup();
                        self.emit(It::RawMultilineString);
                        self.next();
                        self.next();
                        self.next();
                        self.ignore();
                        return self.pop();
                    }
                    self.backup();
                }
                Some(St::MultilineRawString)
            }
            _ => Some(St::MultilineRawString),
        }
    }

    fn lex_string_escape(&mut self) -> Option<St> {
        self.esc = true;
        let r = self.next();
        match r {
            'b' | 't' | 'n' | 'f' | 'r' | '"' | ' ' | '\t' | '\\' => self.pop(),
            'u' => Some(St::ShortUnicodeEscape),
            'U' => Some(St::LongUnicodeEscape),
            _ => self.error(format!("invalid escape in string '\\{r}'")),
        }
    }

    fn lex_unicode_escape(&mut self, digits: usize) -> Option<St> {
        for _ in 0..digits {
            let r = self.next();
            if !is_hex(r) {
                let (what, esc) = if digits == 4 {
                    ("four", 'u')
                } else {
                    ("eight", 'U')
                };
                let cur = self.current();
                return self.errorf(format!(
                    "expected {what} hexadecimal digits after '\\{esc}', but got {} instead",
                    go_quote(&cur)
                ));
            }
        }
        self.pop()
    }

    fn lex_based_integer(&mut self, me: St, digit: fn(char) -> bool) -> Option<St> {
        let r = self.next();
        if digit(r) || r == '_' {
            return Some(me);
        }
        self.backup();
        self.emit(It::Integer);
        self.pop()
    }

    fn lex_decimal_number_start(&mut self) -> Option<St> {
        let r = self.next();
        match r {
            'i' => {
                if !self.accept('n') || !self.accept('f') {
                    let cur = self.current();
                    return self.errorf(format!("invalid float: '{cur}'"));
                }
                self.emit(It::Float);
                return self.pop();
            }
            'n' => {
                if !self.accept('a') || !self.accept('n') {
                    let cur = self.current();
                    return self.errorf(format!("invalid float: '{cur}'"));
                }
                self.emit(It::Float);
                return self.pop();
            }
            '0' => {
                let p = self.peek();
                if matches!(p, 'b' | 'o' | 'x') {
                    let cur = self.current();
                    return self.errorf(format!(
                        "cannot use sign with non-decimal numbers: '{cur}{p}'"
                    ));
                }
            }
            '.' => return self.errorf("floats must start with a digit, not '.'".into()),
            _ => {}
        }
        if is_digit(r) {
            return Some(St::DecimalNumber);
        }
        self.errorf(format!("expected a digit but got {}", quote_rune(r, false)))
    }

    fn lex_base_number_or_date(&mut self) -> Option<St> {
        let r = self.next();
        if is_digit(r) {
            return Some(St::NumberOrDate);
        }
        let based = |lx: &mut Self, ok: fn(char) -> bool, what: &str, next: St| {
            let p = lx.peek();
            if !ok(p) {
                // BurntSushi ignores errorf's result here: the error item is queued and the
                // lexer goes on
                let cur = lx.current();
                lx.errorf(format!("not {what} number: '{cur}{p}'"));
            }
            Some(next)
        };
        match r {
            '_' => Some(St::DecimalNumber),
            '.' | 'e' | 'E' => Some(St::Float),
            'b' => based(self, is_binary, "a binary", St::BinaryInteger),
            'o' => based(self, is_octal, "an octal", St::OctalInteger),
            'x' => based(self, is_hex, "a hexidecimal", St::HexInteger),
            _ => {
                self.backup();
                self.emit(It::Integer);
                self.pop()
            }
        }
    }

    fn lex_bool(&mut self) -> Option<St> {
        let mut rs = String::new();
        loop {
            let r = self.next();
            if !super::go_unicode::is_letter(r) || self.bug.is_some() {
                self.backup();
                break;
            }
            rs.push(r);
        }
        match rs.as_str() {
            "true" | "false" => {
                self.emit(It::Bool);
                self.pop()
            }
            _ => self.errorf(format!(
                "expected value but found {} instead",
                go_quote(&rs)
            )),
        }
    }
}

// ------------------------------------------------------------------ parser

#[derive(Debug)]
enum Fail {
    /// A ParseError: its line, last key and message.
    Parse {
        line: usize,
        last_key: String,
        msg: String,
    },
    /// A Go panic.
    Bug(String),
}

/// The tomlType BurntSushi records per key (only "is it an Array" is ever asked).
#[derive(Clone, Copy, PartialEq)]
enum TomlType {
    Primitive,
    Array,
    Hash,
    ArrayHash,
}

struct Parser<'a> {
    lx: Lexer<'a>,
    /// The full key of the table in scope.
    context: Vec<String>,
    /// The last part of the key being set.
    current_key: String,
    /// The line of the first part of the last key read (ParseError of panicf).
    pos_line: usize,
    mapping: GoMap,
    key_info: HashMap<String, TomlType>,
    implicits: HashSet<String>,
}

fn parse(data: &[u8]) -> Result<GoMap, Fail> {
    let data = if data.starts_with(b"\xff\xfe") || data.starts_with(b"\xfe\xff") {
        &data[2..]
    } else if data.starts_with(b"\xef\xbb\xbf") {
        &data[3..]
    } else {
        data
    };
    if data[..data.len().min(6)].contains(&0) {
        return Err(Fail::Parse {
            line: 1,
            last_key: String::new(),
            msg: "files cannot contain NULL bytes; probably using UTF-16; TOML files must be UTF-8"
                .into(),
        });
    }
    let mut p = Parser {
        lx: Lexer::new(data),
        context: Vec::new(),
        current_key: String::new(),
        pos_line: 0,
        mapping: new_map(),
        key_info: HashMap::new(),
        implicits: HashSet::new(),
    };
    loop {
        let item = p.next()?;
        if item.typ == It::Eof {
            break;
        }
        p.top_level(item)?;
    }
    Ok(p.mapping)
}

type Res<T> = Result<T, Fail>;

impl Parser<'_> {
    fn next(&mut self) -> Res<Item> {
        let it = self.lx.next_item()?;
        if it.typ == It::Error {
            return Err(Fail::Parse {
                line: it.line,
                last_key: self.current(),
                msg: it.err,
            });
        }
        Ok(it)
    }

    fn next_pos(&mut self) -> Res<Item> {
        let it = self.next()?;
        self.pos_line = it.line;
        Ok(it)
    }

    /// panicItemf / panicErr: at the item's line.
    fn fail_at(&self, it: &Item, msg: String) -> Fail {
        Fail::Parse {
            line: it.line,
            last_key: self.current(),
            msg,
        }
    }

    /// panicf: at the line of the last key read.
    fn fail(&self, msg: String) -> Fail {
        Fail::Parse {
            line: self.pos_line,
            last_key: self.current(),
            msg,
        }
    }

    fn bug(msg: String) -> Fail {
        Fail::Bug(format!("BUG: {msg}\n\n"))
    }

    fn expect(&mut self, typ: It) -> Res<Item> {
        let it = self.next()?;
        Self::assert_equal(typ, it.typ)?;
        Ok(it)
    }

    fn assert_equal(expected: It, got: It) -> Res<()> {
        if expected != got {
            return Err(Self::bug(format!(
                "Expected '{}' but got '{}'.",
                expected.name(),
                got.name()
            )));
        }
        Ok(())
    }

    /// Read a key's parts up to `end` (a table's or a key's), from its first item.
    fn key_parts(&mut self, first: Item, end: It) -> Res<Vec<String>> {
        let mut key = Vec::new();
        let mut name = first;
        while name.typ != end && name.typ != It::Eof {
            key.push(self.key_string(&name)?);
            name = self.next()?;
        }
        Self::assert_equal(end, name.typ)?;
        Ok(key)
    }

    fn top_level(&mut self, item: Item) -> Res<()> {
        match item.typ {
            It::CommentStart => {
                self.expect(It::Text)?;
            }
            It::TableStart | It::ArrayTableStart => {
                let array = item.typ == It::ArrayTableStart;
                let name = self.next_pos()?;
                let end = if array {
                    It::ArrayTableEnd
                } else {
                    It::TableEnd
                };
                let key = self.key_parts(name, end)?;
                self.add_context(&key, array)?;
                self.set_type(
                    "",
                    if array {
                        TomlType::ArrayHash
                    } else {
                        TomlType::Hash
                    },
                );
            }
            It::KeyStart => {
                let outer = self.context.clone();
                let k = self.next_pos()?;
                let key = self.key_parts(k, It::KeyEnd)?;
                let Some((last, parents)) = key.split_last() else {
                    return Err(Fail::Bug("runtime error: index out of range [-1]".into()));
                };
                self.current_key = last.clone();
                for part in parents {
                    let mut k = self.context.clone();
                    k.push(part.clone());
                    self.add_implicit_context(&k)?;
                }
                let v = self.next()?;
                let (val, typ) = self.value(&v, false)?;
                let ck = self.current_key.clone();
                self.set_value(&ck, val)?;
                self.set_type(&ck, typ);
                self.context = outer;
                self.current_key.clear();
            }
            other => {
                return Err(Self::bug(format!(
                    "Unexpected type at top level: {}",
                    other.name()
                )));
            }
        }
        Ok(())
    }

    fn key_string(&mut self, it: &Item) -> Res<String> {
        match it.typ {
            It::Text => Ok(it.val.clone()),
            It::String
            | It::StringEsc
            | It::MultilineString
            | It::RawString
            | It::RawMultilineString => match self.value(it, false)?.0 {
                Go::Str(s) => Ok(s),
                _ => Err(Self::bug("Unexpected key type".into())),
            },
            other => Err(Self::bug(format!("Unexpected key type: {}", other.name()))),
        }
    }

    fn value(&mut self, it: &Item, parent_is_array: bool) -> Res<(Go, TomlType)> {
        let prim = |v: Go| Ok((v, TomlType::Primitive));
        match it.typ {
            It::String | It::RawString => prim(Go::Str(it.val.clone())),
            It::StringEsc => prim(Go::Str(self.replace_escapes(it, &it.val)?)),
            It::MultilineString => {
                let s = strip_escaped_newlines(strip_first_newline(&it.val));
                prim(Go::Str(self.replace_escapes(it, &s)?))
            }
            It::RawMultilineString => prim(Go::Str(strip_first_newline(&it.val).to_string())),
            It::Integer => prim(Go::Int(self.value_integer(it)?)),
            It::Float => prim(Go::Float(self.value_float(it)?)),
            It::Bool => match it.val.as_str() {
                "true" => prim(Go::Bool(true)),
                "false" => prim(Go::Bool(false)),
                v => Err(Self::bug(format!("Expected boolean value, but got '{v}'."))),
            },
            It::Datetime => prim(Go::Time(self.value_datetime(it)?)),
            It::Array => self.value_array(),
            It::InlineTableStart => self.value_inline_table(parent_is_array),
            other => Err(Self::bug(format!(
                "Unexpected value type: {}",
                other.name()
            ))),
        }
    }

    fn value_integer(&self, it: &Item) -> Res<i64> {
        let v = &it.val;
        if !num_underscores_ok(v) {
            return Err(self.fail_at(
                it,
                format!(
                    "Invalid integer {}: underscores must be surrounded by digits",
                    go_quote(v)
                ),
            ));
        }
        if num_has_leading_zero(v) {
            return Err(self.fail_at(
                it,
                format!(
                    "Invalid integer {}: cannot have leading zeroes",
                    go_quote(v)
                ),
            ));
        }
        match go_parse_int(v) {
            Ok(n) => Ok(n),
            Err(NumErr::Range) => Err(self.fail_at(it, format!("{v} is out of range for int64"))),
            Err(NumErr::Syntax) => {
                Err(Self::bug(format!("Expected integer value, but got '{v}'.")))
            }
        }
    }

    fn value_float(&self, it: &Item) -> Res<f64> {
        let v = &it.val;
        let parts: Vec<&str> = v.split(['.', 'e', 'E']).filter(|p| !p.is_empty()).collect();
        if parts.iter().any(|p| !num_underscores_ok(p)) {
            return Err(self.fail_at(
                it,
                format!(
                    "Invalid float {}: underscores must be surrounded by digits",
                    go_quote(v)
                ),
            ));
        }
        if parts.first().is_some_and(|p| num_has_leading_zero(p)) {
            return Err(self.fail_at(
                it,
                format!("Invalid float {}: cannot have leading zeroes", go_quote(v)),
            ));
        }
        if !num_periods_ok(v) {
            return Err(self.fail_at(
                it,
                format!(
                    "Invalid float {}: '.' must be followed by one or more digits",
                    go_quote(v)
                ),
            ));
        }
        let mut val = v.replace('_', "");
        let mut signbit = false;
        if val == "+nan" || val == "-nan" {
            signbit = val == "-nan";
            val = "nan".into();
        }
        match go_parse_float(&val) {
            Ok(f) => Ok(if signbit { -f.abs() } else { f }),
            Err(NumErr::Range) => Err(self.fail_at(it, format!("{v} is out of range for float64"))),
            Err(NumErr::Syntax) => {
                Err(self.fail_at(it, format!("Invalid float value: {}", go_quote(v))))
            }
        }
    }

    fn value_datetime(&self, it: &Item) -> Res<TomlTime> {
        let v: String = it
            .val
            .chars()
            .map(|c| match c {
                'z' => 'Z',
                't' | ' ' => 'T',
                c => c,
            })
            .collect();
        match parse_toml_datetime(&v) {
            Some(t) => Ok(t),
            None => Err(self.fail_at(it, format!("invalid datetime: {}", go_quote(&v)))),
        }
    }

    fn value_array(&mut self) -> Res<(Go, TomlType)> {
        let ck = self.current_key.clone();
        self.set_type(&ck, TomlType::Array);
        let mut array = Vec::new();
        loop {
            let it = self.next()?;
            if it.typ == It::ArrayEnd {
                break;
            }
            if it.typ == It::CommentStart {
                self.expect(It::Text)?;
                continue;
            }
            let (val, _) = self.value(&it, true)?;
            array.push(val);
        }
        Ok((Go::List(array), TomlType::Array))
    }

    fn value_inline_table(&mut self, parent_is_array: bool) -> Res<(Go, TomlType)> {
        let top_hash = new_map();
        let outer_context = self.context.clone();
        let outer_key = self.current_key.clone();
        self.context.push(self.current_key.clone());
        let prev_context = self.context.clone();
        self.current_key.clear();
        let ctx = self.context.clone();
        self.add_implicit(&ctx);
        self.add_context(&ctx, parent_is_array)?;
        loop {
            let it = self.next()?;
            if it.typ == It::InlineTableEnd {
                break;
            }
            if it.typ == It::CommentStart {
                self.expect(It::Text)?;
                continue;
            }
            let k = self.next_pos()?;
            let key = self.key_parts(k, It::KeyEnd)?;
            let Some((last, parents)) = key.split_last() else {
                return Err(Fail::Bug("runtime error: index out of range [-1]".into()));
            };
            self.current_key = last.clone();
            for part in parents {
                let mut k = self.context.clone();
                k.push(part.clone());
                self.add_implicit_context(&k)?;
            }
            let v = self.next()?;
            let (val, typ) = self.value(&v, false)?;
            let ck = self.current_key.clone();
            self.set_value(&ck, val.clone())?;
            self.set_type(&ck, typ);
            let mut hash = Rc::clone(&top_hash);
            for c in parents {
                let h = hash
                    .borrow_mut()
                    .entry(c.clone())
                    .or_insert_with(|| Go::Map(new_map()))
                    .clone();
                match h {
                    Go::Map(m) => hash = m,
                    _ => {
                        let msg =
                            format!("{} is not a table", go_quote(&key_string(&self.context)));
                        return Err(self.fail(msg));
                    }
                }
            }
            hash.borrow_mut().insert(ck, val);
            self.context = prev_context.clone();
        }
        self.context = outer_context;
        self.current_key = outer_key;
        Ok((Go::Map(top_hash), TomlType::Hash))
    }

    /// Set the table (or a new table of the array of tables) `key` as the context, making
    /// its parents implicitly.
    fn add_context(&mut self, key: &[String], array: bool) -> Res<()> {
        let Some((last, parents)) = key.split_last() else {
            return Err(Fail::Bug("runtime error: index out of range [-1]".into()));
        };
        let mut hash_context = Rc::clone(&self.mapping);
        let mut key_context: Vec<String> = Vec::new();
        for k in parents {
            let exists = hash_context.borrow().contains_key(k);
            key_context.push(k.clone());
            if !exists {
                self.add_implicit(&key_context);
                hash_context
                    .borrow_mut()
                    .insert(k.clone(), Go::Map(new_map()));
            }
            let v = hash_context.borrow().get(k).cloned();
            hash_context = match v {
                Some(Go::Tables(t)) if !t.is_empty() => Rc::clone(&t[t.len() - 1]),
                Some(Go::Map(m)) => m,
                _ => {
                    let msg = format!(
                        "Key '{}' was already created as a hash.",
                        key_string(&key_context)
                    );
                    return Err(self.fail(msg));
                }
            };
        }
        self.context = key_context;
        if array {
            let mut h = hash_context.borrow_mut();
            let entry = h
                .entry(last.clone())
                .or_insert_with(|| Go::Tables(Vec::new()));
            match entry {
                Go::Tables(t) => t.push(new_map()),
                _ => {
                    drop(h);
                    let msg = format!(
                        "Key '{}' was already created and cannot be used as an array.",
                        key_string(key)
                    );
                    return Err(self.fail(msg));
                }
            }
        } else {
            self.set_value(last, Go::Map(new_map()))?;
        }
        self.context.push(last.clone());
        Ok(())
    }

    /// Set `key` in the context's table; a key set before may be set again only when it was
    /// an implicit table (kept as it is) or an array (replaced).
    fn set_value(&mut self, key: &str, value: Go) -> Res<()> {
        let mut hash = Rc::clone(&self.mapping);
        let mut key_context: Vec<String> = Vec::new();
        for k in &self.context {
            key_context.push(k.clone());
            let tmp = hash.borrow().get(k).cloned();
            hash = match tmp {
                None => {
                    return Err(Self::bug(format!(
                        "Context for key '{}' has not been established.",
                        key_string(&key_context)
                    )));
                }
                Some(Go::Tables(t)) if !t.is_empty() => Rc::clone(&t[t.len() - 1]),
                Some(Go::Map(m)) => m,
                Some(_) => {
                    let msg = format!(
                        "Key '{}' has already been defined.",
                        key_string(&key_context)
                    );
                    return Err(self.fail(msg));
                }
            };
        }
        key_context.push(key.to_string());
        let exists = hash.borrow().contains_key(key);
        if exists {
            let ks = key_string(&key_context);
            if self.key_info.get(&ks) == Some(&TomlType::Array) {
                self.implicits.remove(&ks);
                hash.borrow_mut().insert(key.to_string(), value);
                return Ok(());
            }
            if self.implicits.remove(&ks) {
                return Ok(());
            }
            return Err(self.fail(format!("Key '{ks}' has already been defined.")));
        }
        hash.borrow_mut().insert(key.to_string(), value);
        Ok(())
    }

    fn set_type(&mut self, key: &str, typ: TomlType) {
        let mut k = self.context.clone();
        if !key.is_empty() {
            k.push(key.to_string());
        }
        if k.is_empty() {
            k.push(String::new());
        }
        self.key_info.insert(key_string(&k), typ);
    }

    fn add_implicit(&mut self, key: &[String]) {
        self.implicits.insert(key_string(key));
    }

    fn add_implicit_context(&mut self, key: &[String]) -> Res<()> {
        self.add_implicit(key);
        self.add_context(key, false)
    }

    /// The full key of the current context, as ParseError's LastKey.
    fn current(&self) -> String {
        if self.current_key.is_empty() {
            return key_string(&self.context);
        }
        if self.context.is_empty() {
            return self.current_key.clone();
        }
        format!("{}.{}", key_string(&self.context), self.current_key)
    }

    fn replace_escapes(&self, it: &Item, s: &str) -> Res<String> {
        let mut b = String::with_capacity(s.len());
        let bytes = s.as_bytes();
        let mut skip = 0usize;
        for (i, c) in s.char_indices() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if c != '\\' {
                b.push(c);
                continue;
            }
            let Some(&e) = bytes.get(i + 1) else {
                return Err(Fail::Bug(format!(
                    "runtime error: index out of range [{}] with length {}",
                    i + 1,
                    bytes.len()
                )));
            };
            match e {
                b' ' | b'\t' => {
                    return Err(self.fail_at(it, format!("invalid escape: '\\{}'", e as char)));
                }
                b'b' => b.push('\u{8}'),
                b't' => b.push('\t'),
                b'n' => b.push('\n'),
                b'f' => b.push('\u{c}'),
                b'r' => b.push('\r'),
                b'"' => b.push('"'),
                b'\\' => b.push('\\'),
                b'u' | b'U' => {
                    let n = if e == b'u' { 4 } else { 8 };
                    let hex = s.get(i + 2..i + 2 + n).unwrap_or_default();
                    b.push(self.ascii_escape_to_unicode(it, hex)?);
                    skip = n + 1;
                    continue;
                }
                // 'e' and 'x' are TOML 1.1 (not on in helm): the backslash is dropped
                b'e' | b'x' => continue,
                other => {
                    return Err(Self::bug(format!(
                        "Expected valid escape code after \\, but got {}.",
                        quote_rune(other as char, false)
                    )));
                }
            }
            skip = 1;
        }
        Ok(b)
    }

    fn ascii_escape_to_unicode(&self, it: &Item, s: &str) -> Res<char> {
        let Ok(hex) = u32::from_str_radix(s, 16) else {
            return Err(Self::bug(format!(
                "Could not parse '{s}' as a hexadecimal number, but the lexer claims it's OK"
            )));
        };
        char::from_u32(hex).ok_or_else(|| {
            self.fail_at(
                it,
                format!("Escaped character '\\u{s}' is not valid UTF-8."),
            )
        })
    }
}

fn strip_first_newline(s: &str) -> &str {
    s.strip_prefix('\n')
        .or_else(|| s.strip_prefix("\r\n"))
        .unwrap_or(s)
}

/// Drop each line-ending backslash with the whitespace (newlines included) after it.
fn strip_escaped_newlines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut s = s;
    let mut i = 0usize;
    loop {
        let Some(ix) = s[i..].find('\\') else {
            out.push_str(s);
            return out;
        };
        i += ix;
        let b = s.as_bytes();
        if b.get(i + 1) == Some(&b'\\') {
            i += 2;
            continue;
        }
        let mut j = i + 1;
        while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\r' | b'\n') {
            j += 1;
        }
        if j == i + 1 || !s[i..j].contains('\n') {
            i += 1;
            continue;
        }
        out.push_str(&s[..i]);
        s = &s[j..];
        i = 0;
    }
}

fn num_has_leading_zero(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() > 1 && b[0] == b'0' && !matches!(b[1], b'b' | b'o' | b'x') {
        return true;
    }
    b.len() > 2 && (b[0] == b'-' || b[0] == b'+') && b[1] == b'0'
}

/// Each underscore between two hex digits' worth of characters, and the text ending in one.
fn num_underscores_ok(s: &str) -> bool {
    if matches!(s, "nan" | "+nan" | "-nan" | "inf" | "-inf" | "+inf") {
        return true;
    }
    let mut accept = false;
    for r in s.chars() {
        if r == '_' && !accept {
            return false;
        }
        accept = is_hex(r);
    }
    accept
}

fn num_periods_ok(s: &str) -> bool {
    let mut period = false;
    for r in s.chars() {
        if period && !is_digit(r) {
            return false;
        }
        period = r == '.';
    }
    !period
}

#[derive(Debug, PartialEq)]
enum NumErr {
    Syntax,
    Range,
}

/// strconv.ParseInt(s, 0, 64).
fn go_parse_int(s: &str) -> Result<i64, NumErr> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return Err(NumErr::Syntax);
    }
    let b = body.as_bytes();
    let (base, digits) = if b[0] == b'0' && b.len() >= 3 {
        match b[1].to_ascii_lowercase() {
            b'b' => (2, &body[2..]),
            b'o' => (8, &body[2..]),
            b'x' => (16, &body[2..]),
            _ => (8, &body[1..]),
        }
    } else if b[0] == b'0' {
        (8, &body[1..])
    } else {
        (10, body)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.bytes() {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            _ if c.is_ascii_alphabetic() => c.to_ascii_lowercase() - b'a' + 10,
            _ => return Err(NumErr::Syntax),
        };
        if u32::from(d) >= base {
            return Err(NumErr::Syntax);
        }
        n = n
            .checked_mul(u64::from(base))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(NumErr::Range)?;
    }
    if underscores && !go_underscore_ok(body) {
        return Err(NumErr::Syntax);
    }
    let cutoff = 1u64 << 63;
    if !neg && n >= cutoff {
        return Err(NumErr::Range);
    }
    if neg && n > cutoff {
        return Err(NumErr::Range);
    }
    Ok(if neg {
        (n as i64).wrapping_neg()
    } else {
        n as i64
    })
}

/// strconv's underscoreOK (sign already removed).
fn go_underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// strconv.ParseFloat(s, 64) for the texts BurntSushi hands it (no underscores, no hex).
fn go_parse_float(s: &str) -> Result<f64, NumErr> {
    let b = s.as_bytes();
    // special(): inf, infinity (signed), nan, any case
    let (sign, rest) = match b.first() {
        Some(b'+') => (1.0, &s[1..]),
        Some(b'-') => (-1.0, &s[1..]),
        _ => (1.0, s),
    };
    let lower = rest.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(sign * f64::INFINITY);
    }
    if lower == "nan" && rest.len() == s.len() {
        return Ok(f64::NAN);
    }
    // readFloat: digits with at most one '.', at least one digit, then e[sign]digits
    let r = rest.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    let mut dot = false;
    while i < r.len() {
        match r[i] {
            b'0'..=b'9' => digits += 1,
            b'.' if !dot => dot = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return Err(NumErr::Syntax);
    }
    if i < r.len() && (r[i] == b'e' || r[i] == b'E') {
        i += 1;
        if i < r.len() && (r[i] == b'+' || r[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < r.len() && r[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(NumErr::Syntax);
        }
    }
    if i != r.len() {
        return Err(NumErr::Syntax);
    }
    let f: f64 = s.parse().map_err(|_| NumErr::Syntax)?;
    if f.is_infinite() {
        return Err(NumErr::Range);
    }
    Ok(f)
}

// ------------------------------------------------------------------ date-times

/// BurntSushi's valueDatetime after its replacements: the first of RFC 3339 (in Local, UTC
/// here), a local date-time, a local date and a local time that time.ParseInLocation takes,
/// refused when its hour has one digit (Go's parser takes one).
fn parse_toml_datetime(v: &str) -> Option<TomlTime> {
    #[derive(Clone, Copy)]
    enum Layout {
        Rfc3339,
        LocalDatetime,
        LocalDate,
        LocalTime,
    }
    for layout in [
        Layout::Rfc3339,
        Layout::LocalDatetime,
        Layout::LocalDate,
        Layout::LocalTime,
    ] {
        let (date, time, zone) = match layout {
            Layout::Rfc3339 => (true, true, true),
            Layout::LocalDatetime => (true, true, false),
            Layout::LocalDate => (true, false, false),
            Layout::LocalTime => (false, true, false),
        };
        let Some(mut t) = go_parse(v, date, time, zone) else {
            continue;
        };
        // missingLeadingZero: a one-digit hour shifts the separators that follow it
        if time {
            let hour_at = if date { 11 } else { 0 };
            if v.as_bytes().get(hour_at + 2) != Some(&b':') {
                return None;
            }
        }
        if !zone {
            t.zone = match layout {
                Layout::LocalDatetime => "datetime-local",
                Layout::LocalDate => "date-local",
                _ => "time-local",
            }
            .into();
        }
        return Some(t);
    }
    None
}

/// time.ParseInLocation with the layout "2006-01-02" (date), "15:04:05.999999999" (time),
/// "Z07:00" (zone) joined by 'T', in a UTC Local.
fn go_parse(v: &str, date: bool, time: bool, zone: bool) -> Option<TomlTime> {
    let b = v.as_bytes();
    let mut i = 0usize;
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let num2 = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    let mut t = TomlTime {
        year: 0,
        month: 1,
        day: 1,
        hour: 0,
        min: 0,
        sec: 0,
        nsec: 0,
        offset: 0,
        zone: "UTC".into(),
    };
    let lit = |i: &mut usize, c: u8| -> Option<()> {
        if b.get(*i) == Some(&c) {
            *i += 1;
            Some(())
        } else {
            None
        }
    };
    if date {
        if !(0..4).all(digit) {
            return None;
        }
        t.year = v[..4].parse().ok()?;
        i = 4;
        lit(&mut i, b'-')?;
        if !(digit(i) && digit(i + 1)) {
            return None;
        }
        t.month = num2(i);
        if !(1..=12).contains(&t.month) {
            return None;
        }
        i += 2;
        lit(&mut i, b'-')?;
        if !(digit(i) && digit(i + 1)) {
            return None;
        }
        t.day = num2(i);
        i += 2;
        if time {
            lit(&mut i, b'T')?;
        }
    }
    if time {
        // the hour takes one or two digits
        if !digit(i) {
            return None;
        }
        if digit(i + 1) {
            t.hour = num2(i);
            i += 2;
        } else {
            t.hour = u32::from(b[i] - b'0');
            i += 1;
        }
        if t.hour >= 24 {
            return None;
        }
        lit(&mut i, b':')?;
        if !(digit(i) && digit(i + 1)) {
            return None;
        }
        t.min = num2(i);
        if t.min >= 60 {
            return None;
        }
        i += 2;
        lit(&mut i, b':')?;
        if !(digit(i) && digit(i + 1)) {
            return None;
        }
        t.sec = num2(i);
        if t.sec >= 60 {
            return None;
        }
        i += 2;
        // .999999999: any number of digits, the first nine kept
        if b.get(i) == Some(&b'.') && digit(i + 1) {
            let mut j = i + 1;
            while digit(j) {
                j += 1;
            }
            let frac = &v[i + 1..j.min(i + 10)];
            let mut ns: u32 = frac.parse().ok()?;
            for _ in frac.len()..9 {
                ns *= 10;
            }
            t.nsec = ns;
            i = j;
        }
    }
    if zone {
        if b.get(i) == Some(&b'Z') {
            i += 1;
        } else {
            if b.len() < i + 6 || b[i + 3] != b':' {
                return None;
            }
            let sign = b[i];
            if !(digit(i + 1) && digit(i + 2) && digit(i + 4) && digit(i + 5)) {
                return None;
            }
            let (hr, mm) = (num2(i + 1), num2(i + 4));
            if hr > 24 || mm > 60 {
                return None;
            }
            let off = ((hr * 60 + mm) * 60) as i32;
            t.offset = match sign {
                b'+' => off,
                b'-' => -off,
                _ => return None,
            };
            i += 6;
            if t.offset != 0 {
                // time.FixedZone("", offset): Go prints its offset as the name
                let a = t.offset.abs() / 60;
                let s = if t.offset < 0 { '-' } else { '+' };
                t.zone = format!("{s}{:02}{:02}", a / 60, a % 60);
            }
        }
    }
    if i != b.len() {
        return None;
    }
    if date && (t.day < 1 || t.day > days_in(t.month, t.year)) {
        return None;
    }
    Some(t)
}

fn days_in(month: u32, year: i32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match decode(text) {
            Err(Failure::Toml(e)) => e,
            Err(Failure::Panic(p)) => format!("PANIC {p}"),
            Ok(d) => format!("OK {}", super::super::yaml::to_json(&d.value)),
        }
    }

    #[test]
    fn values_decode_as_burntsushi_decodes_them() {
        assert_eq!(err("a = 1\nb = 'x'"), r#"OK {"a":1,"b":"x"}"#);
        assert_eq!(err("a.b = 1\na = 2"), r#"OK {"a":{"b":1}}"#);
        assert_eq!(err("a = 1\na = [2]"), r#"OK {"a":[2]}"#);
        assert_eq!(err("a = [1]\n[a]\nx = 1"), r#"OK {"a":{"x":1}}"#);
        assert_eq!(err("[[t]]\nx = 1\n[[t]]"), r#"OK {"t":[{"x":1},{}]}"#);
        assert_eq!(err("x = \"\\u00e9\\n\""), r#"OK {"x":"é\n"}"#);
        assert_eq!(err("s = \"\"\"\nab\\\n   c\"\"\""), r#"OK {"s":"abc"}"#);
    }

    #[test]
    fn errors_read_as_burntsushi_words_them() {
        assert_eq!(
            err("a = 01"),
            "toml: line 1 (last key \"a\"): Invalid integer \"01\": cannot have leading zeroes"
        );
        assert_eq!(
            err("a = [1,2"),
            "toml: line 0 (last key \"a\"): expected a comma (',') or array terminator (']'), but got end of file"
        );
        assert_eq!(
            err("a = 1979-13-01"),
            "toml: line 1 (last key \"a\"): invalid datetime: \"1979-13-01\""
        );
        assert_eq!(
            err("[[t]]\nx=1\n[t]"),
            "toml: line 3: Key 't' has already been defined."
        );
        assert_eq!(
            err("one"),
            "toml: line 0: unexpected EOF; expected key separator '='"
        );
    }

    /// No input makes the decoder panic or loop: random bytes (as text) and random mixes of
    /// TOML's own characters.
    #[test]
    fn random_texts_never_panic() {
        let alphabet: Vec<char> = "ab01_-+.eExoZT:= \t\n\r\"'\\[]{},#utfin9\u{0}\u{7f}é😀"
            .chars()
            .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let n = (rnd() % 40) as usize;
            let s: String = (0..n)
                .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
                .collect();
            let _ = decode(&s);
            let bytes: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
            let _ = decode(&String::from_utf8_lossy(&bytes));
        }
    }
}
