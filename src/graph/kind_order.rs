//! Helm's install order of kinds (helm/pkg/releaseutil/kind_sorter.go), so a release's objects
//! are applied the way `helm install` would: namespaces and config before the workloads that
//! mount them, services before the deployments behind them.

/// Kinds in install order (one list for rendering and applying: the chart module's, which the
/// helm parity test checks); kinds not listed come after all of these.
pub use crate::chart::manifest::INSTALL_ORDER as KIND_ORDER;

/// Position of a kind in the install order (unknown kinds last).
pub fn kind_rank(kind: &str) -> usize {
    crate::chart::install_order_rank(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_services_come_before_workloads_and_unknown_kinds_last() {
        assert!(kind_rank("Namespace") < kind_rank("Secret"));
        assert!(kind_rank("ConfigMap") < kind_rank("Deployment"));
        assert!(kind_rank("PersistentVolumeClaim") < kind_rank("StatefulSet"));
        assert!(kind_rank("Service") < kind_rank("Deployment"));
        assert!(kind_rank("Deployment") < kind_rank("Ingress"));
        assert!(kind_rank("Ingress") < kind_rank("Widget"));
    }
}
