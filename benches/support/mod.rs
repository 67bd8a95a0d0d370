//! A minimal timing harness shared by the benchmarks: no thresholds, just figures to read.

use std::time::{Duration, Instant};

/// Run `f` once to warm up, then `iterations` times; print min / median / max.
pub fn report(name: &str, iterations: usize, mut f: impl FnMut()) {
    f();
    let mut times: Vec<Duration> = (0..iterations.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "{name:<45} min {:>9.1?}  median {:>9.1?}  max {:>9.1?}  ({} runs)",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        times.len()
    );
}
