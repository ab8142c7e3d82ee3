//! Engine behaviour as Go's text/template (configured the way Helm does) defines it.

use super::*;

fn render_with(src: &str, data: &Value) -> Result<String, TemplateError> {
    let mut set = TemplateSet::new();
    set.add_file("t", src)?;
    let env = FuncEnv::new(None);
    let mut ex = Executor::new(&set, &env);
    ex.execute("t", data)
}

fn data(yaml_text: &str) -> Value {
    yaml::from_yaml_str(yaml_text).unwrap()
}

fn r(src: &str, yaml_text: &str) -> String {
    render_with(src, &data(yaml_text)).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn e(src: &str, yaml_text: &str) -> String {
    match render_with(src, &data(yaml_text)) {
        Ok(out) => panic!("expected an error from {src}, got {out:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_keys_print_no_value_and_nested_missing_errors() {
    assert_eq!(r("[{{ .a }}]", "b: 1"), "[<no value>]");
    assert!(e("{{ .a.b }}", "x: 1").contains("nil pointer evaluating interface {}.b"));
    // through a variable the nil is an invalid value: no error
    assert_eq!(r("{{ $x := .a }}[{{ $x.b }}]", "x: 1"), "[<no value>]");
}

#[test]
fn numbers_from_values_are_float64() {
    assert_eq!(
        r(
            "{{ .num }} {{ .big }} {{ .f }}",
            "num: 3\nbig: 1000000\nf: 0.5"
        ),
        "3 1e+06 0.5"
    );
    assert!(
        e("{{ if eq .num 3 }}x{{ end }}", "num: 3").contains("incompatible types for comparison")
    );
    assert_eq!(r("{{ if eq .num 3.0 }}x{{ end }}", "num: 3"), "x");
    assert_eq!(r("{{ int .num | add 1 }}", "num: 3"), "4");
}

#[test]
fn range_over_maps_lists_ints_with_else_break_continue() {
    assert_eq!(
        r(
            "{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}",
            "b: 2\na: 1"
        ),
        "a=1;b=2;"
    );
    assert_eq!(
        r(
            "{{ range $i, $v := .l }}{{ $i }}{{ $v }}{{ end }}",
            "l: [x, z]"
        ),
        "0x1z"
    );
    assert_eq!(r("{{ range 3 }}{{ . }}{{ end }}", "{}"), "012");
    assert_eq!(
        r("{{ range .none }}x{{ else }}empty{{ end }}", "{}"),
        "empty"
    );
    assert_eq!(
        r(
            "{{ range .l }}{{ if eq . 2.0 }}{{ continue }}{{ end }}{{ if eq . 4.0 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "l: [1,2,3,4,5]"
        ),
        "13"
    );
    assert!(e("{{ range .s }}{{ end }}", "s: abc").contains("range can't iterate over abc"));
}

#[test]
fn with_if_else_chains_and_variable_scope() {
    assert_eq!(
        r("{{ with .a }}{{ .b }}{{ else }}none{{ end }}", "a: {b: 1}"),
        "1"
    );
    assert_eq!(
        r(
            "{{ with .z }}{{ . }}{{ else with .a }}{{ .b }}{{ end }}",
            "a: {b: 2}"
        ),
        "2"
    );
    assert_eq!(
        r(
            "{{ if .x }}1{{ else if .w }}2{{ else }}3{{ end }}",
            "w: true"
        ),
        "2"
    );
    assert_eq!(
        r(
            "{{ $v := 1 }}{{ if true }}{{ $v = 2 }}{{ end }}{{ $v }}",
            "{}"
        ),
        "2"
    );
    assert!(e("{{ if true }}{{ $w := 1 }}{{ end }}{{ $w }}", "{}").contains("undefined variable"));
    assert_eq!(
        r("{{ range .l }}{{ $.top }}{{ end }}", "top: T\nl: [1, 2]"),
        "TT"
    );
}

#[test]
fn and_or_short_circuit_and_return_operands() {
    assert_eq!(r("{{ or .a .b \"c\" }}", "b: B"), "B");
    assert_eq!(r("{{ and 1 0 2 }}", "{}"), "0");
    // `and` stops before evaluating the failing nested field access
    assert_eq!(r("{{ and .missing .missing.deeper }}", "{}"), "<no value>");
    assert_eq!(r("{{ not .a }}", "a: ''"), "true");
}

#[test]
fn define_template_block_and_include() {
    let src = r#"{{- define "x" }}[{{ . }}]{{ end -}}
{{ template "x" "a" }}{{ include "x" "b" | upper }}{{ block "y" . }}blk{{ end }}"#;
    assert_eq!(r(src, "{}"), "[a][B]blk");
    assert!(e(r#"{{ include "nope" . }}"#, "{}").contains("no template \"nope\""));
}

#[test]
fn tpl_renders_strings_with_their_own_defines() {
    assert_eq!(
        r(r#"{{ tpl .t . }}"#, "t: '{{ .name }}-x'\nname: nm"),
        "nm-x"
    );
    assert_eq!(
        r(
            r#"{{ tpl "{{ define \"z\" }}Z{{ end }}{{ include \"z\" . }}" . }}"#,
            "{}"
        ),
        "Z"
    );
}

#[test]
fn runaway_recursion_is_an_error_not_a_crash() {
    let msg = e(
        r#"{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}"#,
        "{}",
    );
    assert!(msg.contains("nested reference"), "{msg}");
}

#[test]
fn recursion_stops_where_helm_stops_on_any_stack() {
    // on a small stack: deep nesting continues on the heap
    let run = |src: &'static str| {
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || e(src, "{}"))
            .unwrap()
            .join()
            .unwrap()
    };
    // helm: the 1001st include of one name under way fails, the chain names every level
    let msg = run(r#"{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}"#);
    assert_eq!(
        msg.matches("error calling include").count(),
        1002,
        "{}",
        &msg[..300]
    );
    assert!(
        msg.ends_with(
            "error calling include: rendering template has a nested reference name: r: unable to execute template"
        ),
        "{}",
        &msg[msg.len() - 300..]
    );
    // two names take turns: each stops at its own count
    let msg = run(
        r#"{{ define "a" }}{{ include "b" . }}{{ end }}{{ define "b" }}{{ include "a" . }}{{ end }}{{ include "a" . }}"#,
    );
    assert!(msg.ends_with("nested reference name: a: unable to execute template"));
    // the template action: Go's depth limit, at the action
    let msg = run(r#"{{ define "t" }}{{ template "t" . }}{{ end }}{{ template "t" . }}"#);
    assert!(
        msg.starts_with("template: t:1:")
            && msg.ends_with("exceeded maximum template depth (100000)"),
        "{msg}"
    );
}

#[test]
fn errors_name_file_line_and_column() {
    let msg = e("line1\n  {{ .a.b }}", "{}");
    assert!(
        // Go places a field chain at its second field (`.b`), and prints it whole
        msg.starts_with("template: t:2:7: executing \"t\" at <.a.b>:"),
        "{msg}"
    );
    let msg = e("{{ index .l 5 | quote }}", "l: [1]");
    assert!(
        msg.contains("at <index .l 5>: error calling index: index out of range: 5"),
        "{msg}"
    );
    let msg = e("{{ nosuchfunc 1 }}", "{}");
    assert!(msg.contains("function \"nosuchfunc\" not defined"), "{msg}");
    let msg = e("{{ required \"give x\" .x }}", "{}");
    assert!(msg.contains("execution error at (t:1:3): give x"), "{msg}");
}

#[test]
fn method_calls_on_objects_and_field_errors() {
    // a map's element is an interface{} to Go; a variable holds the string itself
    assert!(e("{{ .s.x }}", "s: str").contains("can't evaluate field x in type interface {}"));
    assert!(
        e("{{ $s := .s }}{{ $s.x }}", "s: str").contains("can't evaluate field x in type string")
    );
    assert!(e("{{ .m.k 1 }}", "m: {k: 1}").contains("has arguments"));
}

#[test]
fn printf_print_and_pipelines() {
    assert_eq!(r(r#"{{ printf "%s:%d" "a" 3 }}"#, "{}"), "a:3");
    assert_eq!(r(r#"{{ print 1 2 "x" 3 }}"#, "{}"), "1 2x3");
    assert_eq!(r(r#"{{ "abc" | printf "%s-%s" "x" }}"#, "{}"), "x-abc");
    assert_eq!(r(r#"{{ (index .l 1).k }}"#, "l: [{k: 1}, {k: 2}]"), "2");
    assert_eq!(r(r#"{{ index .m "k" }}"#, "m: {k: v}"), "v");
    assert_eq!(r(r#"{{ len .l }}"#, "l: [1,2,3]"), "3");
}

#[test]
fn to_yaml_nindent_like_the_helm_scaffold() {
    let src =
        "spec:\n  {{- with .res }}\n  resources:\n    {{- toYaml . | nindent 4 }}\n  {{- end }}\n";
    assert_eq!(
        r(src, "res: {limits: {cpu: 100m}}"),
        "spec:\n  resources:\n    limits:\n      cpu: 100m\n"
    );
}

#[test]
fn set_mutates_shared_maps() {
    assert_eq!(r(r#"{{ $_ := set . "k" "v" }}{{ .k }}"#, "{}"), "v");
    assert_eq!(
        r(
            r#"{{ $d := dict }}{{ range list 1 2 }}{{ $_ := set $d (toString .) . }}{{ end }}{{ len $d }}"#,
            "{}"
        ),
        "2"
    );
}

#[test]
fn runaway_lists_and_nested_loops_stop_with_an_error() {
    // 16M list elements (1.2 GB) are over the render's budget; 1M are not.
    let big = e("{{ $l := until 16777216 }}{{ len $l }}", "{}");
    assert!(big.contains("strings and lists in this render"), "{big}");
    assert_eq!(r("{{ len (until 1000000) }}", "{}"), "1000000");
    // 4,096 × 4,096 iterations: under every size limit, but minutes of work.
    let nested = e(
        "{{ range $i := until 4096 }}{{ range $j := until 4096 }}{{ end }}{{ end }}",
        "{}",
    );
    assert!(nested.contains("more than 5000000 iterations"), "{nested}");
    assert_eq!(
        r(
            "{{ range $i := until 1000 }}{{ range $j := until 1000 }}{{ end }}{{ end }}ok",
            "{}"
        ),
        "ok"
    );
}
