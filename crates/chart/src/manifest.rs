//! Rendered output as Helm handles it: split on `---`, drop empty documents, separate hooks,
//! sort by kind in Helm's InstallOrder (stable, after ordering by file path), print like
//! `helm template`.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::ChartError;
use super::template::yaml_load::{load, load_head};

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// "backend/templates/deployment.yaml"
    pub source: String,
    /// The YAML document, trimmed, as `helm template` prints it.
    pub text: String,
    /// The document parsed; `Null` for a document holding only comments.
    pub object: serde_json::Value,
    /// The `helm.sh/hook` annotation when the document is a hook (`helm template` prints hooks
    /// after the other manifests; `helm install` would run them around the install).
    pub hook: Option<String>,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.object
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
    }
}

/// Helm's InstallOrder (pkg/releaseutil/kind_sorter.go, v3.17). Webhook configurations are not
/// in it (helm 3.18 added them): helm 3.17 sorts them among the unknown kinds, by name.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// Position of `kind` in Helm's install order; unknown kinds come after every known one.
pub fn install_order_rank(kind: &str) -> usize {
    INSTALL_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(INSTALL_ORDER.len())
}

/// releaseutil.SplitManifests: documents, trimmed, empty ones dropped. Same cut points as
/// helm's `(?:^|\s*\n)---\s*`: a `---` at the start of the text or right after a newline; the
/// whitespace after a cut is consumed, so a `---` right after it stays in the next document.
pub fn split_documents(text: &str) -> Vec<String> {
    let trimmed = text.trim();
    let skip_ws = |from: usize| {
        trimmed[from..]
            .find(|c: char| !c.is_whitespace())
            .map_or(trimmed.len(), |i| from + i)
    };
    let mut docs = Vec::new();
    let mut start = 0;
    if trimmed.starts_with("---") {
        start = skip_ws(3);
    }
    let mut search = start;
    while let Some(found) = trimmed[search..].find("\n---") {
        let at = search + found;
        docs.push(&trimmed[start..at]);
        start = skip_ws(at + 4);
        search = start;
    }
    docs.push(&trimmed[start..]);
    docs.into_iter()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

/// How much of each rendered document `sort_outputs` reads into `Manifest::object`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objects {
    /// The whole object: what plan and apply send.
    Whole,
    /// Only its head (`apiVersion`, `kind`, `metadata.name`, `metadata.namespace`, the hook
    /// annotation): enough to sort and print like `helm template`, which is all `render`
    /// needs. Each document is still parsed to its end, so invalid YAML fails alike.
    Head,
}

fn parse_doc(source: &str, doc: &str, objects: Objects) -> Result<Manifest, ChartError> {
    // Helm prints the document as rendered; a repeated key is no error there (the last one
    // wins when the object is read), and YAML 1.1 scalars read as go-yaml v2 reads them.
    let head = match objects {
        Objects::Head => load_head(doc),
        Objects::Whole => Ok(None),
    };
    let object = head
        .and_then(|head| match head {
            Some(head) => Ok(head),
            None => load(doc).map(|v| v.to_json()),
        })
        .map_err(|e| {
            let (src, span) =
                super::error::snippet(format!("{source} (rendered)"), doc, e.offset, 1);
            ChartError::RenderedYaml {
                source_file: source.to_string(),
                message: format!("error converting YAML to JSON: {e}"),
                src,
                span: Some(span),
            }
        })?;
    if !(object.is_object() || object.is_null()) {
        let (src, span) = super::error::snippet(format!("{source} (rendered)"), doc, 0, 1);
        return Err(ChartError::RenderedYaml {
            source_file: source.to_string(),
            message: "a document is not a mapping (Kubernetes objects are maps)".into(),
            src,
            span: Some(span),
        });
    }
    let hook = object
        .pointer("/metadata/annotations/helm.sh~1hook")
        .and_then(|h| h.as_str())
        .map(str::to_string);
    Ok(Manifest {
        source: source.to_string(),
        text: doc.to_string(),
        object,
        hook,
    })
}

/// Turn rendered files (by template path) into sorted manifests: non-hooks in install order,
/// then hooks in file order.
pub fn sort_outputs(
    outputs: &BTreeMap<String, String>,
    objects: Objects,
) -> Result<Vec<Manifest>, ChartError> {
    let mut generic = Vec::new();
    let mut hooks = Vec::new();
    for (path, text) in outputs {
        if text.trim().is_empty() {
            continue;
        }
        for doc in split_documents(text) {
            let m = parse_doc(path, &doc, objects)?;
            match &m.hook {
                // helm skips a document naming a hook type it does not know (a Helm 2
                // `crd-install`, an empty entry), with an info log only.
                Some(h) if !known_hook_types(h) => {}
                Some(_) => hooks.push(m),
                None => generic.push(m),
            }
        }
    }
    sort_by_kind(&mut generic);
    // helm sorts hooks by kind too (sortHooksByKind) before printing them after the manifests.
    sort_by_kind(&mut hooks);
    generic.extend(hooks);
    Ok(generic)
}

/// The documents of the `crds/` files, file by file in the order given (helm installs them so,
/// without templating, sorting or hooks: an annotation there is only an annotation).
pub fn crd_manifests(files: &[(String, String)]) -> Result<Vec<Manifest>, ChartError> {
    let mut out = Vec::new();
    for (path, text) in files {
        for doc in split_documents(text) {
            let mut m = parse_doc(path, &doc, Objects::Whole).map_err(|e| match e {
                ChartError::RenderedYaml {
                    source_file,
                    message,
                    span,
                    ..
                } => {
                    // the snippet is the file's own text, named as the file
                    let src =
                        std::sync::Arc::new(miette::NamedSource::new(&source_file, doc.clone()));
                    ChartError::CrdFile {
                        source_file,
                        message,
                        src,
                        span,
                    }
                }
                other => other,
            })?;
            if m.object.is_null() {
                continue;
            }
            m.hook = None;
            out.push(m);
        }
    }
    Ok(out)
}

/// Whether every comma-separated entry of a `helm.sh/hook` annotation is a hook event helm v3
/// knows (compared trimmed and lower-cased, as helm does).
fn known_hook_types(annotation: &str) -> bool {
    const EVENTS: &[&str] = &[
        "pre-install",
        "post-install",
        "pre-delete",
        "post-delete",
        "pre-upgrade",
        "post-upgrade",
        "pre-rollback",
        "post-rollback",
        "test",
        "test-success",
    ];
    annotation
        .split(',')
        .all(|t| EVENTS.contains(&t.trim().to_ascii_lowercase().as_str()))
}

/// Helm's lessByKind, stable: known kinds by InstallOrder, unknown ones after them sorted by
/// kind name.
fn sort_by_kind(ms: &mut [Manifest]) {
    ms.sort_by(|a, b| {
        let (ra, rb) = (install_order_rank(a.kind()), install_order_rank(b.kind()));
        if ra == INSTALL_ORDER.len() && rb == INSTALL_ORDER.len() {
            a.kind().cmp(b.kind())
        } else {
            ra.cmp(&rb)
        }
    });
}

/// What `helm template` prints for these manifests.
pub fn to_helm_template_output(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        out.push_str("---\n# Source: ");
        out.push_str(&m.source);
        out.push('\n');
        out.push_str(&m.text);
        out.push('\n');
    }
    out
}

/// A release that is a plain directory of YAML manifests: every `*.yaml`/`*.yml`/`*.json` file,
/// in path order, split and sorted like chart output. Sources are paths relative to `dir`.
pub fn render_manifest_dir(dir: &Path) -> Result<Vec<Manifest>, ChartError> {
    let mut outputs = BTreeMap::new();
    collect_manifest_files(dir, dir, &mut outputs)?;
    if outputs.is_empty() {
        return Err(ChartError::Invalid {
            chart: dir.display().to_string(),
            message: "the directory holds no .yaml, .yml or .json files".into(),
            help: "point the release at a chart (with Chart.yaml) or a directory of manifests"
                .into(),
        });
    }
    sort_outputs(&outputs, Objects::Whole)
}

fn collect_manifest_files(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, String>,
) -> Result<(), ChartError> {
    let rd = std::fs::read_dir(dir).map_err(|e| ChartError::io(dir, &e))?;
    for e in rd.filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            collect_manifest_files(root, &p, out)?;
            continue;
        }
        let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
        if !matches!(ext, "yaml" | "yml" | "json") {
            continue;
        }
        let text = std::fs::read_to_string(&p).map_err(|e| ChartError::io(&p, &e))?;
        let rel = p
            .strip_prefix(root)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| p.display().to_string());
        out.insert(rel, text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_drops_empty_documents_and_trims() {
        let docs = split_documents("\n---\na: 1\n---\n\nb: 2\n---   \n\n---\n  \n");
        assert_eq!(docs, vec!["a: 1", "b: 2", "---"]);
        // only a `---` at a line start separates; `----` leaves a `-` behind, as in helm
        assert_eq!(
            split_documents("a: x---y\n----\nb: 1"),
            vec!["a: x---y", "-\nb: 1"]
        );
        assert_eq!(split_documents("---a: 1"), vec!["a: 1"]);
        // the whitespace after a cut is consumed, so a second `---` stays in the document
        assert_eq!(
            split_documents("a: 1\n---\n---\nb: 2"),
            vec!["a: 1", "---\nb: 2"]
        );
    }

    #[test]
    fn sort_by_install_order_then_hooks() {
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "c/templates/a.yaml".to_string(),
            "kind: Deployment\n---\nkind: Zeta\n---\nkind: Alpha\n---\nkind: Pod\nmetadata:\n  annotations:\n    helm.sh/hook: test\n".to_string(),
        );
        outputs.insert(
            "c/templates/b.yaml".to_string(),
            "kind: Service\n---\nkind: Namespace\n".to_string(),
        );
        for objects in [Objects::Whole, Objects::Head] {
            let ms = sort_outputs(&outputs, objects).unwrap();
            let kinds: Vec<&str> = ms.iter().map(|m| m.kind()).collect();
            assert_eq!(
                kinds,
                vec!["Namespace", "Service", "Deployment", "Alpha", "Zeta", "Pod"]
            );
            assert_eq!(ms[5].hook.as_deref(), Some("test"));
            assert!(
                to_helm_template_output(&ms[..1])
                    .starts_with("---\n# Source: c/templates/b.yaml\nkind: Namespace\n")
            );
        }
    }

    #[test]
    fn rendered_yaml_errors_name_the_template() {
        let mut outputs = BTreeMap::new();
        outputs.insert("c/templates/bad.yaml".to_string(), "a: [1\n".to_string());
        for objects in [Objects::Whole, Objects::Head] {
            let e = sort_outputs(&outputs, objects).unwrap_err();
            assert!(e.to_string().contains("c/templates/bad.yaml"), "{e}");
        }
    }

    #[test]
    fn webhook_configurations_sort_among_unknown_kinds_by_name() {
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "c/templates/a.yaml".to_string(),
            "kind: ValidatingWebhookConfiguration\n---\nkind: Zeta\n---\n# only a comment\n---\nkind: MutatingWebhookConfiguration\n---\nkind: Alpha\n---\nkind: APIService\n".to_string(),
        );
        let ms = sort_outputs(&outputs, Objects::Head).unwrap();
        assert_eq!(ms, sort_outputs(&outputs, Objects::Whole).unwrap());
        let kinds: Vec<&str> = ms.iter().map(|m| m.kind()).collect();
        assert_eq!(
            kinds,
            vec![
                "APIService",
                "",
                "Alpha",
                "MutatingWebhookConfiguration",
                "ValidatingWebhookConfiguration",
                "Zeta"
            ]
        );
    }

    #[test]
    fn install_order_ranks() {
        assert!(install_order_rank("Namespace") < install_order_rank("Deployment"));
        assert_eq!(install_order_rank("Unknown"), INSTALL_ORDER.len());
    }
}
