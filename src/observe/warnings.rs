//! Warnings the API server sends with its answers (`Warning: 299 - "..."` headers): deprecated
//! API versions, a CRD version's `deprecationWarning`, admission webhooks' warnings. kubectl and
//! kapp print them; todoplan gathers them while it plans or applies and shows them once, each
//! naming nothing the server did not say.

use std::sync::Mutex;

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The text of one `Warning` header value (RFC 7234: `299 - "text"`, the text quoted with `\"`
/// escapes), or the value itself when it has another shape.
pub fn text_of(header: &str) -> String {
    let rest = header
        .trim()
        .strip_prefix("299")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('-'))
        .map(str::trim_start);
    match rest.and_then(|r| r.strip_prefix('"')) {
        Some(quoted) => {
            let mut out = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '"' => break,
                    c => out.push(c),
                }
            }
            out
        }
        None => header.trim().to_string(),
    }
}

/// Remembers a warning the server sent (once per text).
pub fn record(header: &str) {
    let text = text_of(header);
    if text.is_empty() {
        return;
    }
    let mut all = WARNINGS.lock().unwrap_or_else(|p| p.into_inner());
    if !all.contains(&text) {
        all.push(text);
    }
}

/// The warnings gathered since the last call, in the order first sent.
pub fn take() -> Vec<String> {
    std::mem::take(&mut *WARNINGS.lock().unwrap_or_else(|p| p.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_of_a_warning_header_is_unquoted() {
        assert_eq!(
            text_of(
                r#"299 - "autoscaling/v2beta2 HorizontalPodAutoscaler is deprecated in v1.23+, unavailable in v1.26+; use autoscaling/v2 HorizontalPodAutoscaler""#
            ),
            "autoscaling/v2beta2 HorizontalPodAutoscaler is deprecated in v1.23+, unavailable in v1.26+; use autoscaling/v2 HorizontalPodAutoscaler"
        );
        assert_eq!(text_of(r#"299 - "say \"hi\"""#), r#"say "hi""#);
        assert_eq!(text_of("something else"), "something else");
    }
}
