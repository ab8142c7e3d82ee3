//! Go's fmt.Sprintf for `printf`: a port of fmt's doPrintf, printArg, printValue and badVerb
//! (src/fmt/print.go), of the fmt struct's formatting (src/fmt/format.go: pad, fmtInteger,
//! fmtUnicode, fmtFloat, fmtS, fmtQ, fmtC, fmtQc, fmtSbx) and of strconv's float and quote
//! formatting, as they apply to the Go values a template holds: int, int64, uint64, float64,
//! string, bool, nil, []interface{} and map[string]interface{} (printed element by element with
//! the verb and its flags, keys sorted), []byte; helm's other objects print as they print with %v.

use super::value::{
    GoBytes, GoRune, Value, go_bytes, go_runes, has_markers, push_go_char, string_from_go_bytes,
};

/// utf8.RuneCountInString.
pub fn rune_count(s: &str) -> usize {
    if has_markers(s) {
        go_runes(s).count()
    } else {
        s.chars().count()
    }
}

pub fn sprintf(format: &str, args: &[Value]) -> String {
    sprintf_typed(format, args, &Value::type_name)
}

/// `sprintf` where `type_name` names each operand's Go type (for %T, %#v and the
/// `%!verb(TYPE=...)` of a mismatched operand): helm's own types are known to the caller only.
pub fn sprintf_typed(
    format: &str,
    args: &[Value],
    type_name: &dyn Fn(&Value) -> &'static str,
) -> String {
    let mut p = Printer {
        buf: String::with_capacity(format.len() + 16),
        f: Flags::default(),
        type_name,
        good_arg_num: true,
        reordered: false,
    };
    p.do_printf(format, args);
    p.buf
}

/// fmt's fmtFlags with the width and precision (always >= 0 once parsed).
#[derive(Default, Clone, Copy)]
struct Flags {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    // %+v and %#v: plus and sharp move here, they are other formats
    plus_v: bool,
    sharp_v: bool,
    wid: usize,
    prec: usize,
}

/// fmt's pp: the output and the state of the directive being printed.
struct Printer<'a> {
    buf: String,
    f: Flags,
    type_name: &'a dyn Fn(&Value) -> &'static str,
    good_arg_num: bool,
    reordered: bool,
}

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

/// fmt's tooLarge: widths and precisions are at most 1e6.
fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// fmt's parsenum: the number at s[start..end] (0 and false if none); an overlong one takes the
/// rest of the format.
fn parsenum(s: &[u8], start: usize, end: usize) -> (i64, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0i64;
    let mut isnum = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

/// fmt's intFromArg: the `*` width or precision taken from argument `arg_num`.
fn int_from_arg(a: &[Value], arg_num: usize) -> (i64, bool, usize) {
    let Some(v) = a.get(arg_num) else {
        return (0, false, arg_num);
    };
    let (num, is_int) = match v {
        Value::Int(n) | Value::Int64(n) => (*n, true),
        Value::Uint64(n) => match i64::try_from(*n) {
            Ok(n) => (n, true),
            Err(_) => (0, false),
        },
        Value::Uint8(n) => (i64::from(*n), true),
        _ => (0, false),
    };
    if too_large(num) {
        return (0, false, arg_num + 1);
    }
    (num, is_int, arg_num + 1)
}

/// fmt's parseArgNumber: the index in `[n]` at the start of `format` (minus one), the bytes it
/// takes, and whether it parsed.
fn parse_arg_number(format: &[u8]) -> (i64, usize, bool) {
    if format.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..format.len() {
        if format[i] == b']' {
            let (width, ok, newi) = parsenum(format, 1, i);
            if !ok || newi != i {
                return (0, i + 1, false);
            }
            return (width - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

impl Printer<'_> {
    /// fmt's argNumber: the argument an `[n]` at format[i..] names (or `arg_num`), the index past
    /// it, and whether one was found.
    fn arg_number(
        &mut self,
        arg_num: usize,
        format: &[u8],
        i: usize,
        num_args: usize,
    ) -> (usize, usize, bool) {
        if format.len() <= i || format[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&format[i..]);
        if ok && 0 <= index && (index as usize) < num_args {
            return (index as usize, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    fn do_printf(&mut self, format: &str, a: &[Value]) {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut after_index;
        self.reordered = false;
        let mut i = 0;
        'format_loop: while i < end {
            self.good_arg_num = true;
            let lasti = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1; // the '%'
            self.f = Flags::default();
            while i < end {
                let c = fb[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = true,
                    b'+' => self.f.plus = true,
                    b'-' => self.f.minus = true,
                    b' ' => self.f.space = true,
                    _ => {
                        // fast path: flags and a lower-case verb, an argument left for it
                        if c.is_ascii_lowercase() && arg_num < a.len() {
                            if c == b'v' || c == b'w' {
                                self.verb_v_flags();
                            }
                            self.print_arg(&a[arg_num], char::from(c));
                            arg_num += 1;
                            i += 1;
                            continue 'format_loop;
                        }
                        break;
                    }
                }
                i += 1;
            }

            // an explicit argument index
            (arg_num, i, after_index) = self.arg_number(arg_num, fb, i, a.len());

            // width
            if i < end && fb[i] == b'*' {
                i += 1;
                let (n, ok, next) = int_from_arg(a, arg_num);
                arg_num = next;
                self.f.wid_present = ok;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                if n < 0 {
                    // a negative width pads on the right
                    self.f.minus = true;
                    self.f.zero = false;
                }
                self.f.wid = n.unsigned_abs() as usize;
                after_index = false;
            } else {
                let (n, ok, next) = parsenum(fb, i, end);
                self.f.wid = n as usize;
                self.f.wid_present = ok;
                i = next;
                if after_index && ok {
                    // "%[3]2d"
                    self.good_arg_num = false;
                }
            }

            // precision
            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    // "%[3].2d"
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, fb, i, a.len());
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (n, ok, next) = int_from_arg(a, arg_num);
                    arg_num = next;
                    // a negative precision is none
                    self.f.prec = n.max(0) as usize;
                    self.f.prec_present = ok && n >= 0;
                    if !self.f.prec_present {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (n, ok, next) = parsenum(fb, i, end);
                    i = next;
                    self.f.prec = if ok { n as usize } else { 0 };
                    self.f.prec_present = true;
                }
            }

            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, fb, i, a.len());
            }

            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }

            let mut runes = go_runes(&format[i..]);
            // a byte that is not UTF-8 decodes as RuneError
            let Some(verb) = runes.next().map(GoRune::rune) else {
                break;
            };
            i = end - runes.as_str().len();

            if verb == '%' {
                // takes no operand, ignores width and precision
                self.buf.push('%');
            } else if !self.good_arg_num {
                self.buf.push_str("%!");
                push_go_char(&mut self.buf, verb);
                self.buf.push_str("(BADINDEX)");
            } else if arg_num >= a.len() {
                self.buf.push_str("%!");
                push_go_char(&mut self.buf, verb);
                self.buf.push_str("(MISSING)");
            } else {
                if verb == 'v' || verb == 'w' {
                    self.verb_v_flags();
                }
                self.print_arg(&a[arg_num], verb);
                arg_num += 1;
            }
        }

        // Extra arguments, unless the format reordered them.
        if !self.reordered && arg_num < a.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (k, arg) in a[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.buf.push_str(", ");
                }
                if arg.is_nil() {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str((self.type_name)(arg));
                    self.buf.push('=');
                    self.print_arg(arg, 'v');
                }
            }
            self.buf.push(')');
        }
    }

    /// %#v is Go syntax and %+v field names: other formats, not flags.
    fn verb_v_flags(&mut self) {
        self.f.sharp_v = self.f.sharp;
        self.f.sharp = false;
        self.f.plus_v = self.f.plus;
        self.f.plus = false;
    }

    /// fmt's printArg: one operand as the interface{} printf received.
    fn print_arg(&mut self, arg: &Value, verb: char) {
        match arg {
            Value::Nil => match verb {
                'T' | 'v' => self.pad_string("<nil>"),
                _ => self.bad_verb(verb, None),
            },
            _ if verb == 'T' => self.fmt_s((self.type_name)(arg)),
            Value::List(_) | Value::Map(_) | Value::Object(_) if verb == 'p' => {
                self.fmt_pointer(arg)
            }
            Value::Object(o) if o.as_any().is_some_and(|a| a.is::<GoBytes>()) => {
                if let Some(b) = o.as_any().and_then(|a| a.downcast_ref::<GoBytes>()) {
                    self.fmt_bytes(b, verb, "[]byte");
                }
            }
            // %w is Errorf's; printf has no error to wrap
            _ if verb == 'w' => self.bad_verb(verb, Some(arg)),
            _ => self.print_value(arg, verb, 0),
        }
    }

    /// fmt's printValue: a value, or an element of a slice or map (depth > 0) with the same
    /// verb and flags.
    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        match v {
            // an interface{} element holding nil
            Value::Nil => self.buf.push_str(if self.f.sharp_v {
                "interface {}(nil)"
            } else {
                "<nil>"
            }),
            Value::Bool(b) => self.fmt_bool(*b, verb, v),
            Value::Int(i) | Value::Int64(i) => self.fmt_integer(*i as u64, true, verb, v),
            Value::Uint64(u) => self.fmt_integer(*u, false, verb, v),
            Value::Uint8(u) => self.fmt_integer(u64::from(*u), false, verb, v),
            Value::Float(x) => self.fmt_float(*x, verb, v),
            Value::Str(s) => self.fmt_string(s, verb, v),
            Value::List(l) => self.print_list(l, (self.type_name)(v), verb, depth),
            Value::Map(m) => self.print_map(&m.borrow(), (self.type_name)(v), verb, depth, v),
            Value::Object(o) => match o.as_any().and_then(|a| a.downcast_ref::<GoBytes>()) {
                Some(b) => {
                    if matches!(verb, 's' | 'q' | 'x' | 'X') {
                        self.fmt_bytes(b, verb, "[]uint8");
                    } else {
                        self.print_byte_slice(b, verb, depth);
                    }
                }
                // a typed nil slice or map: `[]string(nil)` in Go syntax, empty otherwise
                None if self.f.sharp_v
                    && o.as_any().is_some_and(|a| a.is::<crate::objects::GoNil>()) =>
                {
                    self.buf.push_str((self.type_name)(v));
                    self.buf.push_str("(nil)");
                }
                // a typed slice or map ([]string, []int, map[string]string): element by
                // element as any slice or map, under its own Go type
                None if matches!(o.kind_name(), "slice" | "map")
                    && matches!(o.as_data(), Some(Value::List(_) | Value::Map(_))) =>
                {
                    match o.as_data() {
                        Some(Value::List(l)) => {
                            self.print_list(&l, (self.type_name)(v), verb, depth)
                        }
                        Some(Value::Map(m)) => {
                            self.print_map(&m.borrow(), (self.type_name)(v), verb, depth, v)
                        }
                        _ => {}
                    }
                }
                // a pointer to a struct inside a slice, a map or a struct: its address, as
                // fmtPointer prints it
                None if depth > 0 && super::value::struct_pointer_address(v).is_some() => {
                    let addr = super::value::struct_pointer_address(v).unwrap_or(0);
                    match verb {
                        'v' if self.f.sharp_v => {
                            self.buf
                                .push_str(&format!("({})({addr:#x})", o.type_name()));
                        }
                        'v' | 'p' => self.pad_string(&format!("{addr:#x}")),
                        'b' | 'o' | 'd' | 'x' | 'X' => {
                            self.fmt_integer(addr as u64, false, verb, v)
                        }
                        _ => self.bad_verb(verb, Some(v)),
                    }
                }
                // helm's other objects print as fmt prints them with %v, padded to the width
                None => match verb {
                    'v' | 's' => self.pad_string(&o.fmt_value()),
                    _ => self.bad_verb(verb, Some(v)),
                },
            },
        }
    }

    /// A slice element by element (fmt's printValue), `go_type{...}` in Go syntax.
    fn print_list(&mut self, l: &[Value], go_type: &str, verb: char, depth: usize) {
        let (separator, close) = if self.f.sharp_v {
            self.buf.push_str(go_type);
            self.buf.push('{');
            (", ", '}')
        } else {
            self.buf.push('[');
            (" ", ']')
        };
        for (k, e) in l.iter().enumerate() {
            if k > 0 {
                self.buf.push_str(separator);
            }
            self.print_value(e, verb, depth + 1);
        }
        self.buf.push(close);
    }

    /// A map member by member in key order (fmt's printValue), `go_type{...}` in Go syntax;
    /// `whole` is the map as the operand, for a key's bad verb.
    fn print_map(
        &mut self,
        m: &std::collections::BTreeMap<String, Value>,
        go_type: &str,
        verb: char,
        depth: usize,
        whole: &Value,
    ) {
        if self.f.sharp_v {
            self.buf.push_str(go_type);
            self.buf.push('{');
        } else {
            self.buf.push_str("map[");
        }
        for (k, (key, e)) in m.iter().enumerate() {
            if k > 0 {
                if self.f.sharp_v {
                    self.buf.push_str(", ");
                } else {
                    self.buf.push(' ');
                }
            }
            // the keys are Go strings, not interfaces
            if matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') {
                self.fmt_string(key, verb, whole);
            } else {
                self.bad_verb(verb, Some(&Value::str(key)));
            }
            self.buf.push(':');
            self.print_value(e, verb, depth + 1);
        }
        self.buf.push(if self.f.sharp_v { '}' } else { ']' });
    }

    /// fmt's badVerb: `%!verb(TYPE=value)`, the value printed with %v and the directive's flags.
    fn bad_verb(&mut self, verb: char, arg: Option<&Value>) {
        self.buf.push_str("%!");
        push_go_char(&mut self.buf, verb);
        self.buf.push('(');
        match arg {
            None | Some(Value::Nil) => self.buf.push_str("<nil>"),
            Some(v) => {
                self.buf.push_str((self.type_name)(v));
                self.buf.push('=');
                self.print_arg(v, 'v');
            }
        }
        self.buf.push(')');
    }

    fn fmt_bool(&mut self, b: bool, verb: char, v: &Value) {
        match verb {
            't' | 'v' => self.pad_string(if b { "true" } else { "false" }),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    /// pp.fmtInteger.
    fn fmt_integer(&mut self, u: u64, signed: bool, verb: char, v: &Value) {
        match verb {
            'v' if self.f.sharp_v && !signed => self.fmt_0x64(u, true),
            'v' | 'd' => self.fmt_int(u, 10, signed, verb, LDIGITS),
            'b' => self.fmt_int(u, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_int(u, 8, signed, verb, LDIGITS),
            'x' => self.fmt_int(u, 16, signed, verb, LDIGITS),
            'X' => self.fmt_int(u, 16, signed, verb, UDIGITS),
            'c' => self.fmt_c(u),
            'q' => self.fmt_qc(u),
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    fn fmt_0x64(&mut self, u: u64, leading_0x: bool) {
        let sharp = self.f.sharp;
        self.f.sharp = leading_0x;
        self.fmt_int(u, 16, false, 'v', LDIGITS);
        self.f.sharp = sharp;
    }

    /// %p of a slice, map or object: an address (Go's differs from run to run).
    fn fmt_pointer(&mut self, v: &Value) {
        let u = match v {
            Value::List(l) => std::rc::Rc::as_ptr(l) as usize,
            Value::Map(m) => std::rc::Rc::as_ptr(m) as usize,
            Value::Object(o) => std::rc::Rc::as_ptr(o).cast::<u8>() as usize,
            _ => 0,
        };
        self.fmt_0x64(u as u64, !self.f.sharp);
    }

    /// pp.fmtFloat: the verb's default precision, %v as %g.
    fn fmt_float(&mut self, x: f64, verb: char, v: &Value) {
        match verb {
            'v' => self.fmt_float_str(x, b'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float_str(x, verb as u8, -1),
            'f' | 'e' | 'E' => self.fmt_float_str(x, verb as u8, 6),
            'F' => self.fmt_float_str(x, b'f', 6),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    /// pp.fmtString; `v` is the operand, for a bad verb.
    fn fmt_string(&mut self, s: &str, verb: char, v: &Value) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sbx(&go_bytes(s), LDIGITS),
            'X' => self.fmt_sbx(&go_bytes(s), UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    /// pp.fmtBytes: a []byte operand (`type_string` is how %#v names it).
    fn fmt_bytes(&mut self, bytes: &GoBytes, verb: char, type_string: &str) {
        let b = bytes.bytes();
        match verb {
            'v' | 'd' => {
                if self.f.sharp_v {
                    self.buf.push_str(type_string);
                    if bytes.is_nil() {
                        self.buf.push_str("(nil)");
                        return;
                    }
                    self.buf.push('{');
                    for (k, c) in b.iter().enumerate() {
                        if k > 0 {
                            self.buf.push_str(", ");
                        }
                        self.fmt_0x64(u64::from(*c), true);
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (k, c) in b.iter().enumerate() {
                        if k > 0 {
                            self.buf.push(' ');
                        }
                        self.fmt_int(u64::from(*c), 10, false, verb, LDIGITS);
                    }
                    self.buf.push(']');
                }
            }
            's' => self.fmt_s(&string_from_go_bytes(b)),
            'x' => self.fmt_sbx(b, LDIGITS),
            'X' => self.fmt_sbx(b, UDIGITS),
            'q' => self.fmt_q(&string_from_go_bytes(b)),
            _ => self.print_byte_slice(bytes, verb, 0),
        }
    }

    /// printValue of a []uint8 for the verbs fmtBytes leaves to it: element by element.
    fn print_byte_slice(&mut self, bytes: &GoBytes, verb: char, _depth: usize) {
        let b = bytes.bytes();
        if self.f.sharp_v {
            if bytes.is_nil() {
                self.buf.push_str("[]uint8(nil)");
                return;
            }
            self.buf.push_str("[]uint8{");
        } else {
            self.buf.push('[');
        }
        for (k, c) in b.iter().enumerate() {
            if k > 0 {
                self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
            }
            let c = u64::from(*c);
            match verb {
                'v' if self.f.sharp_v => self.fmt_0x64(c, true),
                'v' | 'd' | 'b' | 'o' | 'O' | 'x' | 'X' | 'c' | 'q' | 'U' => {
                    self.fmt_integer(c, false, verb, &Value::Nil)
                }
                _ => {
                    self.buf.push_str("%!");
                    push_go_char(&mut self.buf, verb);
                    self.buf.push_str("(uint8=");
                    self.fmt_integer(c, false, 'v', &Value::Nil);
                    self.buf.push(')');
                }
            }
        }
        self.buf.push(if self.f.sharp_v { '}' } else { ']' });
    }

    // ---- format.go ----

    /// fmt.writePadding: n bytes of padding, zeros only on the left with the 0 flag.
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    /// fmt.pad / fmt.padString: `s` padded to the width, counted in runes.
    fn pad_string(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(rune_count(s));
        if !self.f.minus {
            self.write_padding(width);
            self.buf.push_str(s);
        } else {
            self.buf.push_str(s);
            self.write_padding(width);
        }
    }

    /// fmt.fmtUnicode: U+0078, with # U+0078 'x'.
    fn fmt_unicode(&mut self, u: u64) {
        let prec = if self.f.prec_present && self.f.prec > 4 {
            self.f.prec
        } else {
            4
        };
        let mut hex = [0u8; 16];
        let mut n = 0;
        let mut x = u;
        loop {
            hex[15 - n] = UDIGITS[(x & 0xF) as usize];
            n += 1;
            x >>= 4;
            if x == 0 {
                break;
            }
        }
        let mut s = String::with_capacity(prec + 10);
        s.push_str("U+");
        s.extend(std::iter::repeat_n('0', prec.saturating_sub(n)));
        for &d in &hex[16 - n..] {
            s.push(char::from(d));
        }
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && go_is_print(c)
        {
            s.push_str(" '");
            s.push(c);
            s.push('\'');
        }
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad_string(&s);
        self.f.zero = zero;
    }

    /// fmt.fmtInteger: `u` in `base` (negative when `signed` and its sign bit is set), with the
    /// precision's or the 0 flag's leading zeros, # prefixes, %O's 0o and the sign, padded with
    /// spaces.
    fn fmt_int(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        let u = if negative { u.wrapping_neg() } else { u };

        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            // precision 0 and value 0 print nothing but the padding
            if prec == 0 && u == 0 {
                let zero = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = zero;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1); // room for the sign
            }
        }

        let mut buf = [0u8; 64];
        let mut i = buf.len();
        let mut x = u;
        while x >= base {
            i -= 1;
            buf[i] = digits[(x % base) as usize];
            x /= base;
        }
        i -= 1;
        buf[i] = digits[x as usize];
        let ndigits = buf.len() - i;
        let zeros = prec.saturating_sub(ndigits);

        let mut prefix = [0u8; 6];
        let mut np = 0;
        let mut push = |b: u8| {
            prefix[np] = b;
            np += 1;
        };
        if negative {
            push(b'-');
        } else if self.f.plus {
            push(b'+');
        } else if self.f.space {
            push(b' ');
        }
        if verb == 'O' {
            push(b'0');
            push(b'o');
        }
        if self.f.sharp {
            match base {
                2 => {
                    push(b'0');
                    push(b'b');
                }
                8 if zeros == 0 && buf[i] != b'0' => push(b'0'),
                16 => {
                    push(b'0');
                    push(digits[16]);
                }
                _ => {}
            }
        }

        let len = np + zeros + ndigits;
        let fill = if self.f.wid_present {
            self.f.wid.saturating_sub(len)
        } else {
            0
        };
        // the 0 flag became the precision: the padding is spaces
        if !self.f.minus {
            self.buf.extend(std::iter::repeat_n(' ', fill));
        }
        for &b in &prefix[..np] {
            self.buf.push(char::from(b));
        }
        self.buf.extend(std::iter::repeat_n('0', zeros));
        for &b in &buf[i..] {
            self.buf.push(char::from(b));
        }
        if self.f.minus {
            self.buf.extend(std::iter::repeat_n(' ', fill));
        }
    }

    /// fmt.truncateString: the first `prec` runes.
    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if !self.f.prec_present {
            return s;
        }
        let mut runes = go_runes(s);
        for _ in 0..self.f.prec {
            if runes.next().is_none() {
                return s;
            }
        }
        &s[..s.len() - runes.as_str().len()]
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad_string(s);
    }

    /// fmt.fmtSbx: bytes as hex digits, the precision counting bytes; ' ' separates them and
    /// # adds 0x (to each with ' ').
    fn fmt_sbx(&mut self, b: &[u8], digits: &[u8; 17]) {
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(char::from(digits[16]));
        }
        for (i, c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(char::from(digits[16]));
                }
            }
            self.buf.push(char::from(digits[usize::from(c >> 4)]));
            self.buf.push(char::from(digits[usize::from(c & 0xF)]));
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    /// fmt.fmtQ: strconv.Quote (QuoteToASCII with +), a raw `string` with # when it can be one.
    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let q = format!("`{s}`");
            self.pad_string(&q);
            return;
        }
        let q = quote_with(s, '"', self.f.plus);
        self.pad_string(&q);
    }

    /// fmt.fmtC: the integer as a character (U+FFFD past the last code point).
    fn fmt_c(&mut self, c: u64) {
        let mut s = String::new();
        push_go_char(&mut s, go_rune(c));
        self.pad_string(&s);
    }

    /// fmt.fmtQc: the integer as a quoted character constant.
    fn fmt_qc(&mut self, c: u64) {
        let q = quote_rune(go_rune(c), self.f.plus);
        self.pad_string(&q);
    }

    /// fmt.fmtFloat: strconv's formatting of `v` with `verb` and `prec` (-1: the shortest that
    /// reads back), the sign as the flags ask, # keeping a decimal point and trailing zeros, zero
    /// padding after the sign.
    fn fmt_float_str(&mut self, v: f64, verb: u8, prec: i64) {
        let prec = if self.f.prec_present {
            self.f.prec as i64
        } else {
            prec
        };
        // num[0] is the sign: '+' when positive
        let mut num = Vec::with_capacity(24);
        num.push(b'+');
        append_float(&mut num, v, verb, prec);
        if num[1] == b'-' || num[1] == b'+' {
            num.remove(0);
        } else {
            num[0] = b'+';
        }
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        // infinities and NaN are not padded with zeros
        if num[1] == b'I' || num[1] == b'N' {
            let zero = self.f.zero;
            self.f.zero = false;
            let start = if num[1] == b'N' && !self.f.space && !self.f.plus {
                1
            } else {
                0
            };
            self.pad_ascii(&num[start..]);
            self.f.zero = zero;
            return;
        }
        if self.f.sharp && verb != b'b' {
            let mut digits: i64 = match verb {
                b'v' | b'g' | b'G' | b'x' => {
                    if prec == -1 {
                        6
                    } else {
                        prec
                    }
                }
                _ => 0,
            };
            let mut tail: Vec<u8> = Vec::new();
            let mut has_decimal_point = false;
            let mut saw_nonzero_digit = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_decimal_point = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                    }
                    b'e' | b'E' if verb != b'x' && verb != b'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero_digit = true;
                        }
                        if saw_nonzero_digit {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_decimal_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        if self.f.plus || num[0] != b'+' {
            // zero padding goes after the sign
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > num.len() {
                self.buf.push(char::from(num[0]));
                self.write_padding(self.f.wid - num.len());
                self.push_ascii(&num[1..]);
                return;
            }
            self.pad_ascii(&num);
            return;
        }
        self.pad_ascii(&num[1..]);
    }

    fn push_ascii(&mut self, b: &[u8]) {
        // strconv's float text is ASCII
        self.buf
            .push_str(std::str::from_utf8(b).unwrap_or_default());
    }

    fn pad_ascii(&mut self, b: &[u8]) {
        self.pad_string(std::str::from_utf8(b).unwrap_or_default());
    }
}

// ---- strconv's float formatting (ftoa.go) ----

use super::shortest_float::{Digits, digits_from_exp, shortest_digits};

/// `n` significant digits of `v`, rounded (`v` finite). A float64 has at most 767 significant
/// digits: past 800 they are all there, and the precision Rust takes is a u16.
fn fixed_digits(v: f64, n: i64) -> Digits {
    let n = n.clamp(1, 800) as usize;
    digits_from_exp(&format!("{:.*e}", n - 1, v.abs()))
}

/// The digits of `v` rounded at `prec` places after the point. The smallest float64 has 1074
/// of them.
fn fixed_point_digits(v: f64, prec: i64) -> Digits {
    let prec = prec.clamp(0, 1100) as usize;
    let s = format!("{:.*}", prec, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let all: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let lead = all.iter().take_while(|&&c| c == b'0').count();
    let mut d = all[lead..].to_vec();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits {
        d,
        dp: int.len() as i64 - lead as i64,
    }
}

/// `strconv.FormatFloat(v, fmt, prec, 64)`.
pub fn format_float(v: f64, fmt: u8, prec: i64) -> String {
    let mut dst = Vec::new();
    append_float(&mut dst, v, fmt, prec);
    // strconv's float text is ASCII
    String::from_utf8(dst).unwrap_or_default()
}

/// strconv's genericFtoa for float64: `fmt` is one of b e E f g G x X; `prec` < 0 asks for the
/// shortest digits.
fn append_float(dst: &mut Vec<u8>, v: f64, fmt: u8, prec: i64) {
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    let mut exp = ((bits >> 52) & 0x7FF) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    match exp {
        0x7FF => {
            dst.extend_from_slice(if mant != 0 {
                b"NaN"
            } else if neg {
                b"-Inf"
            } else {
                b"+Inf"
            });
            return;
        }
        0 => exp += 1, // denormal
        _ => mant |= 1u64 << 52,
    }
    exp -= 1023;

    match fmt {
        b'b' => {
            if neg {
                dst.push(b'-');
            }
            dst.extend_from_slice(mant.to_string().as_bytes());
            dst.push(b'p');
            let e = exp - 52;
            if e >= 0 {
                dst.push(b'+');
            }
            dst.extend_from_slice(e.to_string().as_bytes());
            return;
        }
        b'x' | b'X' => {
            fmt_x(dst, prec, fmt, neg, mant, exp);
            return;
        }
        _ => {}
    }

    let shortest = prec < 0;
    let mut prec = prec;
    let digs = if mant == 0 {
        Digits {
            d: Vec::new(),
            dp: 0,
        }
    } else if shortest {
        let digs = shortest_digits(v);
        prec = match fmt {
            b'e' | b'E' => (digs.nd() - 1).max(0),
            b'f' => (digs.nd() - digs.dp).max(0),
            _ => digs.nd(),
        };
        digs
    } else {
        match fmt {
            b'e' | b'E' => fixed_digits(v, prec + 1),
            b'f' => fixed_point_digits(v, prec),
            _ => {
                if prec == 0 {
                    prec = 1;
                }
                fixed_digits(v, prec)
            }
        }
    };
    format_digits(dst, shortest, neg, &digs, prec, fmt);
}

/// strconv's formatDigits.
fn format_digits(dst: &mut Vec<u8>, shortest: bool, neg: bool, digs: &Digits, prec: i64, fmt: u8) {
    match fmt {
        b'e' | b'E' => fmt_e(dst, neg, digs, prec, fmt),
        b'f' => fmt_f(dst, neg, digs, prec),
        b'g' | b'G' => {
            let mut prec = prec;
            let mut eprec = prec;
            if eprec > digs.nd() && digs.nd() >= digs.dp {
                eprec = digs.nd();
            }
            // %e when the exponent is < -4 or >= the precision (6 for the shortest)
            if shortest {
                eprec = 6;
            }
            let exp = digs.dp - 1;
            if exp < -4 || exp >= eprec {
                if prec > digs.nd() {
                    prec = digs.nd();
                }
                fmt_e(dst, neg, digs, prec - 1, fmt + b'e' - b'g');
                return;
            }
            if prec > digs.dp {
                prec = digs.nd();
            }
            fmt_f(dst, neg, digs, (prec - digs.dp).max(0));
        }
        _ => {
            dst.push(b'%');
            dst.push(fmt);
        }
    }
}

/// strconv's fmtE: -d.ddddde±dd.
fn fmt_e(dst: &mut Vec<u8>, neg: bool, d: &Digits, prec: i64, fmt: u8) {
    if neg {
        dst.push(b'-');
    }
    dst.push(d.d.first().copied().unwrap_or(b'0'));
    if prec > 0 {
        dst.push(b'.');
        let m = d.d.len().min(prec as usize + 1);
        if m > 1 {
            dst.extend_from_slice(&d.d[1..m]);
        }
        let have = m.max(1) - 1;
        dst.extend(std::iter::repeat_n(b'0', prec as usize - have));
    }
    dst.push(fmt);
    let exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    push_exponent(dst, exp);
}

/// The exponent fmtE and fmtX end with: its sign, then at least two digits.
fn push_exponent(dst: &mut Vec<u8>, exp: i64) {
    dst.push(if exp < 0 { b'-' } else { b'+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        dst.push(b'0');
    }
    dst.extend_from_slice(exp.to_string().as_bytes());
}

/// strconv's fmtF: -ddddddd.ddddd.
fn fmt_f(dst: &mut Vec<u8>, neg: bool, d: &Digits, prec: i64) {
    if neg {
        dst.push(b'-');
    }
    if d.dp > 0 {
        let m = d.d.len().min(d.dp as usize);
        dst.extend_from_slice(&d.d[..m]);
        dst.extend(std::iter::repeat_n(b'0', d.dp as usize - m));
    } else {
        dst.push(b'0');
    }
    if prec > 0 {
        dst.push(b'.');
        for i in 0..prec {
            let j = d.dp + i;
            dst.push(if 0 <= j && j < d.nd() {
                d.d[j as usize]
            } else {
                b'0'
            });
        }
    }
}

/// strconv's fmtX: -0x1.yyyyyyyyp±ddd or -0x0p+00.
fn fmt_x(dst: &mut Vec<u8>, prec: i64, fmt: u8, neg: bool, mut mant: u64, mut exp: i64) {
    if mant == 0 {
        exp = 0;
    }
    // the leading 1 (if any) at bit 60
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex = if fmt == b'X' { UDIGITS } else { LDIGITS };
    if neg {
        dst.push(b'-');
    }
    dst.push(b'0');
    dst.push(fmt);
    dst.push(b'0' + ((mant >> 60) & 1) as u8);
    mant <<= 4;
    if prec < 0 && mant != 0 {
        dst.push(b'.');
        while mant != 0 {
            dst.push(hex[((mant >> 60) & 15) as usize]);
            mant <<= 4;
        }
    } else if prec > 0 {
        dst.push(b'.');
        for _ in 0..prec {
            dst.push(hex[((mant >> 60) & 15) as usize]);
            mant <<= 4;
        }
    }
    dst.push(if fmt == b'X' { b'P' } else { b'p' });
    push_exponent(dst, exp);
}

// ---- strconv's quoting (quote.go) ----

/// strconv.Quote: double-quoted with Go escapes, non-printable characters escaped.
pub fn go_quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// strconv's appendQuotedWith: `s` between `quote`s, each rune as appendEscapedRune writes it
/// (`ascii`: QuoteToASCII, every rune past ASCII escaped); a byte that is not UTF-8 as \x.
fn quote_with(s: &str, quote: char, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for r in go_runes(s) {
        match r {
            GoRune::Byte(b) => out.push_str(&format!("\\x{b:02x}")),
            GoRune::Char(c) => escaped_rune(&mut out, c, quote, ascii),
        }
    }
    out.push(quote);
    out
}

/// strconv.QuoteRune (QuoteRuneToASCII with `ascii`).
pub(super) fn quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::with_capacity(8);
    out.push('\'');
    escaped_rune(&mut out, c, '\'', ascii);
    out.push('\'');
    out
}

/// fmt's rune of an integer operand: past the last code point (or a surrogate) it is U+FFFD.
fn go_rune(u: u64) -> char {
    u32::try_from(u)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}

/// strconv's appendEscapedRune.
fn escaped_rune(out: &mut String, c: char, quote: char, ascii: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    let printable = if ascii {
        c.is_ascii() && go_is_print(c)
    } else {
        go_is_print(c)
    };
    if printable {
        out.push(c);
        return;
    }
    let u = c as u32;
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        _ if u < 0x20 || u == 0x7f => out.push_str(&format!("\\x{u:02x}")),
        _ if u < 0x10000 => out.push_str(&format!("\\u{u:04x}")),
        _ => out.push_str(&format!("\\U{u:08x}")),
    }
}

/// strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
pub fn go_is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    matches!(
        super::go_unicode::category(c).as_bytes()[0],
        b'L' | b'M' | b'N' | b'P' | b'S'
    )
}

/// strconv.CanBackquote: valid UTF-8, no control characters but tab, no backquote, no BOM.
fn can_backquote(s: &str) -> bool {
    go_runes(s).all(|r| match r {
        GoRune::Byte(_) => false,
        GoRune::Char(c) => {
            !(((c as u32) < 0x20 && c != '\t') || c == '`' || c == '\u{7f}' || c == '\u{feff}')
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn verbs_format_like_go() {
        let s = |x: &str| Value::str(x);
        assert_eq!(sprintf("%s-%d", &[s("a"), Value::Int(5)]), "a-5");
        assert_eq!(sprintf("%d", &[Value::Float(80.0)]), "%!d(float64=80)");
        assert_eq!(sprintf("%v", &[Value::Float(1e6)]), "1e+06");
        assert_eq!(sprintf("%q", &[s("a\"b")]), "\"a\\\"b\"");
        assert_eq!(
            sprintf("%05d|%-4s|%4s", &[Value::Int(42), s("ab"), s("cd")]),
            "00042|ab  |  cd"
        );
        assert_eq!(sprintf("%.2f", &[Value::Float(1.23456)]), "1.23");
        assert_eq!(sprintf("%t", &[Value::Bool(true)]), "true");
        assert_eq!(sprintf("%s", &[Value::Nil]), "%!s(<nil>)");
        assert_eq!(sprintf("%s %s", &[s("a")]), "a %!s(MISSING)");
        assert_eq!(sprintf("%s", &[s("a"), s("b")]), "a%!(EXTRA string=b)");
        assert_eq!(sprintf("%x", &[Value::Int(255)]), "ff");
        assert_eq!(sprintf("100%%", &[]), "100%");
        assert_eq!(sprintf("%e", &[Value::Float(1234.5)]), "1.234500e+03");
        // a width or precision past 1e6 takes the rest of the format
        assert_eq!(
            sprintf("%999999999999d|", &[Value::Int(1)]),
            "%!(NOVERB)%!(EXTRA int=1)"
        );
        assert_eq!(
            sprintf("%.99999999999999999999999f", &[Value::Float(1.0)]),
            "%!(NOVERB)%!(EXTRA float64=1)"
        );
    }

    /// An operand from its JSON description: {"t": kind, "v": value}, floats as text.
    fn operand(a: &serde_json::Value) -> Value {
        let v = &a["v"];
        match a["t"].as_str().unwrap_or_default() {
            "int" => Value::Int(v.as_i64().unwrap_or_default()),
            "int64" => Value::Int64(v.as_i64().unwrap_or_default()),
            "uint64" => Value::Uint64(v.as_u64().unwrap_or_default()),
            "float" => Value::Float(match v.as_str().unwrap_or_default() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                t => t.parse().unwrap_or_default(),
            }),
            "str" => Value::str(v.as_str().unwrap_or_default()),
            "bool" => Value::Bool(v.as_bool().unwrap_or_default()),
            "list" => Value::list(v.as_array().into_iter().flatten().map(operand).collect()),
            "map" => Value::map(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, e)| (k.clone(), operand(e)))
                    .collect(),
            ),
            _ => Value::Nil,
        }
    }

    /// What Go 1.26's fmt.Sprintf prints for these formats and operands.
    #[test]
    fn formats_as_go_fmt() {
        let cases = [
            (
                r#"{"f":"%*d|%-*d|%.*f|%[2]*[1]d|%[3]d %[1]d","a":[{"t":"int","v":5},{"t":"int","v":-4},{"t":"int","v":2}]}"#,
                r#"   -4|%!d(MISSING)|%!(BADPREC)%!f(MISSING)|5   |2 5"#,
            ),
            (
                r#"{"f":"%*d","a":[{"t":"str","v":"x"},{"t":"int","v":1}]}"#,
                r#"%!(BADWIDTH)1"#,
            ),
            (
                r#"{"f":"%.*d","a":[{"t":"float","v":"2"},{"t":"int","v":1}]}"#,
                r#"%!(BADPREC)1"#,
            ),
            (
                r#"{"f":"%[2]v %[5]v %[0]v %[1]2d","a":[{"t":"int","v":1},{"t":"str","v":"b"}]}"#,
                r#"b %!v(BADINDEX) %!v(BADINDEX) %!d(BADINDEX)"#,
            ),
            (
                r#"{"f":"%8d","a":[{"t":"str","v":"a"}]}"#,
                r#"%!d(string=       a)"#,
            ),
            (
                r#"{"f":"%+8.2d","a":[{"t":"list","v":[{"t":"str","v":"a"},{"t":"float","v":"1"},{"t":"bool","v":true},{"t":"nil"}]}]}"#,
                r#"[%!d(string=       a) %!d(float64=      +1) %!d(bool=    true) <nil>]"#,
            ),
            (
                r#"{"f":"%U %#U %#.6U %c %q %+q %#q %c","a":[{"t":"int","v":65},{"t":"int","v":233},{"t":"int","v":128512},{"t":"int","v":233},{"t":"int","v":233},{"t":"int","v":233},{"t":"int","v":96},{"t":"int","v":-1}]}"#,
                r#"U+0041 U+00E9 'é' U+01F600 '😀' é 'é' '\u00e9' '`' �"#,
            ),
            (
                r#"{"f":"%O %#o %#x %#X %#b %x %X","a":[{"t":"int","v":8},{"t":"int","v":8},{"t":"int","v":-255},{"t":"uint64","v":255},{"t":"int","v":5},{"t":"float","v":"1"},{"t":"str","v":"hé"}]}"#,
                r#"0o10 010 -0xff 0XFF 0b101 0x1p+00 68C3A9"#,
            ),
            (
                r#"{"f":"%s %v %d %t","a":[{"t":"nil"},{"t":"nil"},{"t":"bool","v":true},{"t":"int","v":1}]}"#,
                r#"%!s(<nil>) <nil> %!d(bool=true) %!t(int=1)"#,
            ),
            (
                r#"{"f":"%d","a":[{"t":"int","v":1},{"t":"nil"},{"t":"str","v":"x"},{"t":"list","v":[]}]}"#,
                r#"1%!(EXTRA <nil>, string=x, []interface {}=[])"#,
            ),
            (
                r#"{"f":"%6t|%-6t|%.2s|%.1q|%.2x|% x|%# X|%08s","a":[{"t":"bool","v":true},{"t":"bool","v":false},{"t":"str","v":"héllo"},{"t":"str","v":"héllo"},{"t":"str","v":"héllo"},{"t":"str","v":"abc"},{"t":"str","v":"abc"},{"t":"str","v":"ab"}]}"#,
                r#"  true|false |hé|"h"|68c3|61 62 63|0X61 0X62 0X63|000000ab"#,
            ),
            (
                r#"{"f":"%x %X %.3x %#x %#.0X %b","a":[{"t":"float","v":"1"},{"t":"float","v":"-2.5"},{"t":"float","v":"3.14159"},{"t":"float","v":"1e21"},{"t":"float","v":"1.5"},{"t":"float","v":"2.5"}]}"#,
                r#"0x1p+00 -0X1.4P+01 0x1.922p+01 0x1.b1ae4d6e2ef5p+69 0X1.P+01 5629499534213120p-51"#,
            ),
            (
                r#"{"f":"%e %E %g %G %.3e %#g %#.3g %.0f %.0f %8.3f|%-8.3f|%08.3f|%+.1e","a":[{"t":"int","v":1},{"t":"int","v":1},{"t":"float","v":"1e21"},{"t":"float","v":"1e-7"},{"t":"float","v":"1234.5678"},{"t":"float","v":"1"},{"t":"float","v":"100"},{"t":"float","v":"0.5"},{"t":"float","v":"1.5"},{"t":"float","v":"-3.14159"},{"t":"float","v":"3.14159"},{"t":"float","v":"-3.14159"},{"t":"float","v":"0"}]}"#,
                r#"%!e(int=1) %!E(int=1) 1e+21 1E-07 1.235e+03 1.00000 100. 0 2   -3.142|3.142   |-003.142|+0.0e+00"#,
            ),
            (
                r#"{"f":"%+8.2E|%.2E","a":[{"t":"int","v":0},{"t":"int","v":0}]}"#,
                r#"%!E(int=     +00)|%!E(int=00)"#,
            ),
            (
                r#"{"f":"%v %f %+v %08v % v %v %.1f","a":[{"t":"float","v":"nan"},{"t":"float","v":"inf"},{"t":"float","v":"nan"},{"t":"float","v":"-inf"},{"t":"float","v":"inf"},{"t":"float","v":"-0"},{"t":"float","v":"-0.04"}]}"#,
                r#"NaN +Inf NaN     -Inf  Inf -0 -0.0"#,
            ),
            (
                r#"{"f":"%v|%5v|%-4d|%x|%q|%#v|%+v","a":[{"t":"map","v":{"b":{"t":"list","v":[{"t":"bool","v":true}]},"a":{"t":"int","v":1}}},{"t":"list","v":[{"t":"int","v":1},{"t":"str","v":"b"},{"t":"nil"}]},{"t":"list","v":[{"t":"int","v":1},{"t":"int","v":-2}]},{"t":"list","v":[{"t":"str","v":"hi"},{"t":"int","v":255}]},{"t":"map","v":{"k":{"t":"str","v":"v"}}},{"t":"list","v":[{"t":"nil"},{"t":"str","v":"a"},{"t":"uint64","v":5},{"t":"float","v":"2.5"},{"t":"map","v":{}}]},{"t":"map","v":{"a":{"t":"int","v":1}}}]}"#,
                r#"map[a:1 b:[true]]|[    1     b <nil>]|[1    -2  ]|[6869 ff]|map["k":"v"]|[]interface {}{interface {}(nil), "a", 0x5, 2.5, map[string]interface {}{}}|map[a:1]"#,
            ),
            (
                r#"{"f":"%d %s","a":[{"t":"int","v":1},{"t":"str","v":"a"},{"t":"nil"},{"t":"str","v":"b"},{"t":"float","v":"2.5"},{"t":"list","v":[{"t":"int","v":1}]}]}"#,
                r#"1 a%!(EXTRA <nil>, string=b, float64=2.5, []interface {}=[1])"#,
            ),
            (
                r#"{"f":"%!%z%-%","a":[{"t":"int","v":1}]}"#,
                r#"%!!(int=1)%!z(MISSING)%"#,
            ),
            (r#"{"f":"%.","a":[{"t":"int","v":1}]}"#, r#"%!.(int=1)"#),
            (
                r#"{"f":"%w %#w %é %5T|%.3T","a":[{"t":"int","v":1},{"t":"list","v":[{"t":"str","v":"a"}]},{"t":"int","v":2},{"t":"str","v":"x"},{"t":"map","v":{}}]}"#,
                r#"%!w(int=1) %!w([]interface {}=[]interface {}{"a"}) %!é(int=2) string|map"#,
            ),
            (
                r#"{"f":"%#v %#v %#v %#v %#v %#v","a":[{"t":"str","v":"a\"b"},{"t":"int","v":-3},{"t":"uint64","v":255},{"t":"float","v":"1"},{"t":"bool","v":false},{"t":"nil"}]}"#,
                r#""a\"b" -3 0xff 1 false <nil>"#,
            ),
            (
                r#"{"f":"%v %.3g %.20g %g %v","a":[{"t":"float","v":"902373735275798.2"},{"t":"float","v":"2.5e-5"},{"t":"float","v":"0.1"},{"t":"float","v":"5e-324"},{"t":"float","v":"1.7976931348623157e308"}]}"#,
                r#"9.023737352757982e+14 2.5e-05 0.10000000000000000555 5e-324 1.7976931348623157e+308"#,
            ),
            (
                r#"{"f":"%.0d|%5.0d|%.3d|%03d|%-05d|%+05d|% 05d|%#05x","a":[{"t":"int","v":0},{"t":"int","v":0},{"t":"int","v":-7},{"t":"int","v":-7},{"t":"int","v":7},{"t":"int","v":7},{"t":"int","v":7},{"t":"int","v":7}]}"#,
                r#"|     |-007|-07|7    |+0007| 0007|0x00007"#,
            ),
            (
                r#"{"f":"%q|%#q|%+q|%#q","a":[{"t":"str","v":"é\u0001\n"},{"t":"str","v":"a`b"},{"t":"str","v":"日本\ud83d\ude00"},{"t":"str","v":"tab\there"}]}"#,
                r#""é\x01\n"|"a`b"|"\u65e5\u672c\U0001f600"|`tab	here`"#,
            ),
            (
                r#"{"f":"%*d|%.*d|%*d","a":[{"t":"int","v":1000001},{"t":"int","v":1},{"t":"int","v":-1},{"t":"int","v":1},{"t":"uint64","v":18446744073709551615},{"t":"int","v":1}]}"#,
                r#"%!(BADWIDTH)1|%!(BADPREC)1|%!(BADWIDTH)1"#,
            ),
        ];
        for (case, want) in cases {
            let c: serde_json::Value = serde_json::from_str(case).unwrap();
            let args: Vec<Value> = c["a"].as_array().unwrap().iter().map(operand).collect();
            assert_eq!(sprintf(c["f"].as_str().unwrap(), &args), want, "{case}");
        }
    }

    #[test]
    fn bytes_format_as_go_fmt() {
        let b = || Value::Object(std::rc::Rc::new(GoBytes::new(vec![1, 0x68, 0xff])));
        assert_eq!(
            sprintf("%v|%d|%x|% X|%c", &[b(), b(), b(), b(), b()]),
            "[1 104 255]|[1 104 255]|0168ff|01 68 FF|[\u{1} h \u{ff}]"
        );
        assert_eq!(
            sprintf("%#v|%5v|%f", &[b(), b(), b()]),
            "[]byte{0x1, 0x68, 0xff}|[    1   104   255]|[%!f(uint8=1) %!f(uint8=104) %!f(uint8=255)]"
        );
        assert_eq!(sprintf("%T", &[b()]), "[]uint8");
        let nil = || Value::Object(std::rc::Rc::new(GoBytes::nil()));
        assert_eq!(
            sprintf(
                "%v|%#v|%s|%#v",
                &[nil(), nil(), nil(), Value::list(vec![nil()])]
            ),
            "[]|[]byte(nil)||[]interface {}{[]uint8(nil)}"
        );
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            (-2000i64..2000).prop_map(Value::Int),
            any::<i64>().prop_map(Value::Int64),
            any::<u64>().prop_map(Value::Uint64),
            any::<f64>().prop_map(Value::Float),
            (-1e6f64..1e6).prop_map(Value::Float),
            ".{0,6}".prop_map(Value::string),
            proptest::collection::vec(any::<u8>(), 0..4)
                .prop_map(|b| Value::Object(std::rc::Rc::new(GoBytes::new(b)))),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::list),
                proptest::collection::btree_map(".{0,3}", inner, 0..4).prop_map(Value::map),
            ]
        })
    }

    proptest! {
        /// fmt never fails: any format with any operands prints something.
        #[test]
        fn any_format_prints(
            format in r"([%#+ 0.*\[\]1-9a-zA-Z|é-]|%[-+# 0]{0,2}[0-9*\[\]]{0,4}(\.[0-9*\[\]]{0,4})?.){0,8}",
            args in proptest::collection::vec(arb_value(), 0..5),
        ) {
            let _ = sprintf(&format, &args);
        }
    }
}
