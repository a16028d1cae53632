//! `loyalty import accounts FILE.csv`: enrol many members at once, all or nothing.
//!
//! The file has a header row naming the columns `customerId`, `displayName` and `email` (in any
//! order; an optional `accountId` keeps ids from another system; other columns are ignored).
//! Every row is checked first (each field by the same rules as the API, emails unique within
//! the file); any bad row means nothing is written and every bad row is reported with its line
//! and field. Then all members are enrolled in one transaction: either every one of them is
//! enrolled, or (an email already enrolled, the program not active) none is, and the refused
//! rows are reported the same way. Imported members enrol as `MANUAL` and get the program's
//! signup bonus, if it has one, from a running server like any enrolment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use loyalty_domain::account::{
    AccountCommand, AccountError, EnrollCustomer, EnrollmentMethod, LoyaltyAccount, ProgramFacts,
};
use loyalty_domain::program::{Program, ProgramStatus, TierPolicy};
use loyalty_domain::values::{AccountId, CustomerId, DisplayName, Email, ProgramId};
use loyalty_domain::Aggregate;
use loyalty_store::{EventMetadata, Store, StoreError};
use serde::Serialize;
use uuid::Uuid;

/// How many members' writes are queued before they are sent (PostgreSQL).
const IMPORT_FLUSH_COUNT: usize = 10_000;

/// The most row errors printed (all are counted).
pub const REPORTED_ERRORS_MAX: usize = 1_000;

#[derive(Debug, Args)]
pub struct ImportAccountsArgs {
    /// The CSV file: a header row with customerId, displayName, email (and optionally accountId).
    pub file: PathBuf,
    /// The business the members belong to.
    #[arg(long)]
    pub business: Uuid,
    /// The ACTIVE program they enrol in.
    #[arg(long)]
    pub program: Uuid,
    /// Print the result (or the row errors) as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// One bad row: its line in the file (the header is line 1), the column and what is wrong.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

/// What an import did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub imported: u64,
    pub seconds: f64,
    pub rows_per_sec: f64,
}

/// A checked row.
#[derive(Debug, Clone)]
struct Member {
    line: u64,
    account_id: AccountId,
    customer_id: CustomerId,
    display_name: DisplayName,
    email: Email,
}

pub async fn run(store: &Store, args: ImportAccountsArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (members, errors) = read(&args.file)?;
    if !errors.is_empty() {
        return refuse(
            &args,
            &errors,
            "nothing was imported: fix these rows and run the import again",
        );
    }
    let total = members.len() as u64;
    let bar = crate::progress::bar(
        total,
        "{spinner} importing [{bar:40}] {pos}/{len} members ({per_sec}, eta {eta})",
    );
    let done = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (bar, done) = (bar.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            loop {
                bar.set_position(done.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let refused = Arc::new(Mutex::new(Vec::new()));
    let outcome = enrol_all(store, &args, Arc::new(members), Arc::clone(&done), Arc::clone(&refused)).await;
    ticker.abort();
    bar.finish_and_clear();
    let refused = refused.lock().map(|r| r.clone()).unwrap_or_default();
    if !refused.is_empty() {
        return refuse(&args, &refused, "nothing was imported: every member was rolled back");
    }
    outcome.context("the import failed; nothing was imported")?;
    let seconds = started.elapsed().as_secs_f64();
    let report = ImportReport {
        imported: total,
        seconds,
        rows_per_sec: total as f64 / seconds.max(1e-9),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "imported {} members in {:.1}s ({:.0} rows/s)",
            report.imported, report.seconds, report.rows_per_sec
        );
    }
    Ok(())
}

/// Print the row errors (to stdout as JSON with --json, else to stderr) and fail.
fn refuse(args: &ImportAccountsArgs, errors: &[RowError], why: &str) -> anyhow::Result<()> {
    let shown = &errors[..errors.len().min(REPORTED_ERRORS_MAX)];
    if args.json {
        println!(
            "{}",
            serde_json::json!({"imported": 0, "errorCount": errors.len(), "errors": shown})
        );
    } else {
        for e in shown {
            eprintln!("{}:{}: {}: {}", args.file.display(), e.line, e.field, e.message);
        }
        if errors.len() > shown.len() {
            eprintln!("... and {} more", errors.len() - shown.len());
        }
    }
    bail!("{} bad row(s); {why}", errors.len())
}

/// Read and check every row; the members, or every row error.
fn read(file: &PathBuf) -> anyhow::Result<(Vec<Member>, Vec<RowError>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("could not open {}", file.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("could not read the header row of {}", file.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(customer), Some(display), Some(email)) = (column("customerId"), column("displayName"), column("email"))
    else {
        bail!(
            "{}: the header row must name the columns customerId, displayName and email (found: {})",
            file.display(),
            headers.iter().collect::<Vec<_>>().join(", ")
        );
    };
    let account = column("accountId");
    let mut members = Vec::new();
    let mut errors = Vec::new();
    let mut emails: HashMap<String, u64> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                errors.push(RowError {
                    line,
                    field: "row".to_owned(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let field = |i: usize| record.get(i).unwrap_or_default();
        let mut bad = |name: &str, message: String| {
            errors.push(RowError {
                line,
                field: name.to_owned(),
                message,
            })
        };
        let customer_id = CustomerId::parse("customerId", field(customer));
        let display_name = DisplayName::parse("displayName", field(display));
        let email_value = Email::parse("email", field(email));
        let account_id = match account.map(field).filter(|raw| !raw.is_empty()) {
            None => Ok(AccountId(Uuid::now_v7())),
            Some(raw) => Uuid::parse_str(raw)
                .map(AccountId)
                .map_err(|_| "must be a UUID".to_owned()),
        };
        for failed in [
            customer_id.as_ref().err(),
            display_name.as_ref().err(),
            email_value.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        {
            for e in &failed.0 {
                bad(&e.field, e.message.clone());
            }
        }
        if let Err(message) = &account_id {
            bad("accountId", message.clone());
        }
        if let Ok(email) = &email_value {
            if let Some(first) = emails.insert(email.key(), line) {
                bad("email", format!("the same email as line {first}"));
            }
        }
        if let (Ok(customer_id), Ok(display_name), Ok(email), Ok(account_id)) =
            (customer_id, display_name, email_value, account_id)
        {
            members.push(Member {
                line,
                account_id,
                customer_id,
                display_name,
                email,
            });
        }
    }
    if members.is_empty() && errors.is_empty() {
        bail!("{} has no rows after its header", file.display());
    }
    Ok((members, errors))
}

/// Enrol every member in one write: refused rows go to `refused` and roll everything back.
async fn enrol_all(
    store: &Store,
    args: &ImportAccountsArgs,
    members: Arc<Vec<Member>>,
    done: Arc<AtomicU64>,
    refused: Arc<Mutex<Vec<RowError>>>,
) -> Result<(), StoreError> {
    let (business, program_id) = (args.business, args.program);
    store
        .write(move |tx| {
            done.store(0, Ordering::Relaxed);
            let mut rejected = Vec::new();
            let Some(program) = tx.load::<Program>(business, program_id)?.filter(|p| p.state.exists()) else {
                rejected.push(RowError {
                    line: 1,
                    field: "program".to_owned(),
                    message: format!("no program {program_id} in business {business}"),
                });
                return reject(&refused, rejected);
            };
            if program.state.status != ProgramStatus::Active {
                rejected.push(RowError {
                    line: 1,
                    field: "program".to_owned(),
                    message: format!(
                        "the program is {}; members enrol in ACTIVE programs",
                        program.state.status
                    ),
                });
                return reject(&refused, rejected);
            }
            let settings = &program.state.definition.enrollment_settings;
            let facts = ProgramFacts {
                program_id: ProgramId(program_id),
                name: program.state.definition.name.clone(),
                status: program.state.status,
                self_enroll_enabled: settings.self_enroll_enabled,
                enrollment_full: false,
                initial_tier: TierPolicy::of(&program.state.definition)
                    .tiers
                    .first()
                    .filter(|t| t.min_points == 0)
                    .cloned(),
            };
            let room = match settings.max_enrollments {
                Some(max) => max.saturating_sub(tx.account_count(program_id)?),
                None => u64::MAX,
            };
            if members.len() as u64 > room {
                rejected.push(RowError {
                    line: 1,
                    field: "program".to_owned(),
                    message: format!("the program has room for {room} more members, not {}", members.len()),
                });
                return reject(&refused, rejected);
            }
            let metadata = EventMetadata::default();
            // Read ahead for all members at once, not a round trip or two per member on
            // PostgreSQL. Emails are unique within the file, so no member takes another's.
            let ids: Vec<Uuid> = members.iter().map(|m| m.account_id.0).collect();
            tx.prefetch(&ids)?;
            let keys: Vec<String> = members.iter().map(|m| m.email.key()).collect();
            let taken = tx.emails_taken(program_id, &keys)?;
            for (n, member) in members.iter().enumerate() {
                if n > 0 && n % IMPORT_FLUSH_COUNT == 0 {
                    tx.flush()?;
                }
                let command = AccountCommand::Enroll(EnrollCustomer {
                    account_id: member.account_id,
                    customer_id: member.customer_id.clone(),
                    display_name: member.display_name.clone(),
                    email: member.email.clone(),
                    method: EnrollmentMethod::Manual,
                    program: facts.clone(),
                    email_taken: taken.contains(&member.email.key()),
                });
                let account = match tx.load::<LoyaltyAccount>(business, member.account_id.0)? {
                    Some(account) if account.version == 0 => account,
                    _ => {
                        rejected.push(RowError {
                            line: member.line,
                            field: "accountId".to_owned(),
                            message: "an account with this id already exists".to_owned(),
                        });
                        continue;
                    }
                };
                match account.state.handle(command) {
                    Ok(events) => {
                        tx.append(&account, events, &metadata)?;
                    }
                    Err(refusal) => rejected.push(RowError {
                        line: member.line,
                        field: match refusal {
                            AccountError::DuplicateEnrollment => "email",
                            AccountError::AlreadyExists => "accountId",
                            _ => "program",
                        }
                        .to_owned(),
                        message: refusal.to_string(),
                    }),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            reject(&refused, rejected)
        })
        .await
}

/// Ok when nothing was refused; otherwise the refusals are kept and the write fails (so it
/// rolls back).
fn reject(refused: &Mutex<Vec<RowError>>, rejected: Vec<RowError>) -> Result<(), StoreError> {
    if rejected.is_empty() {
        return Ok(());
    }
    let count = rejected.len();
    if let Ok(mut refused) = refused.lock() {
        *refused = rejected;
    }
    Err(StoreError::WriteFailed(format!("{count} row(s) refused")))
}
