//! `probe.port`, `ref.service-account`, `ref.pull-secret`, `pvc.storage-class`,
//! `sts.service-name`: the ports and names a pod or a claim needs exist.

use serde_json::Value;

use super::index::{Found, Index, PodTemplate, array_at, at, kind, namespace, str_at};
use super::{Severity, Sink};

const PROBES: [&str; 3] = ["livenessProbe", "readinessProbe", "startupProbe"];

fn check_probes(pod: &PodTemplate<'_>, sink: &mut Sink<'_>) {
    for (path, c) in pod.containers() {
        let names: Vec<&str> = array_at(c, "ports")
            .iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .collect();
        let container = c.get("name").and_then(Value::as_str).unwrap_or("?");
        for probe in PROBES {
            for handler in ["httpGet", "tcpSocket"] {
                // A number needs no declaration (containerPort is informational); a name does.
                let Some(port) = at(c, &format!("/{probe}/{handler}/port")).and_then(Value::as_str)
                else {
                    continue;
                };
                if names.contains(&port) {
                    continue;
                }
                let declared = if names.is_empty() {
                    "it names no ports".to_string()
                } else {
                    format!("its named ports: {}", names.join(", "))
                };
                sink.push(
                    "probe.port",
                    Severity::Error,
                    &pod.address,
                    format!("{path}.{probe}.{handler}.port"),
                    format!(
                        "{probe} of container `{container}` uses port `{port}`, which the container does not declare; {declared}"
                    ),
                );
            }
        }
    }
}

fn absent(index: &Index<'_>, what: &str, ns: &str, name: &str) -> Option<(Severity, &'static str)> {
    match index.find(what, ns, name) {
        Found::Absent => Some((Severity::Error, "it does not exist")),
        _ => None,
    }
}

fn check_names(index: &Index<'_>, pod: &PodTemplate<'_>, sink: &mut Sink<'_>) {
    let ns = pod.namespace;
    let sa_field = ["serviceAccountName", "serviceAccount"]
        .into_iter()
        .find_map(|f| pod.spec.get(f).and_then(Value::as_str).map(|n| (f, n)));
    if let Some((field, sa)) = sa_field
        && sa != "default"
        && let Some((severity, tail)) = absent(index, "ServiceAccount", ns, sa)
    {
        sink.push_located(
            "ref.service-account",
            severity,
            &pod.address,
            pod.release,
            format!("{}.{field}", pod.spec_path),
            format!(
                "runs as ServiceAccount `{sa}`, which this plan does not create; {tail} in namespace `{ns}`"
            ),
            "",
            Some(sa),
        );
    }
    for (i, s) in array_at(pod.spec, "imagePullSecrets").iter().enumerate() {
        let Some(name) = str_at(s, "/name") else {
            continue;
        };
        if let Some((severity, tail)) = absent(index, "Secret", ns, name) {
            sink.push_located(
                "ref.pull-secret",
                severity,
                &pod.address,
                pod.release,
                format!("{}.imagePullSecrets[{i}].name", pod.spec_path),
                format!(
                    "pulls with Secret `{name}`, which this plan does not create; {tail} in namespace `{ns}`"
                ),
                "",
                Some(name),
            );
        }
    }
}

fn check_storage_class(
    index: &Index<'_>,
    o: &super::CheckObject,
    claim_spec: &Value,
    field: String,
    sink: &mut Sink<'_>,
) {
    // "" asks for no class (a pre-bound volume); no value asks for the default class.
    let Some(class) = claim_spec
        .get("storageClassName")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    else {
        return;
    };
    if let Some((severity, tail)) = absent(index, "StorageClass", "", class) {
        sink.push_located(
            "pvc.storage-class",
            severity,
            &o.address,
            o.release.as_deref(),
            field,
            format!("asks for StorageClass `{class}`; {tail}, so the claim stays Pending"),
            "storageClass",
            Some(class),
        );
    }
}

pub(crate) fn check(index: &Index<'_>, sink: &mut Sink<'_>) {
    for pod in index.pods.iter().filter(|p| p.planned) {
        check_probes(pod, sink);
        check_names(index, pod, sink);
    }
    for o in index.planned {
        let v = &o.object;
        match kind(v) {
            "PersistentVolumeClaim" => {
                if let Some(spec) = v.get("spec") {
                    check_storage_class(index, o, spec, "spec.storageClassName".into(), sink);
                }
            }
            "StatefulSet" => {
                for (i, t) in array_at(&v["spec"], "volumeClaimTemplates")
                    .iter()
                    .enumerate()
                {
                    if let Some(spec) = t.get("spec") {
                        let field = format!("spec.volumeClaimTemplates[{i}].spec.storageClassName");
                        check_storage_class(index, o, spec, field, sink);
                    }
                }
                let Some(service) = str_at(v, "/spec/serviceName").filter(|s| !s.is_empty()) else {
                    continue;
                };
                let found = index.find("Service", namespace(v), service);
                let (severity, tail) = match found {
                    Found::Absent => (Severity::Error, "it does not exist"),
                    Found::Unknown => (Severity::Warning, "it was not seen live either (not read)"),
                    _ => continue,
                };
                sink.push_located(
                    "sts.service-name",
                    severity,
                    &o.address,
                    o.release.as_deref(),
                    "spec.serviceName".into(),
                    format!(
                        "names governing Service `{service}`, which this plan does not create; {tail} (pods get no stable DNS names)"
                    ),
                    "",
                    Some(service),
                );
            }
            _ => {}
        }
    }
}
