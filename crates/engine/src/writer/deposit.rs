//! `Deposit`: the operator credits a merchant's wallet from the funding
//! account of its environment.

use tambah_domain::{AccountId, Amount, Environment};
use tambah_store::{NewTransfer, StoreError, TransferKind};

use super::command::{Apply, Batch, Call, Command};

pub(crate) struct Deposit {
    pub wallet_id: AccountId,
    pub environment: Environment,
    pub amount: Amount,
    pub remarks: String,
    pub now_ms: i64,
}

impl Apply for Deposit {
    /// The wallet's balance after the deposit.
    type Output = Amount;

    fn wallet(&self) -> AccountId {
        self.wallet_id
    }

    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn apply(&self, b: &mut Batch<'_>) -> Result<Amount, StoreError> {
        let funding = b.ledger.system(self.environment).funding;
        let deposit = NewTransfer {
            kind: TransferKind::Deposit,
            debit_account: funding,
            credit_account: self.wallet_id,
            amount: self.amount,
            order_id: None,
            pending_id: None,
            remarks: self.remarks.clone(),
            created_at_ms: self.now_ms,
            wallet_balance_after: None,
            chain: None,
        };
        b.ledger.transfer(b.w, &deposit, "").map_err(|e| e.into_store("deposit"))?;
        Ok(b.ledger.balance(self.wallet_id))
    }

    fn into_command(call: Call<Self>) -> Command {
        Command::Deposit(call)
    }
}
