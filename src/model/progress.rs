//! Progress: one live line per node on a terminal, plain timestamped lines otherwise (CI).

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;

#[derive(Clone)]
pub struct Progress {
    live: Option<MultiProgress>,
    /// Print nothing (model tests run thousands of applies).
    silent: bool,
}

pub struct NodeProgress {
    name: String,
    started: Instant,
    bar: Option<ProgressBar>,
    silent: bool,
    /// A node with nothing to change: only a failure is shown.
    quiet: bool,
}

impl Progress {
    /// Live lines when stderr is a terminal, plain lines otherwise.
    pub fn detect() -> Self {
        Progress {
            live: std::io::stderr().is_terminal().then(MultiProgress::new),
            silent: false,
        }
    }

    pub fn plain() -> Self {
        Progress {
            live: None,
            silent: false,
        }
    }

    pub fn silent() -> Self {
        Progress {
            live: None,
            silent: true,
        }
    }

    pub fn line(&self, message: &str) {
        if self.silent {
            return;
        }
        match &self.live {
            Some(m) => {
                let _ = m.println(message);
            }
            None => eprintln!("[{}] {message}", chrono::Local::now().format("%H:%M:%S")),
        }
    }

    pub fn start(&self, name: &str, message: &str) -> NodeProgress {
        let bar = self.live.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(name.to_string());
            bar.set_message(message.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            self.line(&format!("{name}: {message}"));
        }
        NodeProgress {
            name: name.to_string(),
            started: Instant::now(),
            bar,
            silent: self.silent,
            quiet: false,
        }
    }

    /// A node that changes nothing (it is visited to confirm its records): no line unless it
    /// fails, so the output lists what changes.
    pub fn start_quiet(&self, name: &str) -> NodeProgress {
        NodeProgress {
            name: name.to_string(),
            started: Instant::now(),
            bar: None,
            silent: self.silent,
            quiet: true,
        }
    }
}

impl NodeProgress {
    pub fn update(&self, message: &str) {
        if self.silent || self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => b.set_message(message.to_string()),
            None => eprintln!(
                "[{}] {}: {message}",
                chrono::Local::now().format("%H:%M:%S"),
                self.name
            ),
        }
    }

    pub fn finish(self, ok: bool, message: &str) {
        if self.silent || (self.quiet && ok) {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f32();
        let line = format!(
            "{} {}: {message} [{elapsed:.1}s]",
            if ok { "✓" } else { "✗" },
            self.name
        );
        match self.bar {
            Some(b) => b.finish_with_message(format!("{message} [{elapsed:.1}s]")),
            None => eprintln!("[{}] {line}", chrono::Local::now().format("%H:%M:%S")),
        }
    }
}
