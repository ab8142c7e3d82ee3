//! One minimal chart per way real charts once broke todoplan (issue 13, items A–J): each is
//! rendered by `todoplan render` and must print exactly what helm v3.17.3 printed for it
//! (tests/charts/golden/, recorded with the testenv's helm; see the README there). The helm
//! parity test (e2e) also renders these charts with a live helm.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn charts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts")
}

fn render(chart: &str) -> std::process::Output {
    Command::cargo_bin("todoplan")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["render", "--chart"])
        .arg(charts().join(chart))
        .args(["--release-name", "rel", "--namespace", "ns"])
        .output()
        .unwrap()
}

fn assert_same_as_helm(chart: &str) {
    assert_same_as_golden(chart, chart);
}

fn assert_same_as_golden(chart: &str, golden: &str) {
    let out = render(chart);
    assert!(
        out.status.success(),
        "{chart}: todoplan failed where helm rendered:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = std::fs::read_to_string(charts().join("golden").join(format!("{golden}.yaml")))
        .unwrap_or_else(|e| panic!("{chart}: no golden file: {e}"));
    let mine = String::from_utf8(out.stdout).unwrap();
    similar_asserts(chart, &golden, &mine);
}

fn similar_asserts(chart: &str, helm: &str, mine: &str) {
    if helm != mine {
        let diff = similar::TextDiff::from_lines(helm, mine)
            .unified_diff()
            .header("helm", "todoplan")
            .to_string();
        panic!("{chart}: todoplan's output differs from helm's:\n{diff}");
    }
}

/// A: `$schema` URLs helm ignores (`http://json-schema.org/schema#`).
#[test]
fn schema_url_helm_ignores() {
    assert_same_as_helm("schema-url");
}

/// A: behind a draft-07 https URL, the schema's own `required` error is what the user sees.
#[test]
fn schema_url_still_reports_the_real_error() {
    let out = render("schema-url-required");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("(root)") && err.contains("\"name\" is a required property"),
        "{err}"
    );
}

/// B: genCA, genSignedCert, genSelfSignedCert(WithKey), genPrivateKey, buildCustomCert,
/// htpasswd, bcrypt, derivePassword, encryptAES/decryptAES, getHostByName, and a function in a
/// branch that never runs.
#[test]
fn crypto_and_network_functions() {
    assert_same_as_helm("functions-crypto");
}

/// C: fromYaml on a stream of documents.
#[test]
fn from_yaml_reads_the_first_document() {
    assert_same_as_helm("fromyaml-multidoc");
}

/// D: Go RE2 syntax.
#[test]
fn go_regular_expressions() {
    assert_same_as_helm("regex-go");
}

/// E: webhook configurations among unknown kinds.
#[test]
fn webhook_configurations_in_helm_3_17_order() {
    assert_same_as_helm("webhook-order");
}

/// F: a subchart's .helmignore is not applied to the unpacked subchart.
#[test]
fn unpacked_subchart_keeps_files_its_helmignore_names() {
    assert_same_as_helm("subchart-helmignore");
}

/// G: binary files keep their bytes.
#[test]
fn binary_files_keep_their_bytes() {
    assert_same_as_helm("binary-files");
}

/// H: a repeated key in a rendered mapping.
#[test]
fn duplicate_keys_are_printed_as_rendered() {
    assert_same_as_helm("duplicate-keys");
}

/// I: YAML 1.1 scalars in values, also as keys.
#[test]
fn yaml_1_1_values() {
    assert_same_as_helm("yaml11-values");
}

/// J: a subchart packaged as charts/*.tgz.
#[test]
fn packaged_subchart() {
    assert_same_as_helm("packaged-subchart");
}

/// A dependency declared with `repository: file://../lib` (and an alias), read in place.
#[test]
fn file_repository_dependency_is_read_in_place() {
    assert_same_as_golden("file-dep/app", "file-dep");
}

/// `import-values` in both forms (with helm's quirks: imports skipped for a second copy of a
/// chart, two imports into one key filling the child's table), `alias`, `condition`, `tags`,
/// a nested import a level down, and imports naming no table skipped.
#[test]
fn import_values_alias_condition_and_tags_as_helm() {
    assert_same_as_helm("import-values");
}

/// A subchart used twice under two aliases that aliases its own subchart: helm v3.17 renames
/// the shared declaration while enabling the first copy, so the second copy renders the inner
/// chart unaliased (and deduplicated with its unaliased declaration).
#[test]
fn a_subchart_used_twice_keeps_its_inner_alias_only_in_the_first_copy() {
    assert_same_as_helm("alias-twice");
}
