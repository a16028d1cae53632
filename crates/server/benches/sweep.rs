//! The expiry sweep at scale: seed `LOYALTY_SWEEP_LOTS` members (default 200,000), each with
//! one lot of points that expired on one of the past year's days, on a fresh SQLite database
//! (or the one named below); then time one sweep that expires them all, as `loyalty expire`
//! runs it. Prints the figure; not part of `cargo test`. `cargo bench -p loyalty-server --bench
//! sweep`
//! (`LOYALTY_SWEEP_LOTS=1000000` for the proof issue's scale: its seeding takes about a minute
//! on SQLite, 100,000 members per transaction, and about seven on PostgreSQL, 10,000 per
//! transaction). `LOYALTY_SWEEP_HISTORY=N` gives each member N more lots of one point, earned
//! over the past 300 days and not due yet: a long-lived member's snapshot (about 13.7 KB at 100)
//! instead of a new member's 400 bytes. `LOYALTY_SWEEP_DATABASE_URL` runs it on that database
//! instead (a PostgreSQL URL naming an empty schema, as
//! `postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3Dsweep`); the CPU figure
//! is then this process's alone, without the database server's.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use loyalty_domain::account::{
    AccountCommand, AccruePoints, EnrollCustomer, EnrollmentMethod, LoyaltyAccount, ProgramFacts, ProgramRules,
    ReferenceType,
};
use loyalty_domain::program::{Program, ProgramStatus};
use loyalty_domain::testing::{decide_all, open_program_commands};
use loyalty_domain::values::{AccountId, CustomerId, DisplayName, Email, Points, ProgramId, Reason, TransactionId};
use loyalty_server::config::DatabaseUrl;
use loyalty_server::sweeper::{sweep, SweepScope};
use loyalty_store::{Backend, EventMetadata, Store, StoreSettings};
use uuid::Uuid;

/// The allocator `loyalty expire` and `loyalty serve` run with (see `main.rs`), so the figure is
/// theirs: with the system's, malloc and free took about 5% of the writer's samples.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Members per seeding transaction.
const SEED_CHUNK: usize = 100_000;
/// The same on PostgreSQL, whose store is opened again after each (see `main`).
const SEED_CHUNK_POSTGRES: usize = 10_000;

fn main() {
    let lots: usize = std::env::var("LOYALTY_SWEEP_LOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let history: usize = std::env::var("LOYALTY_SWEEP_HISTORY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = match std::env::var("LOYALTY_SWEEP_DATABASE_URL") {
        Ok(url) => DatabaseUrl::parse(&url)
            .expect("LOYALTY_SWEEP_DATABASE_URL")
            .store_settings(),
        Err(_) => StoreSettings::new(dir.path().join("sweep.db")),
    };
    let mut store = Store::open(&settings).expect("open");
    runtime.block_on(async {
        let business = store
            .create_business("Sweep".to_owned(), format!("hash-{}", Uuid::new_v4()))
            .await
            .expect("business")
            .business_id;
        let program = create_program(&store, business).await;
        let seeding = Instant::now();
        let mut seeded = 0;
        let chunk = match store.backend() {
            Backend::Sqlite(_) => SEED_CHUNK,
            Backend::Postgres(_) => SEED_CHUNK_POSTGRES,
        };
        while seeded < lots {
            let count = (chunk / (1 + history)).max(1).min(lots - seeded);
            seed(&store, business, program, seeded, count, history).await;
            seeded += count;
            // PostgreSQL keeps a generic plan for a statement the writer holds prepared until
            // something invalidates it: plans made on the first, nearly empty tables scan them
            // whole (a sweep spent 0.18 s on each update of 256 accounts). Where autovacuum
            // runs, its `ANALYZE` has them planned again; this machine's PostgreSQL runs without
            // it. A store opened again plans them on the tables as they are, as a `loyalty
            // expire` process does. (Within one transaction nothing helps: 100,000 members in
            // one ran for over ten minutes, hence the smaller transactions.)
            if matches!(store.backend(), Backend::Postgres(_)) {
                store.close();
                store = Store::open(&settings).expect("open");
            }
        }
        eprintln!(
            "seeded {lots} members with an expired lot each in {:.1}s",
            seeding.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let cpu_before = process_cpu_seconds();
        let report = sweep(
            &store,
            SweepScope {
                as_of: Utc::now(),
                review_tiers: false,
            },
            &mut |_, _| {},
        )
        .await
        .expect("sweep");
        let seconds = started.elapsed().as_secs_f64();
        let cpu = process_cpu_seconds() - cpu_before;
        println!(
            "expiry sweep: {} lots expired ({} points) on {} accounts in {seconds:.1}s = {:.0} lots/s; \
             {cpu:.1} CPU seconds = {:.1} CPU µs per lot",
            report.lots_expired,
            report.points_expired,
            report.accounts_swept,
            report.lots_expired as f64 / seconds,
            cpu * 1e6 / report.lots_expired.max(1) as f64
        );
        assert_eq!(report.lots_expired as usize, lots, "every lot expired once");
    });
}

async fn create_program(store: &Store, business: Uuid) -> Uuid {
    let program = Uuid::now_v7();
    store
        .write(move |tx| {
            let loaded = tx.load::<Program>(business, program)?.expect("fresh");
            let open = open_program_commands(program, business, "Expiring", Some(365));
            let events = decide_all(&loaded.state, open).expect("created and activated");
            tx.append(&loaded, events, &EventMetadata::default())?;
            Ok(())
        })
        .await
        .expect("program");
    program
}

/// A version 7 id of the moment `at`, as the service makes one then.
fn v7_at(at: DateTime<Utc>) -> Uuid {
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.timestamp() as u64,
        at.timestamp_subsec_nanos(),
    ))
}

/// `count` members, each with one 10-point lot that expired after 365 days, on one of the past
/// year's days: spread as a real program's expiries are, so the sweep meets them in an order
/// unrelated to the order the members enrolled in (with one expiry time for all, it would meet
/// them in key order, its easiest case). Each member enrolled at some moment of the year before
/// earning, and each id is a version 7 one of its moment, as the service makes them: the
/// members' ids and the ledger's lie among each other in time, as in a real program's tables.
async fn seed(store: &Store, business: Uuid, program: Uuid, first: usize, count: usize, history: usize) {
    let now = Utc::now();
    store
        .write(move |tx| {
            for n in first..first + count {
                // A fixed scatter of the member number over 365 days (7,919 is prime).
                let days_ago = 366 + (n as i64 * 7_919) % 365;
                let earned_at = now - Duration::days(days_ago);
                let lot = v7_at(earned_at);
                let enrolled_at = earned_at - Duration::seconds((n as i64 * 104_729) % (365 * 86_400));
                let account = v7_at(enrolled_at);
                let loaded = tx.load::<LoyaltyAccount>(business, account)?.expect("fresh");
                let commands = [
                    AccountCommand::Enroll(EnrollCustomer {
                        account_id: AccountId(account),
                        customer_id: CustomerId::parse("customerId", &format!("c-{n}")).expect("valid"),
                        display_name: DisplayName::parse("displayName", "Member").expect("valid"),
                        email: Email::parse("email", &format!("m{n}@example.com")).expect("valid"),
                        method: EnrollmentMethod::Manual,
                        program: ProgramFacts {
                            program_id: ProgramId(program),
                            name: "Expiring".to_owned(),
                            status: ProgramStatus::Active,
                            self_enroll_enabled: true,
                            enrollment_full: false,
                            initial_tier: None,
                        },
                        email_taken: false,
                    }),
                    AccountCommand::Accrue(AccruePoints {
                        transaction_id: TransactionId(lot),
                        points: Points::new(10),
                        reason: Reason::parse("reason", "seed").expect("valid"),
                        order_ref: None,
                        reference_type: ReferenceType::Manual,
                        program: program_rules(),
                        now: earned_at,
                    }),
                ];
                // `history` more lots of 1 point each, earned over the past 300 days and not
                // due yet: a long-lived member's larger snapshot.
                let later = (0..history).map(|k| {
                    let at = now - Duration::days(300) + Duration::minutes((k * 300 * 1_440 / history) as i64);
                    AccountCommand::Accrue(AccruePoints {
                        transaction_id: TransactionId(v7_at(at)),
                        points: Points::new(1),
                        reason: Reason::parse("reason", "seed").expect("valid"),
                        order_ref: None,
                        reference_type: ReferenceType::Manual,
                        program: program_rules(),
                        now: at,
                    })
                });
                let commands: Vec<AccountCommand> = commands.into_iter().chain(later).collect();
                let events = decide_all(&loaded.state, commands).expect("accepted");
                tx.append(&loaded, events, &EventMetadata::default())?;
            }
            Ok(())
        })
        .await
        .expect("seeded");
}

/// The rules of the seeded program: lots expire after 365 days.
fn program_rules() -> ProgramRules {
    ProgramRules {
        status: ProgramStatus::Active,
        rule: None,
        tiers: Default::default(),
        point_expiry_days: Some(365),
        pending_days: None,
    }
}

/// CPU time (user and system) this process used so far, from `/proc/self/stat` (0 elsewhere):
/// steadier than wall time on a shared machine.
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The fields after the command name (which is in parentheses and may hold spaces).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: indices 11 and 12 of what follows the
    // name, where the state (field 3) is index 0.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}
