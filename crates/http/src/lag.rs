//! Load shedding by the runtime's own lag. Past capacity, requests wait in
//! tokio's run queue (and the kernel's) before any handler sees them; an
//! in-flight count cannot tell that apart from requests idly waiting on a
//! provider. So a probe task measures how long the runtime takes to come
//! back to it after it yields — the time a task now waits for a worker —
//! and keeps, as CoDel does for a queue, the smallest lag of each 100 ms
//! interval: a burst leaves the minimum low, only a standing queue raises it.
//! While that stands above the target, new requests are answered 503 at once
//! (before their body is read), so the work admitted stays what the cores
//! can do within the target and the excess is told quickly to come back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A queue that stands this long is not a burst.
const INTERVAL: Duration = Duration::from_millis(100);
/// Time between probes.
const EVERY: Duration = Duration::from_millis(2);

#[derive(Default)]
pub(crate) struct Lag {
    /// The last interval's smallest lag, in microseconds.
    standing_us: AtomicU64,
}

impl Lag {
    /// Starts the probe on the current runtime (none: never sheds); it ends
    /// with the last handle.
    pub(crate) fn start() -> Arc<Lag> {
        let lag = Arc::new(Lag::default());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(probe(Arc::downgrade(&lag)));
        }
        lag
    }

    pub(crate) fn standing(&self) -> Duration {
        Duration::from_micros(self.standing_us.load(Ordering::Relaxed))
    }
}

async fn probe(lag: std::sync::Weak<Lag>) {
    let mut start = Instant::now();
    let mut min = Duration::MAX;
    loop {
        tokio::time::sleep(EVERY).await;
        let yielded = Instant::now();
        tokio::task::yield_now().await;
        let now = Instant::now();
        min = min.min(now.duration_since(yielded));
        if now.duration_since(start) >= INTERVAL {
            let Some(lag) = lag.upgrade() else { return };
            lag.standing_us.store(u64::try_from(min.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
            (start, min) = (now, Duration::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime kept busy stands lagging; once free, the lag falls back.
    #[test]
    fn a_busy_runtime_stands_lagging_and_recovers() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let lag = Lag::start();
            tokio::time::sleep(Duration::from_millis(250)).await;
            assert!(lag.standing() < Duration::from_millis(5), "idle: {:?}", lag.standing());
            // Tasks that hold the only thread 20 ms at a time, for 400 ms.
            let until = Instant::now() + Duration::from_millis(400);
            let hog = tokio::spawn(async move {
                while Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                    tokio::task::yield_now().await;
                }
            });
            hog.await.unwrap();
            assert!(lag.standing() >= Duration::from_millis(10), "busy: {:?}", lag.standing());
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(lag.standing() < Duration::from_millis(5), "recovered: {:?}", lag.standing());
        });
    }
}
