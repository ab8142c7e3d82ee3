//! shopspring/decimal as sprig's `addf`, `add1f`, `subf`, `mulf` and `divf` use it: each float64
//! becomes the shortest decimal that reads back as it, the arithmetic is exact in base 10
//! (division rounds half away from zero at 16 decimal places, shopspring's DivisionPrecision),
//! and the result is the float64 nearest to it. So `mulf 1.2 2.4 10 4` is 115.2, not the
//! 115.19999999999999 of binary floating point.

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

/// coef × 10^exp
#[derive(Debug, Clone)]
pub struct Decimal {
    coef: BigInt,
    exp: i64,
}

const DIVISION_PRECISION: i64 = 16;

fn pow10(n: i64) -> BigInt {
    BigInt::from(10u32).pow(n as u32)
}

impl Decimal {
    /// decimal.NewFromFloat: the shortest decimal that rounds to `f`.
    pub fn from_f64(f: f64) -> Result<Decimal, String> {
        if !f.is_finite() {
            return Err(format!(
                "Cannot create a Decimal from {}",
                if f.is_nan() {
                    "NaN"
                } else if f > 0.0 {
                    "+Inf"
                } else {
                    "-Inf"
                }
            ));
        }
        // shopspring's NewFromFloat takes strconv's shortest digits (even on a tie)
        let digs = super::shortest_float::shortest_digits(f);
        let text = std::str::from_utf8(&digs.d).unwrap_or("0");
        let mut coef: BigInt = if text.is_empty() {
            BigInt::default()
        } else {
            text.parse().unwrap_or_default()
        };
        if f.is_sign_negative() {
            coef = -coef;
        }
        Ok(Decimal {
            coef,
            exp: digs.dp - digs.d.len() as i64,
        })
    }

    fn aligned(&self, other: &Decimal) -> (BigInt, BigInt, i64) {
        let exp = self.exp.min(other.exp);
        (
            &self.coef * pow10(self.exp - exp),
            &other.coef * pow10(other.exp - exp),
            exp,
        )
    }

    pub fn add(&self, other: &Decimal) -> Decimal {
        let (a, b, exp) = self.aligned(other);
        Decimal { coef: a + b, exp }
    }

    pub fn sub(&self, other: &Decimal) -> Decimal {
        let (a, b, exp) = self.aligned(other);
        Decimal { coef: a - b, exp }
    }

    pub fn mul(&self, other: &Decimal) -> Decimal {
        Decimal {
            coef: &self.coef * &other.coef,
            exp: self.exp + other.exp,
        }
    }

    /// Div: DivRound(other, 16), which rounds half away from zero.
    pub fn div(&self, other: &Decimal) -> Result<Decimal, String> {
        if other.coef.is_zero() {
            return Err("decimal division by zero".into());
        }
        let mut num = self.coef.clone();
        let mut den = other.coef.clone();
        let e = self.exp - other.exp + DIVISION_PRECISION;
        if e >= 0 {
            num *= pow10(e);
        } else {
            den *= pow10(-e);
        }
        let mut q = &num / &den;
        let r = &num % &den;
        if r.abs() * 2 >= den.abs() {
            if (num.is_negative()) != (den.is_negative()) {
                q -= 1;
            } else {
                q += 1;
            }
        }
        Ok(Decimal {
            coef: q,
            exp: -DIVISION_PRECISION,
        })
    }

    /// The nearest float64.
    pub fn to_f64(&self) -> f64 {
        format!("{}e{}", self.coef, self.exp)
            .parse()
            .unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(f: f64) -> Decimal {
        Decimal::from_f64(f).unwrap()
    }

    #[test]
    fn arithmetic_is_decimal() {
        let p = d(1.2).mul(&d(2.4)).mul(&d(10.0)).mul(&d(4.0));
        assert_eq!(p.to_f64(), 115.2);
        assert_eq!(d(0.1).add(&d(0.2)).to_f64(), 0.3);
        assert_eq!(d(4.5).sub(&d(1.0)).to_f64(), 3.5);
        assert_eq!(d(2.0).div(&d(3.0)).unwrap().to_f64(), 0.6666666666666667);
        assert_eq!(d(-2.0).div(&d(3.0)).unwrap().to_f64(), -0.6666666666666667);
        assert_eq!(d(1e-300).div(&d(3.0)).unwrap().to_f64(), 0.0);
        assert!(d(1.0).div(&d(0.0)).is_err());
        assert!(Decimal::from_f64(f64::NAN).is_err());
    }
}
