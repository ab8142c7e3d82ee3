//! A Go text/template engine with Helm's function set.
//!
//! Why our own engine rather than the `gotmpl` crate: gotmpl is a careful port of text/template,
//! but Helm needs three things it does not offer: methods on data (`.Files.Get "x"`,
//! `.Capabilities.APIVersions.Has "apps/v1"` fail there with "can't give argument to
//! non-function"), line/column positions on execution errors (gotmpl reports them only for parse
//! errors), and functions that reach the template set (`include`, `tpl`). Owning the executor
//! makes `include`/`tpl` plain executor calls and keeps every node's offset for diagnostics.

pub mod crypto;
pub mod dates;
pub mod decimal;
pub mod exec;
pub mod funcs;
pub(crate) mod go_unicode;
pub mod gofmt;
pub mod gojson;
pub mod mmsemver;
pub mod parse;
pub mod regex_go;
mod shortest_float;
pub mod toml_encode;
pub mod toml_go;
pub mod value;
pub mod xstrings;
pub mod yaml;
pub(crate) mod yaml_keys;
pub mod yaml_load;
pub mod yaml_parse;

pub use exec::{Executor, SourceFile, TemplateError, TemplateSet};
pub use funcs::FuncEnv;
pub use value::{Object, Value};

#[cfg(test)]
mod tests;
