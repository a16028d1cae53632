//! The store's guarantees, tested through its public API: group commit isolates failures,
//! appends are optimistic per aggregate, idempotency records live and die with their
//! transaction, tenancy holds, and projections rebuild to exactly the live read models.
//!
//! One conformance suite, written once, run against both backends: every test below runs on a
//! real SQLite file (`sqlite::*`) and, when `LOYALTY_TEST_POSTGRES_URL` is set, on PostgreSQL in
//! a schema of its own (`postgres::*`).

#[path = "store/backend.rs"]
#[macro_use]
mod backend;
#[path = "store/postgres_only.rs"]
mod postgres_only;
#[path = "store/sqlite_only.rs"]
mod sqlite_only;

use backend::{Kind, TestDb};

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use loyalty_domain::account::{AccountCommand, LoyaltyAccount};
use loyalty_domain::program::{Program, ProgramCommand, ProgramStatus};
use loyalty_domain::reward::{AddReward, ClaimReward, Reward, RewardCommand, RewardDefinition};
use loyalty_domain::testing::{self, decide_all, enroll_command, open_program_commands};
use loyalty_domain::values::{AccountId, CustomerId, Points, ProgramId, RewardId, TransactionId};
use loyalty_domain::Aggregate;
use loyalty_store::{
    Decided, EventMetadata, IdempotencyRecord, JsonBody, Prefetch, RebuildChanges, Store, StoreError, StoredResponse,
};
use serde_json::json;
use uuid::Uuid;

conformance!(
    a_failing_command_in_a_batch_leaves_the_others_committed,
    a_shared_load_sees_every_change_its_transaction_keeps_and_none_it_undoes,
    a_stale_append_conflicts_and_is_retried_on_fresh_state,
    a_stale_append_found_by_a_later_read_is_retried_and_the_rest_commits,
    an_idempotency_record_commits_only_with_its_events,
    another_business_cannot_load_or_read_an_aggregate,
    the_unique_email_index_backs_the_duplicate_check,
    a_rebuild_reproduces_the_live_read_models_and_repairs_drift,
    a_rebuild_refuses_events_that_project_a_duplicate_email,
    a_rebuild_over_many_pages_matches_and_an_undecodable_event_rolls_it_back,
    concurrent_claims_never_exceed_the_stock_and_rebuild_to_the_live_catalogue,
    reopening_the_database_keeps_everything_and_migrations_run_once,
    points_earned_1_0_is_read_as_2_0_by_aggregates_projections_and_readers,
    due_accounts_are_those_due_by_then_earlier_months_first_and_load_by_id_alone,
    a_decision_taken_outside_the_writer_appends_only_while_its_aggregate_is_unchanged,
);

pub struct Fixture {
    db: backend::TestDb,
    store: Store,
    business: Uuid,
    program: Uuid,
}

async fn fixture(kind: Kind) -> Fixture {
    fixture_with(kind, |_| {}).await
}

/// A fixture whose store opens with `adjust`ed settings.
async fn fixture_with(kind: Kind, adjust: impl FnOnce(&mut loyalty_store::StoreSettings)) -> Fixture {
    let db = backend::TestDb::new(kind);
    let mut settings = db.settings();
    adjust(&mut settings);
    let store = Store::open(&settings).expect("open");
    let business = store
        .create_business("Cafe".to_owned(), format!("hash-{}", Uuid::new_v4()))
        .await
        .expect("business")
        .business_id;
    let program = add_program(&store, business, "Coffee").await;
    Fixture {
        db,
        store,
        business,
        program,
    }
}

/// An active points program of `business`, created and activated through the store.
async fn add_program(store: &Store, business: Uuid, name: &str) -> Uuid {
    let program = Uuid::new_v4();
    let open = open_program_commands(program, business, name, None);
    store
        .write(move |tx| {
            let loaded = tx.load::<Program>(business, program)?.expect("fresh");
            let events = decide_all(&loaded.state, open.clone()).expect("created and activated");
            tx.append(&loaded, events, &EventMetadata::default())?;
            Ok(())
        })
        .await
        .expect("program");
    program
}

fn accrue_command(points: u64) -> AccountCommand {
    accrue_command_at(points, chrono::Utc::now())
}

/// An accrual at `now`, whose lot expires 30 days later: expiring lots give the snapshots a due
/// time, which rebuild must reproduce.
fn accrue_command_at(points: u64, now: chrono::DateTime<chrono::Utc>) -> AccountCommand {
    testing::accrue_command(points, now, Some(30))
}

/// Run one account command in its own write, as the service does.
async fn account_command(f: &Fixture, account: Uuid, command: AccountCommand) -> Result<(), StoreError> {
    account_command_on(&f.store, f.business, account, command).await
}

/// The same through any store (another instance on the same database).
async fn account_command_on(
    store: &Store,
    business: Uuid,
    account: Uuid,
    command: AccountCommand,
) -> Result<(), StoreError> {
    store
        .write(move |tx| {
            let loaded = tx.load::<LoyaltyAccount>(business, account)?.expect("same business");
            let events = loaded.state.handle(command.clone()).expect("accepted");
            tx.append(&loaded, events, &EventMetadata::default())?;
            Ok(())
        })
        .await
}

/// How many of the spawned commands succeeded.
async fn succeeded(handles: Vec<tokio::task::JoinHandle<Result<(), StoreError>>>) -> usize {
    let mut count = 0;
    for handle in handles {
        if handle.await.expect("task").is_ok() {
            count += 1;
        }
    }
    count
}

async fn enrolled(f: &Fixture, email: &str) -> Uuid {
    let account = Uuid::new_v4();
    account_command(f, account, enroll_command(f.program, account, email))
        .await
        .expect("enrolled");
    account
}

async fn a_failing_command_in_a_batch_leaves_the_others_committed(kind: Kind) {
    let f = Arc::new(fixture(kind).await);
    let account = enrolled(&f, "ada@example.com").await;
    let mut handles = Vec::new();
    for i in 0..200u64 {
        let f = Arc::clone(&f);
        handles.push(tokio::spawn(async move {
            let business = f.business;
            f.store
                .write(move |tx| {
                    let loaded = tx.load::<LoyaltyAccount>(business, account)?.expect("same business");
                    let events = loaded.state.handle(accrue_command(1)).expect("accepted");
                    tx.append(&loaded, events, &EventMetadata::default())?;
                    if i % 6 == 0 {
                        // Read after writing (on PostgreSQL this sends the command's writes
                        // first), then fail: what it sent must be undone too.
                        tx.account_view(business, account)?;
                    }
                    if i % 3 == 0 {
                        // Fail after writing: everything this command wrote must be undone.
                        return Err(StoreError::Corrupt("deliberate failure".to_owned()));
                    }
                    Ok(())
                })
                .await
        }));
    }
    let ok = succeeded(handles).await;
    assert_eq!(ok, 133, "every command but each third succeeds");
    let view = f
        .store
        .account(f.business, account)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(view.point_balance, 133);
    assert_eq!(view.version, 134, "enrolment plus one event per successful accrual");
    let page = f
        .store
        .transaction_page(f.business, account, None, 500)
        .await
        .expect("read");
    let loyalty_store::views::TransactionPageAnswer::Page(page) = page else {
        panic!("a page of an account that exists: {page:?}");
    };
    assert_eq!(page.items.len(), 133);
}

async fn a_shared_load_sees_every_change_its_transaction_keeps_and_none_it_undoes(kind: Kind) {
    let f = Arc::new(fixture(kind).await);
    let stale = Arc::new(AtomicU32::new(0));
    let mut handles = Vec::new();
    for i in 0..120u32 {
        let (f, stale) = (Arc::clone(&f), Arc::clone(&stale));
        handles.push(tokio::spawn(async move {
            let (business, program) = (f.business, f.program);
            f.store
                .write(move |tx| {
                    // Many of these share one transaction: the program loaded for sharing must
                    // be the program as the transaction has it now.
                    let shared = tx.load_shared::<Program>(business, program)?.expect("same business");
                    let fresh = tx.load::<Program>(business, program)?.expect("same business");
                    if (shared.version, shared.state.status) != (fresh.version, fresh.state.status) {
                        stale.fetch_add(1, Ordering::SeqCst);
                    }
                    if i % 2 == 0 {
                        let toggle = match fresh.state.status {
                            ProgramStatus::Active => ProgramCommand::Pause { reason: None },
                            _ => ProgramCommand::Resume,
                        };
                        let events = fresh.state.handle(toggle).expect("accepted");
                        tx.append(&fresh, events, &EventMetadata::default())?;
                        // Loaded for sharing after the change, which may yet be undone.
                        tx.load_shared::<Program>(business, program)?;
                    }
                    if i % 6 == 0 {
                        return Err(StoreError::Corrupt("deliberate failure".to_owned()));
                    }
                    Ok(())
                })
                .await
        }));
    }
    let kept = succeeded(handles).await;
    assert_eq!(kept, 100, "every command but each sixth succeeds");
    assert_eq!(stale.load(Ordering::SeqCst), 0, "no command saw a stale program");
    let program = f
        .store
        .write({
            let (business, program) = (f.business, f.program);
            move |tx| Ok(tx.load::<Program>(business, program)?.expect("same business"))
        })
        .await
        .expect("read");
    // Two events made it; each kept toggle (every second command but each sixth) adds one.
    assert_eq!(program.version, 2 + 40);
    assert_eq!(program.state.status, ProgramStatus::Active, "an even number of toggles");
}

async fn a_stale_append_conflicts_and_is_retried_on_fresh_state(kind: Kind) {
    let f = fixture(kind).await;
    let account = enrolled(&f, "ada@example.com").await;
    let business = f.business;
    let attempts = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&attempts);
    let balance = f
        .store
        .write(move |tx| {
            let attempt = seen.fetch_add(1, Ordering::SeqCst);
            let loaded = tx.load::<LoyaltyAccount>(business, account)?.expect("same business");
            if attempt == 0 {
                // Another writer appends first; our append on the old version must conflict.
                let events = loaded.state.handle(accrue_command(5)).expect("accepted");
                tx.append(&loaded, events, &EventMetadata::default())?;
                let stale = loaded.state.handle(accrue_command(7)).expect("accepted");
                tx.append(&loaded, stale, &EventMetadata::default())?;
                // SQLite refuses the stale append at once; PostgreSQL when the command's
                // pipeline is sent, at its end. Either way this answer is never seen.
                return Ok(u64::MAX);
            }
            let events = loaded.state.handle(accrue_command(7)).expect("accepted");
            let state = tx.append(&loaded, events, &EventMetadata::default())?;
            Ok(state.balance.value())
        })
        .await
        .expect("retried and committed");
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "one conflict, one retry");
    assert_eq!(
        balance, 7,
        "the failed attempt's writes were rolled back with its savepoint"
    );
    let view = f
        .store
        .account(f.business, account)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(view.point_balance, 7);
}

/// A stale append that only comes to light when the command reads afterwards (on PostgreSQL
/// its writes are queued and checked when the read sends them): the command is retried on
/// fresh state, and a command of the same batch commits beside it.
async fn a_stale_append_found_by_a_later_read_is_retried_and_the_rest_commits(kind: Kind) {
    let f = Arc::new(fixture(kind).await);
    let account = enrolled(&f, "ada@example.com").await;
    let other = enrolled(&f, "bob@example.com").await;
    let business = f.business;
    let attempts = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&attempts);
    // Prefetched, so on PostgreSQL the load reads nothing and the read is the command's first
    // statement to go out.
    let prefetch = Prefetch {
        business_id: business,
        idempotency_key: None,
        aggregate_id: Some(account),
    };
    let stale = f.store.write_prefetching(Some(prefetch), move |tx| {
        let attempt = seen.fetch_add(1, Ordering::SeqCst);
        let loaded = tx.load::<LoyaltyAccount>(business, account)?.expect("same business");
        if attempt < 2 {
            let events = loaded.state.handle(accrue_command(5)).expect("accepted");
            tx.append(&loaded, events, &EventMetadata::default())?;
            let stale = loaded.state.handle(accrue_command(7)).expect("accepted");
            tx.append(&loaded, stale, &EventMetadata::default())?;
            tx.account_view(business, account)?;
            return Ok(u64::MAX);
        }
        let events = loaded.state.handle(accrue_command(7)).expect("accepted");
        let state = tx.append(&loaded, events, &EventMetadata::default())?;
        Ok(state.balance.value())
    });
    let beside = f.store.write(move |tx| {
        let loaded = tx.load::<LoyaltyAccount>(business, other)?.expect("same business");
        let events = loaded.state.handle(accrue_command(3)).expect("accepted");
        tx.append(&loaded, events, &EventMetadata::default())?;
        Ok(())
    });
    let (stale, beside) = tokio::join!(stale, beside);
    assert_eq!(stale.expect("retried and committed"), 7);
    beside.expect("committed");
    assert!(
        attempts.load(Ordering::SeqCst) >= 3,
        "two stale attempts, then a clean one"
    );
    for (id, balance) in [(account, 7), (other, 3)] {
        let view = f.store.account(business, id).await.expect("read").expect("exists");
        assert_eq!(view.point_balance, balance);
    }
}

async fn an_idempotency_record_commits_only_with_its_events(kind: Kind) {
    let f = fixture(kind).await;
    let business = f.business;
    let record = IdempotencyRecord {
        request_hash: "h".to_owned(),
        response: StoredResponse {
            status: 201,
            body: JsonBody::of(&json!({"ok": true})).expect("JSON"),
        },
    };
    let kept = record.clone();
    let failed = f
        .store
        .write(move |tx| {
            tx.idempotency_put(business, "k1", &kept)?;
            Err::<(), _>(StoreError::Corrupt("the command failed after recording".to_owned()))
        })
        .await;
    assert!(failed.is_err());
    let kept = record.clone();
    let found = f
        .store
        .write(move |tx| {
            let before = tx.idempotency_get(business, "k1")?;
            tx.idempotency_put(business, "k1", &kept)?;
            Ok(before)
        })
        .await
        .expect("write");
    assert_eq!(found, None, "the record of the failed command was rolled back");
    let found = f
        .store
        .write(move |tx| tx.idempotency_get(business, "k1"))
        .await
        .expect("read");
    assert_eq!(found, Some(record));
}

async fn another_business_cannot_load_or_read_an_aggregate(kind: Kind) {
    let f = fixture(kind).await;
    let account = enrolled(&f, "ada@example.com").await;
    let other = Uuid::new_v4();
    let loaded = f
        .store
        .write(move |tx| Ok(tx.load::<LoyaltyAccount>(other, account)?.is_none()))
        .await
        .expect("write");
    assert!(loaded, "a foreign aggregate loads as None");
    assert!(f.store.account(other, account).await.expect("read").is_none());
    assert!(f.store.program(other, f.program).await.expect("read").is_none());
    assert!(f
        .store
        .aggregate_events(other, account, 10)
        .await
        .expect("read")
        .is_none());
    assert!(f.store.event_feed(other, 0, 10).await.expect("read").items.is_empty());
}

async fn the_unique_email_index_backs_the_duplicate_check(kind: Kind) {
    let f = fixture(kind).await;
    enrolled(&f, "ada@example.com").await;
    let second = Uuid::new_v4();
    let result = account_command(&f, second, enroll_command(f.program, second, "ADA@example.com")).await;
    let error = result.expect_err("the unique index refuses a second enrolment with the same email");
    assert!(error.is_unique_violation(), "{error}");
}

async fn a_rebuild_reproduces_the_live_read_models_and_repairs_drift(kind: Kind) {
    let f = fixture(kind).await;
    // Enough members that a few damaged rows stay under an eighth of the table (more, and it
    // is rewritten whole).
    const MEMBERS: u64 = 30;
    for n in 0..MEMBERS {
        let account = enrolled(&f, &format!("member{n}@example.com")).await;
        for p in 1..=n {
            account_command(&f, account, accrue_command(p)).await.expect("accrued");
        }
    }
    // And enough programs that one damaged program row (below) stays under an eighth too.
    const PROGRAMS: u64 = 10;
    for n in 1..PROGRAMS {
        add_program(&f.store, f.business, &format!("Extra {n}")).await;
    }
    let live = f.store.read_model_fingerprint().expect("fingerprint");
    let indexes = f.db.index_names();
    assert!(indexes.iter().any(|name| name == "accounts_by_email"), "{indexes:?}");
    // On SQLite, a trigger counts every snapshot row written: a healthy store's are left alone.
    let sqlite = matches!(f.db, TestDb::Sqlite(_));
    if sqlite {
        f.db.execute(
            "CREATE TABLE snapshot_writes (aggregate_id TEXT);
             CREATE TRIGGER snapshot_updated AFTER UPDATE ON snapshots
                 BEGIN INSERT INTO snapshot_writes VALUES (new.aggregate_id); END;
             CREATE TRIGGER snapshot_inserted AFTER INSERT ON snapshots
                 BEGIN INSERT INTO snapshot_writes VALUES (new.aggregate_id); END;",
        );
    }
    let report = f.store.rebuild_projections(&mut |_, _| {}).expect("rebuild");
    if sqlite {
        assert_eq!(
            f.db.texts("SELECT aggregate_id FROM snapshot_writes"),
            Vec::<String>::new()
        );
    }
    assert_eq!(report.events, 2 * PROGRAMS + MEMBERS + (0..MEMBERS).sum::<u64>());
    assert_eq!(report.aggregates, PROGRAMS + MEMBERS);
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    assert_eq!(f.db.index_names(), indexes);
    // On SQLite the events are projected into staging copies and only differing rows are
    // written: here none (on PostgreSQL the tables are refilled and nothing is counted).
    assert_eq!(report.changes, sqlite.then(RebuildChanges::default));

    let accounts = f.db.texts("SELECT account_id FROM accounts ORDER BY account_id");
    let email_of = |id: &str| {
        f.db.texts(&format!("SELECT email_key FROM accounts WHERE account_id = '{id}'"))
    };
    let swap_emails = |a: &str, b: &str| {
        let (first, second) = (email_of(a)[0].clone(), email_of(b)[0].clone());
        f.db.execute(&format!(
            "UPDATE accounts SET email_key = 'swapping' WHERE account_id = '{a}'"
        ));
        f.db.execute(&format!(
            "UPDATE accounts SET email_key = '{first}' WHERE account_id = '{b}'"
        ));
        f.db.execute(&format!(
            "UPDATE accounts SET email_key = '{second}' WHERE account_id = '{a}'"
        ));
        (first, second)
    };
    let stray_transaction = "INSERT INTO transactions (position, transaction_id, account_id, business_id, type,
             points_changed, new_balance, reason, timestamp)
         SELECT position + 1000000, 'stray', account_id, business_id, type, points_changed, new_balance,
             reason, timestamp
         FROM transactions WHERE position = (SELECT MAX(position) FROM transactions)";

    // A few damaged rows: two accounts with each other's email (a unique pair, which rows written
    // over the stored ones must not collide on), a missing ledger entry, one of no event, one
    // with a wrong reason and, on SQLite, one whose value is right but of the wrong type (a blob
    // is stored as it comes, whatever the column's affinity), and on SQLite a program of no
    // event whose key is NULL. Only those rows are written.
    let (first, _) = swap_emails(&accounts[3], &accounts[4]);
    f.db.execute("DELETE FROM transactions WHERE position = (SELECT MIN(position) FROM transactions)");
    f.db.execute(stray_transaction);
    let positions =
        f.db.texts("SELECT CAST(position AS TEXT) FROM transactions ORDER BY position");
    f.db.execute(&format!(
        "UPDATE transactions SET reason = 'wrong' WHERE position = {}",
        positions[5]
    ));
    if sqlite {
        f.db.execute(&format!(
            "UPDATE transactions SET points_changed = CAST(points_changed AS BLOB) WHERE position = {}",
            positions[6]
        ));
        // A rowid table's text key may be NULL in SQLite: a program of no event with none.
        // (The accounts are stored by their ids since migration 10: there the key cannot be.)
        f.db.execute(
            "INSERT INTO programs (program_id, business_id, name, status, definition, template_id, version,
                 created_at, updated_at)
             SELECT NULL, business_id, 'no key', status, definition, template_id, version, created_at, updated_at
             FROM programs LIMIT 1",
        );
    }
    assert_ne!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    let report = f.store.rebuild_projections(&mut |_, _| {}).expect("rebuild");
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    assert_eq!(email_of(&accounts[3]), vec![first]);
    let few = RebuildChanges {
        rows_written: 5,
        rows_deleted: 2,
        ..RebuildChanges::default()
    };
    assert_eq!(report.changes, sqlite.then_some(few));
    assert_eq!(
        f.db.texts("SELECT CAST(COUNT(*) AS TEXT) FROM programs WHERE program_id IS NULL"),
        vec!["0".to_owned()]
    );
    assert_eq!(f.db.index_names(), indexes);

    // Many damaged rows: wrong balances, missing ledger entries, a ledger entry and an account
    // of no event, and swapped emails again. Tables that differ in many rows are rewritten
    // whole, their secondary indexes built again.
    f.db.execute("UPDATE accounts SET point_balance = point_balance + 1000");
    f.db.execute("DELETE FROM transactions WHERE position % 2 = 0");
    f.db.execute(stray_transaction);
    f.db.execute(&format!(
        "INSERT INTO accounts (account_id, business_id, program_id, customer_id, display_name, email, email_key,
             status, point_balance, lifetime_points, version, enrolled_at, updated_at)
         SELECT '{}', business_id, program_id, 'stray', display_name, 'stray@example.com', 'stray@example.com',
             status, 5, 5, 1, enrolled_at, updated_at
         FROM accounts WHERE account_id = '{}'",
        Uuid::new_v4(),
        accounts[0]
    ));
    let (first, _) = swap_emails(&accounts[1], &accounts[2]);
    assert_ne!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    let report = f.store.rebuild_projections(&mut |_, _| {}).expect("rebuild");
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    assert_eq!(email_of(&accounts[1]), vec![first]);
    assert_eq!(
        report.changes.map(|changes| changes.tables_rewritten),
        sqlite.then_some(2)
    );
    assert_eq!(f.db.index_names(), indexes);

    // Snapshots are compared with each fold and only rewritten where they differ: a damaged
    // state, a wrong version, a missing row and a row of no aggregate are all put right.
    let ids: Vec<String> =
        f.db.texts("SELECT aggregate_id FROM snapshots WHERE aggregate_type = 'LoyaltyAccount' ORDER BY aggregate_id");
    f.db.execute(&format!(
        "UPDATE snapshots SET state = replace(state, '\"status\":\"ACTIVE\"', '\"status\":\"SUSPENDED\"') WHERE aggregate_id = '{}'",
        ids[1]
    ));
    f.db.execute(&format!(
        "UPDATE snapshots SET version = version + 5 WHERE aggregate_id = '{}'",
        ids[2]
    ));
    f.db.execute(&format!("DELETE FROM snapshots WHERE aggregate_id = '{}'", ids[3]));
    let stray = Uuid::new_v4().to_string();
    f.db.execute(&format!(
        "INSERT INTO snapshots (aggregate_id, aggregate_type, business_id, version, state)
         SELECT '{stray}', aggregate_type, business_id, 1, state FROM snapshots WHERE aggregate_id = '{}'",
        ids[4]
    ));
    let state_of = |id: &str| {
        f.db.texts(&format!("SELECT state FROM snapshots WHERE aggregate_id = '{id}'"))
    };
    // Every account's snapshot names its status (a zero balance, say, is left out).
    assert!(
        state_of(&ids[1])[0].contains("\"status\":\"SUSPENDED\""),
        "the state was damaged"
    );
    assert!(state_of(&ids[3]).is_empty(), "the snapshot was deleted");
    assert_eq!(state_of(&stray).len(), 1, "the stray snapshot is there");
    // So is a wrong value in each other column: the sweep's due time, the business, the type.
    let business = format!("business_id = '{}'", Uuid::new_v4());
    let mut damage = vec![
        ("due_at = '2000-01-01T00:00:00.000000Z'", &ids[6]),
        (business.as_str(), &ids[7]),
        ("aggregate_type = 'Reward'", &ids[8]),
    ];
    if sqlite {
        // On SQLite, a column of the right value but the wrong type (a blob is stored as it
        // comes, whatever the column's affinity) differs too.
        damage.push(("version = CAST(version AS BLOB)", &ids[5]));
    }
    for (set, id) in damage {
        f.db.execute(&format!("UPDATE snapshots SET {set} WHERE aggregate_id = '{id}'"));
    }
    if sqlite {
        f.db.execute("DELETE FROM snapshot_writes");
    }
    assert_ne!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    let report = f.store.rebuild_projections(&mut |_, _| {}).expect("rebuild");
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    assert!(state_of(&stray).is_empty(), "the stray snapshot was deleted");
    let snapshots_only = RebuildChanges {
        snapshots_written: 7,
        snapshots_deleted: 1,
        ..RebuildChanges::default()
    };
    assert_eq!(report.changes, sqlite.then_some(snapshots_only));
    if sqlite {
        // The damaged, the wrong version, the missing one and each mistyped or wrong column,
        // nothing else.
        let mut written = f.db.texts("SELECT aggregate_id FROM snapshot_writes");
        written.sort();
        assert_eq!(
            written,
            ids[1..=8]
                .iter()
                .filter(|id| *id != &ids[4])
                .cloned()
                .collect::<Vec<_>>()
        );
    }

    // A snapshot stored in the older encoding, every field written out: the same state, so the
    // read models are untouched, but the rebuild rewrites it in today's encoding.
    let compact = state_of(&ids[5])[0].clone();
    let mut full: serde_json::Value = serde_json::from_str(&compact).expect("a JSON snapshot");
    let defaults = json!({"expiredPoints": 0, "pending": [], "tier": null, "issuedRewards": []});
    for (field, value) in defaults.as_object().expect("an object") {
        full.as_object_mut()
            .expect("an object")
            .insert(field.clone(), value.clone());
    }
    let full = full.to_string();
    assert_ne!(full, compact);
    f.db.execute(&format!(
        "UPDATE snapshots SET state = '{}' WHERE aggregate_id = '{}'",
        full.replace('\'', "''"),
        ids[5]
    ));
    let before = f.store.read_model_fingerprint().expect("fingerprint");
    assert_eq!(before.read_models, live.read_models);
    assert_ne!(before.snapshots, live.snapshots);
    let report = f.store.rebuild_projections(&mut |_, _| {}).expect("rebuild");
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    assert_eq!(
        report.changes.map(|changes| changes.snapshots_written),
        sqlite.then_some(1)
    );
    assert_eq!(state_of(&ids[5]), vec![compact]);
}

/// Events tampered with so that two members of a program have one email (the live projection
/// refuses the second enrolment) fail a rebuild, which leaves the store as it was: whether the
/// duplicate is one differing row among many equal ones (on SQLite copied over the stored row
/// by itself, where it meets the other member's row) or the table is rewritten whole.
async fn a_rebuild_refuses_events_that_project_a_duplicate_email(kind: Kind) {
    let f = fixture(kind).await;
    let mut accounts = Vec::new();
    // Enough members that one differing row stays under an eighth of the table.
    for n in 0..10 {
        accounts.push(enrolled(&f, &format!("member{n}@example.com")).await);
    }
    let live = f.store.read_model_fingerprint().expect("fingerprint");
    f.db.execute(&format!(
        "UPDATE events SET data = replace(data, 'member1@example.com', 'member0@example.com')
         WHERE aggregate_id = '{}'",
        accounts[1]
    ));
    let error = f
        .store
        .rebuild_projections(&mut |_, _| {})
        .expect_err("a duplicate email");
    assert!(error.to_string().to_lowercase().contains("unique"), "{error}");
    // Neither the error nor its causes quote the member's email (PostgreSQL's detail would).
    let mut causes = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    assert!(!causes.concat().contains("member0@example.com"), "{causes:?}");
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), live);

    // Every account row differs too: the table is rewritten whole.
    f.db.execute("UPDATE accounts SET point_balance = point_balance + 1");
    let damaged = f.store.read_model_fingerprint().expect("fingerprint");
    let error = f
        .store
        .rebuild_projections(&mut |_, _| {})
        .expect_err("a duplicate email");
    assert!(error.to_string().to_lowercase().contains("unique"), "{error}");
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), damaged);
}

/// A rebuild reading four events per query: its second thread decodes each page while the one
/// before is written, and the result is the live projections; an event it cannot decode, in a
/// later page, fails the rebuild, which then leaves the store as it was.
async fn a_rebuild_over_many_pages_matches_and_an_undecodable_event_rolls_it_back(kind: Kind) {
    let f = fixture_with(kind, |settings| settings.rebuild_page_count = 4).await;
    const ACCOUNTS: u64 = 5;
    const ACCRUALS: u64 = 6;
    let mut accounts = Vec::new();
    for n in 0..ACCOUNTS {
        accounts.push(enrolled(&f, &format!("page{n}@example.com")).await);
    }
    // Interleaved, so that every page holds events of several aggregates.
    for points in 1..=ACCRUALS {
        for &account in &accounts {
            account_command(&f, account, accrue_command(points))
                .await
                .expect("accrued");
        }
    }
    let live = f.store.read_model_fingerprint().expect("fingerprint");
    // Stored data that names each of its keys twice, with the same values, reads as it did:
    // a `Value` keeps the last of each, and so does the rebuild.
    f.db.execute(
        "UPDATE events SET data = '{' || substr(data, 2, length(data) - 2) || ',' || substr(data, 2, length(data) - 2) || '}'
         WHERE position = (SELECT MAX(position) - 5 FROM events)",
    );
    let events = 2 + ACCOUNTS * (1 + ACCRUALS);
    let mut calls = Vec::new();
    let report = f
        .store
        .rebuild_projections(&mut |done, total| calls.push((done, total)))
        .expect("rebuild");
    assert_eq!((report.events, report.aggregates), (events, 1 + ACCOUNTS));
    assert_eq!(calls.last(), Some(&(events, events)));
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), live);

    // Stored rows arrive four to a message too: every account differs (its table is rewritten
    // whole, and its stored rows are no longer read) and one ledger entry does.
    f.db.execute("UPDATE accounts SET point_balance = point_balance + 1");
    f.db.execute("UPDATE transactions SET reason = 'wrong' WHERE position = (SELECT MAX(position) FROM transactions)");
    assert_ne!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    let report = f.store.rebuild_projections(&mut |_, _| {}).expect("rebuild");
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    if matches!(f.db, TestDb::Sqlite(_)) {
        let changes = report.changes.expect("counted on SQLite");
        assert_eq!(
            (changes.rows_written, changes.rows_deleted, changes.tables_rewritten),
            (ACCOUNTS + 1, ACCOUNTS, 1)
        );
    }

    f.db.execute("UPDATE accounts SET point_balance = point_balance + 1");
    let damaged = f.store.read_model_fingerprint().expect("fingerprint");
    assert_ne!(damaged, live);
    let position = "(SELECT MAX(position) - 3 FROM events)";
    let data =
        f.db.texts(&format!("SELECT data FROM events WHERE position = {position}"))
            .remove(0);
    // Data that is not the event's, and the event's data followed by more than white space.
    for bad in ["{}".to_owned(), format!("{data} {{}}")] {
        f.db.execute(&format!(
            "UPDATE events SET data = '{}' WHERE position = {position}",
            bad.replace('\'', "''")
        ));
        let refused = f
            .store
            .rebuild_projections(&mut |_, _| {})
            .expect_err("an event cannot be decoded");
        assert!(
            refused.to_string().contains("loyalty.points.earned"),
            "{bad}: {refused}"
        );
        assert_eq!(
            f.store.read_model_fingerprint().expect("fingerprint"),
            damaged,
            "rolled back"
        );
    }
}

/// Add a reward of `stock` units to the fixture's program.
async fn reward(f: &Fixture, stock: u64) -> Uuid {
    let (business, program, reward) = (f.business, f.program, Uuid::new_v4());
    f.store
        .write(move |tx| {
            let loaded = tx.load::<Reward>(business, reward)?.expect("fresh");
            let definition = RewardDefinition::parse(
                &json!({"name": "Free coffee", "rewardType": "FREE_ITEM", "pointsCost": 10, "stock": stock}),
            )
            .expect("valid");
            let events = loaded
                .state
                .handle(RewardCommand::Add(AddReward {
                    reward_id: RewardId(reward),
                    program_id: ProgramId(program),
                    definition,
                    program_status: ProgramStatus::Active,
                    catalogue_full: false,
                }))
                .expect("added");
            tx.append(&loaded, events, &EventMetadata::default())?;
            Ok(())
        })
        .await
        .expect("reward");
    reward
}

/// Claim the reward for the account, counting the customer's claims from the projection.
async fn claim(f: &Fixture, reward: Uuid, account: Uuid) -> Result<bool, StoreError> {
    let (business, program) = (f.business, f.program);
    f.store
        .write(move |tx| {
            let loaded = tx.load::<Reward>(business, reward)?.expect("same business");
            let customer_id = account.to_string();
            let command = RewardCommand::Claim(ClaimReward {
                account_id: AccountId(account),
                customer_id: CustomerId::parse("customerId", &customer_id).expect("valid"),
                program_id: ProgramId(program),
                transaction_id: TransactionId::new_random(),
                claims_by_customer: tx.reward_claims_by_customer(reward, &customer_id)?,
            });
            match loaded.state.handle(command) {
                Ok(events) => {
                    tx.append(&loaded, events, &EventMetadata::default())?;
                    Ok(true)
                }
                Err(_) => Ok(false),
            }
        })
        .await
}

async fn concurrent_claims_never_exceed_the_stock_and_rebuild_to_the_live_catalogue(kind: Kind) {
    let f = Arc::new(fixture(kind).await);
    let reward = reward(&f, 5).await;
    let mut accounts = Vec::new();
    for n in 0..20 {
        accounts.push(enrolled(&f, &format!("member{n}@example.com")).await);
    }
    let handles: Vec<_> = accounts
        .iter()
        .map(|account| {
            let (f, account) = (Arc::clone(&f), *account);
            tokio::spawn(async move { claim(&f, reward, account).await })
        })
        .collect();
    let mut claimed = 0;
    for handle in handles {
        if handle.await.expect("task").expect("write") {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 5);
    let catalogue = f
        .store
        .rewards(f.business, f.program)
        .await
        .expect("read")
        .expect("the business's program");
    assert_eq!(catalogue.len(), 1);
    assert_eq!((catalogue[0].remaining_stock, catalogue[0].claimed_count), (Some(0), 5));
    let other_business = Uuid::new_v4();
    assert!(f
        .store
        .rewards(other_business, f.program)
        .await
        .expect("read")
        .is_none());

    let live = f.store.read_model_fingerprint().expect("fingerprint");
    let report = f.store.rebuild_projections(&mut |_, _| {}).expect("rebuild");
    assert_eq!(
        report.aggregates,
        1 + 20 + 1,
        "the program, the accounts and the reward"
    );
    assert_eq!(f.store.read_model_fingerprint().expect("fingerprint"), live);
    assert!(
        !claim(&f, reward, accounts[0]).await.expect("write"),
        "the rebuilt snapshot is out of stock"
    );
}

async fn reopening_the_database_keeps_everything_and_migrations_run_once(kind: Kind) {
    let f = fixture(kind).await;
    let account = enrolled(&f, "ada@example.com").await;
    account_command(&f, account, accrue_command(42)).await.expect("accrued");
    assert_eq!(
        Store::migrate(&f.db.settings().backend).expect("migrate"),
        0,
        "already current"
    );
    let reopened = Store::open(&f.db.settings()).expect("reopen");
    let view = reopened
        .account(f.business, account)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(view.point_balance, 42);
    assert_eq!(view.recent_transactions.len(), 1);
}

/// The sweeper's query: the accounts due by a moment, those of earlier months first (on SQLite
/// the index orders a month's entries by id, not by time), and not those due later in the same
/// month; the sweeper's load finds each by its id alone, with the business that owns it, and
/// nothing of another type or that does not exist.
async fn due_accounts_are_those_due_by_then_earlier_months_first_and_load_by_id_alone(kind: Kind) {
    let f = fixture(kind).await;
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("time").to_utc();
    // Each lot expires 30 days after it was earned. The first-due account has the greatest id,
    // so an order by id alone would put it last.
    let earned = [
        ("a@example.com", Uuid::max(), "2026-01-10T00:00:00Z"), // due 2026-02-09
        ("b@example.com", Uuid::new_v4(), "2026-02-20T00:00:00Z"), // due 2026-03-22T00:00
        ("d@example.com", Uuid::new_v4(), "2026-02-20T06:00:00Z"), // due 2026-03-22T06:00
        ("c@example.com", Uuid::new_v4(), "2026-03-01T00:00:00Z"), // due 2026-03-31
    ];
    for (email, account, when) in earned {
        account_command(&f, account, enroll_command(f.program, account, email))
            .await
            .expect("enrolled");
        account_command(&f, account, accrue_command_at(5, at(when)))
            .await
            .expect("accrued");
    }
    let [a, b, d, c] = earned.map(|(_, account, _)| account);

    let due = f
        .store
        .due_accounts(at("2026-03-22T03:00:00Z"), 100)
        .await
        .expect("due");
    assert_eq!(due, [a, b], "a's month first; d and c are due later in March");
    let due = f
        .store
        .due_accounts(at("2026-04-15T00:00:00Z"), 100)
        .await
        .expect("due");
    assert_eq!(due[0], a);
    let mut march = due[1..].to_vec();
    march.sort();
    let mut expected = vec![b, c, d];
    expected.sort();
    assert_eq!(march, expected);
    let first_two = f.store.due_accounts(at("2026-04-15T00:00:00Z"), 2).await.expect("due");
    assert_eq!((first_two.len(), first_two[0]), (2, a));
    assert!(f
        .store
        .due_accounts(at("2026-02-01T00:00:00Z"), 100)
        .await
        .expect("due")
        .is_empty());

    // An account of another business is loaded as that business's.
    let other_business = f
        .store
        .create_business("Bakery".to_owned(), format!("hash-{}", Uuid::new_v4()))
        .await
        .expect("business")
        .business_id;
    let other_program = add_program(&f.store, other_business, "Bread").await;
    let theirs = Uuid::new_v4();
    account_command_on(
        &f.store,
        other_business,
        theirs,
        enroll_command(other_program, theirs, "e@example.com"),
    )
    .await
    .expect("enrolled");
    let (program, stranger) = (f.program, Uuid::new_v4());
    let found = f
        .store
        .write(move |tx| {
            let owner = |id| -> Result<_, StoreError> {
                Ok(tx
                    .load_any_business::<LoyaltyAccount>(id)?
                    .map(|l| (l.business_id, l.version)))
            };
            Ok([owner(a)?, owner(theirs)?, owner(program)?, owner(stranger)?])
        })
        .await
        .expect("loaded");
    assert_eq!(found, [Some((f.business, 2)), Some((other_business, 1)), None, None]);
}

/// The sweeper's way: aggregates read outside the writer (each as its owner's, of the type
/// asked for only), decided on, and appended by the writer only if still at the version
/// decided on; one that moved on in between gets nothing of the stale decision, and the same
/// decision appended twice counts once.
async fn a_decision_taken_outside_the_writer_appends_only_while_its_aggregate_is_unchanged(kind: Kind) {
    let f = fixture(kind).await;
    let (kept, moved) = (Uuid::new_v4(), Uuid::new_v4());
    for (account, email) in [(kept, "k@example.com"), (moved, "m@example.com")] {
        account_command(&f, account, enroll_command(f.program, account, email))
            .await
            .expect("enrolled");
        account_command(&f, account, accrue_command(5)).await.expect("accrued");
    }
    let loaded = f
        .store
        .load_any_business::<LoyaltyAccount>(vec![kept, f.program, Uuid::new_v4(), moved])
        .await
        .expect("read");
    let mut found: Vec<_> = loaded
        .iter()
        .map(|l| (l.aggregate_id, l.business_id, l.version))
        .collect();
    found.sort();
    let mut expected = vec![(kept, f.business, 2), (moved, f.business, 2)];
    expected.sort();
    assert_eq!(found, expected, "accounts only, those that exist");
    let decide = |id: Uuid, points| {
        let loaded = loaded.iter().find(|l| l.aggregate_id == id).expect("loaded");
        let events = loaded.state.handle(accrue_command(points)).expect("accepted");
        Decided::new(loaded, events).expect("written out")
    };
    let moved_decision = decide(moved, 3);
    let kept_decision = decide(kept, 7);
    // A till's accrual reaches `moved` before the writer appends the decisions.
    account_command(&f, moved, accrue_command(1)).await.expect("accrued");

    let appended = f
        .store
        .write(move |tx| {
            let metadata = EventMetadata::default();
            Ok([
                tx.append_decided(&kept_decision, &metadata)?,
                tx.append_decided(&moved_decision, &metadata)?,
                tx.append_decided(&kept_decision, &metadata)?,
            ])
        })
        .await
        .expect("written");
    assert_eq!(appended, [true, false, false]);
    let view = |account| {
        let store = f.store.clone();
        let business = f.business;
        async move {
            let view = store.account(business, account).await.expect("read").expect("exists");
            view.point_balance
        }
    };
    assert_eq!(view(kept).await, 12);
    assert_eq!(view(moved).await, 6, "the stale decision's 3 points are not there");
    let events = f
        .store
        .aggregate_events(f.business, moved, 100)
        .await
        .expect("events")
        .expect("exists");
    assert_eq!(events.len(), 3);
    let fresh = f
        .store
        .load_any_business::<LoyaltyAccount>(vec![kept])
        .await
        .expect("read");
    assert_eq!(fresh[0].version, 3, "the snapshot follows the decision");
    assert_eq!(fresh[0].state.balance, Points::new(12));
}

/// Write an event row as an older version of the code did, bypassing the current writer.
fn insert_old_event(
    f: &Fixture,
    account: Uuid,
    sequence: i64,
    event_type: &str,
    version: &str,
    data: &serde_json::Value,
) {
    let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
    f.db.execute(&format!(
        "INSERT INTO events (position, event_id, event_type, version, timestamp, aggregate_type, aggregate_id,
                             sequence, business_id, data, metadata)
         VALUES ((SELECT COALESCE(MAX(position), 0) + 1 FROM events), {}, {}, {},
                 '2025-11-07T15:30:00.000000Z', 'LoyaltyAccount', {}, {sequence}, {}, {}, '{{}}')",
        quote(&Uuid::new_v4().to_string()),
        quote(event_type),
        quote(version),
        quote(&account.to_string()),
        quote(&f.business.to_string()),
        quote(&data.to_string()),
    ));
}

async fn points_earned_1_0_is_read_as_2_0_by_aggregates_projections_and_readers(kind: Kind) {
    let f = fixture(kind).await;
    let account = enrolled(&f, "old@example.com").await;
    account_command(&f, account, accrue_command(10)).await.expect("accrued");
    // The seed's 1.0 shape: `points`, no reason, no transactionId, no earnedAt.
    insert_old_event(
        &f,
        account,
        3,
        "loyalty.points.earned",
        "1.0",
        &json!({"customerId": account.to_string(), "programId": f.program.to_string(),
                "points": 50, "totalPoints": 60, "referenceType": "purchase"}),
    );
    f.store.rebuild_projections(&mut |_, _| {}).expect("rebuild");

    let view = f
        .store
        .account(f.business, account)
        .await
        .expect("read")
        .expect("account");
    assert_eq!(view.point_balance, 60, "the projection counted the 1.0 event");
    assert_eq!(view.lifetime_points, 60);
    assert_eq!(view.recent_transactions[0].points_changed, 50);
    let events = f
        .store
        .aggregate_events(f.business, account, 10)
        .await
        .expect("read")
        .expect("own");
    assert_eq!(events[2].version, "2.0", "readers see the current version");
    assert_eq!(events[2].data["pointsEarned"], 50);
    assert_eq!(events[2].data["referenceType"], "PURCHASE");
    assert!(events[2].data.get("points").is_none());

    // The rebuilt snapshot holds the points too: the aggregate can spend them.
    let business = f.business;
    let lots = f
        .store
        .write(move |tx| {
            let loaded = tx.load::<LoyaltyAccount>(business, account)?.expect("same business");
            assert_eq!(loaded.state.balance.value(), 60);
            Ok(loaded.state.lots.total())
        })
        .await
        .expect("loaded");
    assert_eq!(lots, 60, "the lots hold the upcast points");
}
