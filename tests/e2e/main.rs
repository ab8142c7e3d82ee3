//! End-to-end tests against the real local cluster (`scripts/testenv up`, then
//! `eval "$(scripts/testenv env)"`), built with the cargo feature `e2e`. One test binary; each
//! module is one scenario family. `scripts/test` runs the modules one after another (the tests of
//! one module run in parallel, as they did when each was its own binary), so families that share
//! the cluster's global parts (the real node, the registry) never overlap.
#![cfg(feature = "e2e")]

#[path = "../support/mod.rs"]
mod support;

mod browser_e2e;
mod chart_cluster_aware_e2e;
mod chart_helm_parity;
mod chart_hooks_e2e;
mod chart_sources_e2e;
mod checks_e2e;
mod ci_recipe_e2e;
mod drift_e2e;
mod images_e2e;
mod import_e2e;
mod incremental_plan_e2e;
mod kubernetes_semantics_e2e;
mod plan_apply_e2e;
mod promises_e2e;
mod rbac_e2e;
mod realnode_app;
mod repo_charts_helm;
mod state_kill_e2e;
mod state_kubernetes_e2e;
mod team_truth_e2e;
mod testenv_cluster;
