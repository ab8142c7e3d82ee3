//! `todoplan import --from-helm RELEASE`: take a release installed with `helm install` over.
//!
//! The live release is read from its storage Secret (`sh.helm.release.v1.NAME.vN`: base64,
//! then gzip, then JSON holding the chart's metadata, the user-supplied values and the rendered
//! manifest). Its release is written into todo.toml with the chart found in the repository and
//! the user values; values that feed a Secret the chart renders become a `[secrets.*]` set whose
//! keys are kept from the live Secret (never a literal), and the chart's own Secret is switched
//! off. Then Helm lets go: the ownership annotations Helm checks before it touches an object
//! (`meta.helm.sh/release-name`, `meta.helm.sh/release-namespace`) and Helm's field ownership
//! are removed from every object of the release, and its history Secrets are deleted (or kept,
//! the latest marked uninstalled, with `--keep-helm-history`). The next `todoplan plan` adopts
//! the objects as it adopts anything it did not make.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};

use super::init::chart_facts::{self, ValuePath, credential_like, dotted};
use super::init::{key, scan, toml_str};
use crate::model::object::Metadata;
use crate::observe::{ClusterClient, ObjectKey};

/// The annotations Helm requires before it adopts or upgrades an object.
pub const HELM_ANNOTATIONS: [&str; 2] = [
    "meta.helm.sh/release-name",
    "meta.helm.sh/release-namespace",
];
/// The field manager Helm writes with.
pub const HELM_MANAGER: &str = "helm";

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub release: String,
    pub namespace: String,
    /// todo.toml to write or extend.
    pub spec_path: PathBuf,
    /// The chart directory; default: the chart in the repository whose Chart.yaml has the
    /// release's chart name.
    pub chart: Option<PathBuf>,
    pub keep_history: bool,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ImportError {
    #[error("there is no Helm release `{release}` in namespace `{namespace}`")]
    #[diagnostic(
        code(todoplan::import::not_found),
        help("`helm list -A` lists the releases; pass the namespace with -n")
    )]
    NotFound { release: String, namespace: String },
    #[error(
        "Helm release `{release}` in namespace `{namespace}` is uninstalled: only its history is left"
    )]
    #[diagnostic(
        code(todoplan::import::uninstalled),
        help(
            "it was taken over already (`todoplan import --keep-helm-history`) or uninstalled with --keep-history; there is nothing live to import"
        )
    )]
    Uninstalled { release: String, namespace: String },
    #[error("the Helm release Secret {secret} cannot be read: {message}")]
    #[diagnostic(code(todoplan::import::decode))]
    Decode { secret: String, message: String },
    #[error("no chart named `{chart}` was found under {}", dir.display())]
    #[diagnostic(
        code(todoplan::import::chart),
        help(
            "pass the chart's directory with --chart DIR (todoplan renders charts from directories)"
        )
    )]
    ChartNotFound { chart: String, dir: PathBuf },
    #[error("{0}")]
    #[diagnostic(code(todoplan::import::refused))]
    Refused(String),
    #[error("cannot write {}: {message}", path.display())]
    #[diagnostic(code(todoplan::import::write))]
    Write { path: PathBuf, message: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cluster(#[from] crate::observe::ObserveError),
}

/// One storage Secret of the release.
#[derive(Debug, Clone)]
pub struct HistorySecret {
    pub name: String,
    pub version: u64,
    pub status: String,
}

/// An object of the release and what is removed from it so Helm lets go.
#[derive(Debug, Clone)]
pub struct Takeover {
    pub key: ObjectKey,
    /// Human descriptions: `annotation meta.helm.sh/release-name`, `Helm's field ownership`.
    pub removed: Vec<String>,
    /// The guarded JSON patch that removes them (empty: nothing of Helm's is left on it).
    pub patch: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub release: String,
    pub namespace: String,
    pub revision: u64,
    pub chart_name: String,
    pub chart_version: String,
    pub chart_dir: PathBuf,
    pub spec_path: PathBuf,
    /// The text appended to (or making) todo.toml; None when the release is already there.
    pub toml: Option<String>,
    /// Whether todo.toml is created.
    pub creates_spec: bool,
    pub objects: Vec<Takeover>,
    /// Objects of the release's manifest that no longer exist.
    pub missing: Vec<ObjectKey>,
    pub history: Vec<HistorySecret>,
    pub keep_history: bool,
    /// Secret sets written: (set, Secret name, keys).
    pub secrets: Vec<(String, String, Vec<String>)>,
    pub notes: Vec<String>,
}

/// Helm's storage encoding: base64 of the gzipped JSON (inside the Secret's own base64).
pub fn decode_release(stored: &[u8]) -> Result<Value, String> {
    let text: Vec<u8> = stored
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let gz = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| format!("not base64: {e}"))?;
    let mut json = Vec::new();
    if gz.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut json)
            .map_err(|e| format!("not gzip: {e}"))?;
    } else {
        json = gz;
    }
    serde_json::from_slice(&json).map_err(|e| format!("not a Helm release: {e}"))
}

pub fn encode_release(release: &Value) -> Result<String, String> {
    use std::io::Write as _;
    let json = serde_json::to_vec(release).map_err(|e| e.to_string())?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).map_err(|e| e.to_string())?;
    let bytes = gz.finish().map_err(|e| e.to_string())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn secret_bytes(secret: &Value, key: &str) -> Option<Vec<u8>> {
    let data = secret.pointer(&format!("/data/{key}"))?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

/// The release's storage Secrets, oldest first, and the newest one decoded.
async fn read_release(
    c: &ClusterClient,
    release: &str,
    namespace: &str,
) -> Result<(Vec<HistorySecret>, Value, Value), ImportError> {
    let mut secrets = c
        .list_labelled(
            "v1",
            "Secret",
            Some(namespace),
            &format!("owner=helm,name={release}"),
        )
        .await?;
    secrets.retain(|s| {
        s.metadata_field("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.starts_with(&format!("sh.helm.release.v1.{release}.v")))
    });
    let version = |s: &Value| {
        s.pointer("/metadata/labels/version")
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    secrets.sort_by_key(version);
    let Some(latest) = secrets.last().cloned() else {
        return Err(ImportError::NotFound {
            release: release.into(),
            namespace: namespace.into(),
        });
    };
    if latest
        .pointer("/metadata/labels/status")
        .and_then(Value::as_str)
        == Some("uninstalled")
    {
        return Err(ImportError::Uninstalled {
            release: release.into(),
            namespace: namespace.into(),
        });
    }
    let name = latest
        .metadata_field("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let stored = secret_bytes(&latest, "release").ok_or_else(|| ImportError::Decode {
        secret: name.clone(),
        message: "it has no `release` key".into(),
    })?;
    let decoded = decode_release(&stored).map_err(|message| ImportError::Decode {
        secret: name.clone(),
        message,
    })?;
    let history = secrets
        .iter()
        .map(|s| HistorySecret {
            name: s
                .metadata_field("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            version: version(s),
            status: s
                .pointer("/metadata/labels/status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
        })
        .collect();
    Ok((history, decoded, latest))
}

/// Every string of a Secret in the rendered manifest and of the user values that feed one is a
/// secret value: masked in everything todoplan prints from here on.
fn remember_secret_values(manifest: &[Value]) {
    for object in manifest {
        if object.get("kind").and_then(Value::as_str) != Some("Secret") {
            continue;
        }
        for field in ["data", "stringData"] {
            if let Some(map) = object.get(field).and_then(Value::as_object) {
                for v in map.values().filter_map(Value::as_str) {
                    let plain = if field == "data" {
                        base64::engine::general_purpose::STANDARD
                            .decode(v)
                            .unwrap_or_else(|_| v.as_bytes().to_vec())
                    } else {
                        v.as_bytes().to_vec()
                    };
                    crate::model::masking::remember(&plain);
                }
            }
        }
    }
}

fn manifest_objects(manifest: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(manifest) {
        if let Ok(v) = <Value as serde::Deserialize>::deserialize(doc)
            && v.is_object()
        {
            out.push(v);
        }
    }
    out
}

/// Reads the live release and works out everything import would do, changing nothing.
pub async fn plan(c: &ClusterClient, opts: &ImportOptions) -> Result<ImportPlan, ImportError> {
    let (history, release, _) = read_release(c, &opts.release, &opts.namespace).await?;
    let manifest = manifest_objects(
        release
            .get("manifest")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    remember_secret_values(&manifest);
    let config = release.get("config").cloned().unwrap_or(json!({}));
    let chart_name = release
        .pointer("/chart/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let chart_version = release
        .pointer("/chart/metadata/version")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let revision = release.get("version").and_then(Value::as_u64).unwrap_or(0);
    let base_dir = opts
        .spec_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let chart_dir = match &opts.chart {
        Some(dir) => dir.clone(),
        None => find_chart(&base_dir, &chart_name)?,
    };

    let mut notes = Vec::new();
    let (toml, secrets, creates_spec) =
        release_toml(opts, &base_dir, &chart_dir, &config, &mut notes)?;

    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for object in &manifest {
        let mut key = ObjectKey::of(object);
        if key.namespace.is_none() && c.is_namespaced(&key).await? {
            key.namespace = Some(opts.namespace.clone());
        }
        match c.get(&key).await? {
            Some(live) => objects.push(takeover_of(key, &live, &opts.release)),
            None => missing.push(key),
        }
    }
    Ok(ImportPlan {
        release: opts.release.clone(),
        namespace: opts.namespace.clone(),
        revision,
        chart_name,
        chart_version,
        chart_dir,
        spec_path: opts.spec_path.clone(),
        toml,
        creates_spec,
        objects,
        missing,
        history,
        keep_history: opts.keep_history,
        secrets,
        notes,
    })
}

/// What is removed from one live object so Helm no longer treats it as its own.
pub fn takeover_of(key: ObjectKey, live: &Value, release: &str) -> Takeover {
    let mut removed = Vec::new();
    let mut patch = Vec::new();
    let annotations = live
        .metadata_field("annotations")
        .and_then(Value::as_object);
    for a in HELM_ANNOTATIONS {
        if let Some(v) = annotations.and_then(|m| m.get(a)) {
            let pointer = format!(
                "/metadata/annotations/{}",
                a.replace('~', "~0").replace('/', "~1")
            );
            patch.push(json!({"op": "test", "path": pointer, "value": v}));
            patch.push(json!({"op": "remove", "path": pointer}));
            removed.push(format!("annotation {a}={}", v.as_str().unwrap_or(release)));
        }
    }
    // Helm's field ownership is handed to todoplan rather than dropped: with no owner at all,
    // the API server would credit every field (server defaults included) to
    // `before-first-apply` at todoplan's first apply, and each would read as drift.
    if let Some(fields) = live
        .metadata_field("managedFields")
        .and_then(Value::as_array)
        && fields
            .iter()
            .any(|f| f.get("manager").and_then(Value::as_str) == Some(HELM_MANAGER))
    {
        let handed: Vec<Value> = fields
            .iter()
            .map(|f| {
                let mut f = f.clone();
                if f.get("manager").and_then(Value::as_str) == Some(HELM_MANAGER) {
                    f["manager"] = json!(crate::observe::FIELD_MANAGER);
                }
                f
            })
            .collect();
        patch.push(json!({"op": "test", "path": "/metadata/managedFields", "value": fields}));
        patch.push(json!({"op": "replace", "path": "/metadata/managedFields", "value": handed}));
        removed.push("Helm's field ownership (manager `helm`, handed to `todoplan`)".into());
    }
    Takeover {
        key,
        removed,
        patch,
    }
}

fn find_chart(base: &Path, chart_name: &str) -> Result<PathBuf, ImportError> {
    let found = scan::scan(base);
    for c in &found.charts {
        let meta =
            std::fs::read_to_string(base.join(&c.dir).join("Chart.yaml")).unwrap_or_default();
        let name = meta
            .lines()
            .find_map(|l| l.strip_prefix("name:"))
            .map(|n| n.trim().trim_matches('"').trim_matches('\''));
        if name == Some(chart_name) {
            return Ok(base.join(&c.dir));
        }
    }
    Err(ImportError::ChartNotFound {
        chart: chart_name.into(),
        dir: base.to_path_buf(),
    })
}

/// The TOML for the release (and its secret sets), or None when todo.toml already has it.
#[allow(clippy::type_complexity)]
fn release_toml(
    opts: &ImportOptions,
    base_dir: &Path,
    chart_dir: &Path,
    config: &Value,
    notes: &mut Vec<String>,
) -> Result<(Option<String>, Vec<(String, String, Vec<String>)>, bool), ImportError> {
    let existing: Option<toml::Table> = match std::fs::read_to_string(&opts.spec_path) {
        Ok(text) => Some(toml::from_str(&text).map_err(|e| {
            ImportError::Refused(format!(
                "{} is not valid TOML ({e}); fix it first (todoplan validate)",
                opts.spec_path.display()
            ))
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        // Never replaced by a file made from nothing: it exists, but cannot be read.
        Err(e) => {
            return Err(ImportError::Refused(format!(
                "{} exists but cannot be read ({e}); fix that first: import adds to it and never replaces it",
                opts.spec_path.display()
            )));
        }
    };
    let table_keys = |section: &str| -> Vec<String> {
        existing
            .as_ref()
            .and_then(|t| t.get(section))
            .and_then(|v| v.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    if table_keys("releases").contains(&opts.release) {
        notes.push(format!(
            "todo.toml already has [releases.{}]: kept as written (compare its values with the Helm release's: `helm get values {} -n {}`)",
            opts.release, opts.release, opts.namespace
        ));
        return Ok((None, Vec::new(), false));
    }
    let facts = chart_facts::examine_values(
        chart_dir,
        &[(PathBuf::from("the Helm release's values"), config.clone())],
        &opts.release,
    )
    .map_err(|e| {
        ImportError::Refused(format!(
            "the chart {} cannot be read: {e}",
            chart_dir.display()
        ))
    })?;
    if let Some(problem) = &facts.problem {
        return Err(ImportError::Refused(format!(
            "{problem}; todoplan cannot tell which values are secret, so it writes none of them"
        )));
    }
    let mut user_leaves = Vec::new();
    if let Some((_, leaves)) = facts.env_leaves.first() {
        user_leaves = leaves.clone();
    }
    let mut taken_sets = table_keys("secrets");
    let mut settings: Vec<(ValuePath, String, String)> = Vec::new();
    let mut secret_paths: Vec<ValuePath> = Vec::new();
    let mut out = String::new();
    let mut sets = Vec::new();
    for secret in &facts.secrets {
        let from_user: Vec<&ValuePath> = secret
            .keys
            .iter()
            .flat_map(|(_, ps)| ps.iter())
            .filter(|p| user_leaves.iter().any(|(q, v)| q == *p && !v.is_null()))
            .collect();
        if from_user.is_empty() {
            continue;
        }
        let Some((guard, positive)) = &secret.guard else {
            return Err(ImportError::Refused(format!(
                "the chart renders Secret {} from the release's values ({}) with no `if .Values...` around {}: todoplan cannot take it over without writing those values. Wrap the template in `{{{{- if .Values.secrets.create }}}}` (or point the chart at an existing Secret) and import again",
                secret.name,
                from_user
                    .iter()
                    .map(|p| dotted(p))
                    .collect::<Vec<_>>()
                    .join(", "),
                secret.template
            )));
        };
        let set = super::init::scan::unique(
            &mut taken_sets,
            &super::init::scan::sanitize(&secret.name, 53).unwrap_or_else(|| "app".into()),
        );
        secret_paths.extend(secret.keys.iter().flat_map(|(_, ps)| ps.iter().cloned()));
        settings.push((
            guard.clone(),
            if *positive {
                "false".into()
            } else {
                toml_str(&secret.name)
            },
            format!(
                "the chart's own Secret `{}` is off: [secrets.{set}] holds it",
                secret.name
            ),
        ));
        for (path, v) in &facts.leaves {
            if v.as_str() == Some(secret.name.as_str()) && path != guard {
                settings.push((
                    path.clone(),
                    toml_str(&format!("${{secrets.{set}.name}}")),
                    String::new(),
                ));
            }
        }
        out.push_str(&format!(
            "\n# Secret `{}` of Helm release {}: its live values are kept (`generate` and `existing` read them\n# back from the cluster; only a password is generated, if the Secret is ever deleted; a key kept\n# with `existing` is then an error asking for its source). No value is written here.\n[secrets.{}]\nname = {}\nnamespace = {}\n\n[secrets.{}.keys]\n",
            secret.name, opts.release, key(&set), toml_str(&secret.name), toml_str(&opts.namespace), key(&set)
        ));
        let mut keys = Vec::new();
        for (k, paths) in &secret.keys {
            let from = paths
                .iter()
                .map(|p| dotted(p))
                .collect::<Vec<_>>()
                .join(", ");
            let source = if super::init::generated_kind(k) {
                "generate"
            } else {
                "existing"
            };
            out.push_str(&format!(
                "{} = {{ {source} = true }}    # was {}\n",
                key(k),
                if from.is_empty() {
                    "made by the chart".into()
                } else {
                    from
                }
            ));
            keys.push(k.clone());
        }
        sets.push((set, secret.name.clone(), keys));
    }
    // The user's values, minus every value that feeds a Secret and anything that looks like a
    // credential: those never reach a file.
    let mut values = Vec::new();
    for (path, v) in &user_leaves {
        if settings.iter().any(|(p, _, _)| p == path) {
            continue;
        }
        if secret_paths.contains(path) {
            continue;
        }
        if v.is_null() {
            notes.push(format!("{} = null (a deleted chart default) is not carried over: TOML has no null; remove it from the chart's values.yaml if it matters", dotted(path)));
            continue;
        }
        if v.as_str()
            .is_some_and(|s| !s.is_empty() && credential_like(path, s))
        {
            crate::model::masking::remember(v.as_str().unwrap_or_default().as_bytes());
            notes.push(format!(
                "{} looks like a credential and is not written to todo.toml: put it in a [secrets.*] set and point the chart at that Secret",
                dotted(path)
            ));
            continue;
        }
        values.push((path.clone(), toml_value(v), String::new()));
    }
    settings.extend(values);

    // Relative to todo.toml's directory, which is what the spec resolves it against.
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let rel_chart = canonical(chart_dir)
        .strip_prefix(canonical(base_dir))
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|_| canonical(chart_dir));
    let mut text = String::new();
    let creates = existing.is_none();
    if creates {
        let project =
            super::init::scan::sanitize(&opts.release, 40).unwrap_or_else(|| "app".into());
        text.push_str(&format!(
            "# Written by `todoplan import --from-helm {}`. Every key is explained in todoplan's docs/reference.md.\n\n[project]\nname = {}\n\n[cluster]\nnamespace = {}\n",
            opts.release,
            toml_str(&project),
            toml_str(&opts.namespace)
        ));
    }
    text.push_str(&out);
    text.push_str(&format!(
        "\n# Imported from Helm release {} (namespace {}) by `todoplan import --from-helm`.\n[releases.{}]\nchart = {}\nnamespace = {}\n",
        opts.release,
        opts.namespace,
        key(&opts.release),
        toml_str(&rel_chart.to_string_lossy().replace('\\', "/")),
        toml_str(&opts.namespace)
    ));
    if !settings.is_empty() {
        text.push_str(&format!("\n[releases.{}.values]\n", key(&opts.release)));
        for (path, value, comment) in &settings {
            let keypath: Vec<String> = path.iter().map(|p| key(p)).collect();
            if comment.is_empty() {
                text.push_str(&format!("{} = {value}\n", keypath.join(".")));
            } else {
                text.push_str(&format!("{} = {value}    # {comment}\n", keypath.join(".")));
            }
        }
    }
    Ok((Some(text), sets, creates))
}

/// A JSON value as a TOML inline value; `${` is escaped so values are never read as references.
fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => toml_str(&s.replace("${", "$${")),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .filter(|i| !i.is_null())
                .map(toml_value)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .filter(|(_, i)| !i.is_null())
                .map(|(k, i)| format!("{} = {}", key(k), toml_value(i)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Null => "\"\"".into(),
    }
}

/// Writes todo.toml, lets Helm go of every object, then deletes (or marks) its history.
pub async fn execute(c: &ClusterClient, plan: &ImportPlan) -> Result<(), ImportError> {
    if let Some(text) = &plan.toml {
        let mut all = match std::fs::read_to_string(&plan.spec_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(ImportError::Write {
                    path: plan.spec_path.clone(),
                    message: format!("it exists but cannot be read, so it is not replaced: {e}"),
                });
            }
        };
        if !all.is_empty() && !all.ends_with('\n') {
            all.push('\n');
        }
        all.push_str(text);
        crate::state::replace_file(&plan.spec_path, all.as_bytes()).map_err(|e| {
            ImportError::Write {
                path: plan.spec_path.clone(),
                message: e.to_string(),
            }
        })?;
    }
    for t in &plan.objects {
        if !t.patch.is_empty() {
            c.json_patch(&t.key, t.patch.clone()).await?;
        }
    }
    let Some(latest) = plan.history.last() else {
        return Ok(());
    };
    if plan.keep_history {
        let key = history_key(&plan.namespace, &latest.name);
        let live = c.get(&key).await?.ok_or_else(|| ImportError::NotFound {
            release: plan.release.clone(),
            namespace: plan.namespace.clone(),
        })?;
        let stored = secret_bytes(&live, "release").unwrap_or_default();
        let mut release = decode_release(&stored).map_err(|message| ImportError::Decode {
            secret: latest.name.clone(),
            message,
        })?;
        if let Some(info) = release.get_mut("info").and_then(Value::as_object_mut) {
            info.insert("status".into(), json!("uninstalled"));
            info.insert(
                "description".into(),
                json!("taken over by todoplan (todoplan import --from-helm)"),
            );
        }
        let encoded = encode_release(&release).map_err(|message| ImportError::Decode {
            secret: latest.name.clone(),
            message,
        })?;
        let data = base64::engine::general_purpose::STANDARD.encode(encoded);
        c.json_patch(
            &key,
            vec![
                json!({"op": "replace", "path": "/data/release", "value": data}),
                json!({"op": "replace", "path": "/metadata/labels/status", "value": "uninstalled"}),
            ],
        )
        .await?;
    } else {
        for h in &plan.history {
            c.delete(&history_key(&plan.namespace, &h.name), None)
                .await?;
        }
    }
    Ok(())
}

fn history_key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(namespace.into()),
        name: name.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_round_trip_through_helms_encoding() {
        let release = json!({"name": "web", "version": 3, "info": {"status": "deployed"}, "config": {"a": 1}});
        let encoded = encode_release(&release).unwrap();
        assert_eq!(decode_release(encoded.as_bytes()).unwrap(), release);
        assert!(decode_release(b"not base64!").is_err());
    }

    #[test]
    fn takeover_removes_helms_annotations_and_field_ownership_only() {
        let live = json!({"metadata": {
            "annotations": {"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": "ns", "keep": "x"},
            "managedFields": [{"manager": "helm", "operation": "Update"}, {"manager": "kube-controller-manager", "operation": "Update"}]
        }});
        let key = ObjectKey {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: "c".into(),
        };
        let t = takeover_of(key.clone(), &live, "web");
        assert_eq!(t.removed.len(), 3);
        let mut patched = live.clone();
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(t.patch)).unwrap();
        json_patch::patch(&mut patched, &patch).unwrap();
        assert_eq!(patched["metadata"]["annotations"], json!({"keep": "x"}));
        assert_eq!(
            patched["metadata"]["managedFields"],
            json!([{"manager": "todoplan", "operation": "Update"}, {"manager": "kube-controller-manager", "operation": "Update"}])
        );
        let none = takeover_of(key, &json!({"metadata": {}}), "web");
        assert!(none.patch.is_empty() && none.removed.is_empty());
    }

    #[test]
    fn values_are_never_read_as_references() {
        assert_eq!(toml_value(&json!("a ${b}")), "\"a $${b}\"");
        assert_eq!(
            toml_value(&json!({"x": [1, "y"], "n": null})),
            "{ x = [1, \"y\"] }"
        );
    }
}
