//! Masterminds/semver v3.3.0, the version and constraint rules helm and sprig use
//! (`semver`, `semverCompare`, a dependency's `version` range, a repository's chart versions).
//!
//! Ported rule by rule rather than mapped onto the `semver` crate's `VersionReq`: that one follows
//! Cargo's rules, and Masterminds differs in ways charts see: `1.2` means `~1.2` (not `^1.2`),
//! `x`/`*` wildcards make `<=`, `>` and `!=` compare only the given parts, an empty constraint is
//! refused, a prerelease matches a comparison only when that comparison names a prerelease,
//! versions may start with `v` and lack minor or patch, and the constraint grammar is three Go
//! regular expressions whose leftmost-first matching decides what is valid (kept verbatim here:
//! the regex crate matches with the same preference).

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

/// A Masterminds `*semver.Version`.
#[derive(Debug, Clone)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
    pub original: String,
}

/// Go's `\s`.
const WS: &str = r"[\t\n\f\r ]";
const SEMVER: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

struct Regexes {
    version: Regex,
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn re() -> &'static Regexes {
    static R: OnceLock<Regexes> = OnceLock::new();
    R.get_or_init(|| {
        let r = |s: String| Regex::new(&s).expect("Masterminds' patterns compile");
        Regexes {
            version: r(format!("^{SEMVER}$")),
            constraint: r(format!("^{WS}*({OPS}){WS}*({CV}){WS}*$")),
            range: r(format!("{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")),
            find: r(format!("({OPS}){WS}*({CV})")),
            valid: r(format!(
                "^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
            )),
        }
    })
}

const NUM: &str = "0123456789";
const ALLOWED: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789";

fn contains_only(s: &str, set: &str) -> bool {
    s.chars().all(|c| set.contains(c))
}

fn parse_u64(s: &str) -> Result<u64, String> {
    s.parse::<u64>().map_err(|_| {
        format!(
            "Error parsing version segment: strconv.ParseUint: parsing {s:?}: value out of range"
        )
    })
}

impl Version {
    /// `semver.NewVersion`: the error is Masterminds' text.
    pub fn parse(v: &str) -> Result<Version, String> {
        let Some(m) = re().version.captures(v) else {
            return Err("Invalid Semantic Version".into());
        };
        let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
        let major = parse_u64(g(1))?;
        let minor = match g(2) {
            "" => 0,
            x => parse_u64(&x[1..])?,
        };
        let patch = match g(3) {
            "" => 0,
            x => parse_u64(&x[1..])?,
        };
        let pre = g(5).to_string();
        let metadata = g(8).to_string();
        if !pre.is_empty() {
            for p in pre.split('.') {
                if contains_only(p, NUM) {
                    if p.len() > 1 && p.starts_with('0') {
                        return Err("Version segment starts with 0".into());
                    }
                } else if !contains_only(p, ALLOWED) {
                    return Err("Invalid Prerelease string".into());
                }
            }
        }
        if !metadata.is_empty() && metadata.split('.').any(|p| !contains_only(p, ALLOWED)) {
            return Err("Invalid Metadata string".into());
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre,
            metadata,
            original: v.to_string(),
        })
    }

    pub fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
            pre: String::new(),
            metadata: String::new(),
            original: format!("{major}.{minor}.{patch}"),
        }
    }

    /// `Compare`: metadata does not count.
    pub fn compare(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }
}

/// Equality and order are `Compare`'s: metadata does not count.
impl PartialEq for Version {
    fn eq(&self, o: &Version) -> bool {
        self.compare(o) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, o: &Version) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Version) -> Ordering {
        self.compare(o)
    }
}

impl std::fmt::Display for Version {
    /// `String()`: the normalized form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

fn compare_prerelease(v: &str, o: &str) -> Ordering {
    let s: Vec<&str> = v.split('.').collect();
    let t: Vec<&str> = o.split('.').collect();
    for i in 0..s.len().max(t.len()) {
        let d = compare_pre_part(
            s.get(i).copied().unwrap_or(""),
            t.get(i).copied().unwrap_or(""),
        );
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        // a number sorts before a word
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(_), Err(_)) => Ordering::Less,
        (Ok(a), Ok(b)) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Constraint {
    con: Version,
    op: Op,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

/// `semver.Constraints`: alternatives (`||`) of comparisons that must all hold.
#[derive(Debug, Clone)]
pub struct Constraints(Vec<Vec<Constraint>>);

fn is_x(x: &str) -> bool {
    matches!(x, "x" | "*" | "X")
}

fn rewrite_range(i: &str) -> String {
    let mut o = i.to_string();
    for m in re().range.captures_iter(i) {
        let t = format!(">= {}, <= {} ", &m[1], &m[11]);
        o = o.replacen(&m[0], &t, 1);
    }
    o
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    if c.is_empty() {
        // only reachable through a segment the validity pattern let through; kept as in Go
        return Ok(Constraint {
            con: Version::new(0, 0, 0),
            op: Op::TildeOrEqual,
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let Some(m) = re().constraint.captures(c) else {
        return Err(format!("improper constraint: {c}"));
    };
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let op = match g(1) {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        _ => Op::Caret,
    };
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    let mut ver = g(2).to_string();
    if is_x(g(3)) || g(3).is_empty() {
        ver = format!("0.0.0{}", g(6));
        dirty = true;
    } else if is_x(g(4).trim_start_matches('.')) || g(4).is_empty() {
        minor_dirty = true;
        dirty = true;
        ver = format!("{}.0.0{}", g(3), g(6));
    } else if is_x(g(5).trim_start_matches('.')) || g(5).is_empty() {
        dirty = true;
        patch_dirty = true;
        ver = format!("{}{}.0{}", g(3), g(4), g(6));
    }
    let con = Version::parse(&ver).map_err(|_| "constraint Parser Error".to_string())?;
    Ok(Constraint {
        con,
        op,
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraints {
    /// `semver.NewConstraint`: the error is Masterminds' text.
    pub fn parse(c: &str) -> Result<Constraints, String> {
        let c = rewrite_range(c);
        let mut ors = Vec::new();
        for v in c.split("||") {
            if !re().valid.is_match(v) {
                return Err(format!("improper constraint: {v}"));
            }
            let found: Vec<&str> = re().find.find_iter(v).map(|m| m.as_str()).collect();
            let found = if found.is_empty() { vec![v] } else { found };
            ors.push(
                found
                    .into_iter()
                    .map(parse_constraint)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(Constraints(ors))
    }

    pub fn check(&self, v: &Version) -> bool {
        self.0.iter().any(|and| and.iter().all(|c| c.check(v)))
    }
}

/// helm's `chartutil.IsCompatibleRange`: false when either side does not parse.
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    match (Version::parse(version), Constraints::parse(constraint)) {
        (Ok(v), Ok(c)) => c.check(&v),
        _ => false,
    }
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        // A prerelease version only satisfies a comparison that names a prerelease
        // (Masterminds' issue 21); `!=` applies this only to a wildcard.
        let pre_refused = !v.pre.is_empty() && c.pre.is_empty();
        let cmp = v.compare(c);
        match self.op {
            Op::NotEqual => {
                if self.dirty {
                    if pre_refused {
                        return false;
                    }
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                cmp != Ordering::Equal
            }
            Op::Greater => {
                if pre_refused {
                    return false;
                }
                if !self.dirty {
                    return cmp == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    cmp == Ordering::Greater
                }
            }
            Op::Less => !pre_refused && cmp == Ordering::Less,
            Op::GreaterEqual => !pre_refused && cmp != Ordering::Less,
            Op::LessEqual => {
                if pre_refused {
                    return false;
                }
                if !self.dirty {
                    return cmp != Ordering::Greater;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Tilde => !pre_refused && self.tilde(v),
            Op::TildeOrEqual => {
                if pre_refused {
                    return false;
                }
                if self.dirty {
                    return self.tilde(v);
                }
                cmp == Ordering::Equal
            }
            Op::Caret => {
                if pre_refused || cmp == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(c: &str, v: &str) -> bool {
        parse_constraint(c)
            .unwrap_or_else(|e| panic!("{c}: {e}"))
            .check(&Version::parse(v).unwrap_or_else(|e| panic!("{v}: {e}")))
    }

    fn all(c: &str, v: &str) -> bool {
        Constraints::parse(c)
            .unwrap_or_else(|e| panic!("{c}: {e}"))
            .check(&Version::parse(v).unwrap_or_else(|e| panic!("{v}: {e}")))
    }

    /// Masterminds/semver v3.3.0's TestConstraintCheck.
    #[test]
    fn one_comparison_as_masterminds_checks_it() {
        let table: &[(&str, &str, bool)] = &[
            ("=2.0.0", "1.2.3", false),
            ("=2.0.0", "2.0.0", true),
            ("=2.0", "1.2.3", false),
            ("=2.0", "2.0.0", true),
            ("=2.0", "2.0.1", true),
            ("4.1", "4.1.0", true),
            ("!=4.1.0", "4.1.0", false),
            ("!=4.1.0", "4.1.1", true),
            ("!=4.1", "4.1.0", false),
            ("!=4.1", "4.1.1", false),
            ("!=4.1", "5.1.0-alpha.1", false),
            ("!=4.1-alpha", "4.1.0", true),
            ("!=4.1", "5.1.0", true),
            ("<11", "0.1.0", true),
            ("<11", "11.1.0", false),
            ("<1.1", "0.1.0", true),
            ("<1.1", "1.1.0", false),
            ("<1.1", "1.1.1", false),
            ("<=11", "1.2.3", true),
            ("<=11", "12.2.3", false),
            ("<=11", "11.2.3", true),
            ("<=1.1", "1.2.3", false),
            ("<=1.1", "0.1.0", true),
            ("<=1.1", "1.1.0", true),
            ("<=1.1", "1.1.1", true),
            (">1.1", "4.1.0", true),
            (">1.1", "1.1.0", false),
            (">0", "0", false),
            (">0", "1", true),
            (">0", "0.0.1-alpha", false),
            (">0.0", "0.0.1-alpha", false),
            (">0-0", "0.0.1-alpha", false),
            (">0.0-0", "0.0.1-alpha", false),
            (">0", "0.0.0-alpha", false),
            (">0-0", "0.0.0-alpha", false),
            (">0.0.0-0", "0.0.0-alpha", true),
            (">1.2.3-alpha.1", "1.2.3-alpha.2", true),
            (">1.2.3-alpha.1", "1.3.3-alpha.2", true),
            (">11", "11.1.0", false),
            (">11.1", "11.1.0", false),
            (">11.1", "11.1.1", false),
            (">11.1", "11.2.1", true),
            (">=11", "11.1.2", true),
            (">=11.1", "11.1.2", true),
            (">=11.1", "11.0.2", false),
            (">=1.1", "4.1.0", true),
            (">=1.1", "1.1.0", true),
            (">=1.1", "0.0.9", false),
            (">=0", "0.0.1-alpha", false),
            (">=0.0", "0.0.1-alpha", false),
            (">=0-0", "0.0.1-alpha", true),
            (">=0.0-0", "0.0.1-alpha", true),
            (">=0", "0.0.0-alpha", false),
            (">=0-0", "0.0.0-alpha", true),
            (">=0.0.0-0", "0.0.0-alpha", true),
            (">=0.0.0-0", "1.2.3", true),
            (">=0.0.0-0", "3.4.5-beta.1", true),
            ("<0", "0.0.0-alpha", false),
            ("<0-z", "0.0.0-alpha", true),
            (">=0", "0", true),
            ("=0", "1", false),
            ("*", "1", true),
            ("*", "4.5.6", true),
            ("*", "1.2.3-alpha.1", false),
            ("*-0", "1.2.3-alpha.1", true),
            ("2.*", "1", false),
            ("2.*", "3.4.5", false),
            ("2.*", "2.1.1", true),
            ("2.1.*", "2.1.1", true),
            ("2.1.*", "2.2.1", false),
            ("", "1", true),
            ("", "4.5.6", true),
            ("", "1.2.3-alpha.1", false),
            ("2", "1", false),
            ("2", "3.4.5", false),
            ("2", "2.1.1", true),
            ("2.1", "2.1.1", true),
            ("2.1", "2.2.1", false),
            ("~1.2.3", "1.2.4", true),
            ("~1.2.3", "1.3.4", false),
            ("~1.2", "1.2.4", true),
            ("~1.2", "1.3.4", false),
            ("~1", "1.2.4", true),
            ("~1", "2.3.4", false),
            ("~0.2.3", "0.2.5", true),
            ("~0.2.3", "0.3.5", false),
            ("~1.2.3-beta.2", "1.2.3-beta.4", true),
            ("~1.2.3-beta.2", "1.2.4-beta.2", true),
            ("~1.2.3-beta.2", "1.3.4-beta.2", false),
            ("^1.2.3", "1.8.9", true),
            ("^1.2.3", "2.8.9", false),
            ("^1.2.3", "1.2.1", false),
            ("^1.1.0", "2.1.0", false),
            ("^1.2.0", "2.2.1", false),
            ("^1.2.0", "1.2.1-alpha.1", false),
            ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
            ("^1.2.0-alpha.0", "1.2.1-alpha.0", true),
            ("^1.2.0-alpha.2", "1.2.0-alpha.1", false),
            ("^1.2", "1.8.9", true),
            ("^1.2", "2.8.9", false),
            ("^1", "1.8.9", true),
            ("^1", "2.8.9", false),
            ("^0.2.3", "0.2.5", true),
            ("^0.2.3", "0.5.6", false),
            ("^0.2", "0.2.5", true),
            ("^0.2", "0.5.6", false),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.0.3", true),
            ("^0.0", "0.1.4", false),
            ("^0.0", "1.0.4", false),
            ("^0", "0.2.3", true),
            ("^0", "1.1.4", false),
            ("^0.2.3-beta.2", "0.2.3-beta.4", true),
            ("^0.2.3-beta.2", "0.2.4-beta.2", true),
            ("^0.2.3-beta.2", "0.3.4-beta.2", false),
            ("^0.2.3-beta.2", "0.2.3-beta.2", true),
        ];
        for (c, v, want) in table {
            assert_eq!(single(c, v), *want, "{c:?} with {v:?}");
        }
    }

    /// Masterminds/semver v3.3.0's TestConstraintsCheck.
    #[test]
    fn constraints_as_masterminds_checks_them() {
        let table: &[(&str, &str, bool)] = &[
            ("*", "1.2.3", true),
            ("~0.0.0", "1.2.3", true),
            ("0.x.x", "1.2.3", false),
            ("0.0.x", "1.2.3", false),
            ("0.0.0", "1.2.3", false),
            ("*", "1.2.3", true),
            ("^0.0.0", "1.2.3", false),
            ("= 2.0", "1.2.3", false),
            ("= 2.0", "2.0.0", true),
            ("4.1", "4.1.0", true),
            ("4.1.x", "4.1.3", true),
            ("1.x", "1.4", true),
            ("!=4.1", "4.1.0", false),
            ("!=4.1-alpha", "4.1.0-alpha", false),
            ("!=4.1-alpha", "4.1.1-alpha", false),
            ("!=4.1-alpha", "4.1.0", true),
            ("!=4.1", "5.1.0", true),
            ("!=4.x", "5.1.0", true),
            ("!=4.x", "4.1.0", false),
            ("!=4.1.x", "4.2.0", true),
            ("!=4.2.x", "4.2.3", false),
            (">1.1", "4.1.0", true),
            (">1.1", "1.1.0", false),
            ("<1.1", "0.1.0", true),
            ("<1.1", "1.1.0", false),
            ("<1.1", "1.1.1", false),
            ("<1.x", "1.1.1", false),
            ("<1.x", "0.1.1", true),
            ("<1.x", "2.0.0", false),
            ("<1.1.x", "1.2.1", false),
            ("<1.1.x", "1.1.500", false),
            ("<1.1.x", "1.0.500", true),
            ("<1.2.x", "1.1.1", true),
            (">=1.1", "4.1.0", true),
            (">=1.1", "4.1.0-beta", false),
            (">=1.1", "1.1.0", true),
            (">=1.1", "0.0.9", false),
            ("<=1.1", "0.1.0", true),
            ("<=1.1", "0.1.0-alpha", false),
            ("<=1.1-a", "0.1.0-alpha", true),
            ("<=1.1", "1.1.0", true),
            ("<=1.x", "1.1.0", true),
            ("<=2.x", "3.0.0", false),
            ("<=1.1", "1.1.1", true),
            ("<=1.1.x", "1.2.500", false),
            ("<=4.5", "3.4.0", true),
            ("<=4.5", "3.7.0", true),
            ("<=4.5", "4.6.3", false),
            (">1.1, <2", "1.1.1", false),
            (">1.1, <2", "1.2.1", true),
            (">1.1, <3", "4.3.2", false),
            (">=1.1, <2, !=1.2.3", "1.2.3", false),
            (">1.1 <2", "1.1.1", false),
            (">1.1 <2", "1.2.1", true),
            (">1.1    <3", "4.3.2", false),
            (">=1.1    <2    !=1.2.3", "1.2.3", false),
            (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
            (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
            (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
            (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
            (">=1.1 <2 !=1.2.3", "1.2.3", false),
            (">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true),
            (">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false),
            (">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true),
            (">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false),
            ("> 1.1, <     2", "1.1.1", false),
            (">   1.1, <2", "1.2.1", true),
            (">1.1, <  3", "4.3.2", false),
            (">= 1.1, <     2, !=1.2.3", "1.2.3", false),
            ("> 1.1 < 2", "1.1.1", false),
            (">1.1 < 2", "1.2.1", true),
            ("> 1.1    <3", "4.3.2", false),
            (">=1.1    < 2    != 1.2.3", "1.2.3", false),
            (">= 1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
            (">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", false),
            (">= 1.1, <2, != 1.2.3 || >= 3", "3.0.0", true),
            (">= 1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
            (">= 1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
            (">= 1.1 <2 != 1.2.3", "1.2.3", false),
            (">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true),
            (">= 1.1 <2 != 1.2.3 || > 3", "3.1.2", false),
            (">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true),
            (">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", false),
            ("1.1 - 2", "1.1.1", true),
            ("1.5.0 - 4.5", "3.7.0", true),
            ("1.1-3", "4.3.2", false),
            ("^1.1", "1.1.1", true),
            ("^1.1", "4.3.2", false),
            ("^1.x", "1.1.1", true),
            ("^2.x", "1.1.1", false),
            ("^1.x", "2.1.1", false),
            ("^1.x", "1.1.1-beta1", false),
            ("^1.1.2-alpha", "1.2.1-beta1", true),
            ("^1.2.x-alpha", "1.1.1-beta1", false),
            ("^0.0.1", "0.0.1", true),
            ("^0.0.1", "0.3.1", false),
            ("~*", "2.1.1", true),
            ("~1", "2.1.1", false),
            ("~1", "1.3.5", true),
            ("~1", "1.4", true),
            ("~1.x", "2.1.1", false),
            ("~1.x", "1.3.5", true),
            ("~1.x", "1.4", true),
            ("~1.1", "1.1.1", true),
            ("~1.1", "1.1.1-alpha", false),
            ("~1.1-alpha", "1.1.1-beta", true),
            ("~1.1.1-beta", "1.1.1-alpha", false),
            ("~1.1.1-beta", "1.1.1", true),
            ("~1.2.3", "1.2.5", true),
            ("~1.2.3", "1.2.2", false),
            ("~1.2.3", "1.3.2", false),
            ("~1.1", "1.2.3", false),
            ("~1.3", "2.4.5", false),
            ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true),
            ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true),
        ];
        for (c, v, want) in table {
            assert_eq!(all(c, v), *want, "{c:?} with {v:?}");
        }
    }

    /// Masterminds/semver v3.3.0's TestNewConstraint: (input, ors, ands of the first, error).
    #[test]
    fn constraint_grammar_as_masterminds_parses_it() {
        let table: &[(&str, usize, usize, bool)] = &[
            (">= 1.1", 1, 1, false),
            (">40.50.60, < 50.70", 1, 2, false),
            ("2.0", 1, 1, false),
            ("v2.3.5-20161202202307-sha.e8fc5e5", 1, 1, false),
            (">= bar", 0, 0, true),
            ("BAR >= 1.2.3", 0, 0, true),
            (">= 1.2.3 < 2.0", 1, 2, false),
            (">= 1.2.3 < 2.0 || => 3.0 < 4", 2, 2, false),
            (">= 1.2.3, < 2.0", 1, 2, false),
            (">= 1.2.3, < 2.0 || => 3.0, < 4", 2, 2, false),
            ("3 - 4 || => 3.0, < 4", 2, 2, false),
            ("12.3.4.1234", 0, 0, true),
            ("12.23.4.1234", 0, 0, true),
            ("12.3.34.1234", 0, 0, true),
            ("12.3.34 ~1.2.3", 1, 2, false),
            ("12.3.34~ 1.2.3", 0, 0, true),
            ("1.0.0 - 2.0.0, <=2.0.0", 1, 3, false),
            ("", 0, 0, true),
        ];
        for (input, ors, ands, error) in table {
            match Constraints::parse(input) {
                Err(_) => assert!(error, "{input:?} refused"),
                Ok(c) => {
                    assert!(!error, "{input:?} taken");
                    assert_eq!(c.0.len(), *ors, "{input:?}");
                    assert_eq!(c.0[0].len(), *ands, "{input:?}");
                }
            }
        }
        assert_eq!(
            Constraints::parse(">= bar").unwrap_err(),
            "improper constraint: >= bar"
        );
    }

    /// Masterminds/semver v3.3.0's TestNewVersion.
    #[test]
    fn versions_as_masterminds_reads_them() {
        let table: &[(&str, bool)] = &[
            ("1.2.3", false),
            ("1.2.3-alpha.01", true),
            ("1.2.3+test.01", false),
            ("1.2.3-alpha.-1", false),
            ("v1.2.3", false),
            ("1.0", false),
            ("v1.0", false),
            ("1", false),
            ("v1", false),
            ("1.2.beta", true),
            ("v1.2.beta", true),
            ("foo", true),
            ("1.2-5", false),
            ("v1.2-5", false),
            ("1.2-beta.5", false),
            ("v1.2-beta.5", false),
            ("\n1.2", true),
            ("\nv1.2", true),
            ("1.2.0-x.Y.0+metadata", false),
            ("v1.2.0-x.Y.0+metadata", false),
            ("1.2.0-x.Y.0+metadata-width-hypen", false),
            ("v1.2.0-x.Y.0+metadata-width-hypen", false),
            ("1.2.3-rc1-with-hypen", false),
            ("v1.2.3-rc1-with-hypen", false),
            ("1.2.3.4", true),
            ("v1.2.3.4", true),
            ("1.2.2147483648", false),
            ("1.2147483648.3", false),
            ("2147483648.3.0", false),
            ("12.3.4.1234", true),
            ("12.23.4.1234", true),
            ("12.3.34.1234", true),
            ("20221209-update-renovatejson-v4", false),
        ];
        for (v, error) in table {
            assert_eq!(Version::parse(v).is_err(), *error, "{v:?}");
        }
        assert_eq!(Version::parse("v01.2.3").unwrap().to_string(), "1.2.3");
        assert!(
            Version::parse("1.2.99999999999999999999")
                .unwrap_err()
                .contains("value out of range")
        );
    }

    #[test]
    fn prereleases_order_as_masterminds_orders_them() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert_eq!(
            v("1.0.0-alpha").compare(&v("1.0.0-alpha.1")),
            Ordering::Less
        );
        assert_eq!(
            v("1.0.0-alpha.1").compare(&v("1.0.0-alpha.beta")),
            Ordering::Less
        );
        assert_eq!(
            v("1.0.0-beta.11").compare(&v("1.0.0-beta.2")),
            Ordering::Greater
        );
        assert_eq!(v("1.0.0-rc.1").compare(&v("1.0.0")), Ordering::Less);
        assert_eq!(v("1.0.0+a").compare(&v("1.0.0+b")), Ordering::Equal);
    }
}
