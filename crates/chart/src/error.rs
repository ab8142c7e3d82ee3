//! Chart errors as miette diagnostics: the chart, the file, the line and column, the snippet.

use std::path::PathBuf;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use super::template::TemplateError;

#[derive(Debug, Error, Diagnostic)]
pub enum ChartError {
    #[error("cannot read {path}: {message}")]
    #[diagnostic(code(chart::io))]
    Io { path: PathBuf, message: String },

    #[error("{what} in {path} is not valid YAML: {message}")]
    #[diagnostic(code(chart::yaml))]
    Yaml {
        what: String,
        path: String,
        message: String,
        #[source_code]
        src: std::sync::Arc<NamedSource<String>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    /// A values file that is not a YAML map, worded as helm words it: `cannot load values.yaml:
    /// ...` for a chart's own, `failed to parse FILE: ...` for a file the user gives.
    #[error("{message}")]
    #[diagnostic(code(chart::values_yaml))]
    ValuesYaml {
        message: String,
        #[source_code]
        src: std::sync::Arc<NamedSource<String>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    #[error("refusing to load {}: it {message}", path.display())]
    #[diagnostic(
        code(chart::unsafe_file),
        help(
            "a chart may hold only regular files and directories, and links that stay inside it; copy the file into the chart instead"
        )
    )]
    Unsafe { path: PathBuf, message: String },

    #[error("Chart.yaml of chart {chart}: {message}")]
    #[diagnostic(code(chart::chart_yaml), help("{help}"))]
    ChartYaml {
        chart: String,
        message: String,
        help: String,
        #[source_code]
        src: std::sync::Arc<NamedSource<String>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    #[error("invalid chart {chart}: {message}")]
    #[diagnostic(code(chart::invalid), help("{help}"))]
    Invalid {
        chart: String,
        message: String,
        help: String,
    },

    #[error("{message}")]
    #[diagnostic(code(chart::template))]
    Template {
        /// `required`/`fail` raised by the chart itself.
        user_failure: bool,
        message: String,
        #[source_code]
        src: std::sync::Arc<NamedSource<String>>,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
    },

    #[error("values don't meet the specifications of the schema in chart {chart}:\n{}", violations.join("\n"))]
    #[diagnostic(
        code(chart::values_schema),
        help(
            "fix these values (paths are in the merged values the chart receives) or the chart's values.schema.json"
        )
    )]
    Schema {
        chart: String,
        violations: Vec<String>,
    },

    #[error("YAML parse error on {source_file}: {message}")]
    #[diagnostic(
        code(chart::rendered_yaml),
        help("the template rendered text that is not YAML; the snippet is the rendered output")
    )]
    RenderedYaml {
        source_file: String,
        message: String,
        #[source_code]
        src: std::sync::Arc<NamedSource<String>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    #[error("{source_file} is not a Kubernetes object: {message}")]
    #[diagnostic(
        code(chart::crd_file),
        help(
            "files in crds/ are applied as written, never templated: fix the file itself (helm would refuse it at install too)"
        )
    )]
    CrdFile {
        source_file: String,
        message: String,
        #[source_code]
        src: std::sync::Arc<NamedSource<String>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    /// A refusal worded as helm words it (release and Chart.yaml validation, missing
    /// dependencies), so the message reads the same with either tool.
    #[error("{message}")]
    #[diagnostic(code(chart::refused), help("{help}"))]
    Refused { message: String, help: String },

    #[error("invalid --set value {input:?}: {message}")]
    #[diagnostic(
        code(chart::set),
        help("use --set path.to.key=value[,other=value]; lists as key[0]=value or key={{a,b}}")
    )]
    SetSyntax { input: String, message: String },
}

/// Lines longer than this are shown as a window around the error: miette panics on columns past
/// 65,535, and a diagnostic should not print a 10 MB line anyway.
const MAX_SNIPPET_LINE: usize = 400;
const SNIPPET_CONTEXT: usize = 120;

/// The source a diagnostic shows, and the span in it: the whole text, or for a long line a
/// window around `start` marked with ellipses (the message keeps the real line and column).
pub fn snippet(
    name: String,
    text: &str,
    start: usize,
    len: usize,
) -> (std::sync::Arc<NamedSource<String>>, SourceSpan) {
    let start = floor_char(text, start.min(text.len()));
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    if line_end - line_start <= MAX_SNIPPET_LINE {
        return (
            std::sync::Arc::new(NamedSource::new(name, text.to_string())),
            (start, len.min(text.len() - start)).into(),
        );
    }
    let from = floor_char(text, start.saturating_sub(SNIPPET_CONTEXT).max(line_start));
    let to = floor_char(text, (start + SNIPPET_CONTEXT).min(line_end));
    let mut window = String::new();
    if from > line_start {
        window.push('…');
    }
    let offset = window.len() + (start - from);
    window.push_str(&text[from..to]);
    if to < line_end {
        window.push('…');
    }
    let len = len.min(to.saturating_sub(start));
    (
        std::sync::Arc::new(NamedSource::new(name, window)),
        (offset, len).into(),
    )
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl ChartError {
    pub fn from_template(e: &TemplateError) -> ChartError {
        let (line, col) = e.file.line_col(e.offset);
        let text = e.file.text.to_string();
        // The message names the position Go reports (a field chain's second field); the
        // snippet underlines the whole node when its text is known.
        let start = match &e.node {
            Some(n) => {
                let lo = e.offset.saturating_sub(n.len());
                let hi = (e.offset + n.len()).min(text.len());
                text.get(lo..hi)
                    .and_then(|w| w.find(n.as_str()))
                    .map_or(e.offset, |i| lo + i)
            }
            None => e.offset,
        }
        .min(text.len());
        let rest = text.get(start..).unwrap_or("");
        // Underline the rest of the action (up to `}}`) or of the line, whichever ends first.
        let end = rest
            .find("}}")
            .map(|i| i + 2)
            .unwrap_or(rest.len())
            .min(rest.find('\n').unwrap_or(rest.len()));
        let len = end
            .clamp(usize::from(!rest.is_empty()), 120)
            .min(rest.len());
        let message = if e.user_failure {
            format!(
                "execution error at ({}:{line}:{col}): {}",
                e.file.name, e.message
            )
        } else if e.parse {
            // Go's parse errors name the line only.
            format!("parse error at ({}:{line}): {}", e.file.name, e.message)
        } else {
            format!(
                "template: {}:{line}:{col}: executing {:?} at <{}>: {}",
                e.file.name,
                e.template,
                e.node_text(),
                e.message
            )
        };
        // Go's bytes as text shows them: a character spelt in raw-byte markers is itself, a
        // run of invalid UTF-8 one U+FFFD
        let shown =
            |m: &str| String::from_utf8_lossy(&crate::template::value::go_bytes(m)).into_owned();
        let message = shown(&message);
        let (src, span) = snippet(e.file.name.clone(), &text, start, len);
        ChartError::Template {
            user_failure: e.user_failure,
            label: if e.user_failure {
                shown(&e.message)
            } else {
                "here".into()
            },
            message,
            src,
            span,
        }
    }

    /// A YAML error with a byte span computed from serde_yaml's location.
    pub fn yaml(what: &str, path: &str, text: &str, err: &serde_yaml_ng::Error) -> ChartError {
        let at = err.location().map_or(0, |l| l.index());
        let (src, span) = snippet(path.to_string(), text, at, 1);
        ChartError::Yaml {
            what: what.to_string(),
            path: path.to_string(),
            message: err.to_string(),
            src,
            span: err.location().map(|_| span),
        }
    }

    pub fn io(path: &std::path::Path, e: &std::io::Error) -> ChartError {
        ChartError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
