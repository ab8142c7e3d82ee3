//! Smoke checks: HTTP requests apply sends to a release's Service, through the API server's
//! service proxy, once the release is ready (what the seeds' `smoke-test.sh` did by hand).

use serde::{Deserialize, Serialize};

/// Wait for a smoke check to pass when `timeout` is not set.
pub const DEFAULT_SMOKE_TIMEOUT_SECS: u64 = 60;

/// One smoke check of a release, as planned and as run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmokeCheck {
    /// The release whose objects must be ready first; its failure fails the release.
    pub release: String,
    /// Namespace of the Service (the release's).
    pub namespace: String,
    /// The Service's name.
    pub service: String,
    /// The Service port: a number or the port's name.
    pub port: String,
    /// Path of the GET request, starting with `/`.
    pub path: String,
    /// The HTTP status that passes.
    pub expect: u16,
    /// Text the response body must contain, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// How long apply retries before the check fails (Services route to new pods a moment after
    /// they are Ready).
    pub timeout_secs: u64,
    /// `todo.toml:LINE` where the check is declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl SmokeCheck {
    /// `GET /health on service backend:8000, expects 200`.
    pub fn describe(&self) -> String {
        let contains = match &self.contains {
            Some(text) => format!(" with a body containing {text:?}"),
            None => String::new(),
        };
        format!(
            "GET {} on service {}:{}, expects {}{contains}",
            self.path, self.service, self.port, self.expect
        )
    }

    /// The API server path that proxies this request to the Service.
    pub fn proxy_path(&self) -> String {
        format!(
            "/api/v1/namespaces/{}/services/{}:{}/proxy{}",
            self.namespace, self.service, self.port, self.path
        )
    }

    /// Whether an answer passes.
    pub fn passes(&self, status: u16, body: &str) -> bool {
        status == self.expect
            && self
                .contains
                .as_deref()
                .is_none_or(|text| body.contains(text))
    }
}

/// At most `limit` characters of a response body, on one line each, for an error message.
pub fn body_excerpt(body: &str, limit: usize) -> String {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "(empty body)".into();
    }
    let mut out: String = trimmed.chars().take(limit).collect();
    if trimmed.chars().count() > limit {
        out.push_str(" …");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> SmokeCheck {
        SmokeCheck {
            release: "backend".into(),
            namespace: "todo".into(),
            service: "backend".into(),
            port: "8000".into(),
            path: "/health".into(),
            expect: 200,
            contains: None,
            timeout_secs: 60,
            source: None,
        }
    }

    #[test]
    fn passes_on_the_expected_status_and_text() {
        let mut c = check();
        assert!(c.passes(200, "ok"));
        assert!(!c.passes(503, "ok"));
        c.contains = Some("\"status\":\"ok\"".into());
        assert!(c.passes(200, "{\"status\":\"ok\"}"));
        assert!(!c.passes(200, "{\"status\":\"degraded\"}"));
    }

    #[test]
    fn proxy_path_names_namespace_service_and_port() {
        assert_eq!(
            check().proxy_path(),
            "/api/v1/namespaces/todo/services/backend:8000/proxy/health"
        );
        assert_eq!(
            check().describe(),
            "GET /health on service backend:8000, expects 200"
        );
    }

    #[test]
    fn excerpt_is_bounded() {
        assert_eq!(body_excerpt("  \n", 10), "(empty body)");
        assert_eq!(body_excerpt("abcdef", 3), "abc …");
        assert_eq!(body_excerpt("abc", 3), "abc");
    }
}
