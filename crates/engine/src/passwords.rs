//! Password hashing on a small pool of its own threads. Argon2id takes
//! 19 MiB per hash: run on tokio's blocking pool (up to 512 threads), a
//! flood of wrong log-ins took a node past 5 GB, and the allocator kept
//! most of it (each thread's arena holds its freed 19 MiB). Here a fixed
//! number of threads hash (so memory is bounded by their count and is
//! reused by each thread), the queue in front of them is short, and a job
//! that finds it full is refused at once: the caller answers "busy"
//! (503) instead of queueing without bound.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::credentials::Scratch;

/// What a pool thread does.
enum Job {
    /// Whether `password` matches the PHC string; then, if it does and a new
    /// password is given, its hash.
    Verify {
        password: String,
        phc: String,
        then_hash: Option<String>,
        reply: oneshot::Sender<Verdict>,
    },
    Hash {
        password: String,
        reply: oneshot::Sender<String>,
    },
}

/// A verification's result.
#[derive(Debug)]
pub struct Verdict {
    pub matches: bool,
    /// The new password's hash, when asked and the old one matched.
    pub new_hash: Option<String>,
}

/// The pool was full (or stopped): nothing was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

pub struct Passwords {
    jobs: SyncSender<Job>,
}

impl Passwords {
    /// `threads` hashing threads, `queue` jobs waiting at most.
    pub fn start(threads: usize, queue: usize) -> Passwords {
        let (jobs, rx) = sync_channel(queue);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("tambah-passwords-{n}"))
                .spawn(move || work(&rx))
                .expect("a password thread starts");
        }
        Passwords { jobs }
    }

    fn submit(&self, job: Job) -> Result<(), Busy> {
        self.jobs.try_send(job).map_err(|e| {
            if let TrySendError::Full(_) = e {
                tracing::warn!("password hashing queue full: refused");
            }
            Busy
        })
    }

    /// Whether `password` matches `phc`; with `then_hash`, also hashes that
    /// new password when it does.
    pub async fn verify(&self, password: String, phc: String, then_hash: Option<String>) -> Result<Verdict, Busy> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify { password, phc, then_hash, reply })?;
        answer.await.map_err(|_| Busy)
    }

    pub async fn hash(&self, password: String) -> Result<String, Busy> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer.await.map_err(|_| Busy)
    }
}

/// A password thread. Its Argon2 buffer (19 MiB with the default
/// parameters) is kept while jobs follow one another (a log-in flood
/// allocates nothing) and given back when the queue is empty (a quiet node
/// does not hold it).
fn work(rx: &Mutex<Receiver<Job>>) {
    let mut scratch = Scratch::default();
    loop {
        // The lock is held only to take one job.
        let next = match rx.lock().map(|r| r.try_recv()) {
            Ok(Ok(job)) => Some(job),
            Ok(Err(std::sync::mpsc::TryRecvError::Empty)) => None,
            _ => return,
        };
        let job = match next {
            Some(job) => job,
            None => {
                scratch = Scratch::default();
                match rx.lock().map(|r| r.recv()) {
                    Ok(Ok(job)) => job,
                    _ => return,
                }
            }
        };
        match job {
            Job::Verify { password, phc, then_hash, reply } => {
                let matches = scratch.verify(&password, &phc);
                let new_hash = then_hash.filter(|_| matches).map(|new| scratch.hash(&new));
                let _ = reply.send(Verdict { matches, new_hash });
            }
            Job::Hash { password, reply } => {
                let _ = reply.send(scratch.hash(&password));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::verify_password;

    #[tokio::test]
    async fn verifies_and_hashes_and_refuses_when_full() {
        let pool = Passwords::start(1, 1);
        let phc = pool.hash("s3cret".into()).await.unwrap();
        let v = pool.verify("s3cret".into(), phc.clone(), Some("n3w".into())).await.unwrap();
        assert!(v.matches);
        assert!(verify_password("n3w", &v.new_hash.unwrap()));
        let wrong = pool.verify("nope".into(), phc.clone(), Some("n3w".into())).await.unwrap();
        assert!(!wrong.matches && wrong.new_hash.is_none());
        // One thread busy, one job queued: the rest are refused at once.
        let pool = Arc::new(pool);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (pool, phc) = (pool.clone(), phc.clone());
                tokio::spawn(async move { pool.verify("x".into(), phc, None).await })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().map(|v| v.matches));
        }
        assert!(results.contains(&Err(Busy)), "some refused: {results:?}");
        assert!(results.contains(&Ok(false)), "some served: {results:?}");
    }
}
