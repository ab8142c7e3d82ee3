//! Loading a chart directory: Chart.yaml, values.yaml, values.schema.json, templates/, the
//! other files (`.Files`), `.helmignore`, and subcharts under charts/.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Deserialize;

use super::error::ChartError;
use super::objects::Files;
use super::template::Value;
use super::template::yaml::from_yaml;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub alias: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChartYaml {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: Option<serde_yaml_ng::Value>,
    #[serde(default, rename = "type")]
    pub chart_type: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone)]
pub struct Chart {
    /// The chart's name as its parent sees it (alias applied).
    pub name: String,
    pub dir: PathBuf,
    pub meta: ChartYaml,
    /// Chart.yaml as the `.Chart` object (Go field names).
    pub chart_object: BTreeMap<String, Value>,
    pub values: BTreeMap<String, Value>,
    pub schema: Option<(String, serde_json::Value)>,
    /// (path relative to the chart root, e.g. "templates/deployment.yaml", text)
    pub templates: Vec<(String, String)>,
    pub files: Files,
    pub dependencies: Vec<Chart>,
}

impl Chart {
    pub fn is_library(&self) -> bool {
        self.meta.chart_type.as_deref() == Some("library")
    }
}

fn read(path: &Path) -> Result<String, ChartError> {
    std::fs::read_to_string(path).map_err(|e| ChartError::io(path, &e))
}

/// Chart.yaml keys as Go's chart.Metadata fields, with the zero values Go would show.
fn chart_object(raw: &serde_yaml_ng::Value) -> BTreeMap<String, Value> {
    let names = [
        ("name", "Name"),
        ("home", "Home"),
        ("version", "Version"),
        ("description", "Description"),
        ("icon", "Icon"),
        ("apiVersion", "APIVersion"),
        ("condition", "Condition"),
        ("tags", "Tags"),
        ("appVersion", "AppVersion"),
        ("kubeVersion", "KubeVersion"),
        ("type", "Type"),
    ];
    let mut out = BTreeMap::new();
    let get = |k: &str| raw.get(k).map(from_yaml);
    for (yk, gk) in names {
        let v = match get(yk) {
            Some(Value::Nil) | None => Value::str(""),
            Some(Value::Float(f)) => Value::string(super::template::value::format_float_g(f)),
            Some(v) => v,
        };
        out.insert(gk.to_string(), v);
    }
    for (yk, gk) in [
        ("sources", "Sources"),
        ("keywords", "Keywords"),
        ("maintainers", "Maintainers"),
        ("dependencies", "Dependencies"),
    ] {
        out.insert(gk.to_string(), get(yk).unwrap_or(Value::Nil));
    }
    out.insert(
        "Annotations".to_string(),
        get("annotations").unwrap_or(Value::Nil),
    );
    out.insert(
        "Deprecated".to_string(),
        get("deprecated").unwrap_or(Value::Bool(false)),
    );
    out
}

/// Load the chart at `dir` with its subcharts.
pub fn load_chart(dir: &Path) -> Result<Chart, ChartError> {
    let chart_yaml_path = dir.join("Chart.yaml");
    if !chart_yaml_path.is_file() {
        return Err(ChartError::Invalid {
            chart: dir.display().to_string(),
            message: "Chart.yaml file is missing".into(),
            help: "a chart is a directory holding Chart.yaml, values.yaml and templates/".into(),
        });
    }
    let text = read(&chart_yaml_path)?;
    let shown = chart_yaml_path.display().to_string();
    let raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| ChartError::yaml("Chart.yaml", &shown, &text, &e))?;
    let meta: ChartYaml = serde_yaml_ng::from_value(raw.clone())
        .map_err(|e| ChartError::yaml("Chart.yaml", &shown, &text, &e))?;
    let invalid = |message: String, help: &str| ChartError::Invalid {
        chart: dir.display().to_string(),
        message,
        help: help.to_string(),
    };
    if meta.name.is_empty() {
        return Err(invalid(
            "Chart.yaml has no name".into(),
            "add `name: mychart`",
        ));
    }
    if meta.version.is_none() {
        return Err(invalid(
            "Chart.yaml has no version".into(),
            "add `version: 0.1.0`",
        ));
    }
    if let Some(api) = &meta.api_version
        && api != "v2"
        && api != "v1"
    {
        return Err(invalid(
            format!("apiVersion {api:?} is not valid"),
            "use `apiVersion: v2`",
        ));
    }
    if let Some(t) = &meta.chart_type
        && t != "application"
        && t != "library"
    {
        return Err(invalid(
            format!("chart type {t:?} is not valid"),
            "use `type: application` or `type: library`",
        ));
    }

    let ignore = load_helmignore(dir);
    let values = {
        let p = dir.join("values.yaml");
        if p.is_file() {
            let t = read(&p)?;
            parse_values_text(&t, &p.display().to_string())?
        } else {
            BTreeMap::new()
        }
    };
    let schema = {
        let p = dir.join("values.schema.json");
        if p.is_file() {
            let t = read(&p)?;
            let j: serde_json::Value =
                serde_json::from_str(&t).map_err(|e| ChartError::Invalid {
                    chart: meta.name.clone(),
                    message: format!("values.schema.json is not valid JSON: {e}"),
                    help: "fix the JSON syntax at the line and column given".into(),
                })?;
            Some((p.display().to_string(), j))
        } else {
            None
        }
    };

    let mut templates = Vec::new();
    let mut files = BTreeMap::new();
    let mut subchart_dirs = Vec::new();
    walk(dir, dir, &ignore, &mut |rel, path| {
        if rel.starts_with("templates/") {
            let t = read(path)?;
            templates.push((rel.to_string(), t));
        } else if let Some(rest) = rel.strip_prefix("charts/") {
            if let Some((sub, _)) = rest.split_once('/') {
                let sd = dir.join("charts").join(sub);
                if !subchart_dirs.contains(&sd) {
                    subchart_dirs.push(sd);
                }
            } else if rest.ends_with(".tgz") || rest.ends_with(".tar.gz") {
                return Err(ChartError::Invalid {
                    chart: meta.name.clone(),
                    message: format!("packaged subchart charts/{rest} is not supported"),
                    help:
                        "unpack it into charts/ (tar xzf) so the chart directory holds its source"
                            .into(),
                });
            }
        } else if !matches!(
            rel,
            "Chart.yaml"
                | "values.yaml"
                | "values.schema.json"
                | "Chart.lock"
                | "requirements.yaml"
                | "requirements.lock"
        ) {
            let bytes = std::fs::read(path).map_err(|e| ChartError::io(path, &e))?;
            files.insert(rel.to_string(), bytes);
        }
        Ok(())
    })?;
    templates.sort();

    let mut loaded = Vec::new();
    for sd in subchart_dirs {
        if sd.join("Chart.yaml").is_file() {
            loaded.push(load_chart(&sd)?);
        }
    }
    // Match declared dependencies to what charts/ holds; aliases copy the chart under a new name.
    let mut dependencies = Vec::new();
    let declared: Vec<&str> = meta.dependencies.iter().map(|d| d.name.as_str()).collect();
    for c in &loaded {
        if !declared.contains(&c.meta.name.as_str()) {
            dependencies.push(c.clone());
        }
    }
    for d in &meta.dependencies {
        let Some(c) = loaded.iter().find(|c| c.meta.name == d.name) else {
            return Err(invalid(
                format!(
                    "dependency {:?} is declared in Chart.yaml but missing in charts/",
                    d.name
                ),
                "run `helm dependency build`, or copy the subchart's directory into charts/",
            ));
        };
        let mut c = c.clone();
        if let Some(a) = &d.alias {
            c.name = a.clone();
            c.chart_object.insert("Name".into(), Value::str(a));
        }
        dependencies.push(c);
    }

    Ok(Chart {
        name: meta.name.clone(),
        dir: dir.to_path_buf(),
        chart_object: chart_object(&raw),
        meta,
        values,
        schema,
        templates,
        files: Files(Rc::new(files)),
        dependencies,
    })
}

/// Parse a values YAML text into a map (an empty document is an empty map).
pub fn parse_values_text(text: &str, shown: &str) -> Result<BTreeMap<String, Value>, ChartError> {
    let v = super::template::yaml_load::load(text)
        .map_err(|e| ChartError::yaml_load("values", shown, text, &e))?;
    match v {
        Value::Nil => Ok(BTreeMap::new()),
        Value::Map(m) => Ok(m.borrow().clone()),
        other => Err(ChartError::Yaml {
            what: "values".into(),
            path: shown.into(),
            message: format!(
                "expected a map at the top level, found {}",
                other.type_name()
            ),
            src: std::sync::Arc::new(miette::NamedSource::new(shown, text.to_string())),
            span: None,
        }),
    }
}

fn load_helmignore(dir: &Path) -> Option<ignore::gitignore::Gitignore> {
    let p = dir.join(".helmignore");
    if !p.is_file() {
        return None;
    }
    let mut b = ignore::gitignore::GitignoreBuilder::new(dir);
    b.add(&p);
    b.build().ok()
}

fn walk(
    root: &Path,
    dir: &Path,
    ignore: &Option<ignore::gitignore::Gitignore>,
    f: &mut dyn FnMut(&str, &Path) -> Result<(), ChartError>,
) -> Result<(), ChartError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ChartError::io(dir, &e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let is_dir = path.is_dir();
        if let Some(ig) = ignore
            && ig.matched_path_or_any_parents(&path, is_dir).is_ignore()
        {
            continue;
        }
        if is_dir {
            walk(root, &path, ignore, f)?;
        } else {
            f(&rel, &path)?;
        }
    }
    Ok(())
}
