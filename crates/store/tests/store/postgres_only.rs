//! What only PostgreSQL has to prove: several instances (here, several `Store`s) on one
//! database keep every invariant, and a reader that follows the event log, as the outbox relay
//! does, never skips an event that commits late.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use loyalty_store::{Store, StoreError, StoredEvent};
use uuid::Uuid;

use super::backend::{self, Kind};
use super::{account_command_on, accrue_command, enrolled, fixture};

async fn accrue_through(store: &Store, business: Uuid, account: Uuid, points: u64) -> Result<(), StoreError> {
    account_command_on(store, business, account, accrue_command(points)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_apply_each_migration_once() {
    let Some(Kind::Postgres(base)) = backend::postgres("instances_starting_together_apply_each_migration_once") else {
        return;
    };
    let db = backend::TestDb::new(Kind::Postgres(base));
    let settings = db.settings();
    let opened: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| Store::open(&settings))).collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for store in opened {
        store.expect("every instance opens the same schema");
    }
    assert_eq!(Store::migrate(&settings.backend).expect("migrate"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_writing_one_account_lose_no_update() {
    let Some(kind) = backend::postgres("two_instances_writing_one_account_lose_no_update") else {
        return;
    };
    let f = Arc::new(fixture(kind).await);
    let other = Store::open(&f.db.settings()).expect("a second instance");
    let accounts = [enrolled(&f, "a@example.com").await, enrolled(&f, "b@example.com").await];
    let mut tasks = Vec::new();
    for n in 0..200u64 {
        let store = if n % 2 == 0 { f.store.clone() } else { other.clone() };
        let (business, account) = (f.business, accounts[(n % 4 / 2) as usize]);
        tasks.push(tokio::spawn(async move {
            accrue_through(&store, business, account, n + 1).await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("every accrual commits");
    }
    let mut total = 0;
    for account in accounts {
        let through_one = f
            .store
            .account(f.business, account)
            .await
            .expect("read")
            .expect("exists");
        let through_other = other.account(f.business, account).await.expect("read").expect("exists");
        assert_eq!(through_one.point_balance, through_other.point_balance);
        assert_eq!(through_one.version, 101, "enrolment and 100 accruals, none lost");
        total += through_one.point_balance;
    }
    assert_eq!(total, (1..=200).sum::<i64>());
    let (balances, ledger) = f.store.point_totals(f.business).await.expect("totals");
    assert_eq!(balances, ledger);
}

/// Follow the log as the relay does (`events_after` its checkpoint) while two instances write,
/// one transaction held open part of the time; every event must be seen exactly once, and each
/// aggregate's events in sequence order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_following_the_log_sees_every_event_once_in_aggregate_order() {
    let Some(kind) = backend::postgres("a_reader_following_the_log_sees_every_event_once_in_aggregate_order") else {
        return;
    };
    let f = Arc::new(fixture(kind).await);
    let other = Store::open(&f.db.settings()).expect("a second instance");
    let mut accounts = Vec::new();
    for n in 0..6 {
        accounts.push(enrolled(&f, &format!("m{n}@example.com")).await);
    }
    let start = f.store.head_position().await.expect("head");

    // An instance stalled in the middle of its batch: its transaction holds the event-log lock.
    let (stall_release, stall_wait) = std::sync::mpsc::channel::<()>();
    let (stalled_tx, stalled) = std::sync::mpsc::channel::<()>();
    let url = match &f.db {
        backend::TestDb::Postgres { url, .. } => url.clone(),
        backend::TestDb::Sqlite(_) => unreachable!("PostgreSQL only"),
    };
    let staller = std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let mut tx = client.transaction().expect("begin");
        tx.execute(loyalty_store::EVENT_LOG_LOCK_SQL, &[])
            .expect("take the event-log lock");
        stalled_tx.send(()).expect("signal");
        stall_wait.recv_timeout(Duration::from_secs(30)).ok();
        tx.commit().expect("commit");
    });
    stalled.recv().expect("the stall began");

    let reader = {
        let store = f.store.clone();
        tokio::spawn(async move {
            let mut checkpoint = start;
            let mut seen: Vec<StoredEvent> = Vec::new();
            let mut quiet_rounds = 0;
            while quiet_rounds < 40 {
                let page = store.events_after(checkpoint, 50).await.expect("read the log");
                if page.is_empty() {
                    quiet_rounds += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                    continue;
                }
                quiet_rounds = 0;
                checkpoint = page.last().map_or(checkpoint, |e| e.position);
                seen.extend(page);
            }
            seen
        })
    };
    let mut writers = Vec::new();
    for n in 0..300u64 {
        let store = if n % 2 == 0 { f.store.clone() } else { other.clone() };
        let (business, account) = (f.business, accounts[(n % 6) as usize]);
        writers.push(tokio::spawn(async move {
            accrue_through(&store, business, account, 1).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stall_release.send(()).expect("release the stall");
    for writer in writers {
        writer.await.expect("task").expect("accrual commits");
    }
    staller.join().expect("staller");
    let seen = reader.await.expect("reader");

    let all = f.store.events_after(start, 10_000).await.expect("the whole log");
    assert_eq!(all.len(), 300);
    let mut counts: HashMap<Uuid, u32> = HashMap::new();
    for event in &seen {
        *counts.entry(event.event_id).or_default() += 1;
    }
    for event in &all {
        assert_eq!(
            counts.get(&event.event_id),
            Some(&1),
            "event {} seen exactly once",
            event.position
        );
    }
    assert_eq!(seen.len(), all.len());
    let mut last_sequence: HashMap<Uuid, i64> = HashMap::new();
    for event in &seen {
        let last = last_sequence.insert(event.aggregate_id, event.sequence).unwrap_or(0);
        assert!(event.sequence > last, "aggregate order kept");
    }
}

/// The writer commits without waiting for the disk and its syncer answers once a synchronous
/// commit on a connection opened before the batch's `COMMIT` has flushed the log. When that
/// connection dies (as in a crash of PostgreSQL, which may lose what was not flushed), the
/// batches it could not confirm are answered "outcome unknown", though here they were kept;
/// later ones are confirmed on the new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_is_answered_only_once_a_connection_open_before_it_confirms_it_durable() {
    let Some(kind) =
        backend::postgres("a_commit_is_answered_only_once_a_connection_open_before_it_confirms_it_durable")
    else {
        return;
    };
    let f = fixture(kind).await;
    let backend::TestDb::Postgres { schema, .. } = &f.db else {
        unreachable!("a PostgreSQL fixture")
    };
    let set = |position: i64| move |tx: &mut loyalty_store::WriteTx<'_>| tx.checkpoint_set("durability", position);
    f.store.write(set(1)).await.expect("confirmed durable");

    let syncer = format!("application_name = 'loyalty-syncer {schema}'");
    f.db.execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {syncer}"
    ));
    for _ in 0..200 {
        if f.db
            .texts(&format!("SELECT pid::text FROM pg_stat_activity WHERE {syncer}"))
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let unconfirmed = f.store.write(set(2)).await;
    assert!(
        matches!(unconfirmed, Err(StoreError::DurabilityUnconfirmed(_))),
        "a commit no surviving connection saw is not confirmed: {unconfirmed:?}"
    );
    assert_eq!(
        f.store.checkpoint("durability").await.expect("read"),
        2,
        "it was committed all the same"
    );

    f.store
        .write(set(3))
        .await
        .expect("the new connection confirms later commits");
    assert_eq!(f.store.checkpoint("durability").await.expect("read"), 3);
}

/// The writer's connection dies while its batch's `COMMIT` is in flight (a deferred trigger
/// terminates its own backend at the commit, once): the server never answered, so the batch's
/// callers are told the outcome is unknown, not that the write failed. The writer connects
/// again for the next batch. (Here the commit did not happen, and the value stays as it was.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_connection_dies_before_the_answer_is_an_unknown_outcome() {
    let Some(kind) = backend::postgres("a_commit_whose_connection_dies_before_the_answer_is_an_unknown_outcome") else {
        return;
    };
    let f = fixture(kind).await;
    let backend::TestDb::Postgres { schema, .. } = &f.db else {
        unreachable!("a PostgreSQL fixture")
    };
    let set = |position: i64| move |tx: &mut loyalty_store::WriteTx<'_>| tx.checkpoint_set("at-commit", position);
    f.store.write(set(1)).await.expect("committed");

    f.db.execute(&format!(
        "CREATE SEQUENCE {schema}.die_at_commit_count;
         CREATE FUNCTION {schema}.die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF nextval('{schema}.die_at_commit_count') = 1 THEN
                 PERFORM pg_terminate_backend(pg_backend_pid());
             END IF;
             RETURN NULL;
         END $$;
         CREATE CONSTRAINT TRIGGER die_at_commit AFTER UPDATE ON {schema}.checkpoints
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {schema}.die_at_commit();"
    ));
    let lost = f.store.write(set(2)).await;
    assert!(
        matches!(&lost, Err(StoreError::DurabilityUnconfirmed(why)) if why.contains("COMMIT")),
        "a COMMIT without an answer is an unknown outcome: {lost:?}"
    );
    assert_eq!(f.store.checkpoint("at-commit").await.expect("read"), 1);

    f.store.write(set(3)).await.expect("the writer connects again");
    assert_eq!(f.store.checkpoint("at-commit").await.expect("read"), 3);
}

/// The writer's connection dies before its batch's `COMMIT` was sent: here while its `BEGIN`
/// round trip waits for the event-log lock, which another session holds, and an operator ends
/// the writer's session. PostgreSQL ended the transaction with the session, so nothing was
/// done: the callers are told the database is unavailable (503, "retry"), not that their
/// command failed. The writer connects again for the next batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_connection_dies_before_its_commit_did_nothing_and_may_be_retried() {
    let Some(kind) =
        backend::postgres("a_batch_whose_connection_dies_before_its_commit_did_nothing_and_may_be_retried")
    else {
        return;
    };
    let f = fixture(kind).await;
    let backend::TestDb::Postgres { url, schema } = &f.db else {
        unreachable!("a PostgreSQL fixture")
    };
    let set = |position: i64| move |tx: &mut loyalty_store::WriteTx<'_>| tx.checkpoint_set("before-commit", position);
    f.store.write(set(1)).await.expect("committed");

    let held = loyalty_store::testing::EventLogLockHeld::take(url).expect("the lock is held");
    let store = f.store.clone();
    let write = tokio::spawn(async move { store.write(set(2)).await });
    let terminated = loyalty_store::testing::end_sessions_waiting_for_event_log(url, schema)
        .await
        .expect("the sessions waiting for the lock looked for");
    drop(held);
    assert_eq!(
        terminated,
        ["true"],
        "the writer's session waited for the lock and was ended"
    );

    let lost = write.await.expect("the write task");
    assert!(
        matches!(&lost, Err(StoreError::Unavailable(why)) if why.contains("before the batch was committed")),
        "a batch lost before its COMMIT did nothing, and says so: {lost:?}"
    );
    assert_eq!(f.store.checkpoint("before-commit").await.expect("read"), 1);

    f.store.write(set(3)).await.expect("the writer connects again");
    assert_eq!(f.store.checkpoint("before-commit").await.expect("read"), 3);
}

/// PostgreSQL restarted, or an operator ended the service's sessions: the writer's connection
/// and the pooled readers' were closed while idle. The next write and the next read each run on
/// a fresh connection instead of failing on the dead one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_closed_while_idle_are_replaced_before_use() {
    let Some(kind) = backend::postgres("connections_the_server_closed_while_idle_are_replaced_before_use") else {
        return;
    };
    let f = fixture(kind).await;
    let backend::TestDb::Postgres { schema, .. } = &f.db else {
        unreachable!("a PostgreSQL fixture")
    };
    let set = |position: i64| move |tx: &mut loyalty_store::WriteTx<'_>| tx.checkpoint_set("idle", position);
    f.store.write(set(1)).await.expect("committed");
    assert_eq!(f.store.checkpoint("idle").await.expect("read"), 1);

    let ours = format!("application_name = 'loyalty {schema}'");
    let terminated = f.db.texts(&format!(
        "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE {ours}"
    ));
    assert!(
        terminated.len() >= 2,
        "the writer's and a reader's connections: {terminated:?}"
    );
    for _ in 0..200 {
        if f.db
            .texts(&format!("SELECT pid::text FROM pg_stat_activity WHERE {ours}"))
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    f.store.write(set(2)).await.expect("the writer connects again first");
    assert_eq!(
        f.store.checkpoint("idle").await.expect("a read on a fresh connection"),
        2
    );
}

/// Every TEXT column compares bytewise (`COLLATE "C"`, see `postgres::schema`): one added
/// without it would be slower to index and could not be compared with the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_text_column_of_the_postgres_schema_compares_bytewise() {
    let Some(kind) = backend::postgres("every_text_column_of_the_postgres_schema_compares_bytewise") else {
        return;
    };
    let f = fixture(kind).await;
    let backend::TestDb::Postgres { schema, .. } = &f.db else {
        unreachable!("a PostgreSQL fixture")
    };
    let text_columns = f.db.texts(&format!(
        "SELECT table_name || '.' || column_name FROM information_schema.columns
         WHERE table_schema = '{schema}' AND data_type = 'text'"
    ));
    assert!(
        text_columns.len() > 50,
        "the schema's text columns were found: {text_columns:?}"
    );
    let other = f.db.texts(&format!(
        "SELECT table_name || '.' || column_name FROM information_schema.columns
         WHERE table_schema = '{schema}' AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C'"
    ));
    assert!(other.is_empty(), "text columns under another collation: {other:?}");
}
