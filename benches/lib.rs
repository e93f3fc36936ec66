//! The benches (`cargo bench -p oidc-edge-benches`: see `jose.rs`, `fanout.rs`, `flows.rs` and
//! `logout_wait.rs`; `benches/worker.mjs` for the Worker in workerd) and what they share.

use std::time::Duration;

/// The median of some timings.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// A timing in milliseconds, one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Environment variable `name` parsed, or `default` when unset or unreadable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Environment variable `name` as a comma-separated list of positive numbers (`1,8`), or
/// `default` when unset or empty.
pub fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .filter(|n| *n > 0)
                .collect()
        })
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

/// The CPU time of the server's threads: its serving threads (the event loop,
/// `oidc-edge-server`, shown as `oidc-edge-serve`, and the deliveries' HTTP thread,
/// `oidc-edge-http`) and its blocking pool (`oidc-edge-blocking`), from the scheduler's
/// per-thread accounting. A thread that ended is not counted: the serving thread lives as long
/// as the server, the pool's threads for 10 s idle.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerCpu {
    /// The serving threads' (event loop and delivery HTTP).
    pub serving: Duration,
    /// The blocking pool's.
    pub pool: Duration,
}

impl ServerCpu {
    /// The time spent so far.
    pub fn now() -> Self {
        let mut cpu = Self::default();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return cpu;
        };
        for task in tasks.flatten() {
            let dir = task.path();
            let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            let spent = Duration::from_nanos(thread_ns(&dir.join("schedstat")));
            if name.starts_with("oidc-edge-serve") || name.starts_with("oidc-edge-http") {
                cpu.serving += spent;
            } else if name.starts_with("oidc-edge-block") {
                cpu.pool += spent;
            }
        }
        cpu
    }

    /// The time spent between `before` and `self`.
    #[must_use]
    pub fn since(self, before: Self) -> Self {
        Self {
            serving: self.serving.saturating_sub(before.serving),
            pool: self.pool.saturating_sub(before.pool),
        }
    }
}

/// The first field of a `schedstat` file: time spent on a CPU, in nanoseconds.
pub fn thread_ns(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `perf record`'s control FIFO, when the environment names one (`PERF_CTL=/path`, with
/// `perf record -D -1 --control fifo:/path ...`): a bench enables the profiler around what it
/// measures only, not its set-up. Without it, every call does nothing.
#[derive(Debug)]
pub struct PerfControl(Option<std::fs::File>);

impl PerfControl {
    /// The FIFO named by `PERF_CTL`, if any (opened for writing: perf must be reading it).
    pub fn from_env() -> Self {
        Self(
            std::env::var_os("PERF_CTL")
                .and_then(|p| std::fs::OpenOptions::new().write(true).open(p).ok()),
        )
    }

    /// Start sampling.
    pub fn enable(&mut self) {
        self.send(b"enable\n");
    }

    /// Stop sampling.
    pub fn disable(&mut self) {
        self.send(b"disable\n");
    }

    fn send(&mut self, command: &[u8]) {
        use std::io::Write as _;
        if let Some(f) = &mut self.0 {
            let _ = f.write_all(command);
        }
    }
}
