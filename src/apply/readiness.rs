//! Waiting until applied objects really work, and saying why when they don't.
//!
//! Per kind, watch-based (kube-runtime's `await_condition`): Deployment, StatefulSet, DaemonSet,
//! Job, PersistentVolumeClaim. Meanwhile the workload's pods are checked for states that will
//! never heal by waiting (CrashLoopBackOff, ImagePullBackOff, ...) so apply fails fast, with the
//! pod's events and last log lines.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::wait::await_condition;
use miette::Diagnostic;
use thiserror::Error;

use crate::observe::ObjectKey;

/// Container waiting reasons that waiting will not fix.
const FATAL_WAITING_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "ErrImageNeverPull",
];

#[derive(Debug, Error, Diagnostic)]
pub enum NotReady {
    #[error("{object} did not become ready within {}s: {status}", .timeout.as_secs())]
    #[diagnostic(
        code(todoplan::apply::timeout),
        help("{diagnosis}raise `timeout` of the release in todo.toml if it is only slow")
    )]
    Timeout {
        object: String,
        timeout: Duration,
        status: String,
        diagnosis: String,
    },
    #[error("{object} failed: pod {pod} is in {reason}")]
    #[diagnostic(code(todoplan::apply::pod_failed), help("{diagnosis}"))]
    PodFailed {
        object: String,
        pod: String,
        reason: String,
        diagnosis: String,
    },
    #[error("{object} failed: {message}")]
    #[diagnostic(code(todoplan::apply::rollout_failed), help("{diagnosis}"))]
    RolloutFailed {
        object: String,
        message: String,
        diagnosis: String,
    },
    #[error("cannot watch {object}: {message}")]
    #[diagnostic(code(todoplan::apply::watch))]
    Watch { object: String, message: String },
}

/// True for the kinds this module waits on.
pub fn waits_for(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment"
            | "StatefulSet"
            | "DaemonSet"
            | "Job"
            | "PersistentVolumeClaim"
            | "CustomResourceDefinition"
    )
}

fn deployment_ready(d: &Deployment) -> bool {
    let generation = d.metadata.generation.unwrap_or(0);
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(s) = &d.status else { return false };
    s.observed_generation.unwrap_or(0) >= generation
        && s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
        && s.ready_replicas.unwrap_or(0) == want
}

fn deployment_failed(d: &Deployment) -> Option<String> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find_map(|c| {
            (c.type_ == "Progressing"
                && c.status == "False"
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
            .then(|| {
                c.message
                    .clone()
                    .unwrap_or_else(|| "ProgressDeadlineExceeded".into())
            })
        })
}

fn statefulset_ready(s: &StatefulSet) -> bool {
    let generation = s.metadata.generation.unwrap_or(0);
    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(st) = &s.status else { return false };
    st.observed_generation.unwrap_or(0) >= generation
        && st.ready_replicas.unwrap_or(0) == want
        && st.updated_replicas.unwrap_or(0) == want
        && st.current_revision == st.update_revision
}

fn daemonset_ready(d: &DaemonSet) -> bool {
    let generation = d.metadata.generation.unwrap_or(0);
    let Some(s) = &d.status else { return false };
    s.observed_generation.unwrap_or(0) >= generation
        && s.updated_number_scheduled.unwrap_or(0) == s.desired_number_scheduled
        && s.number_ready == s.desired_number_scheduled
}

fn job_state(j: &Job) -> Option<Result<(), String>> {
    for c in j.status.as_ref()?.conditions.as_ref()? {
        if c.status == "True" && c.type_ == "Complete" {
            return Some(Ok(()));
        }
        if c.status == "True" && c.type_ == "Failed" {
            return Some(Err(c
                .message
                .clone()
                .unwrap_or_else(|| "Job failed".into())));
        }
    }
    None
}

/// A CRD is ready once the API server serves it (`Established`); its names refused
/// (`NamesAccepted` False, e.g. a plural another CRD has) is a failure with the server's message.
fn crd_state(c: &CustomResourceDefinition) -> Option<Result<(), String>> {
    for condition in c.status.as_ref()?.conditions.as_ref()? {
        if condition.type_ == "Established" && condition.status == "True" {
            return Some(Ok(()));
        }
        if condition.type_ == "NamesAccepted" && condition.status == "False" {
            return Some(Err(condition
                .message
                .clone()
                .unwrap_or_else(|| "its names were not accepted".into())));
        }
    }
    None
}

/// Waits until `key` is ready, failing fast on broken pods. `selector`: the workload's pod
/// label selector (`a=b,c=d`), used to find its pods.
pub async fn wait_ready(
    client: &kube::Client,
    key: &ObjectKey,
    timeout: Duration,
) -> Result<(), NotReady> {
    let object = key.to_string();
    let ns = key.namespace.clone().unwrap_or_else(|| "default".into());
    let watch_err = |e: kube::runtime::wait::Error| NotReady::Watch {
        object: object.clone(),
        message: e.to_string(),
    };
    let selector = pod_selector(client, key, &ns).await;
    let readiness = async {
        match key.kind.as_str() {
            "Deployment" => {
                let api: Api<Deployment> = Api::namespaced(client.clone(), &ns);
                let d = await_condition(api, &key.name, |o: Option<&Deployment>| {
                    o.is_some_and(|d| deployment_ready(d) || deployment_failed(d).is_some())
                })
                .await
                .map_err(watch_err)?;
                if let Some(msg) = d.as_ref().and_then(deployment_failed) {
                    return Err(NotReady::RolloutFailed {
                        object: object.clone(),
                        message: msg,
                        diagnosis: String::new(),
                    });
                }
            }
            "StatefulSet" => {
                let api: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
                await_condition(api, &key.name, |o: Option<&StatefulSet>| {
                    o.is_some_and(statefulset_ready)
                })
                .await
                .map_err(watch_err)?;
            }
            "DaemonSet" => {
                let api: Api<DaemonSet> = Api::namespaced(client.clone(), &ns);
                await_condition(api, &key.name, |o: Option<&DaemonSet>| {
                    o.is_some_and(daemonset_ready)
                })
                .await
                .map_err(watch_err)?;
            }
            "Job" => {
                let api: Api<Job> = Api::namespaced(client.clone(), &ns);
                let j = await_condition(api, &key.name, |o: Option<&Job>| {
                    o.and_then(job_state).is_some()
                })
                .await
                .map_err(watch_err)?;
                if let Some(Err(msg)) = j.as_ref().and_then(job_state) {
                    return Err(NotReady::RolloutFailed {
                        object: object.clone(),
                        message: msg,
                        diagnosis: String::new(),
                    });
                }
            }
            "CustomResourceDefinition" => {
                let api: Api<CustomResourceDefinition> = Api::all(client.clone());
                let crd =
                    await_condition(api, &key.name, |o: Option<&CustomResourceDefinition>| {
                        o.and_then(crd_state).is_some()
                    })
                    .await
                    .map_err(watch_err)?;
                if let Some(Err(msg)) = crd.as_ref().and_then(crd_state) {
                    return Err(NotReady::RolloutFailed {
                        object: object.clone(),
                        message: msg,
                        diagnosis: String::new(),
                    });
                }
            }
            "PersistentVolumeClaim" => {
                let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
                await_condition(api, &key.name, |o: Option<&PersistentVolumeClaim>| {
                    o.and_then(|p| p.status.as_ref()?.phase.as_deref())
                        .is_some_and(|p| p == "Bound")
                })
                .await
                .map_err(watch_err)?;
            }
            _ => {}
        }
        Ok(())
    };
    let pod_watch = async {
        let Some(selector) = &selector else {
            return std::future::pending::<Result<(), NotReady>>().await;
        };
        loop {
            // Only the pods of the revision being rolled out: the previous revision's pods may
            // be crashing (that is what the new revision fixes).
            // Until the controller has seen the new spec, the newest revision is still the old
            // one: judge no pod then.
            let current = current_revision_selector(client, key, &ns, selector).await;
            if let Some(current) = current
                && let Some((pod, reason)) = broken_pod(client, &ns, &current).await
            {
                let diagnosis = diagnose_pod(client, &ns, &pod).await;
                return Err(NotReady::PodFailed {
                    object: object.clone(),
                    pod,
                    reason,
                    diagnosis,
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        r = readiness => r,
        r = pod_watch => r,
        _ = tokio::time::sleep(timeout) => {
            let (status, diagnosis) = match &selector {
                Some(sel) => describe_pods(client, &ns, sel).await,
                None => ("not ready".to_string(), String::new()),
            };
            Err(NotReady::Timeout { object: object.clone(), timeout, status, diagnosis })
        }
    }
}

async fn pod_selector(client: &kube::Client, key: &ObjectKey, ns: &str) -> Option<String> {
    let labels = match key.kind.as_str() {
        "Deployment" => {
            Api::<Deployment>::namespaced(client.clone(), ns)
                .get_opt(&key.name)
                .await
                .ok()??
                .spec?
                .selector
                .match_labels
        }
        "StatefulSet" => {
            Api::<StatefulSet>::namespaced(client.clone(), ns)
                .get_opt(&key.name)
                .await
                .ok()??
                .spec?
                .selector
                .match_labels
        }
        "DaemonSet" => {
            Api::<DaemonSet>::namespaced(client.clone(), ns)
                .get_opt(&key.name)
                .await
                .ok()??
                .spec?
                .selector
                .match_labels
        }
        "Job" => Some(
            [("job-name".to_string(), key.name.clone())]
                .into_iter()
                .collect(),
        ),
        _ => None,
    }?;
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `selector` narrowed to the pods of the revision being rolled out: the newest ReplicaSet's
/// `pod-template-hash` for a Deployment, `status.updateRevision` for a StatefulSet. None while
/// the controller has not observed the workload's current generation (its newest revision is
/// then still the previous one); unchanged for other kinds, or when it cannot be read.
async fn current_revision_selector(
    client: &kube::Client,
    key: &ObjectKey,
    ns: &str,
    selector: &str,
) -> Option<String> {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    let observed = |generation: Option<i64>, observed: Option<i64>| {
        generation.is_none_or(|g| observed.is_some_and(|o| o >= g))
    };
    let narrowed = match key.kind.as_str() {
        "Deployment" => {
            if let Ok(Some(d)) = Api::<Deployment>::namespaced(client.clone(), ns)
                .get_opt(&key.name)
                .await
                && !observed(
                    d.metadata.generation,
                    d.status.as_ref().and_then(|s| s.observed_generation),
                )
            {
                return None;
            }
            let Ok(sets) = Api::<ReplicaSet>::namespaced(client.clone(), ns)
                .list(&ListParams::default().labels(selector))
                .await
            else {
                return Some(selector.to_string());
            };
            let revision = |rs: &ReplicaSet| -> u64 {
                rs.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0)
            };
            let owned_by_it = |rs: &ReplicaSet| {
                rs.metadata
                    .owner_references
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|o| o.name == key.name))
            };
            sets.items
                .iter()
                .filter(|rs| owned_by_it(rs))
                .max_by_key(|rs| revision(rs))
                .and_then(|rs| {
                    rs.metadata
                        .labels
                        .as_ref()?
                        .get("pod-template-hash")
                        .cloned()
                })
                .map(|h| format!("pod-template-hash={h}"))
        }
        "StatefulSet" => {
            let set = Api::<StatefulSet>::namespaced(client.clone(), ns)
                .get_opt(&key.name)
                .await
                .ok()
                .flatten();
            if let Some(s) = &set
                && !observed(
                    s.metadata.generation,
                    s.status.as_ref().and_then(|s| s.observed_generation),
                )
            {
                return None;
            }
            set.and_then(|s| s.status?.update_revision)
                .map(|r| format!("controller-revision-hash={r}"))
        }
        _ => None,
    };
    Some(match narrowed {
        Some(n) => format!("{selector},{n}"),
        None => selector.to_string(),
    })
}

/// A pod of the workload whose container waits for a reason that will not heal.
async fn broken_pod(client: &kube::Client, ns: &str, selector: &str) -> Option<(String, String)> {
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(selector))
        .await
        .ok()?;
    for pod in pods.items {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default();
        for cs in statuses {
            if let Some(reason) = cs
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.clone())
                && FATAL_WAITING_REASONS.contains(&reason.as_str())
            {
                return Some((name, reason));
            }
        }
    }
    None
}

/// One line per pod: phase and readiness, for a timeout message.
async fn describe_pods(client: &kube::Client, ns: &str, selector: &str) -> (String, String) {
    let Ok(pods) = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(selector))
        .await
    else {
        return ("pods could not be listed".into(), String::new());
    };
    if pods.items.is_empty() {
        return (
            "no pods were created (check the ReplicaSet/controller events)".into(),
            String::new(),
        );
    }
    let mut status = Vec::new();
    let mut diagnosis = String::new();
    for pod in &pods.items {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status == "True")
            .unwrap_or(false);
        status.push(format!(
            "pod {name} {phase}{}",
            if ready { "" } else { ", not Ready" }
        ));
        if !ready && diagnosis.is_empty() {
            diagnosis = diagnose_pod(client, ns, &name).await;
        }
    }
    (status.join("; "), diagnosis)
}

/// One GET through the API server's service proxy: the status and body the Service answered, or
/// the API server's own answer when it could not reach one (503 "no endpoints available").
pub async fn proxy_get(client: &kube::Client, path: &str) -> Result<(u16, String), String> {
    const ANSWER_WITHIN: Duration = Duration::from_secs(10);
    let request = http::Request::get(path)
        .body(kube::client::Body::empty())
        .map_err(|e| format!("{path} is not a request path: {e}"))?;
    let response = tokio::time::timeout(ANSWER_WITHIN, client.send(request))
        .await
        .map_err(|_| format!("no answer within {}s", ANSWER_WITHIN.as_secs()))?
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = tokio::time::timeout(ANSWER_WITHIN, response.into_body().collect_bytes())
        .await
        .map_err(|_| format!("the body was not read within {}s", ANSWER_WITHIN.as_secs()))?
        .map_err(|e| e.to_string())?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The pods behind a Service, with the events and recent logs of up to two of them: what a failed
/// smoke check shows.
pub async fn diagnose_service(client: &kube::Client, ns: &str, service: &str) -> String {
    use k8s_openapi::api::core::v1::Service;
    let selector = match Api::<Service>::namespaced(client.clone(), ns)
        .get(service)
        .await
    {
        Ok(svc) => svc
            .spec
            .and_then(|s| s.selector)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        Err(e) => return format!("service {service} could not be read: {e}\n"),
    };
    let Some(selector) = selector else {
        return format!("service {service} selects no pods (it has no selector)\n");
    };
    let pods = match Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&selector))
        .await
    {
        Ok(pods) => pods.items,
        Err(e) => return format!("pods of service {service} could not be listed: {e}\n"),
    };
    if pods.is_empty() {
        return format!("service {service} selects no pods ({selector})\n");
    }
    let mut out = String::new();
    for pod in pods.iter().take(2) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        out.push_str(&diagnose_pod(client, ns, &name).await);
    }
    out
}

/// The pod's recent events and the last lines of its logs, where the cluster serves them.
pub async fn diagnose_pod(client: &kube::Client, ns: &str, pod: &str) -> String {
    let mut out = String::new();
    let events = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default().fields(&format!("involvedObject.name={pod}")))
        .await;
    match events {
        Ok(list) if !list.items.is_empty() => {
            out.push_str(&format!("events of pod {pod}:\n"));
            let mut items = list.items;
            items.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0));
            for e in items.iter().rev().take(8).rev() {
                out.push_str(&format!(
                    "  {} {}: {}\n",
                    e.type_.clone().unwrap_or_default(),
                    e.reason.clone().unwrap_or_default(),
                    e.message.clone().unwrap_or_default().trim()
                ));
            }
        }
        Ok(_) => out.push_str(&format!("pod {pod} has no events\n")),
        Err(e) => out.push_str(&format!("events of pod {pod} could not be read: {e}\n")),
    }
    let logs = Api::<Pod>::namespaced(client.clone(), ns)
        .logs(
            pod,
            &LogParams {
                tail_lines: Some(20),
                ..Default::default()
            },
        )
        .await;
    match logs {
        Ok(text) if !text.trim().is_empty() => {
            out.push_str(&format!("last log lines of pod {pod}:\n"));
            for line in text.lines() {
                out.push_str(&format!("  | {line}\n"));
            }
        }
        Ok(_) => out.push_str(&format!("pod {pod} wrote no logs\n")),
        Err(e) => {
            let pod_status = Api::<Pod>::namespaced(client.clone(), ns)
                .get(pod)
                .await
                .ok();
            match pod_status.as_ref().and_then(never_started) {
                Some(why) => out.push_str(&format!(
                    "pod {pod} has no logs: its container never started ({why})\n"
                )),
                None => out.push_str(&format!("logs of pod {pod} could not be read: {e}\n")),
            }
        }
    }
    out
}

/// Why no container of `pod` ever ran (so it has no logs): the first waiting reason, e.g.
/// `ImagePullBackOff`. None when one has run or is running.
fn never_started(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.clone()?;
    let ran = statuses.iter().any(|cs| {
        cs.restart_count > 0
            || cs
                .last_state
                .as_ref()
                .is_some_and(|s| s.terminated.is_some())
            || cs
                .state
                .as_ref()
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
    });
    if ran {
        return None;
    }
    Some(
        statuses
            .iter()
            .find_map(|cs| cs.state.as_ref()?.waiting.as_ref()?.reason.clone())
            .unwrap_or_else(|| "waiting".to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(v: serde_json::Value) -> Deployment {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn deployment_is_ready_only_when_the_new_generation_is_fully_available() {
        let mut d = json!({"metadata": {"name": "d", "generation": 2}, "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}});
        assert!(
            !deployment_ready(&deployment(d.clone())),
            "old generation observed"
        );
        d["status"]["observedGeneration"] = json!(2);
        assert!(deployment_ready(&deployment(d.clone())));
        d["status"]["replicas"] = json!(3);
        assert!(
            !deployment_ready(&deployment(d.clone())),
            "old pods still around"
        );
    }

    #[test]
    fn progress_deadline_is_a_failure() {
        let d = deployment(
            json!({"metadata": {"name": "d"}, "spec": {"selector": {}, "template": {}},
            "status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "took too long"}]}}),
        );
        assert_eq!(deployment_failed(&d).as_deref(), Some("took too long"));
    }

    #[test]
    fn a_pod_whose_container_never_ran_is_said_to_have_never_started() {
        let pod = |status: serde_json::Value| -> Pod {
            serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}, "status": status}))
                .unwrap()
        };
        let pulling = pod(serde_json::json!({"containerStatuses": [{
            "name": "c", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}));
        assert_eq!(never_started(&pulling).as_deref(), Some("ImagePullBackOff"));
        let crashed = pod(serde_json::json!({"containerStatuses": [{
            "name": "c", "image": "x", "imageID": "", "ready": false, "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}));
        assert_eq!(never_started(&crashed), None, "it ran: its logs exist");
        let running = pod(serde_json::json!({"containerStatuses": [{
            "name": "c", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
            "state": {"running": {}}}]}));
        assert_eq!(never_started(&running), None);
    }

    #[test]
    fn job_complete_and_failed() {
        let j: Job = serde_json::from_value(json!({"status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}})).unwrap();
        assert_eq!(job_state(&j), Some(Err("BackoffLimitExceeded".into())));
    }
}
