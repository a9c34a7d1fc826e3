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
use std::sync::Arc;
use std::thread::JoinHandle;

use tambah_domain::Environment;
use tambah_store::{StoreError, SystemAccounts, Writer};
use tokio::sync::mpsc;

use crate::ledger::BatchLedger;
use crate::waiters::Waiters;
use command::{Apply, Batch, Call, Command};
pub(crate) use deposit::Deposit;
pub(crate) use mark_processing::MarkProcessing;
pub(crate) use place::{same_request, Place, Placed, Verdict};
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
) -> Result<(), Abort> {
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
            return Ok(());
        } else {
            w.rollback()?;
            return Err(Abort::Retry);
        }
    }
    let now_ms = batch.iter().map(Command::now_ms).max().unwrap_or(0);
    ledger.flush(w, now_ms)?;
    w.commit()?;
    Ok(())
}

/// Runs one batch as one transaction and answers every command after the
/// commit (or with the error that prevented it).
pub(crate) fn run_batch(
    w: &mut dyn Writer,
    systems: &HashMap<Environment, SystemAccounts>,
    mut batch: Vec<Command>,
    waiters: Option<&Waiters>,
) {
    let result = match attempt(w, systems, &mut batch, false) {
        Err(Abort::Retry) => attempt(w, systems, &mut batch, true),
        other => other,
    };
    match result {
        Ok(()) => {
            if let Some(waiters) = waiters {
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
    tx: mpsc::Sender<Command>,
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
    queue_max: usize,
    batch_max: usize,
) -> (WriterHandle, WriterThread) {
    assert!(queue_max > 0 && batch_max > 0);
    let (tx, mut rx) = mpsc::channel::<Command>(queue_max);
    let handle = std::thread::Builder::new()
        .name("tambah-writer".into())
        .spawn(move || {
            // A panic here means a broken invariant in the money path: stop the
            // process (a supervisor restarts it) rather than serve without a writer.
            let guard = AbortOnPanic;
            let mut stopping = false;
            while let Some(first) = rx.blocking_recv() {
                let mut batch = Vec::with_capacity(batch_max.min(64));
                let mut next = Some(first);
                while let Some(cmd) = next.take() {
                    if matches!(cmd, Command::Stop) {
                        stopping = true;
                        break;
                    }
                    batch.push(cmd);
                    if batch.len() < batch_max {
                        next = rx.try_recv().ok();
                    }
                }
                if !batch.is_empty() {
                    run_batch(w.as_mut(), &systems, batch, Some(&waiters));
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
    (WriterHandle { tx }, WriterThread { handle: Some(handle) })
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
    /// Asks the writer to finish what is queued and stop.
    pub(crate) async fn stop(&self) {
        let _ = self.tx.send(Command::Stop).await;
    }

    /// Queues a command and waits for its answer, given after the commit.
    pub(crate) async fn run<C: Apply>(&self, command: C) -> Result<C::Output, WriteError> {
        let (call, rx) = Call::new(command);
        self.tx.send(C::into_command(call)).await.map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?.map_err(WriteError::Store)
    }
}

#[cfg(test)]
mod tests {
    use tambah_domain::{AccountId, Amount};
    use tambah_store::{LedgerStore, MerchantStore, NewMerchant, Store};
    use tambah_store_sqlite::SqliteStore;
    use tokio::sync::oneshot;

    use super::*;
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
        drop(w);
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}
