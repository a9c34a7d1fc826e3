//! A request waiting on something outside the node (a provider's outcome)
//! is not the node's work. The HTTP edge counts the requests it is working
//! on to shed load past capacity; it runs each request's handler inside
//! [`scope`] with what it holds for it, and the engine calls [`park`] when a
//! request stops working and starts waiting, which drops that hold. Outside a
//! scope (the CLI, workers, tests) `park` does nothing.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;

/// What the edge holds for a request while the node works on it.
pub type Hold = Box<dyn Any + Send>;

tokio::task_local! {
    static HOLD: RefCell<Option<Hold>>;
}

/// Runs `work` with `hold` kept until it ends or parks.
pub async fn scope<F: Future>(hold: Hold, work: F) -> F::Output {
    HOLD.scope(RefCell::new(Some(hold)), work).await
}

/// The current request waits on the outside from here: its hold is dropped.
pub(crate) fn park() {
    let _ = HOLD.try_with(|hold| drop(hold.borrow_mut().take()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn parking_drops_the_hold_and_the_scope_drops_it_otherwise() {
        let working = Arc::new(AtomicUsize::new(2));
        let w = working.clone();
        scope(Box::new(Counted(working.clone())), async move {
            assert_eq!(w.load(Ordering::SeqCst), 2);
            park();
            assert_eq!(w.load(Ordering::SeqCst), 1, "parked");
            park();
            assert_eq!(w.load(Ordering::SeqCst), 1, "parking twice drops nothing more");
        })
        .await;
        scope(Box::new(Counted(working.clone())), async {}).await;
        assert_eq!(working.load(Ordering::SeqCst), 0, "dropped with its scope");
        park();
    }
}
