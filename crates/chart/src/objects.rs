//! The built-in objects Helm puts next to `.Values`: `.Files`, `.Capabilities` (with
//! `KubeVersion` and `APIVersions.Has`), `.Release`, `.Chart`.

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine;

use super::template::value::{GoBytes, GoJson, Object, Value, sprint_bytes, string_from_go_bytes};
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

/// How json.Marshal names a struct field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKey {
    /// No tag: the field's own name, kept when empty.
    Field,
    /// `json:"key,omitempty"`.
    OmitEmpty(&'static str),
    /// `json:"key"`: kept when empty.
    Key(&'static str),
}

/// A Go struct helm hands to templates (`.Chart`, `.Capabilities`): its fields by name, where
/// a name it lacks is an error (`can't evaluate field Nope in type ...`), not a map's nil.
#[derive(Debug)]
pub struct GoStruct {
    pub type_name: &'static str,
    /// Fields in Go's declaration order: name, value, and json.Marshal's key.
    pub fields: Vec<(&'static str, Value, JsonKey)>,
    /// An embedded struct (first in the declaration): its fields are promoted.
    pub embedded: Option<(&'static str, Rc<GoStruct>)>,
    /// A pointer to the struct: fmt prints it `&{...}` (an address inside a slice, a map or
    /// another struct), a template `{...}`.
    pub pointer: bool,
    /// What range, len and toJson see, where todoplan keeps the map it had before (None: a
    /// struct as Go has it, refused where Go refuses one).
    pub data: Option<Value>,
}

impl GoStruct {
    /// `.Chart`: chart.Metadata's fields (as `load` read them, `dependencies` the list
    /// [`dependency_list`] made) with `IsRoot`.
    pub fn chart(fields: &BTreeMap<String, Value>, dependencies: Value, is_root: bool) -> GoStruct {
        const METADATA: [(&str, &str); 17] = [
            ("Name", "name"),
            ("Home", "home"),
            ("Sources", "sources"),
            ("Version", "version"),
            ("Description", "description"),
            ("Keywords", "keywords"),
            ("Maintainers", "maintainers"),
            ("Icon", "icon"),
            ("APIVersion", "apiVersion"),
            ("Condition", "condition"),
            ("Tags", "tags"),
            ("AppVersion", "appVersion"),
            ("Deprecated", "deprecated"),
            ("Annotations", "annotations"),
            ("KubeVersion", "kubeVersion"),
            ("Dependencies", "dependencies"),
            ("Type", "type"),
        ];
        let mut dependencies = Some(dependencies);
        let metadata = GoStruct {
            type_name: "chart.Metadata",
            fields: METADATA
                .iter()
                .map(|(name, key)| {
                    let v = match *name {
                        "Dependencies" => dependencies.take().unwrap_or(Value::Nil),
                        _ => fields.get(*name).cloned().unwrap_or(Value::Nil),
                    };
                    let v = match *name {
                        "Sources" | "Keywords" => typed(v, "[]string", |v| v),
                        "Annotations" => typed(v, "map[string]string", |v| v),
                        "Maintainers" => typed(v, "[]*chart.Maintainer", maintainer),
                        _ => v,
                    };
                    (*name, v, JsonKey::OmitEmpty(key))
                })
                .collect(),
            embedded: None,
            pointer: false,
            data: None,
        };
        GoStruct {
            type_name: "struct { chart.Metadata; IsRoot bool }",
            fields: vec![("IsRoot", Value::Bool(is_root), JsonKey::Field)],
            embedded: Some(("Metadata", Rc::new(metadata))),
            pointer: false,
            data: None,
        }
    }

    fn json_fields(&self, out: &mut Vec<(String, Value)>) {
        if let Some((_, e)) = &self.embedded {
            e.json_fields(out);
        }
        for (name, v, key) in &self.fields {
            match key {
                JsonKey::Field => out.push((name.to_string(), v.clone())),
                JsonKey::OmitEmpty(_) if !v.truthy() => {}
                JsonKey::OmitEmpty(k) | JsonKey::Key(k) => out.push((k.to_string(), v.clone())),
            }
        }
    }

    /// Go's `%v` of the struct's fields, `{a b c}`.
    fn fields_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some((_, e)) = &self.embedded {
            parts.push(e.display());
        }
        for (_, v, _) in &self.fields {
            let mut s = String::new();
            super::template::value::write_v_nested(&mut s, v);
            parts.push(s);
        }
        format!("{{{}}}", parts.join(" "))
    }
}

/// `.Chart.Dependencies`: helm's `[]*chart.Dependency` as dependency processing left the
/// chart's declarations (nil when there are none).
pub fn dependency_list(decls: Option<&[crate::load::Decl]>) -> Value {
    let Some(decls) = decls else {
        return Value::Object(Rc::new(GoNil("[]*chart.Dependency")));
    };
    let items = decls.iter().map(|d| dependency(&d.borrow())).collect();
    Value::typed_list("[]*chart.Dependency", items)
}

/// A chart.yaml list or map as the Go type helm reads it into: nil when absent (prints `[]` or
/// `map[]`, marshals as null), its elements made by `element`.
fn typed(v: Value, type_name: &'static str, element: fn(Value) -> Value) -> Value {
    match v {
        Value::Nil => Value::Object(Rc::new(GoNil(type_name))),
        Value::List(l) => Value::typed_list(type_name, l.iter().cloned().map(element).collect()),
        Value::Map(m) => Value::typed_map(type_name, m.borrow().clone()),
        other => other,
    }
}

/// A `*chart.Maintainer` from its Chart.yaml map.
fn maintainer(v: Value) -> Value {
    let Some(m) = v.as_map() else {
        return v;
    };
    let m = m.borrow();
    let fields = [("Name", "name"), ("Email", "email"), ("URL", "url")]
        .iter()
        .map(|(name, key)| {
            let v = m.get(*key).cloned().unwrap_or(Value::Nil);
            let v = if v.is_nil() { Value::str("") } else { v };
            (*name, v, JsonKey::OmitEmpty(key))
        })
        .collect();
    Value::Object(Rc::new(GoStruct {
        type_name: "*chart.Maintainer",
        fields,
        embedded: None,
        pointer: true,
        data: None,
    }))
}

/// A `*chart.Dependency` (its json tags: `name` and `repository` are kept when empty).
fn dependency(d: &crate::load::Dependency) -> Value {
    use crate::load::ImportValue;
    let tags = if d.tags.is_empty() {
        Value::Object(Rc::new(GoNil("[]string")))
    } else {
        Value::strings(d.tags.iter().map(|t| Value::str(t)).collect())
    };
    let import_values = if d.import_values.is_empty() {
        Value::Object(Rc::new(GoNil("[]interface {}")))
    } else {
        let items = d
            .import_values
            .iter()
            .map(|iv| match iv {
                ImportValue::Name(s) => Value::str(s),
                ImportValue::Map(m) | ImportValue::Other(m) => m.clone(),
                ImportValue::Resolved { child, parent } => Value::typed_map(
                    "map[string]string",
                    BTreeMap::from([
                        ("child".to_string(), Value::str(child)),
                        ("parent".to_string(), Value::str(parent)),
                    ]),
                ),
            })
            .collect();
        Value::typed_list("[]interface {}", items)
    };
    let fields = vec![
        ("Name", Value::str(&d.name), JsonKey::Key("name")),
        (
            "Version",
            Value::str(&d.version),
            JsonKey::OmitEmpty("version"),
        ),
        (
            "Repository",
            Value::str(&d.repository),
            JsonKey::Key("repository"),
        ),
        (
            "Condition",
            Value::str(&d.condition),
            JsonKey::OmitEmpty("condition"),
        ),
        ("Tags", tags, JsonKey::OmitEmpty("tags")),
        (
            "Enabled",
            Value::Bool(d.enabled),
            JsonKey::OmitEmpty("enabled"),
        ),
        (
            "ImportValues",
            import_values,
            JsonKey::OmitEmpty("import-values"),
        ),
        ("Alias", Value::str(&d.alias), JsonKey::OmitEmpty("alias")),
    ];
    Value::Object(Rc::new(GoStruct {
        type_name: "*chart.Dependency",
        fields,
        embedded: None,
        pointer: true,
        data: None,
    }))
}

/// A Go nil slice or map of a named type: prints `[]` (`map[]`), is empty to range, len and
/// `empty`, marshals as null; a nil map's missing key is its element's zero value.
#[derive(Debug)]
pub struct GoNil(pub &'static str);

impl Object for GoNil {
    fn type_name(&self) -> &'static str {
        self.0
    }
    fn field(&self, _name: &str) -> Option<Value> {
        self.0.starts_with("map[").then(|| Value::str(""))
    }
    fn call(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn display(&self) -> String {
        if self.0.starts_with("map[") {
            "map[]".into()
        } else {
            "[]".into()
        }
    }
    fn as_data(&self) -> Option<Value> {
        Some(if self.0.starts_with("map[") {
            Value::empty_map()
        } else {
            Value::list(Vec::new())
        })
    }
    fn json(&self) -> Option<GoJson> {
        Some(GoJson::Null)
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

impl Object for GoStruct {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn field(&self, name: &str) -> Option<Value> {
        if let Some((_, v, _)) = self.fields.iter().find(|(n, _, _)| *n == name) {
            return Some(v.clone());
        }
        match &self.embedded {
            Some((n, e)) if *n == name => Some(Value::Object(e.clone())),
            Some((_, e)) => e.field(name),
            None => None,
        }
    }
    fn call(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    /// A template prints a struct as Go's `%v` does: the fields' values in order, nil slices
    /// as `[]` and a nil map as `map[]`; it prints what a pointer points at.
    fn display(&self) -> String {
        self.fields_text()
    }
    /// fmt (print, printf) prints a pointer to a struct `&{...}`.
    fn fmt_value(&self) -> String {
        if self.pointer {
            format!("&{}", self.fields_text())
        } else {
            self.fields_text()
        }
    }
    fn as_data(&self) -> Option<Value> {
        self.data.clone()
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn json(&self) -> Option<GoJson> {
        if self.data.is_some() {
            return None;
        }
        let mut out = Vec::new();
        self.json_fields(&mut out);
        Some(GoJson::Fields(out))
    }
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

/// `.Files`: the chart's non-template files, by path relative to the chart root, and the
/// capacity of each file's bytes where helm's reader left room past its length.
#[derive(Debug, Clone, Default)]
pub struct Files(
    pub Rc<BTreeMap<String, Rc<[u8]>>>,
    Rc<BTreeMap<String, usize>>,
);

impl Files {
    pub fn new(files: BTreeMap<String, Vec<u8>>) -> Files {
        Files(
            Rc::new(files.into_iter().map(|(k, v)| (k, Rc::from(v))).collect()),
            Rc::default(),
        )
    }

    /// Files with the capacity Go's reader gave each one's bytes.
    pub fn with_capacities(files: BTreeMap<String, (Vec<u8>, usize)>) -> Files {
        let caps = files
            .iter()
            .map(|(k, (_, cap))| (k.clone(), *cap))
            .collect();
        Files(
            Rc::new(
                files
                    .into_iter()
                    .map(|(k, (v, _))| (k, Rc::from(v)))
                    .collect(),
            ),
            Rc::new(caps),
        )
    }

    /// The file's bytes as a Go `[]byte`, with their capacity.
    fn go_bytes(&self, name: &str, data: &Rc<[u8]>) -> GoBytes {
        GoBytes::with_capacity(data.clone(), self.1.get(name).copied().unwrap_or(0))
    }

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
        Ok(Files(Rc::new(picked), self.1.clone()))
    }

    /// The map index `.Files.NAME`, `index .Files NAME`: the file's bytes, or a nil []byte.
    fn bytes(&self, name: &str) -> Value {
        Value::Object(Rc::new(match self.0.get(name) {
            Some(b) => self.go_bytes(name, b),
            None => GoBytes::nil(),
        }))
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
            other => Some(self.bytes(other)),
        }
    }
    fn params(&self, method: &str) -> Option<&'static [&'static str]> {
        match method {
            "Get" | "GetBytes" | "Glob" | "Lines" => Some(&["string"]),
            "AsConfig" | "AsSecrets" => Some(&[]),
            _ => None,
        }
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if !matches!(name, "Get" | "GetBytes" | "Glob" | "Lines") {
            return None;
        }
        // the executor has checked the arguments against `params`
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
            // a missing file is an empty []byte, not a nil one
            "GetBytes" => Ok(Value::Object(Rc::new(match self.0.get(&arg) {
                Some(b) => self.go_bytes(&arg, b),
                None => GoBytes::new(Vec::new()),
            }))),
            "Glob" => self.glob(&arg).map(|f| Value::Object(Rc::new(f))),
            "Lines" => {
                let Some(bytes) = self.0.get(&arg) else {
                    return Some(Ok(Value::strings(Vec::new())));
                };
                let s = string_from_go_bytes(bytes);
                let s = s.strip_suffix('\n').unwrap_or(&s);
                Ok(Value::strings(s.split('\n').map(Value::str).collect()))
            }
            _ => return None,
        })
    }
    fn display(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{k}:{}", sprint_bytes(v)))
            .collect();
        format!("map[{}]", parts.join(" "))
    }
    /// A map[string][]byte: each file's bytes.
    fn as_data(&self) -> Option<Value> {
        Some(Value::map(
            self.0.keys().map(|k| (k.clone(), self.bytes(k))).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files {
        Files::new(BTreeMap::from([
            ("conf/a.conf".to_string(), b"A=1\n".to_vec()),
            ("conf/b.conf".to_string(), b"B=2".to_vec()),
            ("conf/sub/c.conf".to_string(), b"C".to_vec()),
            ("README.md".to_string(), b"x\ny\n".to_vec()),
        ]))
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
