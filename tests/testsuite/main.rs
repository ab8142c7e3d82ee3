//! Every whole-program test that needs no cluster: the CLI run as a user runs it, the chart
//! corpus, the spec corpus, golden outputs, the state backends and the executor model. One test
//! binary (as cargo's own `tests/testsuite`): a 2-core machine links it once, not once per file.
//! The end-to-end tests against the real cluster are the other binary, `tests/e2e`.

#[path = "../support/mod.rs"]
mod support;

mod chart_corpus;
mod chart_credentials_cli;
mod chart_dependencies_cli;
mod chart_functions_documented;
mod chart_helm_goldens;
mod chart_lock_cli;
mod chart_render_cli;
mod chart_untrusted_cli;
mod checks_cli;
mod checks_corpus;
mod checks_output;
mod docs_reference;
mod executor_model;
mod exit_codes;
mod history_cli;
mod incremental_plan;
mod init_cli;
mod json_schema;
mod module_layers;
mod plan_output_golden;
mod readme_install;
mod spec_cli;
mod spec_corpus;
mod spec_fuzz;
mod spec_load;
mod spec_root;
mod state_backends;
mod state_cli;
mod state_crash;
mod state_lock_race;
mod state_record;
mod validate_charts_cli;
