//! The built-in objects Helm puts next to `.Values`: `.Files`, `.Capabilities` (with
//! `KubeVersion` and `APIVersions.Has`), `.Release`, `.Chart`.

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine;

use super::template::value::{Object, Value, string_from_go_bytes};
use super::template::yaml;

/// What `helm template` assumes about the cluster when it is not connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// e.g. "v1.33.4"
    pub kube_version: String,
    /// Group/versions ("apps/v1") and group/version/kinds ("apps/v1/Deployment").
    pub api_versions: Vec<String>,
}

/// The API versions helm v3.17 reports offline (chartutil.DefaultVersionSet), in its order.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1alpha1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1alpha1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// The Kubernetes version `helm template` reports offline: helm 3.17's release builds (and the
/// testenv's pinned build, which stamps the same version flags) report the client-go version
/// they link, v1.32.0. An unstamped `go install` build would report v1.20.0.
pub const DEFAULT_KUBE_VERSION: &str = "v1.32.0";

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            kube_version: DEFAULT_KUBE_VERSION.to_string(),
            api_versions: DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Split "v1.33.4" into (major, minor) as Helm's KubeVersion does.
pub fn kube_major_minor(v: &str) -> Option<(String, String)> {
    let t = v.trim().trim_start_matches('v');
    let mut parts = t.split(['.', '-', '+']);
    let major = parts.next()?.to_string();
    let minor = parts.next()?.to_string();
    if major.parse::<u64>().is_err() || minor.parse::<u64>().is_err() {
        return None;
    }
    Some((major, minor))
}

#[derive(Debug)]
pub struct KubeVersion {
    pub version: String,
    pub major: String,
    pub minor: String,
}

impl Object for KubeVersion {
    fn type_name(&self) -> &'static str {
        "chartutil.KubeVersion"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Version" | "GitVersion" | "String" => Some(Value::str(&self.version)),
            "Major" => Some(Value::str(&self.major)),
            "Minor" => Some(Value::str(&self.minor)),
            _ => None,
        }
    }
    fn call(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn display(&self) -> String {
        self.version.clone()
    }
    fn fmt_value(&self) -> String {
        format!("{{{} {} {}}}", self.version, self.major, self.minor)
    }
}

#[derive(Debug)]
pub struct ApiVersions(pub Vec<String>);

impl Object for ApiVersions {
    fn type_name(&self) -> &'static str {
        "chartutil.VersionSet"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if name != "Has" {
            return None;
        }
        Some(match args {
            [Value::Str(s)] => Ok(Value::Bool(self.0.iter().any(|v| v == &**s))),
            [other] => Err(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
            _ => Err(format!(
                "wrong number of args for Has: want 1 got {}",
                args.len()
            )),
        })
    }
    fn display(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn as_data(&self) -> Option<Value> {
        Some(Value::list(self.0.iter().map(|s| Value::str(s)).collect()))
    }
}

/// `.Files`: the chart's non-template files, by path relative to the chart root.
#[derive(Debug, Clone, Default)]
pub struct Files(pub Rc<BTreeMap<String, Vec<u8>>>);

impl Files {
    fn get(&self, name: &str) -> String {
        self.0
            .get(name)
            .map(|b| string_from_go_bytes(b))
            .unwrap_or_default()
    }

    fn glob(&self, pattern: &str) -> Result<Files, String> {
        let pat = glob::Pattern::new(pattern).map_err(|e| e.to_string())?;
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let picked = self
            .0
            .iter()
            .filter(|(k, _)| pat.matches_with(k, opts))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Files(Rc::new(picked)))
    }

    fn by_base(&self, f: impl Fn(&[u8]) -> String) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let m: BTreeMap<String, Value> = self
            .0
            .iter()
            .map(|(k, v)| {
                let base = k.rsplit('/').next().unwrap_or(k).to_string();
                (base, Value::string(f(v)))
            })
            .collect();
        let y = yaml::to_yaml(&Value::map(m));
        y.strip_suffix('\n').unwrap_or(&y).to_string()
    }
}

impl Object for Files {
    fn type_name(&self) -> &'static str {
        "engine.files"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "AsConfig" => Some(Value::string(self.by_base(string_from_go_bytes))),
            "AsSecrets" => {
                Some(Value::string(self.by_base(|b| {
                    base64::engine::general_purpose::STANDARD.encode(b)
                })))
            }
            // helm's Files is a map[string][]byte: any other name is a map index (a file's
            // bytes, or a nil []byte).
            "Get" | "GetBytes" | "Glob" | "Lines" => None,
            other => Some(Value::Object(Rc::new(crate::template::value::GoBytes(
                self.0.get(other).cloned().unwrap_or_default(),
            )))),
        }
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let arg = match args {
            [Value::Str(s)] => s.to_string(),
            [other] => {
                return Some(Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                )));
            }
            _ => {
                return Some(Err(format!(
                    "wrong number of args for {name}: want 1 got {}",
                    args.len()
                )));
            }
        };
        Some(match name {
            "Get" => Ok(Value::string(self.get(&arg))),
            "GetBytes" => Ok(Value::string(self.get(&arg))),
            "Glob" => self.glob(&arg).map(|f| Value::Object(Rc::new(f))),
            "Lines" => {
                let Some(bytes) = self.0.get(&arg) else {
                    return Some(Ok(Value::list(Vec::new())));
                };
                let s = string_from_go_bytes(bytes);
                let s = s.strip_suffix('\n').unwrap_or(&s);
                Ok(Value::list(s.split('\n').map(Value::str).collect()))
            }
            _ => return None,
        })
    }
    fn display(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}:{v:?}")).collect();
        format!("map[{}]", parts.join(" "))
    }
    fn as_data(&self) -> Option<Value> {
        Some(Value::map(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::string(string_from_go_bytes(v))))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files {
        Files(Rc::new(BTreeMap::from([
            ("conf/a.conf".to_string(), b"A=1\n".to_vec()),
            ("conf/b.conf".to_string(), b"B=2".to_vec()),
            ("conf/sub/c.conf".to_string(), b"C".to_vec()),
            ("README.md".to_string(), b"x\ny\n".to_vec()),
        ])))
    }

    #[test]
    fn glob_does_not_cross_directories_and_as_config_uses_base_names() {
        let g = files().glob("conf/*").unwrap();
        assert_eq!(g.0.len(), 2);
        assert_eq!(
            g.by_base(|b| String::from_utf8_lossy(b).to_string()),
            "a.conf: |\n  A=1\nb.conf: B=2"
        );
        assert_eq!(files().glob("conf/**/*.conf").unwrap().0.len(), 3);
    }

    #[test]
    fn lines_drop_the_final_newline() {
        let v = files()
            .call("Lines", &[Value::str("README.md")])
            .unwrap()
            .unwrap();
        assert_eq!(super::super::template::value::go_sprint(&v), "[x y]");
    }

    #[test]
    fn api_versions_has() {
        let a = ApiVersions(vec!["apps/v1".into()]);
        assert!(matches!(
            a.call("Has", &[Value::str("apps/v1")]),
            Some(Ok(Value::Bool(true)))
        ));
        assert!(matches!(
            a.call("Has", &[Value::str("x/v1")]),
            Some(Ok(Value::Bool(false)))
        ));
    }

    #[test]
    fn kube_version_parts() {
        assert_eq!(kube_major_minor("v1.33.4"), Some(("1".into(), "33".into())));
        assert_eq!(kube_major_minor("nope"), None);
    }
}
