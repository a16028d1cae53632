//! Rebuilding the read models and snapshots from the event store: the proof that the events
//! are the record.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::db::{params, Db};
use loyalty_domain::account::LoyaltyAccount;
use loyalty_domain::program::Program;
use loyalty_domain::reward::Reward;
use loyalty_domain::{Aggregate, LoyaltyEvent};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use foldhash::{HashMap, HashMapExt};

use crate::projection::project;
use crate::queries::{event_row, event_select};
use crate::{time, StoreError, StoredEvent};

mod digests;
mod staging;

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub events: u64,
    pub aggregates: u64,
    pub elapsed: Duration,
    /// What the rebuild changed, on SQLite (see [`staging`]); on PostgreSQL the read models are
    /// emptied and written again, every snapshot is compared in its upsert, and this is `None`.
    pub changes: Option<RebuildChanges>,
}

/// What a rebuild on SQLite wrote where the stored read models and snapshots differed from the
/// events: nothing at all on a healthy store.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RebuildChanges {
    /// Read-model rows written because they were missing or differed.
    pub rows_written: u64,
    /// Read-model rows deleted because no event makes them.
    pub rows_deleted: u64,
    /// Read-model tables rewritten whole because they differed in many rows.
    pub tables_rewritten: u64,
    /// Snapshots written because they were missing or differed from the events' fold (or were
    /// stored in an older encoding).
    pub snapshots_written: u64,
    /// Snapshots deleted because their aggregate has no events.
    pub snapshots_deleted: u64,
}

impl RebuildChanges {
    /// Whether the read models were left as they were.
    pub fn read_models_unchanged(&self) -> bool {
        self.rows_written == 0 && self.rows_deleted == 0
    }

    /// Whether the snapshots were left as they were.
    pub fn snapshots_unchanged(&self) -> bool {
        self.snapshots_written == 0 && self.snapshots_deleted == 0
    }
}

/// The read models a rebuild makes again: on SQLite in staging copies that the stored tables
/// are then brought in line with (see [`staging`]), on PostgreSQL by emptying and refilling
/// them. Snapshots are not among them: each aggregate's
/// fold is compared with its stored snapshot, and only one that differs is written (see
/// [`digests`] and [`write_snapshot`]), so a rebuild of a healthy store does not rewrite
/// every aggregate's state, the largest part of its bytes.
const REBUILT_TABLES: &[&str] = &[
    "programs",
    "accounts",
    "transactions",
    "orders",
    "issued_rewards",
    "rewards",
    "reward_claims",
];

enum State {
    Program(Program),
    Account(LoyaltyAccount),
    Reward(Reward),
}

struct Folded {
    business_id: String,
    version: i64,
    state: State,
}

/// An aggregate's snapshot row as its fold gives it, every column made on the replayer's thread,
/// to write (see [`write_snapshot`]).
struct SnapshotRow {
    aggregate_id: String,
    kind: &'static str,
    business_id: String,
    version: i64,
    state: String,
    due_at: Option<String>,
}

impl SnapshotRow {
    fn of(aggregate_id: Uuid, folded: Folded) -> Result<Self, StoreError> {
        let (kind, state, due_at) = match &folded.state {
            State::Program(p) => (Program::AGGREGATE_TYPE, serde_json::to_string(p)?, p.due_at()),
            State::Account(a) => (LoyaltyAccount::AGGREGATE_TYPE, serde_json::to_string(a)?, a.due_at()),
            State::Reward(r) => (Reward::AGGREGATE_TYPE, serde_json::to_string(r)?, r.due_at()),
        };
        Ok(Self {
            aggregate_id: aggregate_id.to_string(),
            kind,
            business_id: folded.business_id,
            version: folded.version,
            state,
            due_at: due_at.map(time::format),
        })
    }

    /// Its digest, as [`digests::stored`] takes the stored rows': over its columns in the order
    /// that query names them.
    fn digest(&self, buffer: &mut Vec<u8>) -> u128 {
        use rusqlite::types::ValueRef::{Integer, Null, Text};
        let values = [
            Text(self.aggregate_id.as_bytes()),
            Text(self.kind.as_bytes()),
            Text(self.business_id.as_bytes()),
            Integer(self.version),
            Text(self.state.as_bytes()),
            self.due_at.as_deref().map_or(Null, |d| Text(d.as_bytes())),
        ];
        digests::of_values(values, buffer)
    }
}

/// One event replayed: decoded, folded into its aggregate, and, if it was the aggregate's last,
/// the aggregate's snapshot.
struct Replayed {
    stored: StoredEvent,
    event: LoyaltyEvent,
    snapshot: Option<SnapshotRow>,
}

/// The rebuild's second connection, used on the replayer's thread: the events are read there,
/// and on SQLite the stored snapshots' digests before them (see [`digests::stored`]) and the
/// stored read models after them (see [`staging::read_stored`]). Its reads see what was
/// committed before the rebuild's transaction, which holds the write lock (SQLite's, or on
/// PostgreSQL the event log's lock that every writer takes): no writer commits meanwhile, and
/// the rebuild's own writes are not seen.
pub(crate) enum Reader {
    Sqlite(rusqlite::Connection),
    Pg(Box<crate::db::PgConn>),
}

impl Reader {
    fn db(&self) -> Db<'_> {
        match self {
            Reader::Sqlite(conn) => Db::sqlite(conn),
            Reader::Pg(conn) => Db::Pg(conn),
        }
    }

    /// One read transaction for every read of the rebuild.
    fn begin(&self) -> Result<(), StoreError> {
        self.db().execute_batch(match self {
            Reader::Sqlite(_) => "BEGIN",
            Reader::Pg(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        })
    }
}

/// The fold of every aggregate whose history is still being read, on a thread of its own with
/// the rebuild's [`Reader`] (see [`Refill::run`]).
struct Replayer {
    /// Each aggregate's last sequence: when the rebuild reaches it, the aggregate's snapshot is
    /// made and its state dropped, so memory holds only aggregates whose history is still being
    /// read, not every aggregate of the store. Found by the writing side, which has nothing
    /// else to do while the first pages are read (see [`Replayer::run`]).
    last: HashMap<Uuid, i64>,
    /// On SQLite, the digest of each stored snapshot not yet compared with its fold, taken
    /// first, while the writing side finds the last sequences: only the snapshots that differ
    /// are sent to be written. On PostgreSQL every snapshot is sent, and the upsert in
    /// [`write_snapshot`] compares, queued without a round trip, where each comparison here
    /// would be one.
    stored_snapshots: Option<digests::SnapshotDigests>,
    /// Scratch space for a fold's digest.
    digest_buffer: Vec<u8>,
    open: HashMap<Uuid, Folded>,
    /// Emptied page buffers, to be filled again (see [`Replayer::replay_all`]).
    spare_decoded: Vec<Decoded>,
    spare_replayed: Vec<Vec<Replayed>>,
}

/// A page of events, decoded (the read models are made from the decoded event; the stored one
/// keeps no data).
type Decoded = Vec<(StoredEvent, LoyaltyEvent)>;

/// How many emptied page buffers of each kind the replayer keeps to fill again: as many as are
/// in use at once once the read-ahead is folded (the others, from the read-ahead, are freed).
const SPARE_PAGES_MAX: usize = 4;

/// How many decoded pages the replayer reads ahead while it waits for the aggregates' last
/// sequences.
const PAGES_AHEAD_MAX: usize = 64;

impl Replayer {
    fn replay(&mut self, stored: StoredEvent, event: LoyaltyEvent) -> Result<Replayed, StoreError> {
        let mut entry = self.open.remove(&stored.aggregate_id).unwrap_or_else(|| Folded {
            business_id: stored.business_id.to_string(),
            version: 0,
            state: match event {
                LoyaltyEvent::Program(_) => State::Program(Program::default()),
                LoyaltyEvent::Account(_) => State::Account(LoyaltyAccount::default()),
                LoyaltyEvent::Reward(_) => State::Reward(Reward::default()),
            },
        });
        match (&mut entry.state, &event) {
            (State::Program(p), LoyaltyEvent::Program(e)) => p.apply(e),
            (State::Account(a), LoyaltyEvent::Account(e)) => a.apply(e),
            (State::Reward(r), LoyaltyEvent::Reward(e)) => r.apply(e),
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "aggregate {} mixes events of different aggregate types",
                    stored.aggregate_id
                )))
            }
        }
        entry.version = stored.sequence;
        let snapshot = if self.last.get(&stored.aggregate_id) == Some(&stored.sequence) {
            self.last.remove(&stored.aggregate_id);
            let row = SnapshotRow::of(stored.aggregate_id, entry)?;
            // A stored snapshot equal to the fold is left as it is.
            let stored_so = self.stored_snapshots.as_mut().is_some_and(|stored_snapshots| {
                stored_snapshots.remove(&stored.aggregate_id) == Some(row.digest(&mut self.digest_buffer))
            });
            (!stored_so).then_some(row)
        } else {
            self.open.insert(stored.aggregate_id, entry);
            None
        };
        Ok(Replayed {
            stored,
            event,
            snapshot,
        })
    }

    /// On SQLite, first take the stored snapshots' digests (see [`digests`]). Then read every
    /// event on `reader`, `page_count` at a time in commit order, replay each page and send it
    /// on `replayed`; then check that every aggregate's history reached its last sequence.
    /// Pages are read and decoded while the writing side finds each aggregate's last sequence,
    /// which arrives on `last`; they are folded once it has. An error is sent as the last
    /// message. Pages the rebuild has written come back on `spent` to be emptied here, off the
    /// thread that writes, and filled again. Then, on SQLite, read the stored read models for
    /// the writing side to compare with its staging copies, `page_count` rows to a message (see
    /// [`staging::read_stored`]; an error is again the last message).
    fn run(
        reader: Reader,
        page_count: i64,
        last: mpsc::Receiver<HashMap<Uuid, i64>>,
        replayed: mpsc::SyncSender<Result<Vec<Replayed>, StoreError>>,
        spent: mpsc::Receiver<Vec<Replayed>>,
        stored: Option<StoredOut>,
        skipped: &AtomicUsize,
    ) {
        let mut replayer = Replayer {
            last: HashMap::new(),
            stored_snapshots: None,
            digest_buffer: Vec::new(),
            open: HashMap::new(),
            spare_decoded: Vec::new(),
            spare_replayed: Vec::new(),
        };
        let result = reader.begin().and_then(|()| {
            if let Reader::Sqlite(conn) = &reader {
                digests::register(conn)?;
                replayer.stored_snapshots = Some(digests::stored(conn)?);
            }
            replayer.replay_all(&reader, page_count, &last, &replayed, &spent)
        });
        if let Err(e) = result {
            // Unless the writing side stopped first, with an error of its own.
            let _ = replayed.send(Err(e));
            return;
        }
        // Every page is sent: the writing side finishes the last ones and turns to comparing.
        drop((replayed, spent, replayer));
        if let (Some((tables, out)), Reader::Sqlite(conn)) = (stored, &reader) {
            if let Err(e) = staging::read_stored(conn, &tables, usize::try_from(page_count).unwrap_or(1), &out, skipped)
            {
                let _ = out.send(Err(e));
            }
        }
    }

    /// Fold the pages read ahead, and send them, once the last sequences are known (waiting for
    /// them when `wait`, or when too many pages wait). `Ok(false)` when the writing side has
    /// stopped.
    fn send_ahead(
        &mut self,
        last: &mut Option<&mpsc::Receiver<HashMap<Uuid, i64>>>,
        ahead: &mut VecDeque<Decoded>,
        replayed: &mpsc::SyncSender<Result<Vec<Replayed>, StoreError>>,
        wait: bool,
    ) -> Result<bool, StoreError> {
        if let Some(from) = last {
            let stopped = || StoreError::WriteFailed("the rebuild's writing side stopped".to_owned());
            let received = if wait || ahead.len() >= PAGES_AHEAD_MAX {
                Some(from.recv().map_err(|_| stopped())?)
            } else {
                match from.try_recv() {
                    Ok(sequences) => Some(sequences),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => return Err(stopped()),
                }
            };
            match received {
                Some(sequences) => {
                    self.last = sequences;
                    *last = None;
                }
                None => return Ok(true),
            }
        }
        while let Some(mut page) = ahead.pop_front() {
            let mut out = self.spare_replayed.pop().unwrap_or_default();
            out.reserve(page.len());
            for (stored, event) in page.drain(..) {
                out.push(self.replay(stored, event)?);
            }
            if self.spare_decoded.len() < SPARE_PAGES_MAX {
                self.spare_decoded.push(page);
            }
            if replayed.send(Ok(out)).is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn replay_all(
        &mut self,
        reader: &Reader,
        page_count: i64,
        last: &mpsc::Receiver<HashMap<Uuid, i64>>,
        replayed: &mpsc::SyncSender<Result<Vec<Replayed>, StoreError>>,
        spent: &mpsc::Receiver<Vec<Replayed>>,
    ) -> Result<(), StoreError> {
        let page_sql = format!(
            "{} WHERE position > ?1 ORDER BY position LIMIT CAST(?2 AS BIGINT)",
            event_select()
        );
        let mut after: i64 = 0;
        let mut waiting = Some(last);
        let mut ahead = VecDeque::new();
        loop {
            // The writing side's pages come back to be emptied here and filled again: the
            // buffers are reused, not freed and allocated afresh for every page.
            for mut page in spent.try_iter() {
                if self.spare_replayed.len() < SPARE_PAGES_MAX {
                    page.clear();
                    self.spare_replayed.push(page);
                }
            }
            let mut page = self.spare_decoded.pop().unwrap_or_default();
            page.reserve(usize::try_from(page_count).unwrap_or(0));
            let from = after;
            reader
                .db()
                .prepare_cached(&page_sql)?
                .for_each_row(params![from, page_count], |row| {
                    let row = event_row(row)?;
                    after = row.position();
                    page.push(row.into_decoded()?);
                    Ok(())
                })?;
            if page.is_empty() {
                break;
            }
            ahead.push_back(page);
            if !self.send_ahead(&mut waiting, &mut ahead, replayed, false)? {
                // The writing side stopped, with an error of its own.
                return Ok(());
            }
        }
        if !self.send_ahead(&mut waiting, &mut ahead, replayed, true)? {
            return Ok(());
        }
        match self.open.keys().next() {
            Some(id) => Err(StoreError::Corrupt(format!(
                "aggregate {id}'s events end before its last sequence"
            ))),
            None => Ok(()),
        }
    }
}

/// The staged tables whose stored rows the replayer reads once it has replayed every event, and
/// where it sends them (see [`staging::read_stored`]).
type StoredOut = (
    Vec<staging::Staged>,
    mpsc::SyncSender<Result<staging::Stored, StoreError>>,
);

/// How many events a rebuild reads per query, by default.
pub(crate) const REBUILD_PAGE_COUNT: i64 = 10_000;

/// Rebuild on `db` in one transaction, reading the events `page_count` at a time on `reader`,
/// a second connection to the same store.
pub(crate) fn rebuild(
    db: Db<'_>,
    reader: Reader,
    page_count: i64,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<RebuildReport, StoreError> {
    db.begin()?;
    if db.is_postgres() {
        // Writers wait: no event or snapshot changes while the read models are rebuilt.
        db.query_row(crate::postgres::EVENT_LOG_LOCK_SQL, params![], |_| Ok(()))?;
    }
    let started = Instant::now();
    match rebuild_in_transaction(db, reader, started, page_count, progress) {
        Ok(report) => {
            db.commit()?;
            tracing::info!(elapsed = ?started.elapsed(), "rebuild committed");
            // The figure covers the whole transaction, commit included.
            Ok(RebuildReport {
                elapsed: started.elapsed(),
                ..report
            })
        }
        Err(e) => {
            let _ = db.rollback();
            Err(e)
        }
    }
}

/// Each aggregate's last sequence (see [`Replayer::last`]).
fn last_sequences(db: Db<'_>) -> Result<HashMap<Uuid, i64>, StoreError> {
    let mut last = HashMap::new();
    // Row by row, each id parsed where it lies in the row: no string per aggregate.
    db.prepare_held("SELECT aggregate_id, MAX(sequence) FROM events GROUP BY aggregate_id")?
        .for_each_row(params![], |row| {
            let id = row.text(0)?;
            let id = Uuid::parse_str(id).map_err(|_| StoreError::Corrupt(format!("event of aggregate {id:?}")))?;
            last.insert(id, row.get::<i64>(1)?);
            Ok(())
        })?;
    Ok(last)
}

/// Everything but the commit; `started` is when the transaction began, for the log lines and
/// the report.
fn rebuild_in_transaction(
    db: Db<'_>,
    reader: Reader,
    started: Instant,
    page_count: i64,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<RebuildReport, StoreError> {
    let total: i64 = db.query_row("SELECT COUNT(*) FROM events", params![], |r| r.get(0))?;
    // SQLite: projected into staging copies; PostgreSQL: the tables are emptied and refilled.
    let (staged, emptied) = match db {
        Db::Sqlite(conn, _) => {
            digests::register(conn)?;
            (staging::stage(conn, REBUILT_TABLES)?, &[][..])
        }
        Db::Pg(_) => (Vec::new(), REBUILT_TABLES),
    };
    let refill = Refill {
        emptied,
        staged: &staged,
        page_count,
        total: total as u64,
        started,
        skipped: AtomicUsize::new(usize::MAX),
    };
    let refilled = std::thread::scope(|scope| refill.run(db, reader, scope, progress))?;
    let strays = delete_stray_snapshots(db, refilled.aggregates)?;
    let changes = match db {
        Db::Sqlite(..) => Some(RebuildChanges {
            snapshots_deleted: strays as u64,
            ..refilled.changes
        }),
        Db::Pg(_) => None,
    };
    tracing::info!(
        elapsed = ?started.elapsed(),
        events = refilled.events,
        snapshots_deleted = strays,
        ?changes,
        "read models refilled"
    );
    progress(refilled.events, total as u64);
    Ok(RebuildReport {
        events: refilled.events,
        aggregates: refilled.aggregates,
        elapsed: started.elapsed(),
        changes,
    })
}

/// How the read models are made again from every event, in commit order (see [`Refill::run`]).
struct Refill<'a> {
    /// Tables emptied first and refilled in place (PostgreSQL).
    emptied: &'a [&'a str],
    /// Tables projected into staging copies, then compared (SQLite; see [`staging`]).
    staged: &'a [staging::Staged],
    page_count: i64,
    total: u64,
    /// When the rebuild's transaction began, for the log.
    started: Instant,
    /// The staged table whose stored rows the writing side no longer needs (see
    /// [`staging::read_stored`]).
    skipped: AtomicUsize,
}

impl Refill<'_> {
    /// Two threads share the work: a replayer reads the events on `reader`, decodes each page,
    /// folds it and makes the snapshots of the aggregates it completes (see [`Replayer::run`];
    /// on SQLite it first takes the stored snapshots' digests), while this one finds each
    /// aggregate's last sequence for it, empties the `emptied` tables, then writes what each
    /// replayed page projects. On SQLite the replayer
    /// then reads the stored read models while this thread compares them with the staging
    /// copies and writes what differs.
    fn run<'scope, 'env>(
        &'env self,
        db: Db<'_>,
        reader: Reader,
        scope: &'scope std::thread::Scope<'scope, 'env>,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<Refilled, StoreError> {
        // One replayed page waits to be written while the next is replayed.
        let (replayed, to_write) = mpsc::sync_channel(1);
        let (spent, to_free) = mpsc::channel();
        let (last_to, last_from) = mpsc::channel();
        let skipped = &self.skipped;
        let (stored_out, stored_in) = match self.staged {
            [] => (None, None),
            staged => {
                let (out, from) = mpsc::sync_channel(2);
                (Some((staged.to_vec(), out)), Some(from))
            }
        };
        let page_count = self.page_count;
        let replayer = std::thread::Builder::new()
            .name("loyalty-replayer".to_owned())
            .spawn_scoped(scope, move || {
                Replayer::run(reader, page_count, last_from, replayed, to_free, stored_out, skipped)
            })?;
        // An early return drops `last_to`, `to_write` and `stored_in`: the replayer stops at its
        // next receive or send.
        let mut aggregates = 0;
        let written = last_sequences(db)
            .and_then(|last| {
                aggregates = last.len() as u64;
                // Gone only if the replayer stopped, with an error sent first.
                let _ = last_to.send(last);
                write_replayed(db, self.emptied, to_write, spent, self.total, progress)
            })
            .and_then(|(events, snapshots_written)| {
                // Both connections read the same committed events: a difference is a fault (or
                // a replayer that stopped), not a rebuild.
                if events != self.total {
                    return Err(StoreError::Corrupt(format!(
                        "the rebuild replayed {events} events of the {} it counted",
                        self.total
                    )));
                }
                let mut changes = RebuildChanges {
                    snapshots_written,
                    ..RebuildChanges::default()
                };
                if let (Db::Sqlite(conn, _), Some(from)) = (db, stored_in) {
                    tracing::info!(elapsed = ?self.started.elapsed(), events, "events replayed");
                    let mut stored = staging::StoredRows::new(from, skipped);
                    staging::apply(conn, self.staged, &mut stored, &mut changes)?;
                }
                Ok((events, changes))
            });
        // A replayer still waiting for the last sequences stops (the closures above took the
        // other channels' ends, and dropped them with themselves if they never ran).
        drop(last_to);
        // Joined on every path, so that a panic is reported rather than raised again by the scope.
        let joined = replayer.join().map_err(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|m| (*m).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            StoreError::WriteFailed(format!("the rebuild's replayer panicked: {message}"))
        });
        // A panic of the replayer is the rebuild's error: the writing side's is then only its
        // consequence (a channel that closed), and is logged.
        if let Err(panicked) = joined {
            if let Err(error) = &written {
                tracing::error!(%error, "the rebuild's writing side stopped");
            }
            return Err(panicked);
        }
        let (done, changes) = written?;
        Ok(Refilled {
            events: done,
            aggregates,
            changes,
        })
    }
}

/// What [`Refill::run`] did.
struct Refilled {
    events: u64,
    aggregates: u64,
    /// On SQLite: the read-model rows written where they differed, and the snapshots written
    /// (only those that differed).
    changes: RebuildChanges,
}

/// The writing side of [`Refill::run`]: empty the `emptied` tables, then write what each page
/// from `to_write` projects until the replayer hangs up (having sent every page; an error is
/// its last message). How many events and snapshots were written.
fn write_replayed(
    db: Db<'_>,
    emptied: &[&str],
    to_write: mpsc::Receiver<Result<Vec<Replayed>, StoreError>>,
    spent: mpsc::Sender<Vec<Replayed>>,
    total: u64,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<(u64, u64), StoreError> {
    for table in emptied {
        db.prepare_cached(&format!("DELETE FROM {table}"))?.execute(params![])?;
    }
    let (mut done, mut snapshots): (u64, u64) = (0, 0);
    for page in &to_write {
        let page = page?;
        for replayed in &page {
            project(db, &(&replayed.stored).into(), &replayed.event, None)?;
            if let Some(snapshot) = &replayed.snapshot {
                write_snapshot(db, snapshot)?;
                snapshots += 1;
            }
            done += 1;
            if done.is_multiple_of(10_000) {
                progress(done, total);
            }
        }
        // Freed by the replayer if it is still there, else here.
        let _ = spent.send(page);
    }
    Ok((done, snapshots))
}

/// Bring an aggregate's snapshot in line with its fold. On SQLite the replayer has compared
/// already (see [`digests`]): only a row that differs comes here, and it is written as it
/// is. On PostgreSQL every row comes here and the comparison is the upsert's own: the row is
/// inserted, or replaces what is stored, only where a column differs (a damaged row, whatever
/// its column types, simply differs), so nothing comes back and the write joins the
/// transaction's queued writes, no round trip of its own.
fn write_snapshot(db: Db<'_>, row: &SnapshotRow) -> Result<(), StoreError> {
    let sql = if db.is_postgres() {
        "INSERT INTO snapshots (aggregate_id, aggregate_type, business_id, version, state, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (aggregate_id) DO UPDATE SET aggregate_type = excluded.aggregate_type,
             business_id = excluded.business_id, version = excluded.version, state = excluded.state,
             due_at = excluded.due_at
         WHERE snapshots.aggregate_type IS DISTINCT FROM excluded.aggregate_type
            OR snapshots.business_id IS DISTINCT FROM excluded.business_id
            OR snapshots.version IS DISTINCT FROM excluded.version
            OR snapshots.state IS DISTINCT FROM excluded.state
            OR snapshots.due_at IS DISTINCT FROM excluded.due_at"
    } else {
        "INSERT OR REPLACE INTO snapshots (aggregate_id, aggregate_type, business_id, version, state, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    };
    db.prepare_held(sql)?.execute_deferred(params![
        row.aggregate_id,
        row.kind,
        row.business_id,
        row.version,
        row.state,
        row.due_at
    ])
}

/// Delete snapshots of aggregates that have no events (there should be none; a damaged store
/// may have some). Only searched for when the snapshots outnumber the aggregates. How many.
fn delete_stray_snapshots(db: Db<'_>, aggregates: u64) -> Result<usize, StoreError> {
    let count: i64 = db.query_row("SELECT COUNT(*) FROM snapshots", params![], |r| r.get(0))?;
    if u64::try_from(count).unwrap_or(0) <= aggregates {
        return Ok(0);
    }
    db.execute(
        "DELETE FROM snapshots
         WHERE NOT EXISTS (SELECT 1 FROM events WHERE events.aggregate_id = snapshots.aggregate_id)",
        params![],
    )
}

/// Digests of what a rebuild writes: the read models, and the snapshots apart, since a rebuild
/// also rewrites snapshots whose state is right but stored in an older encoding (the events'
/// fold is the same, its JSON is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// SHA-256 over every row of the rebuilt tables, each in primary-key order.
    pub read_models: String,
    /// SHA-256 over every snapshot row, in aggregate order.
    pub snapshots: String,
}

pub(crate) fn fingerprint(conn: Db<'_>) -> Result<Fingerprint, StoreError> {
    let mut read_models = Sha256::new();
    for (table, key) in [
        ("programs", "program_id"),
        ("accounts", "account_id"),
        ("transactions", "position"),
        ("orders", "account_id, order_ref"),
        ("issued_rewards", "issued_reward_id"),
        ("rewards", "reward_id"),
        ("reward_claims", "transaction_id"),
    ] {
        hash_table(conn, &mut read_models, table, key)?;
    }
    let mut snapshots = Sha256::new();
    hash_table(conn, &mut snapshots, "snapshots", "aggregate_id")?;
    Ok(Fingerprint {
        read_models: hex::encode(read_models.finalize()),
        snapshots: hex::encode(snapshots.finalize()),
    })
}

/// Feed `table`'s name and every row, in `key` order, to `hasher`.
fn hash_table(conn: Db<'_>, hasher: &mut Sha256, table: &str, key: &str) -> Result<(), StoreError> {
    hasher.update(table.as_bytes());
    // Each column as a tag, then its length and text: unambiguous without formatting. Row by
    // row into the hash, so on SQLite a table of a million rows is never held in memory.
    let mut line = Vec::with_capacity(1024);
    conn.prepare_cached(&format!("SELECT * FROM {table} ORDER BY {key}"))?
        .for_each_row(params![], |row| {
            line.clear();
            for i in 0..row.column_count() {
                match row.get_as_text(i)? {
                    None => line.push(0u8),
                    Some(text) => {
                        line.push(1u8);
                        line.extend_from_slice(&(text.len() as u64).to_le_bytes());
                        line.extend_from_slice(text.as_bytes());
                    }
                }
            }
            line.push(b'\n');
            hasher.update(&line);
            Ok(())
        })
}
