//! Progress of long CLI work, on stderr only: a bar when stderr is a terminal, otherwise
//! a plain line at most every [`LINE_EVERY`] (none at all for work that ends sooner).
//! stdout, and so `--json` output, never sees any of it.
//!
//! Known limit: `export` and `offline-kit import` report elapsed time, not a fraction
//! done, because the bundle reader and writer take a path and expose no byte count;
//! a counting hook in `bundle/stream.rs` would let them show bytes like `ingest` does.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line may be written when stderr is not a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(5);

/// Decimal megabytes, as people read file sizes: `412 MB`.
fn megabytes(bytes: u64) -> String {
    format!("{} MB", (bytes + 500_000) / 1_000_000)
}

fn line(text: &str) {
    // Progress is a courtesy: a closed stderr is no reason to stop the work.
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Files of known sizes, done one at a time (`ingest`).
#[derive(Debug)]
pub struct Files {
    label: &'static str,
    bar: Option<ProgressBar>,
    sizes: HashMap<OsString, u64>,
    total: (u64, u64),
    done: (u64, u64),
    last_line: Instant,
}

impl Files {
    /// Progress over `files`, whose sizes are read now (an unreadable one counts 0).
    pub fn new(label: &'static str, files: &[PathBuf]) -> Self {
        let sizes: HashMap<OsString, u64> = files
            .iter()
            .filter_map(|f| {
                let size = std::fs::metadata(f).map_or(0, |m| m.len());
                Some((f.file_name()?.to_owned(), size))
            })
            .collect();
        let total = (sizes.len() as u64, sizes.values().sum());
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total.1), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix}: [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
            )
            .expect("the template is valid");
            bar.set_style(style);
            bar.set_prefix(label);
            bar
        });
        let files = Self {
            label,
            bar,
            sizes,
            total,
            done: (0, 0),
            last_line: Instant::now(),
        };
        files.show_count();
        files
    }

    /// Counts `file` done the first time a file of its name is reported; later reports
    /// of the same file (a pending bundle applied after all) count nothing.
    pub fn done(&mut self, file: &Path) {
        let Some(size) = file.file_name().and_then(|n| self.sizes.remove(n)) else {
            return;
        };
        self.done.0 += 1;
        self.done.1 += size;
        if let Some(bar) = &self.bar {
            bar.inc(size);
            self.show_count();
        } else if self.last_line.elapsed() >= LINE_EVERY {
            self.last_line = Instant::now();
            line(&self.summary());
        }
    }

    /// Writes `text` above the bar on a terminal; elsewhere it is left out, as the
    /// per-file lines always were.
    pub fn println(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.println(text);
        }
    }

    fn show_count(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}/{} files", self.done.0, self.total.0));
        }
    }

    fn summary(&self) -> String {
        format!(
            "{}: {}/{} files, {}",
            self.label,
            self.done.0,
            self.total.0,
            megabytes(self.done.1)
        )
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One long step whose fraction done is unknown (`export`, `offline-kit import`): a
/// spinner on a terminal, elsewhere a line every [`LINE_EVERY`] with the time so far.
#[derive(Debug)]
pub struct Working {
    bar: Option<ProgressBar>,
    ticker: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Working {
    /// Starts showing `what` (for example `verifying kit.tar.zst (412 MB)`).
    pub fn start(label: &'static str, what: String) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{prefix}: {spinner} {msg} [{elapsed}]")
                .expect("the template is valid");
            bar.set_style(style);
            bar.set_prefix(label);
            bar.set_message(what);
            bar.enable_steady_tick(Duration::from_millis(120));
            return Self {
                bar: Some(bar),
                ticker: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let started = Instant::now();
        let ticker = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(LINE_EVERY) {
                let secs = started.elapsed().as_secs();
                line(&format!("{label}: {what}, {secs} s"));
            }
        });
        Self {
            bar: None,
            ticker: Some((stop, ticker)),
        }
    }

    /// The size of `file` for a message, or nothing when it cannot be read.
    pub fn size_of(file: &Path) -> String {
        std::fs::metadata(file).map_or_else(|_| String::new(), |m| megabytes(m.len()))
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some((stop, ticker)) = self.ticker.take() {
            drop(stop);
            let _ = ticker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megabytes_round_to_the_nearest() {
        assert_eq!(megabytes(0), "0 MB");
        assert_eq!(megabytes(499_999), "0 MB");
        assert_eq!(megabytes(412_300_000), "412 MB");
        assert_eq!(megabytes(412_600_000), "413 MB");
    }

    #[test]
    fn files_count_once_by_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a.tar.zst");
        let b = dir.path().join("b.tar.zst");
        std::fs::write(&a, vec![0u8; 1_500_000]).expect("write a");
        std::fs::write(&b, vec![0u8; 10]).expect("write b");
        let mut files = Files::new("ingest", &[a.clone(), b]);
        // Reported from where it was moved to: the name is what counts.
        files.done(&dir.path().join("archive").join("a.tar.zst"));
        files.done(&a);
        files.done(Path::new("unknown.tar.zst"));
        assert_eq!(files.summary(), "ingest: 1/2 files, 2 MB");
    }
}
