//! strconv's shortest float digits: the fewest decimal digits that read back as the float,
//! the even one where two are as near (Rust's `{:e}` may take either). Every place a template
//! prints a float64 as Go does (`{{ $x }}`, `toString`, printf, JSON, YAML, sprig's decimals)
//! takes its digits from here.

/// Decimal digits of a float's magnitude: `d[..]` with no trailing zeros (empty for zero) and
/// the decimal point's place `dp` (the value is 0.d × 10^dp).
pub struct Digits {
    pub d: Vec<u8>,
    pub dp: i64,
}

impl Digits {
    pub fn nd(&self) -> i64 {
        self.d.len() as i64
    }
}

/// The digits of Rust's exponent form `d.ddde±x`, correctly rounded as strconv rounds them
/// (to nearest, ties to even).
pub fn digits_from_exp(s: &str) -> Digits {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    let exp: i64 = exp.parse().unwrap_or(0);
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits { d, dp: exp + 1 }
}

/// The shortest digits that read back as `v` (`v` finite, non-zero). Where two are as near to
/// `v`, strconv takes the even one, Rust either: a tie needs 16 digits or more.
pub fn shortest_digits(v: f64) -> Digits {
    let v = v.abs();
    let mut digs = digits_from_exp(&format!("{v:e}"));
    if digs.d.len() >= 16
        && digs.d.last().is_some_and(|d| d % 2 == 1)
        && let Some(even) = even_tie(v, &digs)
    {
        digs = even;
    }
    digs
}

/// Every digit of `v` (finite, positive) when they are fewer than 19 (None otherwise): `v` is
/// m × 2^e, which is m × 5^-e / 10^-e when e < 0.
fn exact_short_digits(v: f64) -> Option<Digits> {
    const LIMIT: u128 = 1_000_000_000_000_000_000;
    let bits = v.to_bits();
    let field = ((bits >> 52) & 0x7FF) as i64;
    let (mut m, mut e) = if field == 0 {
        (bits & ((1 << 52) - 1), -1074)
    } else {
        ((bits & ((1 << 52) - 1)) | (1 << 52), field - 1075)
    };
    if m == 0 {
        return None;
    }
    let tz = m.trailing_zeros();
    m >>= tz;
    e += i64::from(tz);
    let (x, frac) = if e >= 0 {
        if e > 63 {
            return None;
        }
        (u128::from(m) << e, 0)
    } else {
        let k = u32::try_from(-e).ok().filter(|&k| k <= 26)?;
        (u128::from(m) * 5u128.pow(k), k as i64)
    };
    if x >= LIMIT {
        return None;
    }
    let text = x.to_string();
    let dp = text.len() as i64 - frac;
    let mut d = text.into_bytes();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    Some(Digits { d, dp })
}

/// When `v` lies exactly halfway between two decimals of `digs`' length, the even one of them,
/// if it reads back as `v`.
fn even_tie(v: f64, digs: &Digits) -> Option<Digits> {
    let n = digs.d.len();
    let exact = exact_short_digits(v)?;
    if exact.d.len() != n + 1 || exact.d[n] != b'5' {
        return None;
    }
    let mut d = exact.d[..n].to_vec();
    let mut dp = exact.dp;
    if d[n - 1] % 2 == 1 {
        // round the floor up: carry through the nines
        let mut i = n;
        loop {
            if i == 0 {
                d.insert(0, b'1');
                dp += 1;
                break;
            }
            i -= 1;
            if d[i] == b'9' {
                d[i] = b'0';
            } else {
                d[i] += 1;
                break;
            }
        }
    }
    while d.last() == Some(&b'0') {
        d.pop();
    }
    let text = format!("0.{}e{dp}", std::str::from_utf8(&d).ok()?);
    (text.parse::<f64>().ok()? == v).then_some(Digits { d, dp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    fn text(d: &Digits) -> String {
        format!("0.{}e{}", std::str::from_utf8(&d.d).unwrap(), d.dp)
    }

    /// Floats with a short exact expansion whose shortest digits are 16 or more: where ties are.
    fn tie_prone() -> impl Strategy<Value = f64> {
        (1u64 << 52..1u64 << 53, 1i32..12).prop_map(|(m, k)| m as f64 / f64::from(1u32 << k))
    }

    #[test]
    fn ties_are_found_among_the_tie_prone_floats() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let ties = (0..2000)
            .filter(|_| {
                let v = tie_prone().new_tree(&mut runner).unwrap().current();
                digits_from_exp(&format!("{v:e}")).d != shortest_digits(v).d
            })
            .count();
        assert!(ties > 0, "no tie among 2000 tie-prone floats");
    }

    proptest! {
        /// The digits read back as the float, are never longer than Rust's shortest, and are even
        /// where Rust's are not and the two are as near.
        #[test]
        fn shortest_digits_read_back_and_are_even_on_a_tie(
            v in prop_oneof![tie_prone(), any::<f64>().prop_filter("finite", |v| v.is_finite() && *v != 0.0)]
        ) {
            let v = v.abs();
            let ours = shortest_digits(v);
            let rusts = digits_from_exp(&format!("{v:e}"));
            prop_assert_eq!(text(&ours).parse::<f64>().unwrap(), v);
            prop_assert_eq!(ours.d.len(), rusts.d.len());
            if ours.d != rusts.d {
                prop_assert_eq!(ours.d.last().unwrap() % 2, 0);
            }
        }
    }
}
