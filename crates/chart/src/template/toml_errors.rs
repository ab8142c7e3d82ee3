//! BurntSushi/toml v1.4's error texts (helm's `fromToml` puts them in `.Error`) for the common
//! malformed inputs: an unterminated string, a newline in a one-line string, an invalid
//! escape, a missing or unreadable value, text after a value, a key or table defined twice.
//! Used only once the toml crate has refused the text: `first_error` walks the text as
//! BurntSushi's lexer and parser do, and gives up (`None`) on what it does not follow (arrays,
//! inline tables, dotted or quoted keys, arrays of tables, unicode escapes, control
//! characters), so the caller keeps its other wording there.

use std::collections::HashMap;

use super::gofmt::{go_quote, quote_rune};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Value,
    Table,
    /// A table named only as the prefix of another (`t` of `[t.u]`): it may be defined once.
    Implicit,
}

struct Scan<'a> {
    text: &'a str,
    pos: usize,
    context: Vec<String>,
    defined: HashMap<String, Kind>,
}

/// The error BurntSushi/toml v1.4 reports first for `text`, as its `ParseError` prints it,
/// with the byte offset it was found at; `None` when the text holds something this walk does
/// not follow before any error.
pub fn first_error(text: &str) -> Option<(usize, String)> {
    let mut s = Scan {
        text,
        pos: 0,
        context: Vec::new(),
        defined: HashMap::new(),
    };
    s.top()
}

fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl Scan<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// The lexer's line after what was read so far (1-based).
    fn line(&self) -> usize {
        1 + self.text[..self.pos].matches('\n').count()
    }

    /// An error at the end of the text: the lexer reports the line before its own count.
    fn eof(&self, key: &str, msg: &str) -> Option<(usize, String)> {
        Some((self.pos, message(self.line() - 1, key, msg)))
    }

    /// An error at the character just read (its offset is where it starts).
    fn err(&self, key: &str, msg: &str) -> Option<(usize, String)> {
        Some((self.pos.saturating_sub(1), message(self.line(), key, msg)))
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    fn bare_key(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_bare) {
            self.pos += 1;
        }
        self.text[start..self.pos].to_string()
    }

    fn top(&mut self) -> Option<(usize, String)> {
        loop {
            match self.peek() {
                None => return None,
                Some(' ' | '\t' | '\n') => self.pos += 1,
                Some('\r') if self.text[self.pos..].starts_with("\r\n") => self.pos += 2,
                Some('#') => self.comment(),
                Some('[') => {
                    if let Some(e) = self.table()? {
                        return Some(e);
                    }
                    if let Some(e) = self.top_end()? {
                        return Some(e);
                    }
                }
                Some(c) if is_bare(c) => {
                    if let Some(e) = self.key_value()? {
                        return Some(e);
                    }
                    if let Some(e) = self.top_end()? {
                        return Some(e);
                    }
                }
                Some('=') => {
                    self.bump();
                    let msg = "unexpected '=': key name appears blank";
                    return self.err(&self.context.join("."), msg);
                }
                Some(_) => return None,
            }
        }
    }

    fn comment(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.pos += self.peek().map_or(1, char::len_utf8);
        }
    }

    /// `[a.b]`: `Some(None)` when read, `Some(Some(e))` on BurntSushi's error, `None` when
    /// this walk does not follow it.
    #[allow(clippy::option_option)]
    fn table(&mut self) -> Option<Option<(usize, String)>> {
        let line = self.line();
        self.pos += 1;
        if self.peek() == Some('[') {
            return None;
        }
        let mut key = Vec::new();
        loop {
            self.skip_ws();
            let part = self.bare_key();
            if part.is_empty() {
                return None;
            }
            key.push(part);
            self.skip_ws();
            // lexTableNameEnd (the parser's context is still the previous table's)
            let last = self.context.join(".");
            match self.bump() {
                Some('.') => {}
                Some(']') => break,
                None => {
                    let msg = "expected '.' or ']' to end table name, but got '\\x00' instead";
                    return Some(self.eof(&last, msg));
                }
                Some(c) if c == '"' || c == '\'' => return None,
                Some(c) => {
                    let msg = format!(
                        "expected '.' or ']' to end table name, but got {} instead",
                        quote_rune(c, false)
                    );
                    return Some(self.err(&last, &msg));
                }
            }
        }
        // addContext: every prefix must be a table (implicitly made), then the name is set
        for i in 1..key.len() {
            let path = key[..i].join(".");
            match self.defined.get(&path) {
                Some(Kind::Value) => {
                    // before the new context is set: the last key is the previous table
                    let msg = format!("Key '{path}' was already created as a hash.");
                    let last = self.context.join(".");
                    return Some(Some((self.pos, message(line, &last, &msg))));
                }
                Some(_) => {}
                None => {
                    self.defined.insert(path, Kind::Implicit);
                }
            }
        }
        let path = key.join(".");
        match self.defined.get(&path) {
            Some(Kind::Implicit) | None => {
                self.defined.insert(path, Kind::Table);
            }
            Some(_) => {
                let prefix = key[..key.len() - 1].join(".");
                let msg = format!("Key '{path}' has already been defined.");
                return Some(Some((self.pos, message(line, &prefix, &msg))));
            }
        }
        self.context = key;
        Some(None)
    }

    /// `key = value`, as `table` answers.
    #[allow(clippy::option_option)]
    fn key_value(&mut self) -> Option<Option<(usize, String)>> {
        let line = self.line();
        let key = self.bare_key();
        self.skip_ws();
        if self.bump() != Some('=') {
            // a dotted or quoted key, or a key without '=' (the caller words that one)
            return None;
        }
        let mut full = self.context.clone();
        full.push(key);
        let current = full.join(".");
        if let Some(e) = self.value(&current)? {
            return Some(Some(e));
        }
        // setValue: a key defined twice (at the key's line); BurntSushi lets a value replace
        // an implicit table
        if self.defined.get(&current) == Some(&Kind::Implicit) {
            return None;
        }
        if self.defined.contains_key(&current) {
            let msg = format!("Key '{current}' has already been defined.");
            return Some(Some((self.pos, message(line, &current, &msg))));
        }
        self.defined.insert(current, Kind::Value);
        Some(None)
    }

    /// lexValue for the values this walk follows.
    #[allow(clippy::option_option)]
    fn value(&mut self, key: &str) -> Option<Option<(usize, String)>> {
        self.skip_ws();
        let Some(c) = self.bump() else {
            return Some(self.eof(key, "unexpected EOF; expected value"));
        };
        match c {
            '"' if self.text[self.pos..].starts_with("\"\"") => {
                self.pos += 2;
                self.multiline(key, "\"\"\"", true)
            }
            '"' => self.basic_string(key),
            '\'' if self.text[self.pos..].starts_with("''") => {
                self.pos += 2;
                self.multiline(key, "'''", false)
            }
            '\'' => loop {
                match self.bump() {
                    None => return Some(self.eof(key, "unexpected EOF; expected \"'\"")),
                    Some('\n') => return Some(self.prev_line(key)),
                    Some('\'') => return Some(None),
                    Some(c) if c.is_control() && c != '\t' => return None,
                    Some(_) => {}
                }
            },
            '0'..='9' | '+' | '-' => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || "_.:+-".contains(c))
                {
                    self.pos += 1;
                }
                // a date and time with a space between them
                let rest = &self.text[self.pos..];
                if rest.starts_with(' ') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
                    self.pos += 1;
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || "_.:+-".contains(c))
                    {
                        self.pos += 1;
                    }
                }
                Some(None)
            }
            '.' => Some(self.err(key, "floats must start with a digit, not '.'")),
            c if c.is_alphabetic() => {
                let start = self.pos - c.len_utf8();
                while self.peek().is_some_and(char::is_alphabetic) {
                    self.bump();
                }
                let word = &self.text[start..self.pos];
                match word {
                    "true" | "false" | "inf" | "nan" => Some(None),
                    _ => Some(self.err(
                        key,
                        &format!("expected value but found {} instead", go_quote(word)),
                    )),
                }
            }
            '[' | '{' => None,
            c => Some(self.err(
                key,
                &format!("expected value but found {} instead", quote_rune(c, false)),
            )),
        }
    }

    /// "strings cannot contain newlines", reported at the line before the newline read.
    fn prev_line(&self, key: &str) -> Option<(usize, String)> {
        Some((
            self.pos.saturating_sub(1),
            message(self.line() - 1, key, "strings cannot contain newlines"),
        ))
    }

    #[allow(clippy::option_option)]
    fn basic_string(&mut self, key: &str) -> Option<Option<(usize, String)>> {
        loop {
            match self.bump() {
                None => return Some(self.eof(key, "unexpected EOF; expected '\"'")),
                Some('\n') => return Some(self.prev_line(key)),
                Some('"') => return Some(None),
                Some('\\') => match self.bump() {
                    Some('b' | 't' | 'n' | 'f' | 'r' | '"' | '\\') => {}
                    Some(c) if c.is_control() || matches!(c, ' ' | 'u' | 'U') => return None,
                    None => return None,
                    Some(c) => {
                        let msg = format!("invalid escape in string '\\{c}'");
                        return Some(self.err(key, &msg));
                    }
                },
                Some(c) if c.is_control() && c != '\t' => return None,
                Some(_) => {}
            }
        }
    }

    #[allow(clippy::option_option)]
    fn multiline(
        &mut self,
        key: &str,
        close: &str,
        escapes: bool,
    ) -> Option<Option<(usize, String)>> {
        loop {
            if self.text[self.pos..].starts_with(close) {
                self.pos += close.len();
                // a closing quote or two more are part of the string
                let q = close.chars().next().unwrap_or('"');
                let extra = self.text[self.pos..]
                    .chars()
                    .take_while(|c| *c == q)
                    .count();
                if extra > 2 {
                    return None;
                }
                self.pos += extra;
                return Some(None);
            }
            match self.bump() {
                None => {
                    let quoted = if escapes { "'\"\"\"'" } else { "\"'''\"" };
                    let msg = format!("unexpected EOF; expected {quoted}");
                    return Some(self.eof(key, &msg));
                }
                Some('\\') if escapes => match self.bump() {
                    Some('b' | 't' | 'n' | 'f' | 'r' | '"' | '\\') => {}
                    _ => return None,
                },
                Some(c) if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => return None,
                Some(_) => {}
            }
        }
    }

    /// lexTopEnd: only blanks and a comment may follow a value or a table name on its line.
    #[allow(clippy::option_option)]
    fn top_end(&mut self) -> Option<Option<(usize, String)>> {
        self.skip_ws();
        match self.peek() {
            None | Some('\n') => Some(None),
            Some('#') => {
                self.comment();
                Some(None)
            }
            Some('\r') if self.text[self.pos..].starts_with("\r\n") => Some(None),
            Some(c) => {
                self.bump();
                let msg = format!(
                    "expected a top-level item to end with a newline, comment, or EOF, but got {} instead",
                    quote_rune(c, false)
                );
                // the parser has set the value and forgotten its key: the table is left
                Some(self.err(&self.context.join("."), &msg))
            }
        }
    }
}

/// ParseError.Error().
fn message(line: usize, last_key: &str, msg: &str) -> String {
    if last_key.is_empty() {
        format!("toml: line {line}: {msg}")
    } else {
        format!("toml: line {line} (last key {}): {msg}", go_quote(last_key))
    }
}
