//! Requests waiting for an order to reach a final status. The writer wakes
//! them after the commit that made the order final.

use std::collections::HashMap;
use std::sync::Mutex;
use tambah_domain::OrderId;

use tambah_store::OrderRow;
use tokio::sync::oneshot;

#[derive(Default)]
pub(crate) struct Waiters {
    by_order: Mutex<HashMap<OrderId, Vec<oneshot::Sender<OrderRow>>>>,
}

impl Waiters {
    pub(crate) fn register(&self, order_id: OrderId) -> oneshot::Receiver<OrderRow> {
        let (tx, rx) = oneshot::channel();
        self.by_order.lock().expect("waiters poisoned").entry(order_id).or_default().push(tx);
        rx
    }

    /// Drops the waiters of an order that gave up (timed out).
    pub(crate) fn forget(&self, order_id: OrderId) {
        let mut map = self.by_order.lock().expect("waiters poisoned");
        if let Some(list) = map.get_mut(&order_id) {
            list.retain(|tx| !tx.is_closed());
            if list.is_empty() {
                map.remove(&order_id);
            }
        }
    }

    pub(crate) fn wake(&self, order: &OrderRow) {
        let mut map = self.by_order.lock().expect("waiters poisoned");
        if map.is_empty() {
            return;
        }
        if let Some(list) = map.remove(&order.id) {
            for tx in list {
                let _ = tx.send(order.clone());
            }
        }
    }
}
