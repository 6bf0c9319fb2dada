//! Reads take turns for a share of the pool: at most `DB_READ_CONNECTIONS` read statements (half
//! the pool by default) hold connections at once, first come first served. Writes and
//! transactions do not queue here.
//!
//! Two reasons, one for each side of the share:
//! - **Writes keep connections a burst of reads cannot take.** A flood of list requests waits
//!   here, not in the pool's queue, where it would stand before every create behind it.
//! - **A read is answered sooner when fewer are under way.** On a server busy with its own CPU
//!   (the database near, its statements short), every read in flight is a task that has started
//!   and must still be run to its answer. The more were let in, the longer each waits for its
//!   turn on the CPU after its rows have arrived, and the tail of the latency grows while the
//!   throughput does not (specs/performance.md, thirteenth round: p99 of `list` 15-25 % lower
//!   with 5 of 10 connections than with all 10, at the same requests per second). A write is
//!   different: its commit waits for the disk, and more of them in flight share each flush.
//!
//! Where a statement's time is mostly the network's (a database in another region), a read holds
//! its turn while nothing runs, and `DB_READ_CONNECTIONS` can be raised up to
//! `DB_MAX_CONNECTIONS`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sea_orm::{ConnAcquireErr, DbErr, Statement};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The turns, and how long a read waits for one.
#[derive(Debug)]
pub struct ReadTurns {
    turns: Semaphore,
    /// How many turns there are (`DB_READ_CONNECTIONS`).
    limit: usize,
    /// Reads waiting for a turn now (`/metrics`).
    waiting: AtomicUsize,
    /// The same bound as the wait for a pooled connection: past it, the request is answered 503.
    wait_limit: Duration,
}

/// What `/metrics` shows of the turns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadTurnsUsage {
    /// Reads holding a turn.
    pub taken: usize,
    /// Reads waiting for one.
    pub waiting: usize,
    /// How many turns there are.
    pub limit: usize,
}

impl ReadTurns {
    pub fn new(turns: usize, wait_limit: Duration) -> Self {
        let limit = turns.max(1);
        ReadTurns {
            turns: Semaphore::new(limit),
            limit,
            waiting: AtomicUsize::new(0),
            wait_limit,
        }
    }

    pub fn usage(&self) -> ReadTurnsUsage {
        ReadTurnsUsage {
            taken: self.limit.saturating_sub(self.turns.available_permits()),
            waiting: self.waiting.load(Ordering::Relaxed),
            limit: self.limit,
        }
    }

    /// A turn for `statement` if it is a read, held until the returned permit is dropped; `None`
    /// (no wait) for anything else.
    pub async fn take(&self, statement: &Statement) -> Result<Option<SemaphorePermit<'_>>, DbErr> {
        if !is_read(&statement.sql) {
            return Ok(None);
        }
        // A free turn is only ever free when nobody waits (tokio hands a returned permit to the
        // first waiter), so this never overtakes the queue; and it spares a timer when there is
        // no queue at all.
        if let Ok(turn) = self.turns.try_acquire() {
            return Ok(Some(turn));
        }
        let _counted = Waiting::count(&self.waiting);
        match tokio::time::timeout(self.wait_limit, self.turns.acquire()).await {
            Ok(Ok(turn)) => Ok(Some(turn)),
            // The semaphore is never closed; answered as a closed pool would be, all the same.
            Ok(Err(_)) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)),
            Err(_) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
        }
    }
}

/// One read counted as waiting, until it has its turn, gives up, or its request is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a statement only reads: a `SELECT`. The service's reads are all built by sea-query or
/// written as `SELECT …`; its writes start with `INSERT`, `UPDATE`, `DELETE` or `WITH`, and a
/// `SELECT … FOR UPDATE` only ever runs inside a transaction, which does not take turns here.
fn is_read(sql: &str) -> bool {
    let start = sql.trim_start().as_bytes();
    start.len() >= 6 && start[..6].eq_ignore_ascii_case(b"SELECT")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::DbBackend;

    use super::*;

    fn statement(sql: &str) -> Statement {
        Statement::from_string(DbBackend::Postgres, sql)
    }

    #[test]
    fn only_selects_are_reads() {
        for read in ["SELECT 1", "  select \"id\" FROM \"tasks\"", "Select\n1"] {
            assert!(is_read(read), "{read}");
        }
        for other in [
            "INSERT INTO tasks (title) VALUES ($1) RETURNING id",
            "UPDATE tasks SET completed = true",
            "DELETE FROM tasks",
            "WITH doomed AS (SELECT 1) DELETE FROM tasks",
            "BEGIN",
            "SEL",
            "",
        ] {
            assert!(!is_read(other), "{other}");
        }
    }

    #[tokio::test]
    async fn reads_beyond_the_turns_wait_first_come_first_served_and_writes_never_wait() {
        let turns = Arc::new(ReadTurns::new(1, Duration::from_secs(5)));
        let first = turns.take(&statement("SELECT 1")).await.unwrap();
        assert!(first.is_some());

        // A write goes straight on while the only turn is taken.
        assert!(
            turns
                .take(&statement("INSERT INTO t VALUES (1)"))
                .await
                .unwrap()
                .is_none()
        );

        // Two more reads queue, in order.
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        for name in ["second", "third"] {
            let turns = Arc::clone(&turns);
            let done_tx = done_tx.clone();
            tokio::spawn(async move {
                let turn = turns.take(&statement("SELECT 1")).await.unwrap();
                done_tx.send(name).unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(turn);
            });
            // Each queues before the next is spawned.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(done_rx.try_recv().is_err(), "nobody got a turn while the first held it");
        let usage = ReadTurnsUsage {
            taken: 1,
            waiting: 2,
            limit: 1,
        };
        assert_eq!(turns.usage(), usage);
        drop(first);
        assert_eq!(done_rx.recv().await, Some("second"));
        assert_eq!(done_rx.recv().await, Some("third"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let usage = ReadTurnsUsage {
            taken: 0,
            waiting: 0,
            limit: 1,
        };
        assert_eq!(turns.usage(), usage);
    }

    #[tokio::test]
    async fn a_read_that_waits_too_long_is_told_the_database_is_busy() {
        let turns = ReadTurns::new(1, Duration::from_millis(50));
        let _held = turns.take(&statement("SELECT 1")).await.unwrap();
        let waited = turns.take(&statement("SELECT 2")).await.unwrap_err();
        assert!(
            matches!(waited, DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
            "{waited:?}"
        );
        // That answer is the one a full pool gets: 503, retry later.
        assert!(super::super::is_outage(&waited));
        assert_eq!(turns.usage().waiting, 0, "the read that gave up is no longer counted");

        // Nor is one whose request went away while it waited.
        let dropped = tokio::time::timeout(Duration::from_millis(10), turns.take(&statement("SELECT 3"))).await;
        assert!(dropped.is_err());
        assert_eq!(turns.usage().waiting, 0);
    }
}
