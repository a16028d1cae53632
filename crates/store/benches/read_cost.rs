//! What an account read costs with a short history and with a long one: reads go to the
//! projection (and commands to the snapshot), so 100,000 events should cost what 10 do.
//! `cargo bench -p loyalty-store --bench read_cost`

use criterion::{criterion_group, criterion_main, Criterion};
use loyalty_domain::account::{
    AccountCommand, AccruePoints, EnrollCustomer, EnrollmentMethod, LoyaltyAccount, ProgramFacts, ProgramRules,
    ReferenceType,
};
use loyalty_domain::program::{ProgramStatus, TierPolicy};
use loyalty_domain::testing::decide_all;
use loyalty_domain::values::{AccountId, CustomerId, DisplayName, Email, Points, ProgramId, Reason, TransactionId};
use loyalty_store::{EventMetadata, Store, StoreSettings};
use uuid::Uuid;

/// Enrol an account and give it `accruals` accruals, in one write.
async fn account_with_history(store: &Store, business: Uuid, program: Uuid, accruals: u64) -> Uuid {
    let account = Uuid::now_v7();
    store
        .write(move |tx| {
            let loaded = tx.load::<LoyaltyAccount>(business, account)?.expect("fresh");
            let enroll = AccountCommand::Enroll(EnrollCustomer {
                account_id: AccountId(account),
                customer_id: CustomerId::parse("customerId", &account.to_string()).expect("valid"),
                display_name: DisplayName::parse("displayName", "Bench").expect("valid"),
                email: Email::parse("email", &format!("{account}@example.com")).expect("valid"),
                method: EnrollmentMethod::Manual,
                program: ProgramFacts {
                    program_id: ProgramId(program),
                    name: "P".to_owned(),
                    status: ProgramStatus::Active,
                    self_enroll_enabled: true,
                    enrollment_full: false,
                    initial_tier: None,
                },
                email_taken: false,
            });
            let mut commands = vec![enroll];
            for _ in 0..accruals {
                commands.push(AccountCommand::Accrue(AccruePoints {
                    transaction_id: TransactionId::new_random(),
                    points: Points::new(1),
                    reason: Reason::parse("reason", "bench").expect("valid"),
                    order_ref: None,
                    reference_type: ReferenceType::Manual,
                    program: ProgramRules {
                        status: ProgramStatus::Active,
                        rule: None,
                        tiers: TierPolicy::default(),
                        point_expiry_days: None,
                        pending_days: None,
                    },
                    now: chrono::Utc::now(),
                }));
            }
            let events = decide_all(&loaded.state, commands).expect("accepted");
            tx.append(&loaded, events, &EventMetadata::default())?;
            Ok(())
        })
        .await
        .expect("history written");
    account
}

fn read_cost(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&StoreSettings::new(dir.path().join("bench.db"))).expect("open");
    let (business, program) = runtime.block_on(async {
        let business = store
            .create_business("Bench".to_owned(), format!("hash-{}", Uuid::new_v4()))
            .await
            .expect("business")
            .business_id;
        (business, Uuid::now_v7())
    });
    let short = runtime.block_on(account_with_history(&store, business, program, 9));
    let long = runtime.block_on(account_with_history(&store, business, program, 99_999));
    let mut group = c.benchmark_group("account read");
    for (name, account) in [("10 events", short), ("100,000 events", long)] {
        group.bench_function(name, |b| {
            b.iter(|| runtime.block_on(store.account(business, account)).expect("read"));
        });
    }
    group.finish();
    let mut group = c.benchmark_group("command load (snapshot)");
    for (name, account) in [("10 events", short), ("100,000 events", long)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime
                    .block_on(
                        store.write(move |tx| Ok(tx.load::<LoyaltyAccount>(business, account)?.map(|l| l.version))),
                    )
                    .expect("load")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, read_cost);
criterion_main!(benches);
