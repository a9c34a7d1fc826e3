//! Load shedding by the node's own work in flight. Past capacity the queue
//! forms inside the node: requests read and waiting for the group-commit
//! writer, whose batches grow with it (at 150 % of capacity, 2,048 requests
//! in flight took ~100 ms each while the runtime's lag and the writer's
//! channel delay both stayed low: the batch itself was the queue).
//!
//! So every request the node works on is timed from the moment its body is
//! read to its answer, and every 100 ms, as CoDel tells a standing queue
//! from a burst: when even the quickest request of the interval took longer
//! than the target, requests wait for each other, and the node is
//! *overloaded*. From then on the work in flight is limited, starting from
//! what the node drains within the target (Little's law: its best recent
//! throughput × the target), and a request past the limit is answered 503 at
//! once, before its body is read. Each interval the limit then follows the
//! quickest request: down to that start again while it stands above the
//! target, up by a quarter while it is under half of it (the node has room).
//! The overload ends once nothing was refused and the quickest request
//! stayed under half the target for half a second: demand fits again (group
//! commit answers a whole batch at once, so one quick interval is not it).
//!
//! A request waiting on something outside the node (a provider's outcome)
//! is parked (`tambah_engine::parking`) and no longer counts: a slow
//! provider is not a busy node. `max_in_flight` still caps every request,
//! parked or not.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A queue that stands this long is not a burst.
const INTERVAL: Duration = Duration::from_millis(100);
/// Intervals in a row with the quickest request under half the target that
/// end an overload.
const CALM: u32 = 5;
/// While limited, the best throughput fades by this factor each interval
/// (to half in ~3.5 s), so that the limit follows a node that got slower.
const FADE: f64 = 0.98;
/// The limit never goes below this.
const FLOOR: usize = 16;

pub(crate) struct Admission {
    /// Requests the node is working on (read, not parked, not answered).
    working: AtomicUsize,
    /// The quickest request finished since the last tick, in µs.
    quickest_us: AtomicU64,
    /// Requests finished (answered or parked) since the last tick.
    finished: AtomicU64,
    /// Requests refused since the last tick.
    refused: AtomicU64,
    /// How many may be worked on at once now (`usize::MAX`: not overloaded).
    limit: AtomicUsize,
    /// Requests that took longer than this is a queue; zero: never shed.
    target: Duration,
}

/// The node works on a request while this lives (dropped when the request
/// is answered or parks).
pub(crate) struct Working {
    admission: Arc<Admission>,
    since: Instant,
}

impl Drop for Working {
    fn drop(&mut self) {
        let a = &self.admission;
        a.working.fetch_sub(1, Ordering::Relaxed);
        let took = u64::try_from(self.since.elapsed().as_micros()).unwrap_or(u64::MAX);
        a.quickest_us.fetch_min(took, Ordering::Relaxed);
        a.finished.fetch_add(1, Ordering::Relaxed);
    }
}

impl Admission {
    /// Starts the 100 ms tick on the current runtime (none: never sheds);
    /// it ends with the last handle.
    pub(crate) fn start(target: Duration) -> Arc<Admission> {
        let admission = Arc::new(Admission {
            working: AtomicUsize::new(0),
            quickest_us: AtomicU64::new(u64::MAX),
            finished: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            limit: AtomicUsize::new(usize::MAX),
            target,
        });
        if let (Ok(runtime), false) = (tokio::runtime::Handle::try_current(), target.is_zero()) {
            runtime.spawn(tick(Arc::downgrade(&admission)));
        }
        admission
    }

    /// Whether a new request would be refused now (checked before its body
    /// is read, so that a refusal costs nothing more).
    pub(crate) fn full(&self) -> bool {
        let full = self.working.load(Ordering::Relaxed) >= self.limit.load(Ordering::Relaxed);
        if full {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        full
    }

    /// The node takes the request on, or refuses it (`None`) past the limit.
    pub(crate) fn enter(self: &Arc<Self>) -> Option<Working> {
        let limit = self.limit.load(Ordering::Relaxed);
        let entered = self.working.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < limit).then_some(n + 1));
        if entered.is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        entered.ok().map(|_| Working { admission: self.clone(), since: Instant::now() })
    }

    /// One interval's measure: the next state (kept by the tick) from what
    /// it saw.
    fn update(&self, state: &mut State, elapsed: Duration) {
        let finished = self.finished.swap(0, Ordering::Relaxed);
        let quickest = Duration::from_micros(self.quickest_us.swap(u64::MAX, Ordering::Relaxed));
        let working = self.working.load(Ordering::Relaxed);
        let seen = Seen { quickest, finished, refused: self.refused.swap(0, Ordering::Relaxed), elapsed };
        let next = state.next(seen, self.target);
        if next.limit.is_some() != state.limit.is_some() {
            let quickest_ms = if finished > 0 { quickest.as_millis() } else { 0 };
            let limit = next.limit.unwrap_or(0);
            let overloaded = next.limit.is_some();
            tracing::warn!(overloaded, limit, quickest_ms, working, finished, "load shedding by work in flight");
        }
        *state = next;
        self.limit.store(next.limit.unwrap_or(usize::MAX), Ordering::Relaxed);
    }
}

/// What one interval saw.
#[derive(Clone, Copy, Debug)]
struct Seen {
    /// The quickest request finished.
    quickest: Duration,
    finished: u64,
    refused: u64,
    elapsed: Duration,
}

/// What the tick keeps from one interval to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct State {
    /// The limit on work in flight while overloaded.
    limit: Option<usize>,
    /// Intervals in a row, while overloaded, with nothing refused and the
    /// quickest request under half the target.
    calm: u32,
    /// The best recent throughput, per second (fading).
    best_per_s: f64,
}

impl State {
    fn next(self, seen: Seen, target: Duration) -> State {
        // Too few finished (an idle node, a connection storm's first
        // moment, one slow request such as a log-in): nothing learnt about
        // queueing — but a limited node that refused nothing is calm.
        if seen.finished < FLOOR as u64 {
            return match self.limit {
                Some(_) if seen.refused == 0 => self.calmer(),
                _ => self,
            };
        }
        // The best throughput fades only while limited, to follow a node
        // that got slower; an idle spell does not make it forget.
        let per_s = seen.finished as f64 / seen.elapsed.as_secs_f64().max(1e-3);
        let kept = if self.limit.is_some() { self.best_per_s * FADE } else { self.best_per_s };
        let best_per_s = per_s.max(kept);
        let drains = ((best_per_s * target.as_secs_f64()) as usize).max(FLOOR);
        let (queued, roomy) = (seen.quickest > target, seen.quickest <= target / 2);
        let Some(limit) = self.limit else {
            return State { limit: queued.then_some(drains), calm: 0, best_per_s };
        };
        if roomy && seen.refused == 0 {
            let calmer = self.calmer();
            let limit = calmer.limit.map(|l| l + l / 4 + 1);
            return State { limit, best_per_s, ..calmer };
        }
        let limit = match () {
            () if queued => limit.min(drains),
            () if roomy => limit + limit / 4 + 1,
            () => limit,
        };
        State { limit: Some(limit), calm: 0, best_per_s }
    }

    /// One more calm interval: the overload ends after CALM in a row.
    fn calmer(self) -> State {
        let calm = self.calm + 1;
        State { limit: self.limit.filter(|_| calm < CALM), calm: calm % CALM, ..self }
    }
}

async fn tick(admission: std::sync::Weak<Admission>) {
    let mut every = tokio::time::interval(INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut last, mut state) = (Instant::now(), State::default());
    loop {
        every.tick().await;
        let Some(admission) = admission.upgrade() else { return };
        let now = Instant::now();
        admission.update(&mut state, now.duration_since(last));
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_standing_queue_turns_shedding_on_and_only_its_end_turns_it_off() {
        let t = 10 * MS;
        let seen = |quickest_ms: u32, finished: u64, refused: u64| Seen {
            quickest: quickest_ms * MS,
            finished,
            refused,
            elapsed: 100 * MS,
        };
        // 2,000 finished in 100 ms, the quickest in 3 ms: no queue.
        let s = State::default().next(seen(3, 2_000, 0), t);
        assert_eq!((s.limit, s.best_per_s), (None, 20_000.0));
        // Even the quickest took 40 ms: a limit of what 20,000/s drains in 10 ms.
        let s = s.next(seen(40, 2_000, 0), t);
        assert_eq!(s.limit, Some(200));
        // Shedding, with room under the limit: it grows by a quarter.
        let s = s.next(seen(2, 1_500, 900), t);
        assert_eq!((s.limit, s.calm), (Some(251), 0));
        // Between half the target and the target: it holds.
        let s = s.next(seen(7, 1_500, 900), t);
        assert_eq!(s.limit, Some(251));
        // Queueing again: back to what the best throughput (fading) drains.
        let s = s.next(seen(12, 1_500, 900), t);
        assert_eq!(s.limit, Some(188));
        // Nothing refused and quick for CALM intervals in a row: the end.
        let mut s = s;
        for _ in 1..CALM {
            s = s.next(seen(2, 1_000, 0), t);
            assert!(s.limit.is_some());
        }
        let interrupted = s.next(seen(2, 1_000, 1), t);
        assert_eq!(interrupted.calm, 0, "one refusal: demand still past the limit");
        assert_eq!(s.next(seen(2, 1_000, 0), t).limit, None);
        // An interval in which too few finished says nothing about queues…
        assert_eq!(State::default().next(seen(90, 15, 0), t).limit, None);
        let limited = State { limit: Some(50), calm: 2, best_per_s: 0.0 };
        assert_eq!(limited.next(seen(0, 0, 3), t), limited);
        // …but with nothing refused it is calm: a node whose traffic fell
        // away is not left limited.
        let mut s = limited;
        for _ in 2..CALM {
            s = s.next(seen(0, 3, 0), t);
        }
        assert_eq!(s.limit, None);
        // A slow node's first limit is the floor.
        assert_eq!(State::default().next(seen(100, 16, 0), t).limit, Some(FLOOR));
    }

    #[tokio::test]
    async fn past_the_limit_requests_are_refused_and_a_finished_one_frees_its_place() {
        let a = Admission::start(Duration::ZERO);
        a.limit.store(2, Ordering::Relaxed);
        let (w1, _w2) = (a.enter().unwrap(), a.enter().unwrap());
        assert!(a.full());
        assert!(a.enter().is_none());
        drop(w1);
        assert!(!a.full());
        assert!(a.enter().is_some());
        assert_eq!(a.finished.load(Ordering::Relaxed), 2);
        assert!(a.quickest_us.load(Ordering::Relaxed) < 1_000_000);
    }
}
