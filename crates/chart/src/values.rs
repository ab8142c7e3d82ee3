//! Values as Helm computes them: user values (files in order, then `--set`, then inline values)
//! coalesced over each chart's values.yaml, subcharts scoped under their name with `global`
//! shared, dependencies switched by `condition` and `tags`, and values.schema.json checked.

use std::collections::BTreeMap;

use super::error::ChartError;
use super::load::Chart;
use super::template::Value;

pub type Map = BTreeMap<String, Value>;

fn deep(m: &Map) -> Map {
    m.iter().map(|(k, v)| (k.clone(), v.deep_copy())).collect()
}

/// Helm's mergeMaps for user values: later maps win, nested maps merge.
pub fn merge_user(base: &mut Map, over: &Map) {
    for (k, v) in over {
        if let (Some(Value::Map(bm)), Value::Map(om)) = (base.get(k), v) {
            let mut merged = bm.borrow().clone();
            merge_user(&mut merged, &om.borrow());
            base.insert(k.clone(), Value::map(merged));
            continue;
        }
        base.insert(k.clone(), v.deep_copy());
    }
}

/// chartutil.coalesceTablesFullKey: `dst` wins; `src` fills gaps; nil in `dst` deletes.
fn coalesce_tables(dst: &mut Map, src: &Map, merge: bool) {
    for (k, sv) in src {
        match dst.get(k) {
            None => {
                dst.insert(k.clone(), sv.deep_copy());
            }
            Some(Value::Nil) => {
                if !merge {
                    dst.remove(k);
                }
            }
            Some(Value::Map(dm)) => {
                if let Value::Map(sm) = sv {
                    let mut d = dm.borrow().clone();
                    coalesce_tables(&mut d, &sm.borrow(), merge);
                    dst.insert(k.clone(), Value::map(d));
                }
            }
            Some(_) => {}
        }
    }
}

/// chartutil.coalesce: the chart's defaults under `dest`, then each dependency.
pub fn coalesce(chart: &Chart, dest: &mut Map) {
    coalesce_with(chart, dest, false);
}

/// `merge` keeps nulls (helm's MergeValues); without it a null deletes the key (CoalesceValues).
fn coalesce_with(chart: &Chart, dest: &mut Map, merge: bool) {
    coalesce_values(chart, dest, merge);
    coalesce_deps(chart, dest, merge);
}

/// Coalesce user values over the chart tree. A user `null` removes the key for good: helm
/// v3.17 drops it even where a subchart's own values.yaml sets it (checked against helm).
pub fn coalesce_user(chart: &Chart, user: &Map) -> Map {
    let mut nulls = Vec::new();
    null_paths(user, &mut Vec::new(), &mut nulls);
    let mut dest = deep(user);
    coalesce_with(chart, &mut dest, false);
    for p in nulls {
        remove_path(&mut dest, &p);
    }
    dest
}

fn null_paths(m: &Map, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (k, v) in m {
        prefix.push(k.clone());
        match v {
            Value::Nil => out.push(prefix.clone()),
            Value::Map(sub) => null_paths(&sub.borrow(), prefix, out),
            _ => {}
        }
        prefix.pop();
    }
}

fn remove_path(m: &mut Map, path: &[String]) {
    match path {
        [] => {}
        [last] => {
            m.remove(last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Map(sub)) = m.get(first) {
                remove_path(&mut sub.borrow_mut(), rest);
            }
        }
    }
}

fn coalesce_values(chart: &Chart, v: &mut Map, merge: bool) {
    for (key, val) in deep(&chart.values) {
        match v.get(&key) {
            Some(Value::Nil) => {
                if !merge {
                    v.remove(&key);
                }
            }
            Some(Value::Map(dm)) => {
                if let Value::Map(sm) = &val {
                    // a subchart's table always merges (helm's childChartMergeTrue)
                    let merge = merge || chart.dependencies.iter().any(|d| d.name == key);
                    let mut d = dm.borrow().clone();
                    coalesce_tables(&mut d, &sm.borrow(), merge);
                    v.insert(key, Value::map(d));
                }
            }
            Some(_) => {}
            None => {
                v.insert(key, val);
            }
        }
    }
}

fn coalesce_deps(chart: &Chart, dest: &mut Map, merge: bool) {
    for sub in &chart.dependencies {
        let mut dv: Map = match dest.get(&sub.name) {
            Some(Value::Map(m)) => m.borrow().clone(),
            _ => Map::new(),
        };
        coalesce_globals(&mut dv, dest);
        coalesce_with(sub, &mut dv, merge);
        dest.insert(sub.name.clone(), Value::map(dv));
    }
}

fn coalesce_globals(dest: &mut Map, src: &Map) {
    let mut dg: Map = match dest.get("global") {
        Some(Value::Map(m)) => m.borrow().clone(),
        Some(_) => return,
        None => Map::new(),
    };
    let sg: Map = match src.get("global") {
        Some(Value::Map(m)) => m.borrow().clone(),
        Some(_) => return,
        None => Map::new(),
    };
    for (k, v) in sg {
        if let Value::Map(vm) = &v {
            let mut vv = deep(&vm.borrow());
            match dg.get(&k) {
                None => {
                    dg.insert(k, Value::map(vv));
                }
                Some(Value::Map(dm)) => {
                    coalesce_tables(&mut vv, &dm.borrow(), true);
                    dg.insert(k, Value::map(vv));
                }
                Some(_) => {}
            }
        } else if matches!(dg.get(&k), Some(Value::Map(_))) {
            // a table in the subchart is not replaced by a scalar global
        } else {
            dg.insert(k, v);
        }
    }
    dest.insert("global".into(), Value::map(dg));
}

fn path_value(m: &Map, path: &str) -> Option<Value> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut cur = m.get(first)?.clone();
    for p in parts {
        let next = cur.as_map()?.borrow().get(p)?.clone();
        cur = next;
    }
    Some(cur)
}

/// Drop dependencies switched off by `tags` and `condition` (evaluated on the coalesced values,
/// conditions win over tags), recursively, as chartutil.ProcessDependencies does.
pub fn process_dependencies(chart: &mut Chart, user: &Map) {
    let mut cvals = deep(user);
    coalesce(chart, &mut cvals);
    enable(chart, &cvals, "");
}

fn enable(chart: &mut Chart, cvals: &Map, prefix: &str) {
    if chart.aliases_taken.replace(true) {
        // helm v3.17 renamed this chart's declarations to their aliases while enabling an
        // earlier copy of it: this copy renders its aliased subcharts unaliased, and their
        // conditions and tags (now naming the alias) no longer reach them.
        let decls = &chart.meta.dependencies;
        let mut keep = Vec::new();
        for c in std::mem::take(&mut chart.dependencies) {
            let aliased = decls
                .iter()
                .any(|d| d.alias.as_deref() == Some(c.name.as_str()) && d.name == c.meta.name);
            if !aliased {
                keep.push(c);
                continue;
            }
            // declared under its own name too: helm finds it once, through that declaration
            if decls
                .iter()
                .any(|d| d.alias.is_none() && d.name == c.meta.name)
            {
                continue;
            }
            let mut c = c;
            c.name = c.meta.name.clone();
            c.chart_object
                .insert("Name".into(), Value::str(&c.meta.name));
            keep.push(c);
        }
        chart.dependencies = keep;
    }
    let tags: Map = match cvals.get("tags") {
        Some(Value::Map(m)) => m.borrow().clone(),
        _ => Map::new(),
    };
    let mut disabled = Vec::new();
    for d in &chart.meta.dependencies {
        let mut enabled = true;
        let (mut has_true, mut has_false) = (false, false);
        for t in &d.tags {
            match tags.get(t) {
                Some(Value::Bool(true)) => has_true = true,
                Some(Value::Bool(false)) => has_false = true,
                _ => {}
            }
        }
        if !has_true && has_false {
            enabled = false;
        }
        if let Some(cond) = &d.condition {
            for c in cond.trim().split(',') {
                let c = c.trim();
                if c.is_empty() {
                    continue;
                }
                if let Some(Value::Bool(b)) = path_value(cvals, &format!("{prefix}{c}")) {
                    enabled = b;
                    break;
                }
            }
        }
        if !enabled {
            disabled.push(d.alias.clone().unwrap_or_else(|| d.name.clone()));
        }
    }
    chart.dependencies.retain(|c| !disabled.contains(&c.name));
    for sub in &mut chart.dependencies {
        let p = format!("{prefix}{}.", sub.name);
        enable(sub, cvals, &p);
    }
}

/// chartutil.processDependencyImportValues as `helm install`/`template` run it (with merge):
/// children first, each chart that has enabled declared dependencies gets as its values its own
/// and its subcharts' values merged (nulls kept), with the tables its `import-values` name
/// merged underneath (the chart's own values win). Maps are shared as Go shares them, so two
/// imports into one parent key also fill the child's table the first one came from, as in helm.
pub fn process_import_values(chart: &mut Chart) -> Result<(), ChartError> {
    for sub in &mut chart.dependencies {
        process_import_values(sub)?;
    }
    let enabled: Vec<usize> = chart
        .meta
        .dependencies
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            chart
                .dependencies
                .iter()
                .any(|c| c.name == d.effective_name())
        })
        .map(|(i, _)| i)
        .collect();
    if enabled.is_empty() {
        return Ok(());
    }
    let mut merged = Map::new();
    coalesce_with(chart, &mut merged, true);
    let cvals = Value::map(merged);
    let imported = Value::empty_map();
    for i in enabled {
        let done = chart.imports_done.borrow().get(i).copied().unwrap_or(true);
        if done {
            continue;
        }
        let d = &chart.meta.dependencies[i];
        for iv in &d.import_values {
            let (child, parent) = match iv {
                serde_yaml_ng::Value::String(s) => (format!("exports.{s}"), ".".to_string()),
                serde_yaml_ng::Value::Mapping(m) => {
                    let field = |k: &str| m.get(k).and_then(|v| v.as_str()).map(str::to_string);
                    match (field("child"), field("parent")) {
                        (Some(c), Some(p)) => (c, p),
                        _ => {
                            return Err(ChartError::Invalid {
                                chart: chart.name.clone(),
                                message: format!(
                                    "an import-values entry of dependency {:?} needs `child` and \
                                     `parent` as strings",
                                    d.effective_name()
                                ),
                                help: "write `- child: exports.data` with `parent: data`, or the \
                                       short form `- data`"
                                    .into(),
                            });
                        }
                    }
                }
                // helm skips entries of any other type
                _ => continue,
            };
            // helm warns and skips a path that does not name a table
            let Some(table) = table_at(&cvals, &format!("{}.{child}", d.effective_name())) else {
                continue;
            };
            let src = path_to_map(&parent, table);
            merge_shared(&imported, &src, chart)?;
        }
        if let Some(flag) = chart.imports_done.borrow_mut().get_mut(i) {
            *flag = true;
        }
    }
    let out = cvals.deep_copy();
    merge_shared(&out, &imported, chart)?;
    if let Value::Map(m) = out {
        chart.values = m.borrow().clone();
    }
    Ok(())
}

/// Values.Table: the table at a dotted path, or none if a step is missing or not a table.
fn table_at(root: &Value, path: &str) -> Option<Value> {
    let mut cur = root.clone();
    for part in path.split('.') {
        let next = cur.as_map()?.borrow().get(part)?.clone();
        if !matches!(next, Value::Map(_)) {
            return None;
        }
        cur = next;
    }
    Some(cur)
}

/// pathToMap: `data` nested under a dotted path (`.` is the top level).
fn path_to_map(path: &str, data: Value) -> Value {
    if path == "." {
        return data;
    }
    path.rsplit('.').fold(data, |inner, key| {
        Value::map(Map::from([(key.to_string(), inner)]))
    })
}

/// MergeTables on shared maps: `dst` wins, `src` fills its gaps by reference (as Go's maps do).
/// A merge that would put a table inside itself is refused: helm recurses without end there.
fn merge_shared(dst: &Value, src: &Value, chart: &Chart) -> Result<(), ChartError> {
    let (Value::Map(d), Value::Map(s)) = (dst, src) else {
        return Ok(());
    };
    if std::rc::Rc::ptr_eq(d, s) {
        return Ok(());
    }
    let entries: Vec<(String, Value)> = s
        .borrow()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, val) in entries {
        let existing = d.borrow().get(&key).cloned();
        match existing {
            None => {
                if contains_map(&val, d) {
                    return Err(ChartError::Invalid {
                        chart: chart.name.clone(),
                        message: format!(
                            "import-values put the table {key:?} inside itself (helm never \
                             finishes rendering this chart)"
                        ),
                        help: "import each child table into a parent path outside it".into(),
                    });
                }
                d.borrow_mut().insert(key, val);
            }
            Some(dv @ Value::Map(_)) if matches!(val, Value::Map(_)) => {
                merge_shared(&dv, &val, chart)?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Whether `v` is, or holds somewhere, the map `target`.
fn contains_map(v: &Value, target: &super::template::value::MapRef) -> bool {
    match v {
        Value::Map(m) => {
            std::rc::Rc::ptr_eq(m, target) || m.borrow().values().any(|c| contains_map(c, target))
        }
        Value::List(l) => l.iter().any(|c| contains_map(c, target)),
        _ => false,
    }
}

fn map_to_json(m: &Map) -> serde_json::Value {
    serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// Validate each chart's values against its values.schema.json; violations name value paths.
pub fn validate_schemas(chart: &Chart, values: &Map) -> Result<(), ChartError> {
    let mut violations = Vec::new();
    collect_violations(chart, values, "", &mut violations)?;
    if violations.is_empty() {
        return Ok(());
    }
    Err(ChartError::Schema {
        chart: chart.name.clone(),
        violations,
    })
}

/// Helm 3.17 validates with gojsonschema, which ignores a `$schema` URL it does not know
/// (`http://json-schema.org/schema#`, https spellings) and then applies draft-07 rules; the
/// jsonschema crate would refuse such a schema outright, hiding the chart's real errors.
fn schema_validator(schema: &serde_json::Value) -> Result<jsonschema::Validator, String> {
    let url = schema
        .get("$schema")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    let draft = if url.contains("draft-04") {
        jsonschema::Draft::Draft4
    } else if url.contains("draft-06") {
        jsonschema::Draft::Draft6
    } else {
        jsonschema::Draft::Draft7
    };
    let mut schema = schema.clone();
    if let Some(root) = schema.as_object_mut() {
        root.remove("$schema");
    }
    jsonschema::options()
        .with_draft(draft)
        .build(&schema)
        .map_err(|e| e.to_string())
}

fn collect_violations(
    chart: &Chart,
    values: &Map,
    prefix: &str,
    out: &mut Vec<String>,
) -> Result<(), ChartError> {
    if let Some((path, schema)) = &chart.schema {
        let instance = map_to_json(values);
        if super::schema_subset::surely_valid(schema, &instance) {
            // the common case, without building the full validator (milliseconds)
        } else {
            let validator = schema_validator(schema).map_err(|e| ChartError::Invalid {
                chart: chart.name.clone(),
                message: format!("{path} is not a valid JSON Schema: {e}"),
                help: "fix the schema".into(),
            })?;
            for e in validator.iter_errors(&instance) {
                let ptr = e.instance_path.to_string();
                let dotted = ptr.trim_start_matches('/').replace('/', ".");
                let at = match (prefix.is_empty(), dotted.is_empty()) {
                    (true, true) => "(root)".to_string(),
                    (true, false) => dotted,
                    (false, true) => prefix.trim_end_matches('.').to_string(),
                    (false, false) => format!("{prefix}{dotted}"),
                };
                // The crate prints patterns after translating them to its regex dialect; show the
                // schema's own text instead.
                let schema_path = e.schema_path.to_string();
                let message = match schema.pointer(&schema_path).and_then(|p| p.as_str()) {
                    Some(pattern) if schema_path.ends_with("/pattern") => {
                        format!("{} does not match pattern {pattern:?}", e.instance)
                    }
                    _ => e.to_string(),
                };
                out.push(format!("- {}: {at}: {message}", chart.name));
            }
        }
    }
    for sub in &chart.dependencies {
        let sv = match values.get(&sub.name) {
            Some(Value::Map(m)) => m.borrow().clone(),
            _ => Map::new(),
        };
        collect_violations(sub, &sv, &format!("{prefix}{}.", sub.name), out)?;
    }
    Ok(())
}

/// Parse one `--set` argument (Helm's strvals): `a.b=c,d[0]=e,f={x,y}`; `true`/`false`/`null`
/// and integers are typed, everything else is a string; `\,` escapes a comma.
pub fn apply_set(target: &mut Map, input: &str) -> Result<(), ChartError> {
    let bad = |m: &str| ChartError::SetSyntax {
        input: input.to_string(),
        message: m.to_string(),
    };
    for assignment in split_unescaped(input, ',', true) {
        if assignment.is_empty() {
            continue;
        }
        let Some((key, raw)) = assignment.split_once('=') else {
            return Err(bad(&format!("key {assignment:?} has no value")));
        };
        let value = if raw.starts_with('{') && raw.ends_with('}') {
            let inner = &raw[1..raw.len() - 1];
            Value::list(
                split_unescaped(inner, ',', false)
                    .iter()
                    .map(|s| typed(s))
                    .collect(),
            )
        } else {
            typed(&raw.replace("\\,", ","))
        };
        set_path(target, key, value).map_err(|m| bad(&m))?;
    }
    Ok(())
}

/// Split on `sep` outside `{...}`, honouring `\` escapes.
fn split_unescaped(s: &str, sep: char, brace_aware: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push('\\');
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '{' if brace_aware => {
                depth += 1;
                cur.push(c);
            }
            '}' if brace_aware => {
                depth -= 1;
                cur.push(c);
            }
            c if c == sep && depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn typed(s: &str) -> Value {
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Nil,
        _ => {
            let leading_zero = s.len() > 1 && s.starts_with('0');
            match s.parse::<i64>() {
                Ok(i) if !leading_zero => Value::Int64(i),
                _ => Value::string(s.replace("\\\\", "\\")),
            }
        }
    }
}

fn set_path(target: &mut Map, key: &str, value: Value) -> Result<(), String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("key {key:?} has an empty path segment"));
    }
    set_in(target, &parts, value)
}

fn split_index(seg: &str) -> Result<(&str, Option<usize>), String> {
    if let Some(open) = seg.find('[') {
        let close = seg
            .rfind(']')
            .ok_or_else(|| format!("unclosed [ in {seg:?}"))?;
        let idx: usize = seg[open + 1..close]
            .parse()
            .map_err(|_| format!("bad list index in {seg:?}"))?;
        if idx > 65536 {
            return Err(format!("list index {idx} is too large"));
        }
        return Ok((&seg[..open], Some(idx)));
    }
    Ok((seg, None))
}

fn set_in(target: &mut Map, parts: &[String], value: Value) -> Result<(), String> {
    let Some((first, rest)) = parts.split_first() else {
        return Ok(());
    };
    let (name, index) = split_index(first)?;
    match index {
        None => {
            if rest.is_empty() {
                target.insert(name.to_string(), value);
                return Ok(());
            }
            let mut child = match target.get(name) {
                Some(Value::Map(m)) => m.borrow().clone(),
                _ => Map::new(),
            };
            set_in(&mut child, rest, value)?;
            target.insert(name.to_string(), Value::map(child));
        }
        Some(i) => {
            let mut list: Vec<Value> = match target.get(name) {
                Some(Value::List(l)) => l.as_ref().clone(),
                _ => Vec::new(),
            };
            while list.len() <= i {
                list.push(Value::Nil);
            }
            if rest.is_empty() {
                list[i] = value;
            } else {
                let mut child = match &list[i] {
                    Value::Map(m) => m.borrow().clone(),
                    _ => Map::new(),
                };
                set_in(&mut child, rest, value)?;
                list[i] = Value::map(child);
            }
            target.insert(name.to_string(), Value::list(list));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::template::yaml::to_json;
    use super::*;

    fn set(s: &str) -> String {
        let mut m = Map::new();
        apply_set(&mut m, s).unwrap();
        to_json(&Value::map(m))
    }

    #[test]
    fn set_parses_paths_types_lists_and_escapes() {
        assert_eq!(
            set("a.b=c,d=1,e=true,f=007"),
            r#"{"a":{"b":"c"},"d":1,"e":true,"f":"007"}"#
        );
        assert_eq!(set("l[1]=x"), r#"{"l":[null,"x"]}"#);
        assert_eq!(set("l={a,b}"), r#"{"l":["a","b"]}"#);
        assert_eq!(set(r"a=x\,y"), r#"{"a":"x,y"}"#);
        assert_eq!(set(r"a\.b=1"), r#"{"a.b":1}"#);
        let mut m = Map::new();
        assert!(apply_set(&mut m, "novalue").is_err());
        assert!(apply_set(&mut m, "a..b=1").is_err());
    }

    #[test]
    fn user_values_merge_deeply_later_wins() {
        let mut base: Map = Map::new();
        apply_set(&mut base, "a.x=1,a.y=1").unwrap();
        let mut over = Map::new();
        apply_set(&mut over, "a.y=2,b=3").unwrap();
        merge_user(&mut base, &over);
        assert_eq!(to_json(&Value::map(base)), r#"{"a":{"x":1,"y":2},"b":3}"#);
    }

    #[test]
    fn coalesce_null_deletes_chart_default() {
        let mut dst = Map::new();
        apply_set(&mut dst, "a=null,n.k=null").unwrap();
        let mut src = Map::new();
        apply_set(&mut src, "a=1,n.k=2,n.j=3").unwrap();
        // coalesce_values needs a chart; exercise the table rule directly
        coalesce_tables(&mut dst, &src, false);
        assert_eq!(to_json(&Value::map(dst)), r#"{"n":{"j":3}}"#);
    }
}
