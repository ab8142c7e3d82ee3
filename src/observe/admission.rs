//! What, besides an object and the live object it lands on, decides the API server's answer to a
//! dry-run of it: the server's version (its defaulting and validation), the admission webhooks
//! and policies configured (a mutating webhook changes what is stored, a validating one may
//! refuse it), and, for a custom resource, its CRD (schema defaults and pruning). The
//! incremental plan (`plan::incremental`) skips a dry-run only while none of these moved.

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject, ListParams};

use super::{ClusterClient, ObjectKey, ObserveError};

/// The admission configuration kinds whose objects change dry-run answers. A kind the server
/// does not serve (MutatingAdmissionPolicy before it is enabled) has none.
const ADMISSION_KINDS: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingAdmissionPolicy",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingAdmissionPolicyBinding",
    ),
];

const CRD: (&str, &str) = ("apiextensions.k8s.io/v1", "CustomResourceDefinition");

/// What the cluster's dry-run answers depend on, read at plan time.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRunInputs {
    /// `gitVersion` of the API server.
    pub server_version: String,
    /// `Kind/name@generation` of every admission configuration object, sorted; Err: they could
    /// not be read (the reason, e.g. the API server's Forbidden message).
    pub admission: Result<Vec<String>, String>,
    /// CRD name (`plural.group`) → `metadata.generation`; Err: not readable.
    pub crds: Result<BTreeMap<String, i64>, String>,
}

impl ClusterClient {
    /// Reads [`DryRunInputs`]: the version (cached per command) and one metadata-only LIST per
    /// admission kind and of the CRDs, all at once.
    pub async fn dry_run_inputs(&self) -> Result<DryRunInputs, ObserveError> {
        let (version, admission, crds) = futures::join!(
            self.server_version(),
            futures::future::join_all(ADMISSION_KINDS.iter().map(|(v, k)| self.generations(v, k))),
            self.generations(CRD.0, CRD.1),
        );
        let mut lines = Vec::new();
        let mut unreadable = None;
        for ((_, kind), listed) in ADMISSION_KINDS.iter().zip(admission) {
            match listed {
                Ok(items) => {
                    lines.extend(items.into_iter().map(|(n, g)| format!("{kind}/{n}@{g}")))
                }
                Err(ObserveError::UnknownKind { .. }) => {}
                Err(e @ (ObserveError::Unreachable { .. } | ObserveError::Config { .. })) => {
                    return Err(e);
                }
                Err(e) => unreadable = Some(e.to_string()),
            }
        }
        lines.sort();
        let crds = match crds {
            Ok(items) => Ok(items.into_iter().collect()),
            Err(e @ (ObserveError::Unreachable { .. } | ObserveError::Config { .. })) => {
                return Err(e);
            }
            Err(e) => Err(e.to_string()),
        };
        Ok(DryRunInputs {
            server_version: version?,
            admission: match unreadable {
                Some(why) => Err(why),
                None => Ok(lines),
            },
            crds,
        })
    }

    /// The plural resource name of a kind (`foostores`), from discovery (cached).
    pub async fn plural_of(&self, key: &ObjectKey) -> Result<String, ObserveError> {
        Ok(self.resolve(key).await?.0.plural)
    }

    /// (name, generation) of every object of a cluster-scoped kind, by a metadata-only LIST.
    async fn generations(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Vec<(String, i64)>, ObserveError> {
        let key = ObjectKey {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: None,
            name: String::new(),
        };
        let (resource, _) = self.resolve(&key).await?;
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        let mut out = Vec::new();
        let mut params = ListParams::default().limit(500);
        loop {
            super::bump(&self.stats.lists);
            let page = api
                .list_metadata(&params)
                .await
                .map_err(|e| self.classify(e, "list", &format!("{api_version} {kind}")))?;
            out.extend(page.items.into_iter().map(|item| {
                (
                    item.metadata.name.unwrap_or_default(),
                    item.metadata.generation.unwrap_or(0),
                )
            }));
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return Ok(out),
            }
        }
    }
}
