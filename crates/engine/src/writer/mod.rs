//! The group-commit writer: one thread per node owns the write connection,
//! drains a bounded queue, applies many commands in one transaction (a failing
//! command does not sink its batch) and answers every caller only after the
//! commit is durable. Each command is a type in its own file (`place`,
//! `mark_processing`, `resolve`, `reroute`, `deposit`, `redeliver`);
//! `command` only dispatches.

mod command;
mod deposit;
mod mark_processing;
mod place;
mod redeliver;
mod reroute;
mod resolve;
mod transitions;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tambah_domain::{AccountId, Amount, Environment};
use tambah_store::{StoreError, SystemAccounts, Writer};
use tokio::sync::mpsc;

use crate::cache::Caches;
use crate::ledger::BatchLedger;
use crate::waiters::Waiters;
use command::{Apply, Batch, Call, Command};
pub(crate) use deposit::Deposit;
pub(crate) use mark_processing::MarkProcessing;
pub use place::Difference;
pub(crate) use place::{differences, same_request, Place, Placed, Verdict};
pub(crate) use redeliver::{Redeliver, Redelivered};
pub(crate) use reroute::Reroute;
pub(crate) use resolve::Resolve;

/// Why an attempt at a batch ended without a commit.
enum Abort {
    /// A command failed on the fast path: run the batch again with savepoints.
    Retry,
    /// The transaction itself failed: every command gets this error.
    Failed(StoreError),
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Abort::Failed(e)
    }
}

/// One attempt at a batch in one transaction. The fast path runs without
/// savepoints (one round trip less per command on a network database); the
/// careful path puts each command in a savepoint so that a failing command
/// leaves no trace and does not sink the others.
fn attempt(
    w: &mut dyn Writer,
    systems: &HashMap<Environment, SystemAccounts>,
    batch: &mut [Command],
    careful: bool,
) -> Result<Vec<(AccountId, Amount)>, Abort> {
    w.begin()?;
    let mut ledger = BatchLedger::open(w, systems, batch.iter().map(Command::wallet))?;
    let single = batch.len() == 1;
    for cmd in batch.iter_mut() {
        if careful {
            w.savepoint()?;
        }
        if cmd.run(&mut Batch { w: &mut *w, ledger: &mut ledger }) {
            if careful {
                w.release_savepoint()?;
            }
            ledger.keep_command();
        } else if careful {
            w.rollback_to_savepoint()?;
            ledger.drop_command();
        } else if single {
            // Nothing else to keep: the rollback is the whole answer.
            w.rollback()?;
            return Ok(Vec::new());
        } else {
            w.rollback()?;
            return Err(Abort::Retry);
        }
    }
    let now_ms = batch.iter().map(Command::now_ms).max().unwrap_or(0);
    let balances = ledger.flush(w, now_ms)?;
    w.commit()?;
    Ok(balances)
}

/// What the writer tells once a batch is committed: the callers waiting
/// for an order's final status, and the caches (the balances written).
#[derive(Clone, Copy)]
pub(crate) struct Listeners<'a> {
    pub waiters: &'a Waiters,
    pub caches: &'a Caches,
}

/// Runs one batch as one transaction and answers every command after the
/// commit (or with the error that prevented it).
pub(crate) fn run_batch(
    w: &mut dyn Writer,
    systems: &HashMap<Environment, SystemAccounts>,
    mut batch: Vec<Command>,
    listeners: Option<Listeners<'_>>,
) {
    let result = match attempt(w, systems, &mut batch, false) {
        Err(Abort::Retry) => attempt(w, systems, &mut batch, true),
        other => other,
    };
    match result {
        Ok(balances) => {
            if let Some(Listeners { waiters, caches }) = listeners {
                caches.committed(&balances);
                for order in batch.iter().filter_map(Command::final_order) {
                    waiters.wake(order);
                }
            }
            for cmd in batch {
                cmd.answer();
            }
        }
        Err(abort) => {
            let e = match abort {
                Abort::Failed(e) => e,
                Abort::Retry => StoreError::Other("a command failed on the careful path".into()),
            };
            tracing::error!(error = %e, commands = batch.len(), "writer batch failed; rolled back");
            let _ = w.rollback();
            for cmd in batch {
                cmd.fail(e.clone());
            }
        }
    }
}

struct AbortOnPanic;

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        // Only reached by unwinding: the normal exit forgets the guard.
        eprintln!("tambah: the writer thread panicked; aborting");
        std::process::abort();
    }
}

/// The handle through which the engine queues commands.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<(Instant, Command)>,
    queue: Arc<QueueDelay>,
}

/// How long commands wait in the writer's queue, as CoDel sees it: the
/// smallest wait of any batch within each interval. A burst makes one
/// batch wait and leaves the minimum low; only a standing queue (every
/// batch of an interval waited) raises it. New orders are refused while it
/// stands above the target, so a node past its capacity answers the excess
/// 503 at once instead of making every caller wait.
pub(crate) struct QueueDelay {
    /// The last interval's minimum wait, in microseconds.
    standing_us: AtomicU64,
    /// When it was published, in microseconds since `epoch`.
    published_us: AtomicU64,
    epoch: Instant,
}

/// CoDel's interval: a queue that stands this long is not a burst.
const INTERVAL: Duration = Duration::from_millis(100);

impl QueueDelay {
    fn new() -> QueueDelay {
        QueueDelay { standing_us: AtomicU64::new(0), published_us: AtomicU64::new(0), epoch: Instant::now() }
    }

    fn since_epoch_us(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// The standing queue delay now (none when the writer has been idle for
    /// two intervals: nothing waits).
    pub(crate) fn standing(&self) -> Duration {
        let now = self.since_epoch_us(Instant::now());
        let published = self.published_us.load(Ordering::Relaxed);
        if now.saturating_sub(published) > 2 * INTERVAL.as_micros() as u64 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.standing_us.load(Ordering::Relaxed))
    }
}

/// The writer thread's side of [`QueueDelay`]: the minimum of the current
/// interval.
struct Sojourn {
    start: Instant,
    min: Duration,
}

impl Sojourn {
    fn record(&mut self, shared: &QueueDelay, waited: Duration, now: Instant) {
        self.min = self.min.min(waited);
        if now.duration_since(self.start) >= INTERVAL {
            shared.standing_us.store(u64::try_from(self.min.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
            shared.published_us.store(shared.since_epoch_us(now), Ordering::Relaxed);
            *self = Sojourn { start: now, min: Duration::MAX };
        }
    }
}

pub(crate) struct WriterThread {
    handle: Option<JoinHandle<()>>,
}

impl WriterThread {
    /// Waits for the writer to drain its queue and stop (every handle dropped).
    pub(crate) fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub(crate) fn spawn(
    mut w: Box<dyn Writer>,
    systems: HashMap<Environment, SystemAccounts>,
    waiters: Arc<Waiters>,
    caches: Arc<Caches>,
    queue_max: usize,
    batch_max: usize,
) -> (WriterHandle, WriterThread) {
    assert!(queue_max > 0 && batch_max > 0);
    let (tx, mut rx) = mpsc::channel::<(Instant, Command)>(queue_max);
    let queue = Arc::new(QueueDelay::new());
    let shared = queue.clone();
    let handle = std::thread::Builder::new()
        .name("tambah-writer".into())
        .spawn(move || {
            // A panic here means a broken invariant in the money path: stop the
            // process (a supervisor restarts it) rather than serve without a writer.
            let guard = AbortOnPanic;
            let mut stopping = false;
            let mut sojourn = Sojourn { start: Instant::now(), min: Duration::MAX };
            while let Some((queued_at, first)) = rx.blocking_recv() {
                // The first of a batch waited longest (the queue is FIFO).
                let now = Instant::now();
                sojourn.record(&shared, now.duration_since(queued_at), now);
                let mut batch = Vec::with_capacity(batch_max.min(64));
                let mut next = Some(first);
                while let Some(cmd) = next.take() {
                    if matches!(cmd, Command::Stop) {
                        stopping = true;
                        break;
                    }
                    batch.push(cmd);
                    if batch.len() < batch_max {
                        next = rx.try_recv().ok().map(|(_, cmd)| cmd);
                    }
                }
                if !batch.is_empty() {
                    let listeners = Listeners { waiters: &waiters, caches: &caches };
                    run_batch(w.as_mut(), &systems, batch, Some(listeners));
                }
                if stopping {
                    break;
                }
            }
            // Commands queued after Stop are dropped: their callers see
            // `WriteError::Stopped` and nothing of theirs was written.
            tracing::debug!("writer stopped");
            std::mem::forget(guard);
        })
        .expect("spawning the writer thread");
    (WriterHandle { tx, queue }, WriterThread { handle: Some(handle) })
}

/// Why a command could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The writer has stopped (the node is shutting down).
    #[error("writer stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WriterHandle {
    /// How long commands have been standing in the queue (see [`QueueDelay`]).
    pub(crate) fn standing_delay(&self) -> Duration {
        self.queue.standing()
    }

    /// Asks the writer to finish what is queued and stop.
    pub(crate) async fn stop(&self) {
        let _ = self.tx.send((Instant::now(), Command::Stop)).await;
    }

    /// Queues a command and waits for its answer, given after the commit.
    pub(crate) async fn run<C: Apply>(&self, command: C) -> Result<C::Output, WriteError> {
        let (call, rx) = Call::new(command);
        self.tx.send((Instant::now(), C::into_command(call))).await.map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?.map_err(WriteError::Store)
    }
}

#[cfg(test)]
mod tests {
    use tambah_store::{LedgerStore, MerchantStore, NewMerchant, ReportStore, Store};
    use tambah_store_sqlite::SqliteStore;
    use tokio::sync::oneshot;

    use super::*;

    /// Only a queue that stands a whole interval counts: one batch that
    /// waited (a burst) leaves the standing delay at the interval's minimum.
    #[test]
    fn the_standing_delay_is_each_intervals_minimum() {
        let shared = QueueDelay::new();
        let t0 = Instant::now();
        let mut s = Sojourn { start: t0, min: Duration::MAX };
        s.record(&shared, Duration::from_millis(50), t0 + Duration::from_millis(10));
        s.record(&shared, Duration::from_millis(1), t0 + Duration::from_millis(50));
        s.record(&shared, Duration::from_millis(40), t0 + Duration::from_millis(100));
        assert_eq!(shared.standing(), Duration::from_millis(1), "a burst");
        for at in [120, 150, 199, 201] {
            s.record(&shared, Duration::from_millis(30), t0 + Duration::from_millis(at));
        }
        assert_eq!(shared.standing(), Duration::from_millis(30), "a standing queue");
    }
    use crate::providers::Outcome;

    /// SQLite's futures are ready at once.
    fn block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("a runtime").block_on(future)
    }

    type Reply<T> = oneshot::Receiver<Result<T, StoreError>>;

    fn deposit(wallet_id: AccountId, minor: i64) -> (Command, Reply<Amount>) {
        let (call, rx) = Call::new(Deposit {
            wallet_id,
            environment: Environment::Staging,
            amount: Amount::from_minor(minor),
            remarks: String::new(),
            now_ms: 1,
        });
        (Command::Deposit(call), rx)
    }

    #[test]
    fn a_failing_command_does_not_sink_its_batch() {
        let path = std::env::temp_dir().join(format!("tambah-writer-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = SqliteStore::open(&path).unwrap();
        let m = block(store.create_merchant(&NewMerchant {
            name: "W".into(),
            environment: Environment::Staging,
            level: "1".into(),
            api_version: "2023-10-01".into(),
            username: "writer-test".into(),
            password_hash: "x".into(),
            created_at_ms: 0,
        }))
        .unwrap();
        let mut systems = HashMap::new();
        systems.insert(Environment::Staging, block(store.system_accounts(Environment::Staging)).unwrap());
        systems.insert(Environment::Live, block(store.system_accounts(Environment::Live)).unwrap());
        let mut w = store.writer().unwrap();

        // The fast path: every command fine, one transaction.
        let (a, rx_a) = deposit(m.wallet_id, 100);
        let (b, rx_b) = deposit(m.wallet_id, 50);
        run_batch(w.as_mut(), &systems, vec![a, b], None);
        assert_eq!(rx_a.blocking_recv().unwrap().unwrap(), Amount::from_minor(100));
        assert_eq!(rx_b.blocking_recv().unwrap().unwrap(), Amount::from_minor(150));

        // A command that fails between two good ones: the batch is re-run with
        // savepoints; the failure is answered and the others are committed.
        let (a, rx_a) = deposit(m.wallet_id, 7);
        let (bad, rx_bad) = Call::new(Resolve {
            order_id: tambah_domain::OrderId::new(424_242),
            wallet_id: m.wallet_id,
            environment: Environment::Staging,
            outcome: Outcome::Unavailable { reason: "test".into() },
            now_ms: 1,
            notify: false,
            answer: None,
        });
        let bad = Command::Resolve(bad);
        let (c, rx_c) = deposit(m.wallet_id, 3);
        run_batch(w.as_mut(), &systems, vec![a, bad, c], None);
        assert_eq!(rx_a.blocking_recv().unwrap().unwrap(), Amount::from_minor(157));
        assert!(rx_bad.blocking_recv().unwrap().is_err());
        assert_eq!(rx_c.blocking_recv().unwrap().unwrap(), Amount::from_minor(160));
        assert_eq!(block(store.balance(m.wallet_id)).unwrap(), Amount::from_minor(160));
        for check in block(store.verify()).unwrap() {
            assert!(check.violations.is_empty(), "{}: {:?}", check.name, check.violations);
        }

        // A command from a clock behind the wallet's last entry is dated at
        // that entry, so the wallet's entries stay in order by time and by number.
        for now_ms in [10_000, 5_000] {
            let (call, rx) = Call::new(Deposit {
                wallet_id: m.wallet_id,
                environment: Environment::Staging,
                amount: Amount::from_minor(1),
                remarks: String::new(),
                now_ms,
            });
            run_batch(w.as_mut(), &systems, vec![Command::Deposit(call)], None);
            rx.blocking_recv().unwrap().unwrap();
        }
        let query = tambah_store::StatementQuery { wallet_id: m.wallet_id, limit: 100, ..Default::default() };
        let (entries, _) = block(store.statement(&query)).unwrap();
        let last: Vec<(i64, u64)> =
            entries.iter().rev().take(2).map(|e| (e.at_ms, e.chain.expect("chained").seq)).collect();
        assert_eq!(last, [(10_000, 6), (10_000, 5)], "the later command is dated at the wallet's last entry");
        for check in block(store.verify()).unwrap() {
            assert!(check.violations.is_empty(), "{}: {:?}", check.name, check.violations);
        }
        drop(w);
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}
