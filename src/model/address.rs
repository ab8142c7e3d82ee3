//! Node addresses: the stable names used in plan output, `--target`, state and errors.
//!
//! `image.NAME`, `secret.NAME`, `namespace.NAME`, `release.NAME`, and for an object of a release
//! `release.NAME/API_VERSION/KIND/NAMESPACE/NAME` (cluster-scoped objects omit NAMESPACE).
//! The API version is one segment for the core group (`v1`) and two otherwise (`apps/v1`).
//! Parsing is unambiguous because Kubernetes kinds start with an upper-case letter while groups,
//! versions, namespaces and object names are lower case: the first segment starting with an
//! upper-case letter is the kind, what precedes it is the API version, and what follows it is
//! `NAMESPACE/NAME` or just `NAME`.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    Image(String),
    Secret(String),
    Namespace(String),
    Release(String),
    Object {
        release: String,
        api_version: String,
        kind: String,
        namespace: Option<String>,
        name: String,
    },
}

impl Address {
    /// The address kinds written before the dot.
    pub const KINDS: [&'static str; 4] = ["image", "secret", "namespace", "release"];

    /// The kind word of the address (`image`, `secret`, `namespace`, `release`, `object`).
    pub fn kind(&self) -> &'static str {
        match self {
            Address::Image(_) => "image",
            Address::Secret(_) => "secret",
            Address::Namespace(_) => "namespace",
            Address::Release(_) => "release",
            Address::Object { .. } => "object",
        }
    }

    /// The release an address belongs to (itself for a release, its owner for an object).
    pub fn release(&self) -> Option<&str> {
        match self {
            Address::Release(r) | Address::Object { release: r, .. } => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Image(n) => write!(f, "image.{n}"),
            Address::Secret(n) => write!(f, "secret.{n}"),
            Address::Namespace(n) => write!(f, "namespace.{n}"),
            Address::Release(n) => write!(f, "release.{n}"),
            Address::Object {
                release,
                api_version,
                kind,
                namespace,
                name,
            } => {
                write!(f, "release.{release}/{api_version}/{kind}/")?;
                if let Some(ns) = namespace {
                    write!(f, "{ns}/")?;
                }
                f.write_str(name)
            }
        }
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AddressError {
    pub message: String,
}

fn err(message: impl Into<String>) -> AddressError {
    AddressError {
        message: message.into(),
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s.split_once('.').ok_or_else(|| {
            err(format!(
                "`{s}` is not an address: write KIND.NAME, e.g. `release.postgres` or `image.backend`"
            ))
        })?;
        let (name, object) = match rest.split_once('/') {
            Some((name, object)) => (name, Some(object)),
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(err(format!("`{s}` has no name after `{kind}.`")));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.'))
        {
            return Err(err(format!("`{s}`: `{bad}` cannot appear in a name")));
        }
        let address = match kind {
            "image" => Address::Image(name.into()),
            "secret" => Address::Secret(name.into()),
            "namespace" => Address::Namespace(name.into()),
            "release" => Address::Release(name.into()),
            other => {
                return Err(err(format!(
                    "`{other}` is not an address kind: use one of image, secret, namespace, release"
                )));
            }
        };
        match object {
            None => Ok(address),
            Some(object) => {
                let Address::Release(release) = address else {
                    return Err(err(format!(
                        "`{s}`: only releases have objects (`release.NAME/apps/v1/Deployment/NS/NAME`)"
                    )));
                };
                parse_object(release, object, s)
            }
        }
    }
}

fn parse_object(release: String, object: &str, whole: &str) -> Result<Address, AddressError> {
    let segments: Vec<&str> = object.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(err(format!("`{whole}` has an empty segment")));
    }
    let kind_at = segments
        .iter()
        .position(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
        .ok_or_else(|| {
            err(format!(
                "`{whole}` names no kind: an object address is `release.NAME/API_VERSION/KIND/[NAMESPACE/]NAME` with KIND starting upper-case"
            ))
        })?;
    let api_version = match segments.get(..kind_at) {
        Some(version @ ([_] | [_, _])) => version.join("/"),
        _ => {
            return Err(err(format!(
                "`{whole}`: the API version before the kind must be `v1` or `GROUP/VERSION`"
            )));
        }
    };
    let kind = segments
        .get(kind_at)
        .copied()
        .unwrap_or_default()
        .to_string();
    let (namespace, name) = match segments.get(kind_at + 1..) {
        Some([name]) => (None, (*name).to_string()),
        Some([ns, name]) => (Some((*ns).to_string()), (*name).to_string()),
        _ => {
            return Err(err(format!(
                "`{whole}`: after the kind write `NAMESPACE/NAME`, or `NAME` for a cluster-scoped object"
            )));
        }
    };
    Ok(Address::Object {
        release,
        api_version,
        kind,
        namespace,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) -> Address {
        let a: Address = s.parse().unwrap();
        assert_eq!(a.to_string(), s);
        a
    }

    #[test]
    fn node_addresses_round_trip() {
        assert_eq!(
            round_trip("image.backend"),
            Address::Image("backend".into())
        );
        assert_eq!(round_trip("secret.app"), Address::Secret("app".into()));
        assert_eq!(
            round_trip("namespace.todo"),
            Address::Namespace("todo".into())
        );
        assert_eq!(
            round_trip("release.postgres"),
            Address::Release("postgres".into())
        );
    }

    #[test]
    fn object_addresses_round_trip_for_grouped_core_and_cluster_scoped() {
        assert_eq!(
            round_trip("release.backend/apps/v1/Deployment/todo/todo-backend"),
            Address::Object {
                release: "backend".into(),
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("todo".into()),
                name: "todo-backend".into(),
            }
        );
        assert_eq!(
            round_trip("release.x/v1/Service/todo/web"),
            Address::Object {
                release: "x".into(),
                api_version: "v1".into(),
                kind: "Service".into(),
                namespace: Some("todo".into()),
                name: "web".into(),
            }
        );
        assert_eq!(
            round_trip("release.x/rbac.authorization.k8s.io/v1/ClusterRole/reader"),
            Address::Object {
                release: "x".into(),
                api_version: "rbac.authorization.k8s.io/v1".into(),
                kind: "ClusterRole".into(),
                namespace: None,
                name: "reader".into(),
            }
        );
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "backend",
            "release.",
            "releases.backend",
            "image.x/v1/Service/a",
            "release.x/v1/service/a",
            "release.x/a/b/v1/Service/n",
            "release.x/v1/Service/ns/n/extra",
            "release.x/v1/Service",
            "release.x//Service/n",
            "release.a b",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad} should not parse");
        }
    }
}
