//! The sweeper: what changes with time alone. Lots whose `expiresAt` passed expire, pending
//! points whose return window closed are released, and members whose qualifying points fell
//! below their tier when an evaluation period rolled over move down. Each change is an ordinary
//! command's decision appended through the writer (optimistic concurrency, group commit; due
//! accounts go [`SWEEP_JOB_ACCOUNT_COUNT`] to a writer job), so a lot expires at most once
//! however often and however concurrently sweeps run: a second sweep finds nothing due.
//! Expiries and releases are decided off the writer, on the accounts as a read connection sees
//! them, and the writer appends each decision only if its account and program are still at the
//! versions it was taken on, maturing any other account again on its state then (see
//! `Decisions`): the writer is the one thread every command waits for, and a long-lived
//! member's snapshot (about 13 KB) costs more to read and write out than to store.
//!
//! `loyalty expire [--as-of]` runs one sweep; `loyalty serve` runs one every
//! `--sweep-interval-secs`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use loyalty_domain::account::{
    AccountCommand, AccountEvent, ExpirePoints, LoyaltyAccount, ProgramRules, ReleasePending, ReviewTier,
};
use loyalty_domain::program::{EvaluationPeriod, Program, TierPolicy};
use loyalty_domain::values::AccountId;
use loyalty_domain::Aggregate;
use loyalty_store::{Backend, Decided, EventMetadata, Loaded, Store, StoreError, WriteTx};
use serde::Serialize;
use uuid::Uuid;

/// How many due accounts one sweep reads at a time on SQLite (their ids take 16 MB, and the set
/// of those seen about 36 MB more). They are matured in the order of their ids, which is
/// the order of the account, snapshot and ledger indexes, and of the due index within each month
/// (see `loyalty_store`'s `DUE_BY_MONTH_MIGRATION`), so that neighbouring accounts share
/// pages, and a page is written about once per window and commit instead of once per account on
/// it. A sweep of 1,000,000 lots whose expiry times were scattered over a year wrote 50 KB per
/// lot in the order they fell due (156 s), 22.7 KB in key order in windows of 262,144 (78 s) and
/// 16.9 KB in one window of all of them (71 s); since the due accounts are read from the index
/// alone (see `due_accounts`), one window of all of them took 17.1-18.2 s against 22.0-23.6 s in
/// windows of 262,144, and 14.2-14.7 s since the due index is by month (`loyalty expire` on
/// copies of one database, BENCHMARKS.md). Lots that expire together (a program's yearly expiry
/// date) fall due in key order anyway.
pub const SWEEP_WINDOW_COUNT: u32 = 1 << 20;
/// The same on PostgreSQL, kept at its earlier size: its client holds the whole answer while
/// it is read (about 45 MB for this many when each row also carried its business).
pub const SWEEP_WINDOW_COUNT_POSTGRES: u32 = 1 << 18;
/// How many due accounts one sweep job covers: decided together off the writer (their program
/// read once), and appended in one writer job short enough not to hold up the API's commands
/// for long.
pub const SWEEP_JOB_ACCOUNT_COUNT: usize = 256;
/// How many jobs' decisions are taken at once, ahead of the writer: one, so that deciding
/// takes no more than one core from the writer.
pub const SWEEP_DECISIONS_IN_FLIGHT: usize = 1;
/// How many sweep jobs are in flight, so the writer can group-commit them.
pub const SWEEP_JOBS_IN_FLIGHT: usize = 8;
/// How many account commands a tier review keeps in flight, so the writer can group-commit them.
pub const SWEEP_IN_FLIGHT_COUNT: usize = 256;

/// What a sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub as_of: DateTime<Utc>,
    /// Accounts that had something due.
    pub accounts_swept: u64,
    pub lots_expired: u64,
    pub points_expired: u64,
    pub lots_released: u64,
    pub points_released: u64,
    pub tier_upgrades: u64,
    pub tier_downgrades: u64,
    /// Of the accounts swept, those left as they were because the store holds no program of
    /// their business by the id they are enrolled in (data that lost its integrity): each is
    /// logged as an error, and the sweep goes on with the others.
    pub accounts_skipped: u64,
}

impl SweepReport {
    fn count(&mut self, events: &[AccountEvent]) {
        for event in events {
            match event {
                AccountEvent::PointsExpired(e) => {
                    self.lots_expired += 1;
                    self.points_expired += e.points_expired;
                }
                AccountEvent::PointsReleased(e) => {
                    self.lots_released += 1;
                    self.points_released += e.points_released;
                }
                AccountEvent::TierUpgraded(_) => self.tier_upgrades += 1,
                AccountEvent::TierDowngraded(_) => self.tier_downgrades += 1,
                _ => {}
            }
        }
    }

    fn absorb(&mut self, other: SweepReport) {
        self.lots_expired += other.lots_expired;
        self.points_expired += other.points_expired;
        self.lots_released += other.lots_released;
        self.points_released += other.points_released;
        self.tier_upgrades += other.tier_upgrades;
        self.tier_downgrades += other.tier_downgrades;
        self.accounts_skipped += other.accounts_skipped;
    }
}

/// What a sweep covers.
#[derive(Debug, Clone, Copy)]
pub struct SweepScope {
    pub as_of: DateTime<Utc>,
    /// Also review the tiers of members of programs with a yearly evaluation period.
    pub review_tiers: bool,
}

/// Run one sweep at `scope.as_of`; `progress(done, total_so_far)` is called as accounts finish.
pub async fn sweep(
    store: &Store,
    scope: SweepScope,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<SweepReport, StoreError> {
    let as_of = scope.as_of;
    let sweep_id = Uuid::now_v7();
    let mut report = SweepReport {
        as_of,
        ..SweepReport::default()
    };
    let mut seen: HashSet<Uuid> = HashSet::new();
    let mut done = 0u64;
    let window = match store.backend() {
        Backend::Sqlite(_) => SWEEP_WINDOW_COUNT,
        Backend::Postgres(_) => SWEEP_WINDOW_COUNT_POSTGRES,
    };
    loop {
        let due = store.due_accounts(as_of, window).await?;
        // An account still due after its sweep (a refusal, say) must not stop the others.
        let mut fresh: Vec<Uuid> = due.into_iter().filter(|id| seen.insert(*id)).collect();
        if fresh.is_empty() {
            break;
        }
        // Key order (a UUID's bytes sort as its text does, the stored keys' order).
        fresh.sort_unstable();
        let total = seen.len() as u64;
        // Each job's accounts are copied out as it starts, not all at once.
        let starts = (0..fresh.len()).step_by(SWEEP_JOB_ACCOUNT_COUNT);
        let mut results = stream::iter(starts)
            .map(|start| {
                let end = fresh.len().min(start + SWEEP_JOB_ACCOUNT_COUNT);
                decide(store, fresh[start..end].to_vec(), as_of)
            })
            .buffered(SWEEP_DECISIONS_IN_FLIGHT)
            .map(|decided| async move {
                let (swept, decisions) = decided?;
                let (mut report, _) = store.write(move |tx| decisions.append(tx, as_of, sweep_id)).await?;
                report.accounts_swept = swept;
                Ok::<_, StoreError>(report)
            })
            .buffer_unordered(SWEEP_JOBS_IN_FLIGHT);
        while let Some(result) = results.next().await {
            let part = result?;
            done += part.accounts_swept;
            report.accounts_swept += part.accounts_swept;
            report.absorb(part);
            progress(done, total);
        }
    }
    if scope.review_tiers {
        report.absorb(review_tiers(store, as_of, sweep_id).await?);
    }
    Ok(report)
}

fn metadata(sweep_id: Uuid) -> EventMetadata {
    EventMetadata {
        correlation_id: Some(sweep_id),
        causation_id: None,
    }
}

/// Run `command` on the account as it is now in this transaction; append what it decides.
fn run(
    tx: &mut WriteTx<'_>,
    business_id: Uuid,
    account_id: Uuid,
    sweep_id: Uuid,
    command: impl FnOnce(ProgramRules) -> AccountCommand,
) -> Result<Vec<AccountEvent>, StoreError> {
    let Some(account) = tx.load::<LoyaltyAccount>(business_id, account_id)? else {
        return Ok(Vec::new());
    };
    if account.state.enrollment.is_none() {
        return Ok(Vec::new());
    }
    let rules = crate::service::program_rules(tx, business_id, &account.state)?;
    match account.state.handle(command(rules)) {
        Ok(events) if !events.is_empty() => {
            tx.append(&account, events.clone(), &metadata(sweep_id))?;
            Ok(events)
        }
        Ok(_) => Ok(Vec::new()),
        Err(refusal) => {
            tracing::warn!(%account_id, %refusal, "the sweeper's command was refused");
            Ok(Vec::new())
        }
    }
}

/// Decide what maturing one job's due `accounts` appends: they are loaded on a read connection
/// and decided on a blocking thread, so the writer's share is only to append it (see
/// [`Decisions::append`]); how many accounts the job covers, with the decisions.
async fn decide(store: &Store, accounts: Vec<Uuid>, as_of: DateTime<Utc>) -> Result<(u64, Decisions), StoreError> {
    let swept = accounts.len() as u64;
    let loaded = store.load_any_business::<LoyaltyAccount>(accounts).await?;
    let program_ids: HashSet<Uuid> = loaded
        .iter()
        .filter_map(|account| account.state.enrollment.as_ref().map(|e| e.program_id.0))
        .collect();
    let programs = store
        .load_any_business::<Program>(program_ids.into_iter().collect())
        .await?;
    let decisions = tokio::task::spawn_blocking(move || Decisions::take(loaded, &programs, as_of))
        .await
        .map_err(|e| match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => StoreError::WriteFailed(format!("the sweep's decisions were cancelled: {e}")),
        })??;
    Ok((swept, decisions))
}

/// What one job decided outside the writer.
struct Decisions {
    /// The programs decided with: `(business_id, program_id, version)`.
    programs: Vec<(Uuid, Uuid, i64)>,
    accounts: Vec<AccountDecision>,
    /// Accounts left for the writer to mature: those whose program was not found as theirs.
    undecided: Vec<Uuid>,
}

/// What maturing one account decided, and what the sweep's report counts of it.
struct AccountDecision {
    program_id: Uuid,
    decided: Decided<LoyaltyAccount>,
    report: SweepReport,
}

impl Decisions {
    /// Decide what maturing each of `accounts` (enrolled in one of `programs`) appends.
    fn take(
        accounts: Vec<Loaded<LoyaltyAccount>>,
        programs: &[Loaded<Program>],
        as_of: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let rules: HashMap<Uuid, (&Loaded<Program>, ProgramRules)> = programs
            .iter()
            .filter(|program| program.state.exists())
            .map(|program| (program.aggregate_id, (program, ProgramRules::of(&program.state))))
            .collect();
        let mut decisions = Decisions {
            programs: programs
                .iter()
                .map(|p| (p.business_id, p.aggregate_id, p.version))
                .collect(),
            accounts: Vec::new(),
            undecided: Vec::new(),
        };
        for account in accounts {
            let Some(program_id) = account.state.enrollment.as_ref().map(|e| e.program_id.0) else {
                continue;
            };
            let program = match rules.get(&program_id) {
                Some((program, rules)) if program.business_id == account.business_id => rules.clone(),
                _ => {
                    decisions.undecided.push(account.aggregate_id);
                    continue;
                }
            };
            let events = mature(&account.state, account.aggregate_id, program, as_of);
            if events.is_empty() {
                continue;
            }
            let mut report = SweepReport::default();
            report.count(&events);
            decisions.accounts.push(AccountDecision {
                program_id,
                decided: Decided::new(&account, events)?,
                report,
            });
        }
        Ok(decisions)
    }

    /// Append what was decided, for each account whose program and itself are unchanged since;
    /// mature the rest on their state now. What was done, and how many accounts were matured
    /// again.
    fn append(
        &self,
        tx: &mut WriteTx<'_>,
        as_of: DateTime<Utc>,
        sweep_id: Uuid,
    ) -> Result<(SweepReport, usize), StoreError> {
        let ids: Vec<Uuid> = self.accounts.iter().map(|a| a.decided.aggregate_id()).collect();
        tx.prefetch(&ids)?;
        let mut changed_programs = HashSet::new();
        for &(business_id, program_id, version) in &self.programs {
            let now = tx.load_shared::<Program>(business_id, program_id)?.map(|p| p.version);
            if now != Some(version) {
                changed_programs.insert(program_id);
            }
        }
        let mut report = SweepReport::default();
        let mut again = self.undecided.clone();
        for account in &self.accounts {
            if !changed_programs.contains(&account.program_id)
                && tx.append_decided(&account.decided, &metadata(sweep_id))?
            {
                report.absorb(account.report.clone());
            } else {
                again.push(account.decided.aggregate_id());
            }
        }
        again.sort_unstable();
        report.absorb(mature_all(tx, &again, as_of, sweep_id)?);
        Ok((report, again.len()))
    }
}

/// Mature each of `accounts` in the writer, on its state now: release what is due, then expire
/// what is due, appended together. Each program's rules are loaded once.
fn mature_all(
    tx: &mut WriteTx<'_>,
    accounts: &[Uuid],
    as_of: DateTime<Utc>,
    sweep_id: Uuid,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    // By business and program: an account may name another business's program (see below).
    let mut rules: HashMap<(Uuid, Uuid), ProgramRules> = HashMap::new();
    tx.prefetch(accounts)?;
    for &account_id in accounts {
        let Some(account) = tx.load_any_business::<LoyaltyAccount>(account_id)? else {
            continue;
        };
        let business_id = account.business_id;
        let Some(program_id) = account.state.enrollment.as_ref().map(|e| e.program_id.0) else {
            continue;
        };
        let program = match rules.get(&(business_id, program_id)) {
            Some(program) => program.clone(),
            None => match crate::service::rules_of_program(tx, business_id, program_id)? {
                Some(program) => {
                    rules.insert((business_id, program_id), program.clone());
                    program
                }
                // Its business has no such program: the account's data lost its integrity. It
                // must not hold up every other member's expiry: it is left due, and reported
                // each time a sweep meets it.
                None => {
                    tracing::error!(
                        %account_id, %business_id, %program_id,
                        "the sweep skipped an account enrolled in a program its business does not have"
                    );
                    report.accounts_skipped += 1;
                    continue;
                }
            },
        };
        let events = mature(&account.state, account_id, program, as_of);
        if !events.is_empty() {
            tx.append(&account, events.clone(), &metadata(sweep_id))?;
            report.count(&events);
        }
    }
    Ok(report)
}

/// What maturing one account decides: the release of its pending points whose window closed,
/// then the expiry of its lots that are due (on the state after the release). A refused
/// command is logged and decides nothing.
fn mature(
    account: &LoyaltyAccount,
    account_id: Uuid,
    program: ProgramRules,
    as_of: DateTime<Utc>,
) -> Vec<AccountEvent> {
    let mut state = account.clone();
    let mut decided = Vec::new();
    let commands = [
        AccountCommand::ReleasePending(ReleasePending { as_of, program }),
        AccountCommand::ExpirePoints(ExpirePoints {
            as_of,
            account_id: AccountId(account_id),
        }),
    ];
    for command in commands {
        match state.handle(command) {
            Ok(events) => {
                for event in &events {
                    state.apply(event);
                }
                decided.extend(events);
            }
            Err(refusal) => tracing::warn!(%account_id, %refusal, "the sweeper's command was refused"),
        }
    }
    decided
}

/// Move down the members of yearly-period programs who no longer reach their tier.
async fn review_tiers(store: &Store, as_of: DateTime<Utc>, sweep_id: Uuid) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    for (business_id, program_id, definition) in store.tiered_programs().await? {
        let policy = TierPolicy::of(&definition);
        let Some(lowest) = policy.tiers.first().map(|t| t.level) else {
            continue;
        };
        if policy.period == EvaluationPeriod::Lifetime {
            continue;
        }
        let members = store.accounts_above_tier(program_id, lowest).await?;
        let mut results = stream::iter(members)
            .map(|account_id| {
                store.write(move |tx| {
                    let events = run(tx, business_id, account_id, sweep_id, |program| {
                        AccountCommand::ReviewTier(ReviewTier { as_of, program })
                    })?;
                    let mut part = SweepReport::default();
                    part.count(&events);
                    Ok(part)
                })
            })
            .buffer_unordered(SWEEP_IN_FLIGHT_COUNT);
        while let Some(result) = results.next().await {
            report.absorb(result?);
        }
    }
    Ok(report)
}

/// Sweep every `interval` until the process stops; tiers are reviewed once per UTC day.
pub async fn run_periodically(store: Store, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tiers_reviewed_on = None;
    loop {
        ticker.tick().await;
        let now = Utc::now();
        let review_tiers = tiers_reviewed_on != Some(now.date_naive());
        let scope = SweepScope {
            as_of: now,
            review_tiers,
        };
        match sweep(&store, scope, &mut |_, _| {}).await {
            Ok(report) => {
                if review_tiers {
                    tiers_reviewed_on = Some(now.date_naive());
                }
                if report.accounts_swept > 0 || report.tier_downgrades > 0 {
                    tracing::info!(?report, "sweep");
                }
            }
            Err(error) => tracing::error!(%error, "sweep failed; retrying at the next interval"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use loyalty_domain::program::ProgramCommand;
    use loyalty_domain::testing::{accrue_command, decide_all, enroll_command, open_program_commands};
    use loyalty_store::StoreSettings;
    use std::sync::Arc;

    const EXPIRY_DAYS: u32 = 30;

    /// Run `commands` on `aggregate` of `business` in the writer.
    async fn run_commands<A>(store: &Store, business: Uuid, aggregate: Uuid, commands: Vec<A::Command>)
    where
        A: Aggregate + serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
        A::Command: Clone + Send + 'static,
        A::Error: std::fmt::Debug,
        A::Event: loyalty_domain::DomainEvent + Into<loyalty_domain::LoyaltyEvent>,
    {
        store
            .write(move |tx| {
                let loaded = tx.load::<A>(business, aggregate)?.expect("the business's");
                let events = decide_all(&loaded.state, commands.clone()).expect("accepted");
                tx.append(&loaded, events, &EventMetadata::default())?;
                Ok(())
            })
            .await
            .expect("written");
    }

    fn accrue(points: u64, now: DateTime<Utc>) -> AccountCommand {
        accrue_command(points, now, Some(EXPIRY_DAYS))
    }

    /// A store with an active program whose lots expire after [`EXPIRY_DAYS`]:
    /// `(dir, store, business, program)`.
    async fn setup() -> (tempfile::TempDir, Store, Uuid, Uuid) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&StoreSettings::new(dir.path().join("sweep.db"))).expect("open");
        let (business, program) = business_with_program(&store, "Cafe").await;
        (dir, store, business, program)
    }

    /// A new business named `name` with an active program whose lots expire after
    /// [`EXPIRY_DAYS`]: `(business, program)`.
    async fn business_with_program(store: &Store, name: &str) -> (Uuid, Uuid) {
        let business = store
            .create_business(name.to_owned(), format!("hash-{}", Uuid::new_v4()))
            .await
            .expect("business")
            .business_id;
        let program = Uuid::new_v4();
        let open = open_program_commands(program, business, "Expiring", Some(EXPIRY_DAYS));
        run_commands::<Program>(store, business, program, open.into()).await;
        (business, program)
    }

    /// A member of `program` whose lot of 10 points expired 10 days before `now`.
    async fn member_with_expired_lot(store: &Store, business: Uuid, program: Uuid, now: DateTime<Utc>) -> Uuid {
        let account = Uuid::new_v4();
        enroll_with_expired_lot(store, business, program, account, now).await;
        account
    }

    /// [`member_with_expired_lot`] with the account's id chosen.
    async fn enroll_with_expired_lot(store: &Store, business: Uuid, program: Uuid, account: Uuid, now: DateTime<Utc>) {
        let enroll = enroll_command(program, account, &format!("{account}@example.com"));
        let earned = now - Duration::days(i64::from(EXPIRY_DAYS) + 10);
        run_commands::<LoyaltyAccount>(store, business, account, vec![enroll, accrue(10, earned)]).await;
    }

    /// What the sweep decides for `accounts` at `now`, off the writer.
    async fn decisions(store: &Store, accounts: Vec<Uuid>, program: Uuid, now: DateTime<Utc>) -> Arc<Decisions> {
        let loaded = store.load_any_business::<LoyaltyAccount>(accounts).await.expect("read");
        let programs = store.load_any_business::<Program>(vec![program]).await.expect("read");
        Arc::new(Decisions::take(loaded, &programs, now).expect("decided"))
    }

    /// Append `decisions` in the writer: what was done, and how many accounts were matured again.
    async fn append(store: &Store, decisions: &Arc<Decisions>, now: DateTime<Utc>) -> (SweepReport, usize) {
        let decisions = Arc::clone(decisions);
        store
            .write(move |tx| decisions.append(tx, now, Uuid::new_v4()))
            .await
            .expect("swept")
    }

    async fn balance(store: &Store, business: Uuid, account: Uuid) -> i64 {
        let view = store.account(business, account).await.expect("read").expect("exists");
        view.point_balance
    }

    /// Given two members whose lots of 10 points expired, when a till's accrual of 5 reaches one
    /// of them after the sweep decided on both and before the writer appends, then the other's
    /// decision is appended as taken, and the writer matures the one that moved on again, on its
    /// state then: each lot expires once, the new points stay. The same decisions appended again
    /// are both stale, and expire nothing more.
    #[tokio::test]
    async fn a_decision_is_appended_as_taken_unless_its_account_moved_on_in_between() {
        let (_dir, store, business, program) = setup().await;
        let now = Utc::now();
        let kept = member_with_expired_lot(&store, business, program, now).await;
        let moved = member_with_expired_lot(&store, business, program, now).await;
        let decided = decisions(&store, vec![kept, moved], program, now).await;
        assert_eq!(decided.accounts.len(), 2, "both lots are due");
        run_commands::<LoyaltyAccount>(&store, business, moved, vec![accrue(5, now)]).await;

        let (report, matured_again) = append(&store, &decided, now).await;
        assert_eq!((report.lots_expired, report.points_expired), (2, 20));
        assert_eq!(matured_again, 1, "only the account that moved on");
        let (again, matured_again) = append(&store, &decided, now).await;
        assert_eq!((again.lots_expired, matured_again), (0, 2), "{again:?}");
        assert_eq!(balance(&store, business, kept).await, 0);
        assert_eq!(balance(&store, business, moved).await, 5);
        let events = store
            .aggregate_events(business, moved, 100)
            .await
            .expect("events")
            .expect("exists");
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "loyalty.customer.enrolled",
                "loyalty.points.earned",
                "loyalty.points.earned",
                "loyalty.points.expired"
            ]
        );
    }

    /// Given a member whose program was not among those the sweep read (here: none was found),
    /// then the decider leaves the member to the writer, which matures it on the program it
    /// loads itself.
    #[tokio::test]
    async fn a_member_whose_program_was_not_read_is_matured_by_the_writer() {
        let (_dir, store, business, program) = setup().await;
        let now = Utc::now();
        let account = member_with_expired_lot(&store, business, program, now).await;
        let decided = decisions(&store, vec![account], Uuid::new_v4(), now).await;
        assert_eq!(
            (decided.accounts.len(), decided.undecided.as_slice()),
            (0, [account].as_slice())
        );

        let (report, matured_again) = append(&store, &decided, now).await;
        assert_eq!((report.lots_expired, report.points_expired, matured_again), (1, 10, 1));
        assert_eq!(balance(&store, business, account).await, 0);
    }

    /// Given members whose accounts name a program their business does not have (a store that
    /// lost its integrity: one names another business's program, one a program that does not
    /// exist) and a member of the business's own program, all with a lot due, when the sweep
    /// runs, then the first two are skipped and reported, and the third's lot expires.
    #[tokio::test]
    async fn members_of_a_program_their_business_lacks_are_skipped_and_the_others_swept() {
        let (_dir, store, business, program) = setup().await;
        let now = Utc::now();
        let (_, foreign) = business_with_program(&store, "Other").await;
        let stray = member_with_expired_lot(&store, business, foreign, now).await;
        let orphan = member_with_expired_lot(&store, business, Uuid::new_v4(), now).await;
        let member = member_with_expired_lot(&store, business, program, now).await;

        let scope = SweepScope {
            as_of: now,
            review_tiers: false,
        };
        let report = sweep(&store, scope, &mut |_, _| {}).await.expect("swept");
        assert_eq!(
            (report.accounts_swept, report.accounts_skipped, report.lots_expired),
            (3, 2, 1),
            "{report:?}"
        );
        assert_eq!(balance(&store, business, stray).await, 10);
        assert_eq!(balance(&store, business, orphan).await, 10);
        assert_eq!(balance(&store, business, member).await, 0);
    }

    /// Given a member of another business's program, matured in the writer first, and an
    /// account of this business naming that program after it, then the program's rules serve
    /// only its own business's member: the other account is skipped.
    #[tokio::test]
    async fn a_program_s_rules_serve_only_its_own_business_s_members_in_the_writer() {
        let (_dir, store, business, _) = setup().await;
        let now = Utc::now();
        let (other, foreign) = business_with_program(&store, "Other").await;
        let (member, stray) = (Uuid::from_u128(1), Uuid::from_u128(2));
        enroll_with_expired_lot(&store, other, foreign, member, now).await;
        enroll_with_expired_lot(&store, business, foreign, stray, now).await;
        // Neither program is among those read: both go to the writer, in the order of their ids.
        let decided = decisions(&store, vec![member, stray], Uuid::new_v4(), now).await;
        assert_eq!(decided.undecided, [member, stray]);

        let (report, _) = append(&store, &decided, now).await;
        assert_eq!((report.lots_expired, report.accounts_skipped), (1, 1), "{report:?}");
        assert_eq!(balance(&store, other, member).await, 0);
        assert_eq!(balance(&store, business, stray).await, 10);
    }

    /// Given a member whose lot expired, when the program changes (it is paused) after the sweep
    /// decided and before the writer appends, then the decision, taken under the program's
    /// earlier rules, is not appended: the writer matures the member again under the rules now.
    #[tokio::test]
    async fn a_program_that_changed_in_between_sends_its_members_back_to_the_writer() {
        let (_dir, store, business, program) = setup().await;
        let now = Utc::now();
        let account = member_with_expired_lot(&store, business, program, now).await;
        let decided = decisions(&store, vec![account], program, now).await;
        let pause = ProgramCommand::Pause { reason: None };
        run_commands::<Program>(&store, business, program, vec![pause]).await;

        let (report, matured_again) = append(&store, &decided, now).await;
        assert_eq!((report.lots_expired, matured_again), (1, 1));
        assert_eq!(balance(&store, business, account).await, 0);
    }
}
