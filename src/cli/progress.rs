//! Download progress: a bar per download on a terminal, one plain line per artifact otherwise.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use url::Url;

use crate::apply::Reporter;

pub(super) struct Progress {
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
}

impl Progress {
    /// Draws bars on standard error when it is a terminal.
    pub(super) fn new() -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                Mutex::new(HashMap::new()),
            )
        });
        Progress { bars }
    }
}

impl Reporter for Progress {
    fn download_started(&self, name: &str, url: &Url, length: Option<u64>) {
        let Some((multi, bars)) = &self.bars else {
            let _ = writeln!(anstream::stderr(), "downloading {name} from {url}");
            return;
        };
        let bar = multi.add(length.map_or_else(ProgressBar::no_length, ProgressBar::new));
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:12} {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} eta {eta}",
            )
            .expect("the progress template is valid"),
        );
        bar.set_message(name.to_string());
        if let Ok(mut bars) = bars.lock() {
            bars.insert(name.to_string(), bar);
        }
    }

    fn download_progress(&self, name: &str, bytes: u64) {
        if let Some((_, bars)) = &self.bars
            && let Ok(bars) = bars.lock()
            && let Some(bar) = bars.get(name)
        {
            bar.inc(bytes);
        }
    }

    fn download_finished(&self, name: &str, from_cache: bool) {
        let how = if from_cache {
            "taken from the cache"
        } else {
            "downloaded"
        };
        match &self.bars {
            Some((_, bars)) => {
                if let Ok(mut bars) = bars.lock()
                    && let Some(bar) = bars.remove(name)
                {
                    bar.finish_with_message(format!("{name} {how}"));
                }
            }
            None => {
                let _ = writeln!(anstream::stderr(), "{name}: {how} and verified");
            }
        }
    }
}
