//! Diagnostics for todo.toml: every problem carries labelled spans into the file, and all problems
//! found in one pass are reported together so a user fixes them in one round.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

/// A byte range in the spec text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: end.max(start),
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

impl From<std::ops::Range<usize>> for Span {
    fn from(r: std::ops::Range<usize>) -> Self {
        Span::new(r.start, r.end)
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.len()).into()
    }
}

/// The file a spec was read from, kept so later stages (plan, apply) can point into it.
#[derive(Debug, Clone)]
pub struct SpecSource {
    pub name: String,
    pub text: Arc<String>,
}

impl SpecSource {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SpecSource {
            name: name.into(),
            text: Arc::new(text.into()),
        }
    }

    pub fn named_source(&self) -> NamedSource<Arc<String>> {
        NamedSource::new(self.name.clone(), Arc::clone(&self.text)).with_language("toml")
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end clamp.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let text = self.text.as_str();
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before.get(line_start..).unwrap_or("").chars().count() + 1;
        (line, col)
    }
}

/// One labelled span of a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

/// One thing wrong with the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
    /// The first label is the primary location.
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// The primary location, if the problem has one.
    pub fn span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }

    fn labeled_spans(&self) -> Vec<LabeledSpan> {
        self.labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let text = if l.text.is_empty() {
                    None
                } else {
                    Some(l.text.clone())
                };
                if i == 0 {
                    LabeledSpan::new_primary_with_span(text, l.span)
                } else {
                    LabeledSpan::new_with_span(text, l.span)
                }
            })
            .collect()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("todoplan::spec::{}", self.code)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labeled_spans().into_iter()))
        }
    }
}

/// Everything wrong with one spec, with the text it points into.
///
/// One problem renders as itself; several render as a summary with each problem related to it.
#[derive(Debug, Clone)]
pub struct SpecError {
    source: SpecSource,
    named: NamedSource<Arc<String>>,
    problems: Vec<Problem>,
}

impl SpecError {
    pub fn new(source: &SpecSource, problems: Vec<Problem>) -> Self {
        SpecError {
            named: source.named_source(),
            source: source.clone(),
            problems,
        }
    }

    pub fn single(source: &SpecSource, problem: Problem) -> Self {
        Self::new(source, vec![problem])
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    pub fn source_file(&self) -> &SpecSource {
        &self.source
    }

    /// Adds the problems of another error on the same file.
    pub fn extend(&mut self, other: SpecError) {
        self.problems.extend(other.problems);
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => f.write_str(&one.message),
            many => write!(f, "{} has {} problems", self.source.name, many.len()),
        }
    }
}

impl std::error::Error for SpecError {}

impl Diagnostic for SpecError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self.problems.as_slice() {
            [one] => one.code(),
            _ => Some(Box::new("todoplan::spec::invalid")),
        }
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self.problems.as_slice() {
            [one] => Diagnostic::help(one),
            _ => None,
        }
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.named)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        match self.problems.as_slice() {
            [one] => one.labels(),
            _ => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.problems.len() > 1 {
            Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
        } else {
            None
        }
    }
}

/// The closest candidate to a misspelt name, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wrong_lower = wrong.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let distance = strsim::damerau_levenshtein(&wrong_lower, &c.to_ascii_lowercase());
            (distance, c)
        })
        .filter(|(distance, c)| {
            let allowed = (c.chars().count().max(wrong.chars().count()) / 3).max(1);
            *distance <= allowed
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// "did you mean `x`?" or a list of the valid choices, for a help line.
pub fn suggestion_help(wrong: &str, candidates: &[&str], what: &str) -> Option<String> {
    if let Some(best) = did_you_mean(wrong, candidates.iter().copied()) {
        return Some(format!("did you mean `{best}`?"));
    }
    if candidates.is_empty() {
        return None;
    }
    let list: Vec<String> = candidates.iter().map(|c| format!("`{c}`")).collect();
    Some(format!("{what}: {}", list.join(", ")))
}
