//! `.dockerignore` matching with Docker's own rules, not gitignore's.
//!
//! The `ignore` crate implements gitignore, whose rules differ from Docker's in ways that change
//! which files are sent to the engine (and so which files must count in the content digest):
//!
//! | pattern        | gitignore                               | Docker                                  |
//! |----------------|-----------------------------------------|-----------------------------------------|
//! | `*.md`         | any `.md` at any depth                  | only `.md` files in the context root    |
//! | `dir/`         | directories only                        | trailing `/` is cleaned away: anything  |
//! | `!dir/keep`    | cannot re-include under an excluded dir | re-includes it                          |
//! | `[!a]`         | negated class                           | class of `!` and `a` (`[^a]` negates)   |
//! | `  # x`        | pattern `  # x` (spaces kept)           | pattern `# x` (only a `#` in column 1 comments) |
//!
//! So this module ports moby's `patternmatcher` (the code both the classic builder and BuildKit
//! use): each line is trimmed and cleaned like Go's `filepath.Clean`, a leading `/` is dropped,
//! the pattern becomes an anchored regular expression (`*` and `?` stop at `/`, `**` spans
//! directories), a path is excluded when it or any parent directory matches, and the last
//! matching line wins. The walk then follows moby's archive code: an excluded directory is not
//! descended into unless some `!` exception starts with that directory's path.

use std::fmt;

use regex::Regex;

/// One syntax error in a `.dockerignore` line (Docker refuses to build with it too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// 1-based line number in the file.
    pub line: usize,
    /// Byte offset of the line's start in the file.
    pub offset: usize,
    /// Length of the line in bytes.
    pub len: usize,
    pub reason: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact(String),
    /// `foo/**`: everything below `foo` (a plain prefix test, as in moby).
    Prefix(String),
    /// `**/foo`: any path ending in `/foo`, or `foo` itself.
    Suffix(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
struct Pattern {
    cleaned: String,
    exclusion: bool,
    matcher: Matcher,
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact(p) => path == p,
            Matcher::Prefix(p) => path.starts_with(p.as_str()),
            Matcher::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix
                        .strip_prefix('/')
                        .is_some_and(|without_slash| path == without_slash)
            }
            Matcher::Regex(re) => re.is_match(path),
        }
    }
}

/// The parsed patterns of one `.dockerignore` file.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

impl DockerIgnore {
    /// Parses a `.dockerignore` file's text the way Docker reads it.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let mut patterns = Vec::new();
        let mut offset = 0;
        for (index, raw_line) in text.split_inclusive('\n').enumerate() {
            let line_start = offset;
            offset += raw_line.len();
            let mut line = raw_line.trim_end_matches(['\n', '\r']);
            if index == 0 {
                line = line.strip_prefix('\u{feff}').unwrap_or(line);
            }
            // Only a '#' in the first column starts a comment; "  # x" is a pattern.
            if line.starts_with('#') {
                continue;
            }
            let line_trimmed = line.trim();
            if line_trimmed.is_empty() {
                continue;
            }
            let error = |reason: String| PatternError {
                line: index + 1,
                offset: line_start,
                len: line.len(),
                reason,
            };
            let (exclusion, body) = match line_trimmed.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line_trimmed),
            };
            if exclusion && body.is_empty() {
                return Err(error(
                    "a lone `!` excludes nothing (illegal exclusion pattern)".into(),
                ));
            }
            let mut cleaned = clean_path(body);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            check_syntax(&cleaned).map_err(error)?;
            let matcher = compile(&cleaned).map_err(error)?;
            patterns.push(Pattern {
                cleaned,
                exclusion,
                matcher,
            });
        }
        Ok(Self { patterns })
    }

    /// Adds an exception so `path` is always sent, as the Docker CLI does for the Dockerfile
    /// and `.dockerignore` (the engine needs them even when a pattern excludes them).
    pub fn keep(&mut self, path: &str) {
        if self.is_excluded(path) {
            self.patterns.push(Pattern {
                cleaned: path.to_owned(),
                exclusion: true,
                matcher: Matcher::Exact(path.to_owned()),
            });
        }
    }

    /// Whether `path` (relative to the context root, `/`-separated, no leading `./`) is left
    /// out of the build context: the last pattern matching it or one of its parent
    /// directories decides.
    pub fn is_excluded(&self, path: &str) -> bool {
        let mut matched = false;
        for pattern in &self.patterns {
            // An inclusion cannot change an already-excluded path, nor an exception an
            // included one.
            if pattern.exclusion != matched {
                continue;
            }
            let hit = pattern.matches(path) || parents(path).any(|parent| pattern.matches(parent));
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Whether an excluded directory must still be walked because an exception names a path
    /// inside it. Like moby, this is a plain prefix test: `!*/keep` does not reopen `dir`.
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| format!("{}/", p.cleaned).starts_with(&dir_slash))
    }

    /// True when the file has no patterns (everything is sent).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// `a/b/c` → `a`, `a/b` (the proper parent directories, shortest first).
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Go's `filepath.Clean` on a `/`-separated path.
pub(crate) fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The checks Go's `filepath.Match` makes, which Docker runs on every pattern before use:
/// a trailing `\`, an unterminated or empty `[...]`, and a range endpoint that is `-` or `]`.
fn check_syntax(pattern: &str) -> Result<(), String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return Err("pattern ends with a lone `\\`".into());
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut ranges = 0;
                loop {
                    match chars.get(i) {
                        None => return Err("`[` is never closed with `]`".into()),
                        Some(']') if ranges > 0 => {
                            i += 1;
                            break;
                        }
                        Some(']') | Some('-') => {
                            return Err(
                                "a `[...]` class is empty or has a range without a start".into()
                            );
                        }
                        Some(_) => {
                            i = skip_class_char(&chars, i)?;
                            if chars.get(i) == Some(&'-') {
                                match chars.get(i + 1) {
                                    None => return Err("`[` is never closed with `]`".into()),
                                    Some(']') | Some('-') => {
                                        return Err("a range in `[...]` has no end".into());
                                    }
                                    Some(_) => i = skip_class_char(&chars, i + 1)?,
                                }
                            }
                            ranges += 1;
                        }
                    }
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn skip_class_char(chars: &[char], i: usize) -> Result<usize, String> {
    if chars.get(i) == Some(&'\\') {
        if i + 1 >= chars.len() {
            return Err("pattern ends with a lone `\\`".into());
        }
        Ok(i + 2)
    } else {
        Ok(i + 1)
    }
}

/// moby's `Pattern.compile`: the pattern as an anchored regular expression, or a cheaper
/// exact / prefix / suffix test when it has no wildcard in the way.
fn compile(pattern: &str) -> Result<Matcher, String> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut regex = String::from("^");
    let mut kind = Kind::Exact;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut index = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                // "**/" is the same as "**".
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    // A trailing "**" accepts everything below, as gitignore does.
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        regex.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    // Any number of directories, including none.
                    regex.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if index == 0 {
                    kind = Kind::Suffix;
                }
            } else {
                regex.push_str("[^/]*");
                kind = Kind::Regex;
            }
        } else if ch == '?' {
            regex.push_str("[^/]");
            kind = Kind::Regex;
        } else if ".+()|{}$".contains(ch) {
            regex.push('\\');
            regex.push(ch);
        } else if ch == '\\' {
            if let Some(next) = chars.get(i) {
                regex.push('\\');
                regex.push(*next);
                i += 1;
                kind = Kind::Regex;
            } else {
                regex.push_str("\\\\");
            }
        } else if ch == '[' || ch == ']' {
            regex.push(ch);
            kind = Kind::Regex;
        } else {
            regex.push(ch);
        }
        index += 1;
    }
    match kind {
        Kind::Exact => Ok(Matcher::Exact(pattern.to_owned())),
        Kind::Prefix => Ok(Matcher::Prefix(
            pattern.strip_suffix("**").unwrap_or(pattern).to_owned(),
        )),
        // Only a leading "**" with no wildcard after it ends here; moby's suffix test keeps
        // everything after that "**", including its "/".
        Kind::Suffix => Ok(Matcher::Suffix(
            pattern.strip_prefix("**").unwrap_or(pattern).to_owned(),
        )),
        Kind::Regex => {
            regex.push('$');
            Regex::new(&regex)
                .map(Matcher::Regex)
                .map_err(|e| format!("not a valid pattern: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(rules: &str, path: &str) -> bool {
        DockerIgnore::parse(rules)
            .expect("valid rules")
            .is_excluded(path)
    }

    #[test]
    fn star_pattern_without_slash_is_anchored_at_the_root_unlike_gitignore() {
        assert!(excluded("*.md", "README.md"));
        assert!(
            !excluded("*.md", "docs/guide.md"),
            "gitignore would exclude this; Docker does not"
        );
        assert!(excluded("**/*.md", "docs/guide.md"));
        assert!(
            excluded("**/*.md", "README.md"),
            "**/ matches zero directories"
        );
    }

    #[test]
    fn a_match_on_a_parent_directory_excludes_everything_below() {
        assert!(excluded("node_modules", "node_modules/a/b.js"));
        assert!(
            excluded("tests/", "tests/smoke.sh"),
            "trailing slash is cleaned away"
        );
        assert!(
            excluded("/build", "build/out.o"),
            "leading slash is dropped"
        );
        assert!(excluded("./build", "build"));
        assert!(!excluded("build", "rebuild"));
        assert!(!excluded("build", "src/build"));
    }

    #[test]
    fn star_and_question_mark_stop_at_slashes() {
        assert!(excluded("src/*.tmp", "src/a.tmp"));
        assert!(!excluded("src/*.tmp", "src/deep/a.tmp"));
        assert!(excluded("a?c", "abc"));
        assert!(!excluded("a?c", "a/c"));
        assert!(excluded("src/**/*.tmp", "src/x/y/a.tmp"));
        assert!(excluded("src/**", "src/x/y"));
    }

    #[test]
    fn last_matching_line_wins_and_exceptions_reinclude() {
        let rules = "*.md\n!README.md\n";
        assert!(excluded(rules, "CHANGES.md"));
        assert!(!excluded(rules, "README.md"));
        let rules = "*.md\n!README.md\nREADME.md\n";
        assert!(excluded(rules, "README.md"));
        // Docker (unlike git) re-includes a file under an excluded directory.
        let rules = "docs\n!docs/keep.txt\n";
        assert!(excluded(rules, "docs/other.txt"));
        assert!(!excluded(rules, "docs/keep.txt"));
    }

    #[test]
    fn exceptions_reopen_directories_only_by_prefix() {
        let ignore = DockerIgnore::parse("docs\n!docs/keep.txt\n").unwrap();
        assert!(ignore.may_reinclude_under("docs"));
        assert!(!ignore.may_reinclude_under("doc"));
        let ignore = DockerIgnore::parse("docs\n!*/keep.txt\n").unwrap();
        assert!(
            !ignore.may_reinclude_under("docs"),
            "moby only checks literal prefixes"
        );
    }

    #[test]
    fn comments_blank_lines_bom_and_spaces() {
        let rules = "\u{feff}# comment\n\n  target  \n  # not a comment\n";
        assert!(excluded(rules, "target/x"));
        assert!(excluded(rules, "# not a comment"));
        assert!(!excluded(rules, "# comment"));
        assert!(!excluded(rules, "comment"));
    }

    #[test]
    fn character_classes_use_go_syntax() {
        assert!(excluded("file[0-9].txt", "file3.txt"));
        assert!(!excluded("file[0-9].txt", "filex.txt"));
        assert!(excluded("[^a]bc", "xbc"));
        assert!(!excluded("[^a]bc", "abc"));
        assert!(excluded("[!a]bc", "!bc"), "`!` is a member in Go classes");
        assert!(!excluded("[!a]bc", "xbc"));
    }

    #[test]
    fn regex_metacharacters_are_literal() {
        assert!(excluded("a.b", "a.b"));
        assert!(!excluded("a.b", "axb"));
        assert!(excluded("f(1)+{2}$|x", "f(1)+{2}$|x"));
        assert!(excluded("*.o(ld)", "main.o(ld)"));
    }

    #[test]
    fn dot_dot_and_double_slashes_are_cleaned() {
        assert!(excluded("a//b/../c", "a/c"));
        assert_eq!(clean_path("a/./b/"), "a/b");
        assert_eq!(clean_path("../x"), "../x");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path(""), ".");
    }

    #[test]
    fn suffix_patterns_match_at_any_depth() {
        assert!(excluded("**/.git", ".git"));
        assert!(excluded("**/.git", "a/b/.git/config"));
        assert!(!excluded("**/.git", "a/b/x.git"));
    }

    #[test]
    fn bad_lines_are_refused_with_their_line_number() {
        for (rules, line) in [
            ("ok\n!\n", 2),
            ("[abc\n", 1),
            ("a\nb\nc\\\n", 3),
            ("x[]y\n", 1),
            ("[a-]\n", 1),
        ] {
            let err = DockerIgnore::parse(rules).expect_err(rules);
            assert_eq!(err.line, line, "{rules:?}: {err}");
        }
        let err = DockerIgnore::parse("ok\n  [bad\n").unwrap_err();
        assert_eq!((err.offset, err.len), (3, 6));
    }

    #[test]
    fn keep_adds_an_exception_only_when_needed() {
        let mut ignore = DockerIgnore::parse("Dockerfile\n.dockerignore\n").unwrap();
        assert!(ignore.is_excluded("Dockerfile"));
        ignore.keep("Dockerfile");
        ignore.keep(".dockerignore");
        assert!(!ignore.is_excluded("Dockerfile"));
        assert!(!ignore.is_excluded(".dockerignore"));
        let mut ignore = DockerIgnore::parse("docker\n").unwrap();
        ignore.keep("docker/Dockerfile");
        assert!(!ignore.is_excluded("docker/Dockerfile"));
        assert!(ignore.is_excluded("docker/other"));
        assert!(ignore.may_reinclude_under("docker"));
    }
}
