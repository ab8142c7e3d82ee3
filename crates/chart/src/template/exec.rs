//! Execution of parsed templates with Go text/template semantics as Helm configures them
//! (missingkey=zero: a missing map key is nil and prints as `<no value>`, which Helm then blanks).

use std::collections::HashMap;
use std::rc::Rc;

use super::funcs::{self, FuncEnv, FuncError};
use super::parse::{self, Arg, Branch, Command, Node, Pipe};
use super::value::{Value, go_sprint};

/// A template file's text, kept so errors can show line, column and snippet.
#[derive(Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: Rc<str>,
}

impl SourceFile {
    /// The action text starting at `offset`, as Go's `at <...>` shows it: up to the end of the
    /// command (a `|`, an unbalanced `)`, `}}` or the end of the line).
    pub fn node_text(&self, offset: usize) -> String {
        if let Some(t) = parse::go_node_string(&self.text, offset, false) {
            return t;
        }
        let rest = self.text.get(offset.min(self.text.len())..).unwrap_or("");
        let mut depth = 0i32;
        let mut end = rest.len();
        let mut in_str = false;
        for (i, c) in rest.char_indices() {
            match c {
                '"' => in_str = !in_str,
                _ if in_str => {}
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = i;
                    break;
                }
                ')' => depth -= 1,
                '|' | '\n' if depth == 0 => {
                    end = i;
                    break;
                }
                '}' if rest[i..].starts_with("}}") => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let t = rest[..end].trim_end();
        t.strip_suffix(" -").unwrap_or(t).trim_end().to_string()
    }

    /// Line (1-based) and column of a byte offset as Go's text/template reports them: the column
    /// is the 0-based byte offset within the line, so messages match what helm prints.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let upto = self.text.get(..offset).unwrap_or("");
        let line = upto.matches('\n').count() + 1;
        // Go counts the line's bytes (a character spelt in raw-byte markers is its 4)
        let start = upto.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = super::value::go_bytes(&upto[start..]).len();
        (line, col)
    }
}

/// One named template: a file's body or a `define`.
#[derive(Debug)]
pub struct Tmpl {
    pub name: String,
    pub file: Rc<SourceFile>,
    pub body: Vec<Node>,
}

/// Where an error happened and what it says.
#[derive(Debug, Clone)]
pub struct TemplateError {
    pub file: Rc<SourceFile>,
    pub offset: usize,
    /// The template being executed (`define` name or file path).
    pub template: String,
    pub message: String,
    /// `required`/`fail`: the message is the user's own, not an engine error.
    pub user_failure: bool,
    /// A parse error rather than an execution error.
    pub parse: bool,
    /// The node's text when it does not start at `offset` (a field chain reports the position
    /// of its second field, as Go does, but prints whole).
    pub node: Option<String>,
}

impl TemplateError {
    /// The `<...>` part of an execution error.
    pub fn node_text(&self) -> String {
        match &self.node {
            Some(n) => n.clone(),
            None => self.file.node_text(self.offset),
        }
    }
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (l, c) = self.file.line_col(self.offset);
        if self.user_failure {
            write!(
                f,
                "execution error at ({}:{l}:{c}): {}",
                self.file.name, self.message
            )
        } else if self.parse {
            // Go's parse errors name the line only.
            let _ = c;
            write!(
                f,
                "parse error at ({}:{l}): {}",
                self.file.name, self.message
            )
        } else {
            write!(
                f,
                "template: {}:{l}:{c}: executing {:?} at <{}>: {}",
                self.file.name,
                self.template,
                self.node_text(),
                self.message
            )
        }
    }
}

/// Every parsed template, by name. Later definitions replace earlier ones, except that an empty
/// `define` never replaces a non-empty one (Go's rule).
#[derive(Debug, Default)]
pub struct TemplateSet {
    pub templates: HashMap<String, Rc<Tmpl>>,
}

impl TemplateSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse `text` as the file `name` and add it and its defines.
    pub fn add_file(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        let file = Rc::new(SourceFile {
            name: name.to_string(),
            text: Rc::from(text),
        });
        let parsed = parse_checked(&file)?;
        add_parsed(&mut self.templates, &file, parsed);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Rc<Tmpl>> {
        self.templates.get(name)
    }
}

fn parse_checked(file: &Rc<SourceFile>) -> Result<parse::Parsed, TemplateError> {
    let parse_err = |offset: usize, message: String| TemplateError {
        node: None,
        file: file.clone(),
        offset,
        template: file.name.clone(),
        message,
        user_failure: false,
        parse: true,
    };
    let parsed = parse::parse(&file.text).map_err(|e| parse_err(e.offset, e.message))?;
    // Go rejects calls to unknown functions at parse time, even in branches never executed.
    let mut unknown = None;
    let mut check = |nodes: &[Node]| {
        visit_idents(nodes, &mut |off, name| {
            if unknown.is_none() && !is_known_function(name) {
                unknown = Some((off, name.to_string()));
            }
        })
    };
    check(&parsed.body);
    for (_, body) in &parsed.defines {
        check(body);
    }
    if let Some((off, name)) = unknown {
        return Err(parse_err(off, format!("function {name:?} not defined")));
    }
    Ok(parsed)
}

fn add_parsed(map: &mut HashMap<String, Rc<Tmpl>>, file: &Rc<SourceFile>, parsed: parse::Parsed) {
    for (name, body) in parsed.defines {
        let empty = body
            .iter()
            .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()));
        if empty && map.contains_key(&name) {
            continue;
        }
        map.insert(
            name.clone(),
            Rc::new(Tmpl {
                name,
                file: file.clone(),
                body,
            }),
        );
    }
    map.insert(
        file.name.clone(),
        Rc::new(Tmpl {
            name: file.name.clone(),
            file: file.clone(),
            body: parsed.body,
        }),
    );
}

fn is_known_function(name: &str) -> bool {
    matches!(name, "and" | "or" | "include" | "tpl") || funcs::lookup(name).is_some()
}

fn visit_idents(nodes: &[Node], f: &mut dyn FnMut(usize, &str)) {
    fn pipe(p: &Pipe, f: &mut dyn FnMut(usize, &str)) {
        for c in &p.cmds {
            for a in &c.args {
                match a {
                    Arg::Ident(o, n) => f(*o, n),
                    Arg::Pipe(_, inner, _) => pipe(inner, f),
                    _ => {}
                }
            }
        }
    }
    for n in nodes {
        match n {
            Node::Action(p) => pipe(p, f),
            Node::If(b) | Node::With(b) | Node::Range(b) => {
                pipe(&b.pipe, f);
                visit_idents(&b.body, f);
                if let Some(e) = &b.else_body {
                    visit_idents(e, f);
                }
            }
            Node::Template { pipe: Some(p), .. } => pipe(p, f),
            _ => {}
        }
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// Active `include`s of one name that helm allows (its recursionMaxNums): the next one fails.
const MAX_INCLUDES_PER_NAME: usize = 1000;

/// Nested `template` actions within one execution (Go's maxExecDepth is 100000; each level
/// here costs more memory than a Go frame, so this stops earlier).
const MAX_TEMPLATE_DEPTH: usize = 100_000;

/// Nested executions of any kind (template, include, tpl), a bound on the memory a render's
/// recursion may take. The stack grows on the heap as the nesting deepens (`stacker`), so the
/// thread's own stack size never decides how deep a chart may go.
const MAX_DEPTH: usize = 101_000;

/// Nesting that runs on the thread's own stack before `stacker` is asked (the renderer ran on
/// ordinary 2 MiB stacks with up to 100 levels before).
const SHALLOW_DEPTH: usize = 16;

/// Executes templates of one set; `include` and `tpl` run through the same executor so they see
/// every parsed template (and `tpl` adds its own defines while it runs).
pub struct Executor<'a> {
    set: &'a TemplateSet,
    overlays: Vec<HashMap<String, Rc<Tmpl>>>,
    vars: Vec<(String, Value)>,
    env: &'a FuncEnv,
    depth: usize,
    /// `template` actions nested in the current execution (include and tpl start anew).
    template_depth: usize,
    /// Active includes by template name, as helm counts them.
    included: HashMap<Rc<str>, usize>,
    cur: Rc<Tmpl>,
}

type ExecResult<T> = Result<T, TemplateError>;

impl<'a> Executor<'a> {
    pub fn new(set: &'a TemplateSet, env: &'a FuncEnv) -> Self {
        let placeholder = Rc::new(Tmpl {
            name: String::new(),
            file: Rc::new(SourceFile {
                name: String::new(),
                text: Rc::from(""),
            }),
            body: Vec::new(),
        });
        Executor {
            set,
            overlays: Vec::new(),
            vars: Vec::new(),
            env,
            depth: 0,
            template_depth: 0,
            included: HashMap::new(),
            cur: placeholder,
        }
    }

    fn find(&self, name: &str) -> Option<Rc<Tmpl>> {
        for o in self.overlays.iter().rev() {
            if let Some(t) = o.get(name) {
                return Some(t.clone());
            }
        }
        self.set.get(name).cloned()
    }

    /// Execute the named template with `data` as dot; returns the text it printed.
    pub fn execute(&mut self, name: &str, data: &Value) -> ExecResult<String> {
        let Some(t) = self.find(name) else {
            return Err(self.err(0, format!("no template {name:?} associated with template")));
        };
        let mut out = String::new();
        self.run_template(&t, data, &mut out)?;
        Ok(out)
    }

    fn run_template(&mut self, t: &Rc<Tmpl>, dot: &Value, out: &mut String) -> ExecResult<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(
                0,
                format!(
                    "rendering template has a nested reference name: {} (more than {MAX_DEPTH} nested calls)",
                    t.name
                ),
            ));
        }
        // Deep nesting continues on stack segments from the heap rather than overflowing. The
        // first levels run as they are: any thread has room for them, and asking for the stack's
        // limit costs a render that never nests deeply (on the main thread it reads the process's
        // memory map).
        if self.depth < SHALLOW_DEPTH {
            return self.run_template_here(t, dot, out);
        }
        stacker::maybe_grow(256 << 10, 4 << 20, || self.run_template_here(t, dot, out))
    }

    fn run_template_here(&mut self, t: &Rc<Tmpl>, dot: &Value, out: &mut String) -> ExecResult<()> {
        self.depth += 1;
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".to_string(), dot.clone())]);
        let saved_cur = std::mem::replace(&mut self.cur, t.clone());
        let r = self.walk_list(&t.body, dot, out);
        self.cur = saved_cur;
        self.vars = saved_vars;
        self.depth -= 1;
        r.map(|_| ())
    }

    /// Run `t` as a new execution (include, tpl): Go's template depth starts again at 0.
    fn run_execution(&mut self, t: &Rc<Tmpl>, dot: &Value, out: &mut String) -> ExecResult<()> {
        let saved = std::mem::replace(&mut self.template_depth, 0);
        let r = self.run_template(t, dot, out);
        self.template_depth = saved;
        r
    }

    fn err(&self, offset: usize, message: String) -> TemplateError {
        TemplateError {
            node: None,
            file: self.cur.file.clone(),
            offset,
            template: self.cur.name.clone(),
            message,
            user_failure: false,
            parse: false,
        }
    }

    fn walk_list(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> ExecResult<Flow> {
        for n in nodes {
            match self.walk(n, dot, out)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, node: &Node, dot: &Value, out: &mut String) -> ExecResult<Flow> {
        match node {
            Node::Text(t) => {
                out.push_str(t);
                self.check_output(0, out)?;
            }
            Node::Action(pipe) => {
                let v = self.eval_pipe(dot, pipe)?;
                if pipe.decl.is_empty() {
                    print_value(out, &v);
                    self.check_output(pipe.offset, out)?;
                }
            }
            Node::If(br) => {
                let mark = self.vars.len();
                let v = self.eval_pipe(dot, &br.pipe)?;
                let r = if v.truthy() {
                    self.walk_list(&br.body, dot, out)
                } else if let Some(e) = &br.else_body {
                    self.walk_list(e, dot, out)
                } else {
                    Ok(Flow::Normal)
                };
                self.vars.truncate(mark);
                return r;
            }
            Node::With(br) => {
                let mark = self.vars.len();
                let v = self.eval_pipe(dot, &br.pipe)?;
                let r = if v.truthy() {
                    self.walk_list(&br.body, &v, out)
                } else if let Some(e) = &br.else_body {
                    self.walk_list(e, dot, out)
                } else {
                    Ok(Flow::Normal)
                };
                self.vars.truncate(mark);
                return r;
            }
            Node::Range(br) => return self.walk_range(br, dot, out),
            Node::Template {
                name,
                pipe,
                at,
                go_text,
                ..
            } => {
                let data = match pipe {
                    Some(p) => self.eval_pipe(dot, p)?,
                    None => Value::Nil,
                };
                let node_err = |message: String| TemplateError {
                    node: Some(go_text.to_string()),
                    ..self.err(*at, message)
                };
                let Some(t) = self.find(name) else {
                    return Err(node_err(format!("template {name:?} not defined")));
                };
                if self.template_depth >= MAX_TEMPLATE_DEPTH {
                    return Err(node_err(format!(
                        "exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"
                    )));
                }
                self.template_depth += 1;
                let r = self.run_template(&t, &data, out);
                self.template_depth -= 1;
                r?;
            }
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_range(&mut self, br: &Branch, dot: &Value, out: &mut String) -> ExecResult<Flow> {
        let mark = self.vars.len();
        let v = self.eval_pipe(dot, &br.pipe)?;
        // The pipeline's own declaration is replaced per iteration by key/element.
        self.vars.truncate(mark);
        let items: Vec<(Value, Value)> = match &v {
            Value::Nil => Vec::new(),
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect(),
            Value::Map(m) => m
                .borrow()
                .iter()
                .map(|(k, e)| (Value::str(k), e.clone()))
                .collect(),
            Value::Int(_) | Value::Int64(_) | Value::Uint64(_) | Value::Uint8(_)
                if br.pipe.decl.len() > 1 =>
            {
                // Go reports it at the pipeline's last command (where its evaluation stopped)
                return Err(self.chain_err(
                    br.offset,
                    &self.pipe_node(&br.pipe),
                    format!(
                        "can't use {} to iterate over more than one variable",
                        go_sprint(&v)
                    ),
                ));
            }
            Value::Int(n) | Value::Int64(n) if *n > funcs::MAX_SIZE => {
                return Err(self.err(
                    br.offset,
                    format!("range over {n}: more iterations than this renderer allows"),
                ));
            }
            Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Int64(n) => (0..*n)
                .map(|i| (Value::Int64(i), Value::Int64(i)))
                .collect(),
            Value::Uint64(n) if *n > funcs::MAX_SIZE as u64 => {
                return Err(self.err(
                    br.offset,
                    format!("range over {n}: more iterations than this renderer allows"),
                ));
            }
            Value::Uint64(n) => (0..*n)
                .map(|i| (Value::Uint64(i), Value::Uint64(i)))
                .collect(),
            Value::Uint8(n) => (0..*n)
                .map(|i| (Value::Uint8(i), Value::Uint8(i)))
                .collect(),
            Value::Object(o) => match o.as_data() {
                Some(Value::List(l)) => l
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                    .collect(),
                Some(Value::Map(m)) => m
                    .borrow()
                    .iter()
                    .map(|(k, e)| (Value::str(k), e.clone()))
                    .collect(),
                _ => {
                    return Err(self.chain_err(
                        br.offset,
                        &self.pipe_node(&br.pipe),
                        format!("range can't iterate over {}", o.display()),
                    ));
                }
            },
            other => {
                return Err(self.chain_err(
                    br.offset,
                    &self.pipe_node(&br.pipe),
                    format!("range can't iterate over {}", go_sprint(other)),
                ));
            }
        };
        if items.is_empty() {
            let r = match &br.else_body {
                Some(e) => self.walk_list(e, dot, out),
                None => Ok(Flow::Normal),
            };
            self.vars.truncate(mark);
            return r.map(|_| Flow::Normal);
        }
        for (key, elem) in items {
            let runs = self.env.iterations.get() + 1;
            self.env.iterations.set(runs);
            if runs > funcs::MAX_ITERATIONS {
                self.vars.truncate(mark);
                return Err(self.err(
                    br.offset,
                    format!(
                        "range: more than {} iterations in this render (nested loops over large ranges?)",
                        funcs::MAX_ITERATIONS
                    ),
                ));
            }
            match br.pipe.decl.as_slice() {
                [one] => self.declare(one, elem.clone(), br.pipe.is_assign),
                [k, e] => {
                    self.declare(k, key, br.pipe.is_assign);
                    self.declare(e, elem.clone(), br.pipe.is_assign);
                }
                _ => {}
            }
            let flow = self.walk_list(&br.body, &elem, out);
            self.vars.truncate(mark);
            match flow? {
                Flow::Break => break,
                Flow::Continue | Flow::Normal => {}
            }
        }
        Ok(Flow::Normal)
    }

    fn declare(&mut self, name: &str, v: Value, assign: bool) {
        if assign && let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
            return;
        }
        self.vars.push((name.to_string(), v));
    }

    fn eval_pipe(&mut self, dot: &Value, pipe: &Pipe) -> ExecResult<Value> {
        let mut val: Option<Value> = None;
        for cmd in &pipe.cmds {
            val = Some(self.eval_cmd(dot, cmd, val)?);
        }
        let v = val.unwrap_or(Value::Nil);
        if let [name] = pipe.decl.as_slice() {
            if pipe.is_assign && !self.vars.iter().any(|(n, _)| n == name) {
                return Err(self.err(pipe.offset, format!("undefined variable: {name}")));
            }
            self.declare(name, v.clone(), pipe.is_assign);
        }
        Ok(v)
    }

    fn eval_cmd(&mut self, dot: &Value, cmd: &Command, piped: Option<Value>) -> ExecResult<Value> {
        let Some(first) = cmd.args.first() else {
            return Err(self.err(cmd.offset, "empty command".into()));
        };
        let rest = &cmd.args[1..];
        match first {
            Arg::Ident(off, name) => self.call_function(dot, *off, name, rest, piped),
            Arg::Field(off, fields) => self.eval_field_chain(
                dot,
                *off,
                dot.clone(),
                fields,
                rest,
                piped,
                &ChainNode::field(*off, fields),
            ),
            Arg::Var(off, name, fields) => {
                let v = self.var(*off, name)?;
                if fields.is_empty() {
                    self.no_args(first, rest, &piped)?;
                    return Ok(v);
                }
                self.eval_field_chain(
                    dot,
                    *off,
                    v,
                    fields,
                    rest,
                    piped,
                    &ChainNode::var(*off, name, fields),
                )
            }
            Arg::Pipe(off, inner, fields) => {
                let v = self.eval_pipe(dot, inner)?;
                if fields.is_empty() {
                    self.no_args(first, rest, &piped)?;
                    return Ok(v);
                }
                let node = self.pipe_node(inner);
                self.eval_field_chain(dot, *off, v, fields, rest, piped, &node)
            }
            Arg::Nil(off) => Err(self.err(*off, "nil is not a command".into())),
            _ => {
                self.no_args(first, rest, &piped)?;
                self.eval_arg(dot, first)
            }
        }
    }

    fn no_args(&self, first: &Arg, rest: &[Arg], piped: &Option<Value>) -> ExecResult<()> {
        if !rest.is_empty() || piped.is_some() {
            let text = self.operand(first);
            return Err(TemplateError {
                node: Some(text.clone()),
                ..self.err(
                    first.offset(),
                    format!("can't give argument to non-function {text}"),
                )
            });
        }
        Ok(())
    }

    fn var(&self, off: usize, name: &str) -> ExecResult<Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.err(off, format!("undefined variable: {name}")))
    }

    /// Walk `.A.B.C` from `recv`. The last field may be a method called with `args`/`piped`.
    #[allow(clippy::too_many_arguments)]
    fn eval_field_chain(
        &mut self,
        dot: &Value,
        off: usize,
        mut recv: Value,
        fields: &[String],
        args: &[Arg],
        piped: Option<Value>,
        node: &ChainNode,
    ) -> ExecResult<Value> {
        let has_args = !args.is_empty() || piped.is_some();
        // A map's element is an interface{} to Go: a field it lacks names that type
        let mut from_map = false;
        for (i, f) in fields.iter().enumerate() {
            let last = i + 1 == fields.len();
            let go_type = |v: &Value| {
                if from_map {
                    "interface {}"
                } else {
                    v.type_name()
                }
            };
            let is_map = matches!(recv, Value::Map(_));
            recv = match &recv {
                Value::Nil if i == 0 => return self.nil_or_args(off, f, has_args, node),
                Value::Nil => {
                    return Err(self.chain_err(
                        off,
                        node,
                        format!("nil pointer evaluating interface {{}}.{f}"),
                    ));
                }
                Value::Map(m) => {
                    if last && has_args {
                        return Err(self.chain_err(
                            off,
                            node,
                            format!("{f} is not a method but has arguments"),
                        ));
                    }
                    m.borrow().get(f.as_str()).cloned().unwrap_or(Value::Nil)
                }
                Value::Object(o) => {
                    if last && has_args {
                        let mut vals = Vec::with_capacity(args.len() + 1);
                        for a in args {
                            vals.push(self.eval_arg(dot, a)?);
                        }
                        if let Some(p) = piped {
                            vals.push(p);
                        }
                        if let Some(params) = o.params(f) {
                            self.check_method_args(off, f, params, args, &vals, node)?;
                        }
                        return match o.call(f, &vals) {
                            Some(Ok(v)) => Ok(v),
                            Some(Err(e)) => {
                                Err(self.chain_err(off, node, format!("error calling {f}: {e}")))
                            }
                            // a typed map (split's map[string]string, `.Files`): a key, as
                            // in a map
                            None if o.kind_name() == "map" => Err(self.chain_err(
                                off,
                                node,
                                format!("{f} is not a method but has arguments"),
                            )),
                            None if o.field(f).is_some() => Err(self.chain_err(
                                off,
                                node,
                                format!("{f} has arguments but cannot be invoked as function"),
                            )),
                            None => Err(self.chain_err(
                                off,
                                node,
                                format!("can't evaluate field {f} in type {}", go_type(&recv)),
                            )),
                        };
                    }
                    match o.field(f) {
                        Some(v) => v,
                        // a method that takes arguments, called without
                        None if o.params(f).is_some_and(|p| !p.is_empty()) => {
                            let want = o.params(f).map_or(0, <[_]>::len);
                            return Err(self.chain_err(
                                off,
                                node,
                                format!("wrong number of args for {f}: want {want} got 0"),
                            ));
                        }
                        None => {
                            return Err(self.chain_err(
                                off,
                                node,
                                format!("can't evaluate field {f} in type {}", go_type(&recv)),
                            ));
                        }
                    }
                }
                other => {
                    return Err(self.chain_err(
                        off,
                        node,
                        format!("can't evaluate field {f} in type {}", go_type(other)),
                    ));
                }
            };
            from_map = is_map;
        }
        Ok(recv)
    }

    /// An error of a field chain: at the chain's second element when it has one (Go's parser
    /// gives a chain that position), printed whole.
    /// One argument as Go prints its node (strings and numbers as written).
    fn operand(&self, a: &Arg) -> String {
        parse::go_node_string(&self.cur.file.text, a.offset(), true).unwrap_or_else(|| arg_text(a))
    }

    /// Where Go's state points after evaluating `arg`: at the node it evaluated last.
    fn arg_node(&self, a: &Arg) -> ChainNode {
        match a {
            Arg::Field(o, f) => ChainNode::field(*o, f),
            Arg::Var(o, n, f) => ChainNode::var(*o, n, f),
            _ => ChainNode::At(a.offset(), self.operand(a)),
        }
    }

    /// A parenthesized pipeline's chain `(pipe).A.B` reports its errors at the node the
    /// pipeline evaluated last (Go's state still points there).
    fn pipe_node(&self, pipe: &Pipe) -> ChainNode {
        match last_evaluated(pipe) {
            Some(a) => self.arg_node(a),
            None => ChainNode::Here,
        }
    }

    fn chain_err(&self, off: usize, node: &ChainNode, message: String) -> TemplateError {
        match node {
            ChainNode::At(pos, text) => TemplateError {
                node: Some(text.clone()),
                ..self.err(*pos, message)
            },
            ChainNode::Here => self.err(off, message),
        }
    }

    fn nil_or_args(
        &self,
        off: usize,
        f: &str,
        has_args: bool,
        node: &ChainNode,
    ) -> ExecResult<Value> {
        if has_args {
            return Err(self.chain_err(
                off,
                node,
                format!("nil pointer evaluating interface {{}}.{f}"),
            ));
        }
        Ok(Value::Nil)
    }

    fn eval_arg(&mut self, dot: &Value, a: &Arg) -> ExecResult<Value> {
        Ok(match a {
            Arg::Dot(_) => dot.clone(),
            Arg::Nil(_) => Value::Nil,
            Arg::Bool(_, b) => Value::Bool(*b),
            Arg::Int(_, i) => Value::Int(*i),
            Arg::Float(_, f) => Value::Float(*f),
            Arg::Str(_, s) => Value::Str(s.clone()),
            Arg::Field(off, fields) => self.eval_field_chain(
                dot,
                *off,
                dot.clone(),
                fields,
                &[],
                None,
                &ChainNode::field(*off, fields),
            )?,
            Arg::Var(off, name, fields) => {
                let v = self.var(*off, name)?;
                if fields.is_empty() {
                    v
                } else {
                    self.eval_field_chain(
                        dot,
                        *off,
                        v,
                        fields,
                        &[],
                        None,
                        &ChainNode::var(*off, name, fields),
                    )?
                }
            }
            Arg::Ident(off, name) => self.call_function(dot, *off, name, &[], None)?,
            Arg::Pipe(off, inner, fields) => {
                let v = self.eval_pipe(dot, inner)?;
                if fields.is_empty() {
                    v
                } else {
                    let node = self.pipe_node(inner);
                    self.eval_field_chain(dot, *off, v, fields, &[], None, &node)?
                }
            }
        })
    }

    fn call_function(
        &mut self,
        dot: &Value,
        off: usize,
        name: &str,
        args: &[Arg],
        piped: Option<Value>,
    ) -> ExecResult<Value> {
        if name == "and" || name == "or" {
            let is_and = name == "and";
            if args.is_empty() && piped.is_none() {
                return Err(self.err(
                    off,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::Nil;
            for a in args {
                let v = self.eval_arg(dot, a)?;
                if v.truthy() != is_and {
                    return Ok(v);
                }
                last = v;
            }
            if let Some(p) = piped {
                return Ok(p);
            }
            return Ok(last);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.eval_arg(dot, a)?);
        }
        if let Some(p) = piped {
            vals.push(p);
        }
        let result = match name {
            "include" => self.include(off, &vals),
            // tpl's text is a Go string parameter, checked before the call
            "tpl" if vals.len() == 2 && !matches!(vals[0], Value::Str(_)) => {
                let message = match &vals[0] {
                    Value::Nil => "invalid value; expected string".to_string(),
                    other => format!(
                        "wrong type for value; expected string; got {}",
                        other.type_name()
                    ),
                };
                let at = &vals[0] as *const Value as usize;
                Err(self.arg_type_error(off, name, args, &vals, at, "string", message))
            }
            "tpl" => self.tpl(off, &vals),
            _ => {
                let Some(f) = funcs::lookup(name) else {
                    return Err(self.err(off, format!("function {name:?} not defined")));
                };
                if let Err(m) = output_estimate_ok(name, &vals) {
                    return Err(self.err(off, format!("error calling {name}: {m}")));
                }
                let mut r = f(self.env, &vals);
                // Go's parser reads an integral number constant written as a float (`1.5e1`,
                // `2.0`) as an int too: an int parameter takes it
                while let Err(FuncError::Arg { at, expected, .. }) = &r {
                    let Some(k) = vals.iter().position(|v| v as *const Value as usize == *at)
                    else {
                        break;
                    };
                    let Some(Arg::Float(_, x)) = args.get(k) else {
                        break;
                    };
                    let int = *x as i64;
                    if int as f64 != *x || !matches!(expected.as_str(), "int" | "int64") {
                        break;
                    }
                    vals[k] = if expected == "int" {
                        Value::Int(int)
                    } else {
                        Value::Int64(int)
                    };
                    r = f(self.env, &vals);
                }
                r.map_err(|e| match e {
                    FuncError::Msg(m) => self.err(off, format!("error calling {name}: {m}")),
                    // Go checks the count before the call, at the function's name
                    FuncError::Arity { want, got } => TemplateError {
                        node: Some(name.to_string()),
                        ..self.err(
                            off,
                            format!("wrong number of args for {name}: want {want} got {got}"),
                        )
                    },
                    FuncError::Fail(m) => TemplateError {
                        user_failure: true,
                        ..self.err(off, m)
                    },
                    FuncError::Arg {
                        at,
                        expected,
                        message,
                    } => self.arg_type_error(off, name, args, &vals, at, &expected, message),
                })
            }
        }?;
        self.charge(off, name, &result)?;
        Ok(result)
    }

    fn check_output(&self, off: usize, out: &str) -> ExecResult<()> {
        if out.len() > funcs::MAX_OUTPUT {
            return Err(self.err(
                off,
                format!(
                    "the output of {} is larger than the {} bytes a template may render here (a runaway loop?)",
                    self.cur.name,
                    funcs::MAX_OUTPUT
                ),
            ));
        }
        Ok(())
    }

    /// Count a function's string result against the render's allocation budget.
    fn charge(&self, off: usize, name: &str, v: &Value) -> ExecResult<()> {
        let list_len = match v {
            Value::List(l) => Some(l.len()),
            // a typed slice (until's []int, splitList's []string)
            Value::Object(o) => o
                .as_any()
                .filter(|a| a.is::<super::value::GoTyped>())
                .and_then(|_| o.as_data())
                .and_then(|d| d.as_list())
                .map(|l| l.len()),
            _ => None,
        };
        if let Some(len) = list_len {
            let total = self
                .env
                .allocated
                .get()
                .saturating_add(len.saturating_mul(funcs::LIST_ELEMENT_BYTES));
            self.env.allocated.set(total);
            if total > funcs::MAX_TOTAL_ALLOCATION {
                return Err(self.err(
                    off,
                    format!(
                        "error calling {name}: the templates built more than {} bytes of strings and lists in this render (a runaway loop?)",
                        funcs::MAX_TOTAL_ALLOCATION
                    ),
                ));
            }
            return Ok(());
        }
        let Value::Str(s) = v else {
            return Ok(());
        };
        if s.len() as i64 > funcs::MAX_SIZE {
            return Err(self.err(
                off,
                format!(
                    "error calling {name}: its result of {} bytes is larger than the {} bytes one string may have here",
                    s.len(),
                    funcs::MAX_SIZE
                ),
            ));
        }
        let total = self.env.allocated.get().saturating_add(s.len());
        self.env.allocated.set(total);
        if total > funcs::MAX_TOTAL_ALLOCATION {
            return Err(self.err(
                off,
                format!(
                    "error calling {name}: the templates built more than {} bytes of strings in this render (a runaway loop?)",
                    funcs::MAX_TOTAL_ALLOCATION
                ),
            ));
        }
        Ok(())
    }

    fn include(&mut self, off: usize, vals: &[Value]) -> ExecResult<Value> {
        let (name, data) = match vals {
            [Value::Str(n), d] => (n.clone(), d.clone()),
            [other, _] => {
                return Err(self.err(
                    off,
                    format!(
                        "error calling include: wrong type for value; expected string; got {}",
                        other.type_name()
                    ),
                ));
            }
            _ => {
                return Err(self.err(
                    off,
                    format!(
                        "wrong number of args for include: want 2 got {}",
                        vals.len()
                    ),
                ));
            }
        };
        let Some(t) = self.find(&name) else {
            return Err(self.err(
                off,
                // helm's include runs ExecuteTemplate on its root template, named "gotpl"
                format!("error calling include: template: no template {name:?} associated with template \"gotpl\""),
            ));
        };
        // helm counts the includes of each name under way and refuses the 1001st
        let active = self.included.entry(name.clone()).or_insert(0);
        if *active > MAX_INCLUDES_PER_NAME {
            return Err(self.err(
                off,
                format!("error calling include: rendering template has a nested reference name: {name}: unable to execute template"),
            ));
        }
        *active += 1;
        let mut out = String::new();
        let r = self.run_execution(&t, &data, &mut out);
        if let Some(n) = self.included.get_mut(&*name) {
            *n -= 1;
        }
        if let Err(e) = r {
            return Err(self.wrap_call_error(off, e, "error calling include: "));
        }
        Ok(Value::string(out))
    }

    /// Go's checks of a method's arguments before the call (`params` are their Go types): the
    /// count, at the method's node, then each argument's type, at the argument.
    fn check_method_args(
        &self,
        off: usize,
        f: &str,
        params: &[&str],
        args: &[Arg],
        vals: &[Value],
        node: &ChainNode,
    ) -> ExecResult<()> {
        if vals.len() != params.len() {
            return Err(self.chain_err(
                off,
                node,
                format!(
                    "wrong number of args for {f}: want {} got {}",
                    params.len(),
                    vals.len()
                ),
            ));
        }
        for (k, (v, want)) in vals.iter().zip(params).enumerate() {
            let fits = match *want {
                "string" => matches!(v, Value::Str(_)),
                _ => true,
            };
            if fits {
                continue;
            }
            let message = match v {
                Value::Nil => format!("invalid value; expected {want}"),
                other => format!(
                    "wrong type for value; expected {want}; got {}",
                    other.type_name()
                ),
            };
            return Err(match args.get(k) {
                Some(_) => self.arg_type_error(
                    off,
                    f,
                    args,
                    vals,
                    v as *const Value as usize,
                    want,
                    message,
                ),
                // the piped value: at the method's node
                None => self.chain_err(off, node, message),
            });
        }
        Ok(())
    }

    /// A parameter of the wrong Go type, reported as text/template reports it before calling:
    /// at the argument (`expected string; found 1` for a constant), or at the function for the
    /// piped value (`invalid value` when it is nil).
    #[allow(clippy::too_many_arguments)]
    fn arg_type_error(
        &self,
        off: usize,
        name: &str,
        args: &[Arg],
        vals: &[Value],
        at: usize,
        expected: &str,
        message: String,
    ) -> TemplateError {
        let Some(k) = vals.iter().position(|v| v as *const Value as usize == at) else {
            return self.err(off, format!("error calling {name}: {message}"));
        };
        let Some(arg) = args.get(k) else {
            // the piped value
            let message = if vals[k].is_nil() {
                format!("invalid value; expected {expected}")
            } else {
                message
            };
            return TemplateError {
                node: Some(name.to_string()),
                ..self.err(off, message)
            };
        };
        let constant = match expected {
            "int" | "int64" => "integer",
            "float64" => "float",
            other => other,
        };
        match arg {
            Arg::Int(..) | Arg::Float(..) | Arg::Str(..) | Arg::Bool(..) => TemplateError {
                node: Some(self.operand(arg)),
                ..self.err(
                    arg.offset(),
                    format!("expected {constant}; found {}", self.operand(arg)),
                )
            },
            Arg::Nil(_) => TemplateError {
                node: Some("nil".into()),
                ..self.err(arg.offset(), format!("cannot assign nil to {expected}"))
            },
            Arg::Field(o, fields) => self.chain_err(*o, &ChainNode::field(*o, fields), message),
            Arg::Var(o, n, fields) => self.chain_err(*o, &ChainNode::var(*o, n, fields), message),
            // Go's state is still at the last node the pipeline evaluated
            Arg::Pipe(o, pipe, _) => self.chain_err(*o, &self.pipe_node(pipe), message),
            _ => self.err(arg.offset(), message),
        }
    }

    /// An error from a template run by include or tpl, as helm reports it: `fail`/`required`
    /// at the outermost call (helm's cleanupExecError keeps the first location of the chain),
    /// anything else as Go's `error calling include: <the inner error>`.
    fn wrap_call_error(&self, off: usize, e: TemplateError, prefix: &str) -> TemplateError {
        if e.user_failure {
            return TemplateError {
                user_failure: true,
                ..self.err(off, e.message)
            };
        }
        self.err(off, format!("{prefix}{e}"))
    }

    fn tpl(&mut self, off: usize, vals: &[Value]) -> ExecResult<Value> {
        let (text, data) = match vals {
            [Value::Str(t), d] => (t.clone(), d.clone()),
            [other, _] => {
                return Err(self.err(
                    off,
                    format!(
                        "error calling tpl: wrong type for value; expected string; got {}",
                        other.type_name()
                    ),
                ));
            }
            _ => {
                return Err(self.err(
                    off,
                    format!("wrong number of args for tpl: want 2 got {}", vals.len()),
                ));
            }
        };
        // Helm parses the text as a template named after the calling template.
        let file = Rc::new(SourceFile {
            name: self.cur.file.name.clone(),
            text: text.clone(),
        });
        let parsed = parse_checked(&file).map_err(|mut e| {
            e.message = format!(
                "error calling tpl: cannot parse template {text:?}: {}",
                e.message
            );
            e
        })?;
        let mut layer = HashMap::new();
        let body_name = format!("\u{0}tpl:{}", self.cur.name);
        let file2 = Rc::new(SourceFile {
            name: body_name.clone(),
            text: text.clone(),
        });
        add_parsed(&mut layer, &file2, parsed);
        let Some(main) = layer.get(&body_name).cloned() else {
            return Ok(Value::str(""));
        };
        // Errors inside the tpl text should name the file that called tpl.
        let main = Rc::new(Tmpl {
            name: self.cur.name.clone(),
            file: file.clone(),
            body: match Rc::try_unwrap(main) {
                Ok(t) => t.body,
                Err(rc) => rc.body.clone(),
            },
        });
        layer.remove(&body_name);
        self.overlays.push(layer);
        let mut out = String::new();
        let r = self.run_execution(&main, &data, &mut out);
        self.overlays.pop();
        if let Err(e) = r {
            let prefix = format!(
                "error calling tpl: error during tpl function execution for {}: ",
                super::gofmt::go_quote(&text)
            );
            return Err(self.wrap_call_error(off, e, &prefix));
        }
        Ok(Value::string(out.replace("<no value>", "")))
    }
}

/// Where a field chain's errors are reported.
enum ChainNode {
    /// At the chain's own start (a pipeline's fields).
    Here,
    /// At this offset, printed as this text.
    At(usize, String),
}

impl ChainNode {
    /// `.A.B.C`: Go's parser places the node at `.B`.
    fn field(off: usize, fields: &[String]) -> ChainNode {
        let text = format!(".{}", fields.join("."));
        match fields {
            [first, _, ..] => ChainNode::At(off + 1 + first.len(), text),
            _ => ChainNode::At(off, text),
        }
    }

    /// `$x.A.B`: at `.A`.
    fn var(off: usize, name: &str, fields: &[String]) -> ChainNode {
        if fields.is_empty() {
            return ChainNode::At(off, name.to_string());
        }
        ChainNode::At(off + name.len(), format!("{name}.{}", fields.join(".")))
    }
}

/// The node text/template evaluates last in `pipe`, where its state still points when the
/// pipeline's result is refused by a parameter: the last argument of the last command (inside it
/// when it is a parenthesized pipeline), or the command's function when it has no argument.
fn last_evaluated(pipe: &Pipe) -> Option<&Arg> {
    let last = pipe.cmds.last()?.args.last()?;
    match last {
        Arg::Pipe(_, inner, _) => last_evaluated(inner).or(Some(last)),
        _ => Some(last),
    }
}

fn arg_text(a: &Arg) -> String {
    match a {
        Arg::Dot(_) => ".".into(),
        Arg::Nil(_) => "nil".into(),
        Arg::Bool(_, b) => b.to_string(),
        Arg::Int(_, i) => i.to_string(),
        Arg::Float(_, f) => f.to_string(),
        Arg::Str(_, s) => format!("{s:?}"),
        Arg::Field(_, f) => format!(".{}", f.join(".")),
        Arg::Var(_, n, f) if f.is_empty() => n.clone(),
        Arg::Var(_, n, f) => format!("{n}.{}", f.join(".")),
        Arg::Ident(_, n) => n.clone(),
        Arg::Pipe(_, _, _) => "(pipeline)".into(),
    }
}

/// Text held by `v`, counted until it passes `limit` (shared strings count each time they
/// appear, as they would in a serialisation of `v`).
fn text_size(v: &Value, limit: usize, acc: &mut usize) {
    if *acc > limit {
        return;
    }
    match v {
        Value::Str(s) => *acc += s.len() + 2,
        Value::List(items) => {
            for i in items.iter() {
                text_size(i, limit, acc);
                if *acc > limit {
                    return;
                }
            }
        }
        Value::Map(m) => {
            for (k, i) in m.borrow().iter() {
                *acc += k.len() + 2;
                text_size(i, limit, acc);
                if *acc > limit {
                    return;
                }
            }
        }
        // a typed slice or map (chunk's [][]interface {}) holds what its data holds
        Value::Object(o) if o.as_any().is_some_and(|a| a.is::<super::value::GoTyped>()) => {
            if let Some(d) = o.as_data() {
                text_size(&d, limit, acc);
            }
        }
        // a []byte prints as up to 4 bytes a byte (`255 `)
        Value::Object(o) if o.as_any().is_some_and(|a| a.is::<super::value::GoBytes>()) => {
            let n = super::value::GoBytes::of(v).map_or(0, |b| b.bytes().len());
            *acc += n.saturating_mul(4) + 2;
        }
        _ => *acc += 24,
    }
}

/// Functions whose result grows with their arguments are checked before they run: the result
/// cap alone would come after the allocation (`toYaml` of a list holding one 16 MiB string a
/// thousand times would first build 16 GB).
fn output_estimate_ok(name: &str, vals: &[Value]) -> Result<(), String> {
    let limit = funcs::MAX_SIZE as usize;
    let serialises = matches!(
        name,
        "toYaml"
            | "mustToYaml"
            | "toJson"
            | "mustToJson"
            | "toPrettyJson"
            | "mustToPrettyJson"
            | "toRawJson"
            | "mustToRawJson"
            | "toToml"
            | "join"
            | "print"
            | "println"
            | "printf"
            | "cat"
            | "toString"
            | "toStrings"
            | "quote"
            | "squote"
    );
    if serialises {
        let mut acc = 0;
        for v in vals {
            text_size(v, limit, &mut acc);
        }
        if acc > limit {
            return Err(format!(
                "its arguments hold more than the {limit} bytes of text one string may have here"
            ));
        }
    }
    if name == "replace"
        && let [Value::Str(old), Value::Str(new), Value::Str(text)] = vals
    {
        let hits = if old.is_empty() {
            text.chars().count() + 1
        } else {
            text.matches(&**old).count()
        };
        let size = text.len().saturating_add(hits.saturating_mul(new.len()));
        if size > limit {
            return Err(format!(
                "the result would be {size} bytes, more than the {limit} one string may have here"
            ));
        }
    }
    Ok(())
}

/// Go's printValue: nil prints as `<no value>`.
fn print_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<no value>"),
        Value::Str(s) => out.push_str(s),
        Value::Object(o) => out.push_str(&o.display()),
        other => out.push_str(&go_sprint(other)),
    }
}
