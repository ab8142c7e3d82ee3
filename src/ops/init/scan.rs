//! Finding what a repository already has: Dockerfiles, charts (an umbrella chart with its
//! subcharts is one), and the `values-<env>.yaml` files next to each chart.

use std::path::{Path, PathBuf};

/// A Dockerfile found in the repository: one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundImage {
    pub name: String,
    /// Build context (the Dockerfile's directory), relative to the repository root.
    pub context: PathBuf,
    /// The Dockerfile's file name when it is not `Dockerfile`.
    pub dockerfile: Option<String>,
}

/// A chart directory that is not a subchart of another: one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundChart {
    /// Relative to the repository root.
    pub dir: PathBuf,
    /// `values-<env>.yaml` files: (env, path relative to the root), by env name.
    pub env_values: Vec<(String, PathBuf)>,
}

#[derive(Debug, Default)]
pub struct Found {
    pub images: Vec<FoundImage>,
    pub charts: Vec<FoundChart>,
    /// Library charts, left out (they render nothing on their own).
    pub library_charts: Vec<PathBuf>,
}

/// Directories never worth descending into (build output, dependencies, VCS).
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "vendor", "dist", "build", "venv"];

/// Walks `root` as git would see it (`.gitignore` respected, hidden entries skipped).
pub fn scan(root: &Path) -> Found {
    let mut dockerfiles = Vec::new();
    let mut chart_dirs = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .require_git(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|e| {
            !(e.file_type().is_some_and(|t| t.is_dir())
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| SKIPPED_DIRS.contains(&n)))
        })
        .build();
    for entry in walker.flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        if file == "Chart.yaml" {
            if let Some(dir) = rel.parent() {
                chart_dirs.push(dir.to_path_buf());
            }
        } else if is_dockerfile(file) {
            dockerfiles.push(rel.to_path_buf());
        }
    }

    let mut found = Found::default();
    // A chart inside another chart's directory is its subchart (charts/NAME): part of that
    // release, not a release of its own.
    let tops: Vec<PathBuf> = chart_dirs
        .iter()
        .filter(|d| {
            !chart_dirs
                .iter()
                .any(|other| other != *d && d.starts_with(other))
        })
        .cloned()
        .collect();
    for dir in tops {
        let meta = std::fs::read_to_string(root.join(&dir).join("Chart.yaml")).unwrap_or_default();
        if meta
            .lines()
            .any(|l| l.trim().replace(' ', "") == "type:library")
        {
            found.library_charts.push(dir);
            continue;
        }
        let env_values = env_values_files(root, &dir);
        found.charts.push(FoundChart { dir, env_values });
    }
    // Dockerfiles inside a chart directory are not the application's.
    dockerfiles.retain(|f| !found.charts.iter().any(|c| f.starts_with(&c.dir)));
    let mut names: Vec<String> = Vec::new();
    for f in dockerfiles {
        let file = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("Dockerfile")
            .to_string();
        let context = f.parent().map(Path::to_path_buf).unwrap_or_default();
        let stem = if file == "Dockerfile" {
            context
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("app")
                .to_string()
        } else if let Some(s) = file.strip_suffix(".Dockerfile") {
            s.to_string()
        } else {
            file.trim_start_matches("Dockerfile.").to_string()
        };
        let name = unique(
            &mut names,
            &sanitize(&stem, 63).unwrap_or_else(|| "app".into()),
        );
        found.images.push(FoundImage {
            name,
            context,
            dockerfile: (file != "Dockerfile").then_some(file),
        });
    }
    found
}

fn is_dockerfile(file: &str) -> bool {
    file == "Dockerfile"
        || (file.ends_with(".Dockerfile") && file.len() > ".Dockerfile".len())
        || (file.starts_with("Dockerfile.")
            && !file.ends_with(".dockerignore")
            && file.len() > "Dockerfile.".len())
}

fn env_values_files(root: &Path, chart: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root.join(chart)) else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(file) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(env) = file
            .strip_prefix("values-")
            .and_then(|r| r.strip_suffix(".yaml").or_else(|| r.strip_suffix(".yml")))
        else {
            continue;
        };
        if let Some(env) = sanitize(env, 63)
            && env == env.to_ascii_lowercase()
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            out.push((env, chart.join(&file)));
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// A name made of lower-case letters, digits and `-` (what every todo.toml table key accepts),
/// or None when nothing of `raw` survives.
pub fn sanitize(raw: &str, max: usize) -> Option<String> {
    let mut out = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(max).collect();
    let out = out.trim_end_matches('-').to_string();
    (!out.is_empty()).then_some(out)
}

/// `name`, or `name-2`, `name-3`... when taken; records the result.
pub fn unique(taken: &mut Vec<String>, name: &str) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_names() {
        assert!(is_dockerfile("Dockerfile"));
        assert!(is_dockerfile("backend.Dockerfile"));
        assert!(is_dockerfile("Dockerfile.dev"));
        assert!(!is_dockerfile("Dockerfile.dockerignore"));
        assert!(!is_dockerfile(".Dockerfile"));
        assert!(!is_dockerfile("Dockerfile."));
    }

    #[test]
    fn names_are_sanitized_and_unique() {
        assert_eq!(sanitize("Todo_App", 40).as_deref(), Some("todo-app"));
        assert_eq!(sanitize("--", 40), None);
        assert_eq!(sanitize("a__b", 40).as_deref(), Some("a-b"));
        let mut taken = vec![];
        assert_eq!(unique(&mut taken, "x"), "x");
        assert_eq!(unique(&mut taken, "x"), "x-2");
    }
}
