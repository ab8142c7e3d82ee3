//! The error texts of Go's encoding/json, which `fromJson`, `fromJsonArray`, `mustFromJson` and
//! `fromYaml` (through sigs.k8s.io/yaml) print into their results: a port of the syntax checks of
//! encoding/json's scanner (the first invalid byte and what the scanner was looking for), and
//! the unmarshal type error.

/// What Go's json.Unmarshal says about `text` when it is not JSON; None when it is.
pub fn syntax_error(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut p = Parser { b, i: 0 };
    p.ws();
    if p.i >= b.len() {
        return Some("unexpected end of JSON input".into());
    }
    if let Err(e) = p.value() {
        return Some(e);
    }
    p.ws();
    if p.i < b.len() {
        return Some(format!(
            "invalid character {} after top-level value",
            quote_char(p.b, p.i)
        ));
    }
    None
}

/// `json: cannot unmarshal KIND into Go value of type T` for the JSON value's kind.
pub fn unmarshal_type_error(j: &serde_json::Value, go_type: &str) -> String {
    let kind = match j {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Null => "null",
    };
    format!("json: cannot unmarshal {kind} into Go value of type {go_type}")
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

/// Go's quoteChar: `'x'`, `'\''`, `'"'` or a Go-quoted rune.
fn quote_char(b: &[u8], i: usize) -> String {
    let s = std::str::from_utf8(&b[i..])
        .ok()
        .and_then(|s| s.chars().next());
    let c = match s {
        Some(c) => c,
        None => {
            // an invalid UTF-8 byte: Go decodes it as U+FFFD
            return "'\\ufffd'".into();
        }
    };
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        c if (c as u32) < 0x20 || c == '\u{7f}' => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eof(&self) -> String {
        "unexpected end of JSON input".into()
    }

    fn bad(&self, context: &str) -> String {
        format!("invalid character {} {context}", quote_char(self.b, self.i))
    }

    fn value(&mut self) -> Result<(), String> {
        let Some(&c) = self.b.get(self.i) else {
            return Err(self.eof());
        };
        match c {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => Err(self.bad("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        for (k, &w) in word.iter().enumerate() {
            match self.b.get(self.i) {
                None => return Err(self.eof()),
                Some(&c) if c == w => self.i += 1,
                Some(_) => {
                    let ctx = format!(
                        "in literal {} (expecting {})",
                        std::str::from_utf8(word).unwrap_or(""),
                        quote_char(word, k)
                    );
                    return Err(self.bad(&ctx));
                }
            }
        }
        Ok(())
    }

    fn number(&mut self) -> Result<(), String> {
        if self.b[self.i] == b'-' {
            self.i += 1;
            match self.b.get(self.i) {
                None => return Err(self.eof()),
                Some(b'0'..=b'9') => {}
                Some(_) => return Err(self.bad("in numeric literal")),
            }
        }
        if self.b[self.i] == b'0' {
            self.i += 1;
        } else {
            while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            match self.b.get(self.i) {
                None => return Err(self.eof()),
                Some(b'0'..=b'9') => {}
                Some(_) => return Err(self.bad("after decimal point in numeric literal")),
            }
            while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            match self.b.get(self.i) {
                None => return Err(self.eof()),
                Some(b'0'..=b'9') => {}
                Some(_) => return Err(self.bad("in exponent of numeric literal")),
            }
            while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        Ok(())
    }

    fn string(&mut self) -> Result<(), String> {
        self.i += 1;
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.eof());
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.i += 1;
                    match self.b.get(self.i) {
                        None => return Err(self.eof()),
                        Some(b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            for _ in 0..4 {
                                match self.b.get(self.i) {
                                    None => return Err(self.eof()),
                                    Some(h) if h.is_ascii_hexdigit() => self.i += 1,
                                    Some(_) => {
                                        return Err(self.bad("in \\u hexadecimal character escape"));
                                    }
                                }
                            }
                        }
                        Some(_) => return Err(self.bad("in string escape code")),
                    }
                }
                c if c < 0x20 => return Err(self.bad("in string literal")),
                _ => self.i += 1,
            }
        }
    }

    fn array(&mut self) -> Result<(), String> {
        self.i += 1;
        self.ws();
        match self.b.get(self.i) {
            None => return Err(self.eof()),
            Some(b']') => {
                self.i += 1;
                return Ok(());
            }
            _ => {}
        }
        loop {
            self.ws();
            self.value()?;
            self.ws();
            match self.b.get(self.i) {
                None => return Err(self.eof()),
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(_) => return Err(self.bad("after array element")),
            }
        }
    }

    fn object(&mut self) -> Result<(), String> {
        self.i += 1;
        self.ws();
        match self.b.get(self.i) {
            None => return Err(self.eof()),
            Some(b'}') => {
                self.i += 1;
                return Ok(());
            }
            _ => {}
        }
        loop {
            self.ws();
            match self.b.get(self.i) {
                None => return Err(self.eof()),
                Some(b'"') => self.string()?,
                Some(_) => return Err(self.bad("looking for beginning of object key string")),
            }
            self.ws();
            match self.b.get(self.i) {
                None => return Err(self.eof()),
                Some(b':') => self.i += 1,
                Some(_) => return Err(self.bad("after object key")),
            }
            self.ws();
            self.value()?;
            self.ws();
            match self.b.get(self.i) {
                None => return Err(self.eof()),
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(_) => return Err(self.bad("after object key:value pair")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_read_as_go_writes_them() {
        assert_eq!(syntax_error("{").unwrap(), "unexpected end of JSON input");
        assert_eq!(syntax_error("").unwrap(), "unexpected end of JSON input");
        assert_eq!(
            syntax_error("x").unwrap(),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            syntax_error("{a}").unwrap(),
            "invalid character 'a' looking for beginning of object key string"
        );
        assert_eq!(
            syntax_error("[1 2]").unwrap(),
            "invalid character '2' after array element"
        );
        assert_eq!(
            syntax_error("1 2").unwrap(),
            "invalid character '2' after top-level value"
        );
        assert_eq!(
            syntax_error("tru!").unwrap(),
            "invalid character '!' in literal true (expecting 'e')"
        );
        assert_eq!(syntax_error(r#"{"a": [1, {"b": null}]}"#), None);
    }
}
