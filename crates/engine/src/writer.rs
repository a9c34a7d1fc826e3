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
}

/// A command's result, held until the batch commits.
enum Done {
    Place(
        oneshot::Sender<Result<Placed, StoreError>>,
        Result<Placed, StoreError>,
    ),
    Mark(
        oneshot::Sender<Result<(OrderRow, bool), StoreError>>,
        Result<(OrderRow, bool), StoreError>,
    ),
    Resolve(
        oneshot::Sender<Result<OrderRow, StoreError>>,
        Result<OrderRow, StoreError>,
    ),
    Deposit(
        oneshot::Sender<Result<i64, StoreError>>,
        Result<i64, StoreError>,
    ),
}

impl Done {
    fn fail(self, e: &StoreError) -> Done {
        match self {
            Done::Place(tx, _) => Done::Place(tx, Err(e.clone())),
            Done::Mark(tx, _) => Done::Mark(tx, Err(e.clone())),
            Done::Resolve(tx, _) => Done::Resolve(tx, Err(e.clone())),
            Done::Deposit(tx, _) => Done::Deposit(tx, Err(e.clone())),
        }
    }

    fn final_order(&self) -> Option<&OrderRow> {
        let order = match self {
            Done::Place(_, Ok(Placed::New { order, .. })) => order,
            Done::Resolve(_, Ok(order)) => order,
            _ => return None,
        };
        (order.status >= 20).then_some(order)
    }

    fn send(self) {
        // A caller that stopped waiting is not an error: the change is committed.
        match self {
            Done::Place(tx, r) => drop(tx.send(r)),
            Done::Mark(tx, r) => drop(tx.send(r)),
            Done::Resolve(tx, r) => drop(tx.send(r)),
            Done::Deposit(tx, r) => drop(tx.send(r)),
        }
    }
}

/// Applies one command inside the open transaction.
fn apply(w: &mut dyn Writer, ledger: &mut BatchLedger, cmd: Command) -> Done {
    match cmd {
        Command::Place { order, reply } => {
            let result = orders::apply_place(w, ledger, &order);
            Done::Place(reply, result)
        }
        Command::MarkProcessing {
            order_id,
            provider,
            now_ms,
            query_after_ms,
            reply,
            ..
        } => {
            let result =
                orders::apply_mark_processing(w, order_id, provider, now_ms, query_after_ms);
            Done::Mark(reply, result)
        }
        Command::Resolve {
            order_id,
            wallet_id,
            environment,
            outcome,
            now_ms,
            reply,
        } => {
            let result = orders::apply_outcome_by_id(
                w,
                ledger,
                order_id,
                wallet_id,
                environment,
                &outcome,
                now_ms,
            );
            Done::Resolve(reply, result)
        }
        Command::Deposit {
            wallet_id,
            environment,
            amount_minor,
            remarks,
            now_ms,
            reply,
        } => {
            let funding = ledger.system(environment).funding;
            let result = ledger
                .transfer(
                    w,
                    &NewTransfer {
                        kind: TransferKind::Deposit,
                        debit_account: funding,
                        credit_account: wallet_id,
                        amount_minor,
                        order_id: None,
                        pending_id: None,
                        remarks,
                        created_at_ms: now_ms,
                    },
                )
                .map(|_| ledger.balance(wallet_id))
                .map_err(|e| e.into_store("deposit"));
            Done::Deposit(reply, result)
        }
        Command::Stop => unreachable!("Stop never enters a batch"),
    }
}

fn is_ok(done: &Done) -> bool {
    match done {
        Done::Place(_, r) => r.is_ok(),
        Done::Mark(_, r) => r.is_ok(),
        Done::Resolve(_, r) => r.is_ok(),
        Done::Deposit(_, r) => r.is_ok(),
    }
}

/// Runs one batch as one transaction and answers every command.
pub(crate) fn run_batch(
    w: &mut dyn Writer,
    systems: &HashMap<Environment, SystemAccounts>,
    batch: Vec<Command>,
    waiters: Option<&Waiters>,
) {
    let wallets: Vec<i64> = batch.iter().map(Command::wallet).collect();
    let mut done: Vec<Done> = Vec::with_capacity(batch.len());
    let result = (|| -> Result<(), StoreError> {
        w.begin()?;
        let mut ledger = BatchLedger::open(w, systems, wallets)?;
        for cmd in batch {
            w.savepoint()?;
            let d = apply(w, &mut ledger, cmd);
            if is_ok(&d) {
                w.release_savepoint()?;
                ledger.keep_command();
            } else {
                w.rollback_to_savepoint()?;
                ledger.drop_command();
            }
            done.push(d);
        }
        ledger.flush(w)?;
        w.commit()
    })();
    match result {
        Ok(()) => {
            if let Some(waiters) = waiters {
                for d in &done {
                    if let Some(order) = d.final_order() {
                        waiters.wake(order);
                    }
                }
            }
            done.into_iter().for_each(Done::send);
        }
        Err(e) => {
            tracing::error!(error = %e, commands = done.len(), "writer batch failed; rolled back");
            let _ = w.rollback();
            done.into_iter().for_each(|d| d.fail(&e).send());
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
    (
        WriterHandle { tx },
        WriterThread {
            handle: Some(handle),
        },
    )
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
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| WriteError::Stopped)?;
        rx.await
            .map_err(|_| WriteError::Stopped)?
            .map_err(WriteError::Store)
    }

    pub(crate) async fn place(&self, order: NewOrder) -> Result<Placed, WriteError> {
        self.call(|reply| Command::Place {
            order: Box::new(order),
            reply,
        })
        .await
    }

    pub(crate) async fn mark_processing(
        &self,
        order_id: i64,
        wallet_id: i64,
        provider: &'static str,
        now_ms: i64,
        query_after_ms: i64,
    ) -> Result<(OrderRow, bool), WriteError> {
        self.call(|reply| Command::MarkProcessing {
            order_id,
            wallet_id,
            provider,
            now_ms,
            query_after_ms,
            reply,
        })
        .await
    }

    pub(crate) async fn resolve(
        &self,
        order_id: i64,
        wallet_id: i64,
        environment: Environment,
        outcome: Outcome,
        now_ms: i64,
    ) -> Result<OrderRow, WriteError> {
        self.call(|reply| Command::Resolve {
            order_id,
            wallet_id,
            environment,
            outcome,
            now_ms,
            reply,
        })
        .await
    }

    pub(crate) async fn deposit(
        &self,
        wallet_id: i64,
        environment: Environment,
        amount_minor: i64,
        remarks: String,
        now_ms: i64,
    ) -> Result<i64, WriteError> {
        self.call(|reply| Command::Deposit {
            wallet_id,
            environment,
            amount_minor,
            remarks,
            now_ms,
            reply,
        })
        .await
    }
}
