//! How a built image reaches the cluster's nodes.

use std::fmt;

/// How the cluster gets images. Chosen in todo.toml, or detected from the kube context name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Push to this registry (`host:port`); manifests use `<address>/<repo>@sha256:...`.
    Registry { address: String },
    /// Build against minikube's Docker engine (`minikube docker-env`); the node sees the tag.
    Minikube,
    /// `kind load docker-image` into this kind cluster's nodes.
    Kind { cluster: String },
    /// The cluster uses the same engine that builds (Docker Desktop); nothing to deliver.
    None,
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivery::Registry { address } => write!(f, "registry {address}"),
            Delivery::Minikube => f.write_str("minikube (build in minikube's Docker engine)"),
            Delivery::Kind { cluster } => write!(f, "kind load into cluster `{cluster}`"),
            Delivery::None => f.write_str("none (the cluster shares the build engine)"),
        }
    }
}

/// The delivery Skaffold would pick for a kube context name, or `None` when the name says
/// nothing (then the user must choose one in todo.toml).
///
/// Skaffold's rules: `minikube` is minikube; `kind-NAME` (kind ≥ 0.6) and `NAME@kind`
/// (older kind) are kind cluster NAME; `docker-desktop` and `docker-for-desktop` share the
/// local engine. Skaffold also recognises `k3d-NAME` (k3d image import) and asks the minikube
/// binary about renamed profiles; todoplan has no k3d delivery and does not run minikube to
/// find out, so both give `None` here.
pub fn detect_delivery(context_name: &str) -> Option<Delivery> {
    match context_name {
        "minikube" => Some(Delivery::Minikube),
        "docker-desktop" | "docker-for-desktop" => Some(Delivery::None),
        name => {
            let cluster = name
                .strip_prefix("kind-")
                .or_else(|| name.strip_suffix("@kind"))?;
            (!cluster.is_empty()).then(|| Delivery::Kind {
                cluster: cluster.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_like_skaffold() {
        assert_eq!(detect_delivery("minikube"), Some(Delivery::Minikube));
        assert_eq!(detect_delivery("docker-desktop"), Some(Delivery::None));
        assert_eq!(detect_delivery("docker-for-desktop"), Some(Delivery::None));
        assert_eq!(
            detect_delivery("kind-kind"),
            Some(Delivery::Kind {
                cluster: "kind".into()
            })
        );
        assert_eq!(
            detect_delivery("kind-dev"),
            Some(Delivery::Kind {
                cluster: "dev".into()
            })
        );
        assert_eq!(
            detect_delivery("dev@kind"),
            Some(Delivery::Kind {
                cluster: "dev".into()
            })
        );
    }

    #[test]
    fn unknown_contexts_are_not_guessed() {
        for name in [
            "",
            "kind-",
            "@kind",
            "gke_proj_zone_cluster",
            "k3d-dev",
            "minikube-2",
            "kwok-todoplan",
            "arn:aws:eks:x",
        ] {
            assert_eq!(detect_delivery(name), None, "{name}");
        }
    }
}
