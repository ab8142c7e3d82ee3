//! `svc.selector`, `svc.target-port`, `ingress.backend`, `hpa.target`, `hpa.requests`: traffic
//! and scaling reach real pods.

use serde_json::Value;

use super::index::{
    Found, Index, PodTemplate, array_at, at, kind, map_at, name, namespace, str_at,
};
use super::{Severity, Sink};

/// Named and numbered ports the containers of `pods` declare.
fn declares_port(pods: &[&PodTemplate<'_>], port: &Value) -> bool {
    pods.iter().any(|p| {
        p.containers().any(|(_, c)| {
            array_at(c, "ports").iter().any(|cp| match port {
                Value::String(n) => cp.get("name").and_then(Value::as_str) == Some(n),
                Value::Number(_) => {
                    cp.get("containerPort").and_then(Value::as_i64) == port.as_i64()
                }
                _ => true,
            })
        })
    })
}

fn declares_any_port(pods: &[&PodTemplate<'_>]) -> bool {
    pods.iter().any(|p| {
        p.containers()
            .any(|(_, c)| !array_at(c, "ports").is_empty())
    })
}

/// A Service's ports as a message lists them: `80 (http)`, `8443`.
fn declared_ports(ports: &[Value]) -> Vec<String> {
    ports
        .iter()
        .map(|p| {
            let num = p.get("port").map(|n| n.to_string()).unwrap_or_default();
            match p.get("name").and_then(Value::as_str) {
                Some(n) => format!("{num} ({n})"),
                None => num,
            }
        })
        .collect()
}

fn port_text(port: &Value) -> String {
    match port {
        Value::String(s) => format!("`{s}`"),
        other => other.to_string(),
    }
}

fn check_service(index: &Index<'_>, o: &super::CheckObject, sink: &mut Sink<'_>) {
    let svc = &o.object;
    if str_at(svc, "/spec/type") == Some("ExternalName") {
        return;
    }
    // No selector: endpoints are managed by hand or by another controller.
    let Some(selector) = map_at(svc, "/spec/selector").filter(|s| !s.is_empty()) else {
        return;
    };
    let ns = namespace(svc);
    let matched = index.selected(ns, selector);
    if matched.is_empty() {
        let wanted: Vec<String> = selector
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
            .collect();
        let (severity, tail) = if index.covers_namespace(ns) {
            (Severity::Error, "none exists in the namespace either")
        } else {
            (
                Severity::Warning,
                "none was seen live either (not read: offline or another namespace)",
            )
        };
        sink.push(
            "svc.selector",
            severity,
            &o.address,
            "spec.selector".into(),
            format!(
                "selects pods labelled {}, but no workload in this plan has such pods; {tail}",
                wanted.join(",")
            ),
        );
        return;
    }
    for (i, p) in array_at(&svc["spec"], "ports").iter().enumerate() {
        let Some(target) = p.get("targetPort").or_else(|| p.get("port")) else {
            continue;
        };
        let field = format!("spec.ports[{i}].targetPort");
        let workloads: Vec<String> = matched
            .iter()
            .map(|m| format!("{} {}", m.kind, m.name))
            .collect();
        match target {
            Value::String(_) if !declares_port(&matched, target) => sink.push(
                "svc.target-port",
                Severity::Error,
                &o.address,
                field,
                format!(
                    "targetPort {} is not a named port of the selected pods ({})",
                    port_text(target),
                    workloads.join(", ")
                ),
            ),
            Value::Number(_) if declares_any_port(&matched) && !declares_port(&matched, target) => {
                sink.push(
                    "svc.target-port",
                    Severity::Warning,
                    &o.address,
                    field,
                    format!(
                        "targetPort {} is not a containerPort of the selected pods ({}); is the port right?",
                        port_text(target),
                        workloads.join(", ")
                    ),
                )
            }
            _ => {}
        }
    }
}

/// One Ingress backend: the Service it names, its port, and the backend's field path.
struct Backend<'v> {
    service: &'v str,
    /// `{"number": 80}` / `{"name": "http"}` (v1), or the v1beta1 `servicePort` itself.
    port: Option<&'v Value>,
    field: String,
}

fn backend<'v>(b: &'v Value, field: String) -> Option<Backend<'v>> {
    if let Some(s) = b.get("service") {
        let service = str_at(s, "/name")?;
        let port = at(s, "/port/number").or_else(|| at(s, "/port/name"));
        return Some(Backend {
            service,
            port,
            field: format!("{field}.service"),
        });
    }
    // extensions/v1beta1 and networking.k8s.io/v1beta1.
    let service = str_at(b, "/serviceName")?;
    Some(Backend {
        service,
        port: b.get("servicePort"),
        field,
    })
}

fn ingress_backends(ing: &Value) -> Vec<Backend<'_>> {
    let mut out = Vec::new();
    for (pointer, field) in [
        ("/spec/defaultBackend", "spec.defaultBackend"),
        ("/spec/backend", "spec.backend"),
    ] {
        if let Some(b) = at(ing, pointer).and_then(|b| backend(b, field.to_string())) {
            out.push(b);
        }
    }
    for (i, rule) in array_at(&ing["spec"], "rules").iter().enumerate() {
        let paths = at(rule, "/http/paths")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for (j, p) in paths.iter().enumerate() {
            if let Some(b) = p
                .get("backend")
                .and_then(|b| backend(b, format!("spec.rules[{i}].http.paths[{j}].backend")))
            {
                out.push(b);
            }
        }
    }
    out
}

fn check_ingress(index: &Index<'_>, o: &super::CheckObject, sink: &mut Sink<'_>) {
    let ns = namespace(&o.object);
    for b in ingress_backends(&o.object) {
        let found = index.find("Service", ns, b.service);
        let svc = match found {
            Found::Absent | Found::Unknown => {
                let (severity, tail) = if matches!(found, Found::Absent) {
                    (Severity::Error, "it does not exist")
                } else {
                    (Severity::Warning, "it was not seen live either (not read)")
                };
                sink.push_located(
                    "ingress.backend",
                    severity,
                    &o.address,
                    o.release.as_deref(),
                    format!("{}.name", b.field),
                    format!(
                        "routes to Service `{}`, which this plan does not create; {tail}",
                        b.service
                    ),
                    "",
                    Some(b.service),
                );
                continue;
            }
            Found::Planned(p) => &p.object,
            Found::Live(v) => v,
        };
        let Some(port) = b.port else { continue };
        let ports = array_at(&svc["spec"], "ports");
        let ok = ports.iter().any(|p| match port {
            Value::String(n) => p.get("name").and_then(Value::as_str) == Some(n),
            _ => p.get("port").and_then(Value::as_i64) == port.as_i64(),
        });
        if !ok {
            let declared = declared_ports(ports);
            let port_field = if b.field.ends_with(".service") {
                match port {
                    Value::String(_) => format!("{}.port.name", b.field),
                    _ => format!("{}.port.number", b.field),
                }
            } else {
                format!("{}.servicePort", b.field)
            };
            let key_value = match port {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            sink.push_located(
                "ingress.backend",
                Severity::Error,
                &o.address,
                o.release.as_deref(),
                port_field,
                format!(
                    "routes to port {} of Service `{}`, which has ports {}",
                    port_text(port),
                    b.service,
                    if declared.is_empty() {
                        "none".to_string()
                    } else {
                        declared.join(", ")
                    }
                ),
                "",
                Some(&key_value),
            );
        }
    }
}

/// Pointer to the pod spec of a workload object.
fn pod_spec_of(workload: &Value) -> Option<(&Value, &'static str)> {
    match kind(workload) {
        "Deployment" | "StatefulSet" | "ReplicaSet" | "ReplicationController" => {
            at(workload, "/spec/template/spec").map(|s| (s, "spec.template.spec"))
        }
        _ => None,
    }
}

/// What an HPA scales on by utilization (a percentage of the request).
struct UtilizationMetric {
    resource: String,
    field: String,
    /// A `ContainerResource` metric concerns one container; `Resource` every container.
    container: Option<String>,
}

fn utilization_resources(hpa: &Value) -> Vec<UtilizationMetric> {
    let mut out = Vec::new();
    if at(hpa, "/spec/targetCPUUtilizationPercentage").is_some() {
        out.push(UtilizationMetric {
            resource: "cpu".to_string(),
            field: "spec.targetCPUUtilizationPercentage".to_string(),
            container: None,
        });
    }
    for (i, m) in array_at(&hpa["spec"], "metrics").iter().enumerate() {
        let (field, scope) = match str_at(m, "/type") {
            Some("Resource") => ("resource", "resource"),
            Some("ContainerResource") => ("containerResource", "containerResource"),
            _ => continue,
        };
        let Some(r) = m.get(field) else { continue };
        let by_utilization = str_at(r, "/target/type") == Some("Utilization")
            || r.get("targetAverageUtilization").is_some();
        if let (true, Some(name)) = (by_utilization, str_at(r, "/name")) {
            out.push(UtilizationMetric {
                resource: name.to_string(),
                field: format!("spec.metrics[{i}].{scope}"),
                container: str_at(r, "/container").map(str::to_string),
            });
        }
    }
    out
}

fn check_hpa(index: &Index<'_>, o: &super::CheckObject, sink: &mut Sink<'_>) {
    let hpa = &o.object;
    let (Some(target_kind), Some(target_name)) = (
        str_at(hpa, "/spec/scaleTargetRef/kind"),
        str_at(hpa, "/spec/scaleTargetRef/name"),
    ) else {
        return;
    };
    let found = index.find(target_kind, namespace(hpa), target_name);
    let (workload, workload_address) = match found {
        Found::Absent | Found::Unknown => {
            let (severity, tail) = if matches!(found, Found::Absent) {
                (Severity::Error, "it does not exist")
            } else {
                (Severity::Warning, "it was not seen live either (not read)")
            };
            sink.push(
                "hpa.target",
                severity,
                &o.address,
                "spec.scaleTargetRef.name".into(),
                format!(
                    "scales {target_kind} `{target_name}`, which this plan does not create; {tail}"
                ),
            );
            return;
        }
        Found::Planned(p) => (&p.object, p.address.clone()),
        Found::Live(v) => (v, o.address.clone()),
    };
    let Some((spec, spec_path)) = pod_spec_of(workload) else {
        return;
    };
    for metric in utilization_resources(hpa) {
        let (resource, metric_field) = (&metric.resource, &metric.field);
        for (i, c) in array_at(spec, "containers").iter().enumerate() {
            let container_name = c.get("name").and_then(Value::as_str);
            if metric.container.is_some() && metric.container.as_deref() != container_name {
                continue;
            }
            let requested = at(c, &format!("/resources/requests/{resource}")).is_some()
                // The API server copies limits into missing requests.
                || at(c, &format!("/resources/limits/{resource}")).is_some();
            if requested {
                continue;
            }
            let container = c.get("name").and_then(Value::as_str).unwrap_or("?");
            let field = if workload_address == o.address {
                metric_field.clone()
            } else {
                format!("{spec_path}.containers[{i}].resources.requests.{resource}")
            };
            sink.push_located(
                "hpa.requests",
                Severity::Error,
                &workload_address,
                o.release.as_deref(),
                field,
                format!(
                    "HPA `{}` scales on {resource} utilization, but container `{container}` of {} `{}` requests no {resource}: the HPA can never compute it",
                    name(hpa),
                    kind(workload),
                    name(workload)
                ),
                "resources",
                None,
            );
        }
    }
}

pub(crate) fn check(index: &Index<'_>, sink: &mut Sink<'_>) {
    for o in index.planned {
        match kind(&o.object) {
            "Service" => check_service(index, o, sink),
            "Ingress" => check_ingress(index, o, sink),
            "HorizontalPodAutoscaler" => check_hpa(index, o, sink),
            _ => {}
        }
    }
}

/// `smoke.service`: a smoke check is sent to a Service of its release (or one already live in the
/// namespace), on a port the Service has. Otherwise the check could only fail after the apply.
pub(crate) fn check_smoke(
    index: &Index<'_>,
    checks: &[crate::model::smoke::SmokeCheck],
    sink: &mut Sink<'_>,
) {
    for (i, check) in checks.iter().enumerate() {
        let address = format!("release.{}", check.release);
        let field = format!("checks[{}]", position_in_release(checks, i));
        let mut push = |severity: Severity, message: String| {
            sink.findings.push(super::Finding {
                id: "smoke.service".into(),
                severity,
                address: address.clone(),
                field: field.clone(),
                message,
                source: check.source.clone(),
            })
        };
        let found = index.find("Service", &check.namespace, &check.service);
        let svc = match found {
            Found::Absent => {
                push(
                    Severity::Error,
                    format!(
                        "smoke check {} names Service `{}`, which neither this plan nor the namespace `{}` has{}",
                        check.path,
                        check.service,
                        check.namespace,
                        services_hint(index, &check.release)
                    ),
                );
                continue;
            }
            Found::Unknown => {
                push(
                    Severity::Warning,
                    format!(
                        "smoke check {} names Service `{}`, which this plan does not create (the cluster was not read){}",
                        check.path,
                        check.service,
                        services_hint(index, &check.release)
                    ),
                );
                continue;
            }
            Found::Planned(o) => &o.object,
            Found::Live(v) => v,
        };
        let ports = array_at(&svc["spec"], "ports");
        let has_port = ports.iter().any(|p| match check.port.parse::<i64>() {
            Ok(n) => p.get("port").and_then(Value::as_i64) == Some(n),
            Err(_) => p.get("name").and_then(Value::as_str) == Some(check.port.as_str()),
        });
        if !has_port {
            let declared = declared_ports(ports);
            push(
                Severity::Error,
                format!(
                    "smoke check {} uses port `{}` of Service `{}`, which has {}",
                    check.path,
                    check.port,
                    check.service,
                    if declared.is_empty() {
                        "no ports".to_string()
                    } else {
                        format!("ports {}", declared.join(", "))
                    }
                ),
            );
        }
    }
}

/// The index of `checks[i]` among the checks of its own release.
fn position_in_release(checks: &[crate::model::smoke::SmokeCheck], i: usize) -> usize {
    checks[..i]
        .iter()
        .filter(|c| c.release == checks[i].release)
        .count()
}

/// "; release.backend renders Services `todo-backend`" when it renders any.
fn services_hint(index: &Index<'_>, release: &str) -> String {
    let names: Vec<String> = index
        .planned
        .iter()
        .filter(|o| o.release.as_deref() == Some(release) && kind(&o.object) == "Service")
        .map(|o| format!("`{}`", name(&o.object)))
        .collect();
    if names.is_empty() {
        format!("; release.{release} renders no Service")
    } else {
        format!("; release.{release} renders Services {}", names.join(", "))
    }
}
