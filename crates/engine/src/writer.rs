//! The group-commit writer: one thread per node owns the write connection,
//! drains a bounded queue, applies many commands in one transaction (each
//! command inside its own savepoint, so a failing command does not sink its
//! batch) and answers every caller only after the commit is durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use tambah_domain::Environment;
use tambah_store::{NewTransfer, OrderRow, StoreError, SystemAccounts, TransferKind, Writer};
use tokio::sync::{mpsc, oneshot};

use crate::ledger::BatchLedger;
use crate::orders::{self, NewOrder, Placed};
use crate::providers::Outcome;
use crate::waiters::Waiters;

/// One state change. Every command names the wallet and environment it
/// touches, so the batch can lock all its accounts up front in a fixed order.
pub(crate) enum Command {
    Place {
        order: Box<NewOrder>,
        reply: oneshot::Sender<Result<Placed, StoreError>>,
    },
    MarkProcessing {
        order_id: i64,
        wallet_id: i64,
        provider: &'static str,
        now_ms: i64,
        query_after_ms: i64,
        reply: oneshot::Sender<Result<(OrderRow, bool), StoreError>>,
    },
    Resolve {
        order_id: i64,
        wallet_id: i64,
        environment: Environment,
        outcome: Outcome,
        now_ms: i64,
        /// The merchant takes callbacks.
        notify: bool,
        reply: oneshot::Sender<Result<OrderRow, StoreError>>,
    },
    Deposit {
        wallet_id: i64,
        environment: Environment,
        amount_minor: i64,
        remarks: String,
        now_ms: i64,
        reply: oneshot::Sender<Result<i64, StoreError>>,
    },
    /// Finish the commands queued before this one, then stop.
    Stop,
}

impl Command {
    fn wallet(&self) -> i64 {
        match self {
            Command::Place { order, .. } => order.wallet_id,
            Command::MarkProcessing { wallet_id, .. }
            | Command::Resolve { wallet_id, .. }
            | Command::Deposit { wallet_id, .. } => *wallet_id,
            Command::Stop => unreachable!("Stop never enters a batch"),
        }
    }

    fn now_ms(&self) -> i64 {
        match self {
            Command::Place { order, .. } => order.now_ms,
            Command::MarkProcessing { now_ms, .. }
            | Command::Resolve { now_ms, .. }
            | Command::Deposit { now_ms, .. } => *now_ms,
            Command::Stop => unreachable!("Stop never enters a batch"),
        }
    }
}

/// A command's result, held until the batch commits.
enum Done {
    Place(Result<Placed, StoreError>),
    Mark(Result<(OrderRow, bool), StoreError>),
    Resolve(Result<OrderRow, StoreError>),
    Deposit(Result<i64, StoreError>),
}

impl Done {
    fn is_ok(&self) -> bool {
        match self {
            Done::Place(r) => r.is_ok(),
            Done::Mark(r) => r.is_ok(),
            Done::Resolve(r) => r.is_ok(),
            Done::Deposit(r) => r.is_ok(),
        }
    }

    fn final_order(&self) -> Option<&OrderRow> {
        let order = match self {
            Done::Place(Ok(Placed::New { order, .. })) => order,
            Done::Resolve(Ok(order)) => order,
            _ => return None,
        };
        (order.status >= 20).then_some(order)
    }
}

/// Answers a command. A caller that stopped waiting is not an error: the
/// change is committed either way.
fn answer(cmd: Command, outcome: Result<Done, StoreError>) {
    match (cmd, outcome) {
        (Command::Place { reply, .. }, Ok(Done::Place(r))) => drop(reply.send(r)),
        (Command::MarkProcessing { reply, .. }, Ok(Done::Mark(r))) => drop(reply.send(r)),
        (Command::Resolve { reply, .. }, Ok(Done::Resolve(r))) => drop(reply.send(r)),
        (Command::Deposit { reply, .. }, Ok(Done::Deposit(r))) => drop(reply.send(r)),
        (Command::Place { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::MarkProcessing { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Resolve { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Deposit { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Stop, _) => {}
        (_, Ok(_)) => unreachable!("every command gets the outcome of its own kind"),
    }
}

/// Applies one command inside the open transaction.
fn apply(w: &mut dyn Writer, ledger: &mut BatchLedger, cmd: &Command) -> Done {
    match cmd {
        Command::Place { order, .. } => Done::Place(orders::apply_place(w, ledger, order)),
        Command::MarkProcessing { order_id, provider, now_ms, query_after_ms, .. } => {
            Done::Mark(orders::apply_mark_processing(w, *order_id, provider, *now_ms, *query_after_ms))
        }
        Command::Resolve { order_id, wallet_id, environment, outcome, now_ms, notify, .. } => Done::Resolve(
            orders::apply_outcome_by_id(w, ledger, *order_id, *wallet_id, *environment, outcome, *now_ms, *notify),
        ),
        Command::Deposit { wallet_id, environment, amount_minor, remarks, now_ms, .. } => {
            let funding = ledger.system(*environment).funding;
            let result = ledger
                .transfer(
                    w,
                    &NewTransfer {
                        kind: TransferKind::Deposit,
                        debit_account: funding,
                        credit_account: *wallet_id,
                        amount_minor: *amount_minor,
                        order_id: None,
                        pending_id: None,
                        remarks: remarks.clone(),
                        created_at_ms: *now_ms,
                        wallet_balance_after_minor: None,
                    },
                )
                .map(|_| ledger.balance(*wallet_id))
                .map_err(|e| e.into_store("deposit"));
            Done::Deposit(result)
        }
        Command::Stop => unreachable!("Stop never enters a batch"),
    }
}

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
    batch: &[Command],
    careful: bool,
) -> Result<Vec<Done>, Abort> {
    w.begin()?;
    let mut ledger = BatchLedger::open(w, systems, batch.iter().map(Command::wallet))?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for cmd in batch {
        if careful {
            w.savepoint()?;
        }
        let outcome = apply(w, &mut ledger, cmd);
        if outcome.is_ok() {
            if careful {
                w.release_savepoint()?;
            }
            ledger.keep_command();
        } else if careful {
            w.rollback_to_savepoint()?;
            ledger.drop_command();
        } else if batch.len() == 1 {
            // Nothing else to keep: the rollback is the whole answer.
            w.rollback()?;
            return Ok(vec![outcome]);
        } else {
            w.rollback()?;
            return Err(Abort::Retry);
        }
        outcomes.push(outcome);
    }
    let now_ms = batch.iter().map(Command::now_ms).max().unwrap_or(0);
    ledger.flush(w, now_ms)?;
    w.commit()?;
    Ok(outcomes)
}

/// Runs one batch as one transaction and answers every command after the
/// commit (or with the error that prevented it).
pub(crate) fn run_batch(
    w: &mut dyn Writer,
    systems: &HashMap<Environment, SystemAccounts>,
    batch: Vec<Command>,
    waiters: Option<&Waiters>,
) {
    let result = match attempt(w, systems, &batch, false) {
        Err(Abort::Retry) => attempt(w, systems, &batch, true),
        other => other,
    };
    match result {
        Ok(outcomes) => {
            if let Some(waiters) = waiters {
                for order in outcomes.iter().filter_map(Done::final_order) {
                    waiters.wake(order);
                }
            }
            for (cmd, outcome) in batch.into_iter().zip(outcomes) {
                answer(cmd, Ok(outcome));
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
                answer(cmd, Err(e.clone()));
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
#[derive(Debug)]
pub enum WriteError {
    /// The writer has stopped (the node is shutting down).
    Stopped,
    Store(StoreError),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Stopped => f.write_str("writer stopped"),
            WriteError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl WriterHandle {
    /// Asks the writer to finish what is queued and stop.
    pub(crate) async fn stop(&self) {
        let _ = self.tx.send(Command::Stop).await;
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| WriteError::Stopped)?;
        rx.await.map_err(|_| WriteError::Stopped)?.map_err(WriteError::Store)
    }

    pub(crate) async fn place(&self, order: NewOrder) -> Result<Placed, WriteError> {
        self.call(|reply| Command::Place { order: Box::new(order), reply }).await
    }

    pub(crate) async fn mark_processing(
        &self,
        order_id: i64,
        wallet_id: i64,
        provider: &'static str,
        now_ms: i64,
        query_after_ms: i64,
    ) -> Result<(OrderRow, bool), WriteError> {
        self.call(|reply| Command::MarkProcessing { order_id, wallet_id, provider, now_ms, query_after_ms, reply })
            .await
    }

    pub(crate) async fn resolve(
        &self,
        order_id: i64,
        wallet_id: i64,
        environment: Environment,
        outcome: Outcome,
        now_ms: i64,
        notify: bool,
    ) -> Result<OrderRow, WriteError> {
        self.call(|reply| Command::Resolve { order_id, wallet_id, environment, outcome, now_ms, notify, reply }).await
    }

    pub(crate) async fn deposit(
        &self,
        wallet_id: i64,
        environment: Environment,
        amount_minor: i64,
        remarks: String,
        now_ms: i64,
    ) -> Result<i64, WriteError> {
        self.call(|reply| Command::Deposit { wallet_id, environment, amount_minor, remarks, now_ms, reply }).await
    }
}

#[cfg(test)]
mod tests {
    use tambah_store::contract::block;
    use tambah_store::{NewMerchant, Store};
    use tambah_store_sqlite::SqliteStore;

    use super::*;

    fn deposit(wallet_id: i64, amount_minor: i64) -> (Command, oneshot::Receiver<Result<i64, StoreError>>) {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Deposit {
            wallet_id,
            environment: Environment::Staging,
            amount_minor,
            remarks: String::new(),
            now_ms: 1,
            reply,
        };
        (cmd, rx)
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
        assert_eq!(rx_a.blocking_recv().unwrap().unwrap(), 100);
        assert_eq!(rx_b.blocking_recv().unwrap().unwrap(), 150);

        // A command that fails between two good ones: the batch is re-run with
        // savepoints; the failure is answered and the others are committed.
        let (a, rx_a) = deposit(m.wallet_id, 7);
        let (reply, rx_bad) = oneshot::channel();
        let bad = Command::Resolve {
            order_id: 424_242,
            wallet_id: m.wallet_id,
            environment: Environment::Staging,
            outcome: Outcome::Unavailable { reason: "test".into() },
            now_ms: 1,
            notify: false,
            reply,
        };
        let (c, rx_c) = deposit(m.wallet_id, 3);
        run_batch(w.as_mut(), &systems, vec![a, bad, c], None);
        assert_eq!(rx_a.blocking_recv().unwrap().unwrap(), 157);
        assert!(rx_bad.blocking_recv().unwrap().is_err());
        assert_eq!(rx_c.blocking_recv().unwrap().unwrap(), 160);
        assert_eq!(block(store.balance(m.wallet_id)).unwrap(), 160);
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
