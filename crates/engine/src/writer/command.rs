//! The writer's commands: an enum that only dispatches, and the two pieces
//! every command shares — the batch it runs in ([`Batch`]) and the call that
//! carries its answer back ([`Call`]). Each command is a struct in its own
//! file with its `apply` beside it; adding one is one new file, one variant
//! and one arm of [`dispatch!`].

use tambah_domain::{AccountId, OrderId};
use tambah_store::{OrderRow, StoreError, Writer};
use tokio::sync::oneshot;

use super::{Deposit, MarkProcessing, Place, Redeliver, Reroute, Resolve};
use crate::ledger::BatchLedger;

/// What a command sees while it runs: the open transaction and the batch's
/// balances.
pub(crate) struct Batch<'a> {
    pub w: &'a mut dyn Writer,
    pub ledger: &'a mut BatchLedger,
}

impl Batch<'_> {
    /// The order a command acts on, which must exist.
    pub fn order(&mut self, id: OrderId) -> Result<OrderRow, StoreError> {
        self.w.get_order(id)?.ok_or_else(|| StoreError::Other(format!("order {id} not found")))
    }
}

/// One state change applied inside a batch transaction. Every command names
/// the wallet it touches, so the batch can lock all its accounts up front in
/// a fixed order.
pub(crate) trait Apply: Sized {
    type Output;
    fn wallet(&self) -> AccountId;
    fn now_ms(&self) -> i64;
    fn apply(&self, batch: &mut Batch<'_>) -> Result<Self::Output, StoreError>;
    /// The order this command left in a final state (the waiters are woken).
    fn final_order(_output: &Self::Output) -> Option<&OrderRow> {
        None
    }
    /// The queue entry carrying this command.
    fn into_command(call: Call<Self>) -> Command;
}

/// A queued command, its reply channel and (once applied) its result, held
/// until the batch commits.
pub(crate) struct Call<C: Apply> {
    pub command: C,
    reply: oneshot::Sender<Result<C::Output, StoreError>>,
    done: Option<Result<C::Output, StoreError>>,
}

impl<C: Apply> Call<C> {
    pub(crate) fn new(command: C) -> (Call<C>, oneshot::Receiver<Result<C::Output, StoreError>>) {
        let (reply, rx) = oneshot::channel();
        (Call { command, reply, done: None }, rx)
    }

    /// Applies the command; true when it succeeded.
    fn run(&mut self, batch: &mut Batch<'_>) -> bool {
        let result = self.command.apply(batch);
        let ok = result.is_ok();
        self.done = Some(result);
        ok
    }

    fn final_order(&self) -> Option<&OrderRow> {
        match &self.done {
            Some(Ok(output)) => C::final_order(output),
            _ => None,
        }
    }

    /// Answers with the result (after the commit). A caller that stopped
    /// waiting is not an error: the change is committed either way.
    fn answer(self) {
        if let Some(result) = self.done {
            let _ = self.reply.send(result);
        }
    }

    fn fail(self, e: StoreError) {
        let _ = self.reply.send(Err(e));
    }
}

/// The writer's queue entries.
pub(crate) enum Command {
    Place(Call<Place>),
    MarkProcessing(Call<MarkProcessing>),
    Resolve(Call<Resolve>),
    Reroute(Call<Reroute>),
    Deposit(Call<Deposit>),
    Redeliver(Call<Redeliver>),
    /// Finish the commands queued before this one, then stop.
    Stop,
}

/// Runs `$body` with `$call` bound to the command's `Call`, whatever its kind.
macro_rules! dispatch {
    ($command:expr, $call:ident => $body:expr) => {
        match $command {
            Command::Place($call) => $body,
            Command::MarkProcessing($call) => $body,
            Command::Resolve($call) => $body,
            Command::Reroute($call) => $body,
            Command::Deposit($call) => $body,
            Command::Redeliver($call) => $body,
            Command::Stop => unreachable!("Stop never enters a batch"),
        }
    };
}

impl Command {
    pub(crate) fn wallet(&self) -> AccountId {
        dispatch!(self, call => call.command.wallet())
    }

    pub(crate) fn now_ms(&self) -> i64 {
        dispatch!(self, call => call.command.now_ms())
    }

    pub(crate) fn run(&mut self, batch: &mut Batch<'_>) -> bool {
        dispatch!(self, call => call.run(batch))
    }

    pub(crate) fn final_order(&self) -> Option<&OrderRow> {
        dispatch!(self, call => call.final_order())
    }

    pub(crate) fn answer(self) {
        dispatch!(self, call => call.answer())
    }

    pub(crate) fn fail(self, e: StoreError) {
        dispatch!(self, call => call.fail(e))
    }
}
