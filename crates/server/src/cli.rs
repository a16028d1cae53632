//! The `loyalty` command line.

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use loyalty_store::Store;

use crate::bench::BenchArgs;
use crate::config::{parse_listen, DatabaseUrl, ServeSettings};
use crate::delivery::{Delivery, DeliveryOptions, RetryOutcome};
use crate::startup::{shutdown_signal, Application};

/// Event-sourced customer loyalty platform: businesses run points programs, customers enrol,
/// earn, redeem and climb tiers, and every change is an immutable event.
#[derive(Debug, Parser)]
#[command(name = "loyalty", version, propagate_version = true)]
pub struct Cli {
    /// Where the data lives: `sqlite://PATH` (embedded, created on first use), a bare file path, or `postgres://USER@HOST:PORT/DB` (several instances may share one PostgreSQL database)
    #[arg(
        long,
        global = true,
        env = "LOYALTY_DATABASE_URL",
        default_value = "sqlite://loyalty.db"
    )]
    pub database_url: String,

    /// Log format on standard error. `RUST_LOG` sets the level (default `info`).
    #[arg(long, global = true, env = "LOYALTY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Redis for event delivery: each event is appended to the stream `events:<eventType>` and
    /// handlers consume it in consumer groups. Unset: the in-process bus.
    #[arg(long, global = true, env = "LOYALTY_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of the Redis stream names (`<prefix><eventType>`), for sharing one Redis between
    /// deployments.
    #[arg(long, global = true, env = "LOYALTY_REDIS_STREAM_PREFIX", default_value = "events:")]
    pub redis_stream_prefix: String,

    /// With `--redis-url`: how long an entry may stay unacknowledged with a consumer (one that
    /// died, say) before another consumer takes it over, in seconds.
    #[arg(long, global = true, env = "LOYALTY_REDIS_CLAIM_IDLE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub redis_claim_idle_secs: u64,

    /// With `--redis-url`: the business the restaurant chain's payment streams
    /// (`frontofhouse.payment.processed`, `onlineordering.payment.processed`) belong to; they are
    /// consumed through the same adaptors as the HTTP endpoints.
    #[arg(long, global = true, env = "LOYALTY_RESTAURANT_BUSINESS_ID")]
    pub restaurant_business: Option<uuid::Uuid>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (creates and migrates the database on first start).
    Serve(ServeArgs),
    /// Manage businesses (tenants).
    #[command(subcommand)]
    Business(BusinessCommand),
    /// Apply the embedded schema migrations and exit (`serve` also does this on start).
    Migrate,
    /// Read models (accounts, programs, transactions) and snapshots.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Expire due point lots, release pending points whose return window closed, and move members
    /// down whose tier evaluation period rolled over; prints what it did as one line of JSON.
    /// `serve` does the same every `--sweep-interval-secs`. An account enrolled in a program its
    /// business does not have is skipped and logged, and the command then exits with an error.
    Expire(ExpireArgs),
    /// The dead-letter queue: events a handler still failed on after its retries.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// The event store.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Demonstrations on the configured database.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Bulk loads, all or nothing.
    #[command(subcommand)]
    Import(ImportCommand),
    /// The per-location rollout switch of the restaurant integration (as `PUT /v1/locations/{id}`).
    #[command(subcommand)]
    Locations(LocationsCommand),
    /// Measure durable accruals per second through the HTTP API.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LOYALTY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Token that authorises `POST /v1/businesses`; unset disables creating businesses over HTTP.
    #[arg(long, env = "LOYALTY_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Seconds between sweeps that expire due lots, release pending points whose return window
    /// closed, and (once a day) move members down whose tier period rolled over. 0 disables the
    /// sweeper (run `loyalty expire` from a scheduler instead).
    #[arg(long, env = "LOYALTY_SWEEP_INTERVAL_SECS", default_value_t = 60)]
    pub sweep_interval_secs: u64,
    /// Days during which a member can claim a restaurant payment that found no member.
    #[arg(long, env = "LOYALTY_CLAIM_WINDOW_DAYS", default_value_t = loyalty_domain::restaurant::CLAIM_WINDOW_DAYS)]
    pub claim_window_days: u32,
}

#[derive(Debug, Args)]
pub struct ExpireArgs {
    /// Expire what is due at this moment (RFC 3339, e.g. `2027-01-01T00:00:00Z`) instead of now;
    /// a lot expires at most once however often this runs.
    #[arg(long, value_parser = parse_as_of)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Do not review tiers (members below their tier after an evaluation period rolled over).
    #[arg(long)]
    pub skip_tier_review: bool,
}

fn parse_as_of(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("expected an RFC 3339 time such as 2027-01-01T00:00:00Z: {e}"))
}

#[derive(Debug, Subcommand)]
pub enum BusinessCommand {
    /// Create a business and print `{businessId, name, apiKey}` as one line of JSON.
    /// The API key is shown only once; only its hash is stored.
    Create {
        /// The business's name, 1 to 100 characters.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters, oldest first, as JSON lines.
    List {
        /// Only this business's.
        #[arg(long)]
        business: Option<uuid::Uuid>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one dead letter with its event, as JSON.
    Show { id: uuid::Uuid },
    /// Hand a dead letter back to its handler (exactly once, through its inbox); removed when
    /// handled, kept with the new error when it fails again.
    Retry { id: uuid::Uuid },
    /// Remove a dead letter without handling it.
    Discard { id: uuid::Uuid },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Enrol the members of a CSV file (header: customerId, displayName, email[, accountId]) in
    /// one ACTIVE program, in one transaction: every row is checked first and every bad row
    /// reported with its line; if any row is bad or refused, nothing is imported.
    Accounts(crate::import::ImportAccountsArgs),
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// A restaurant chain: a RESTAURANT-template program, four locations (one not enabled),
    /// members, and a stream of dine-in and online payments (some twice, some without a member,
    /// a few refunded) through the adaptors; prints a summary that reconciles.
    Restaurant(crate::demo::DemoArgs),
}

#[derive(Debug, Subcommand)]
pub enum LocationsCommand {
    /// A business's locations, as JSON lines.
    List {
        #[arg(long)]
        business: uuid::Uuid,
    },
    /// Switch loyalty on at a location: its payments earn in `--program` from now on.
    Enable {
        #[arg(long)]
        business: uuid::Uuid,
        #[arg(long)]
        location: String,
        /// The program its payments earn in; the location's current one when omitted.
        #[arg(long)]
        program: Option<uuid::Uuid>,
    },
    /// Switch loyalty off at a location: its payments are acknowledged and counted, not accrued.
    Disable {
        #[arg(long)]
        business: uuid::Uuid,
        #[arg(long)]
        location: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Publish stored events again to the bus (Redis: needs `--redis-url`), from a position on.
    /// Consumers are idempotent, so a replay only reaches those that missed an event.
    Replay {
        /// Publish to the bus (the only target there is; required, to say it on purpose).
        #[arg(long, required = true)]
        to_bus: bool,
        /// Start after this position (0: from the first event).
        #[arg(long, default_value_t = 0)]
        from: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Rebuild every read model and snapshot from the event store, in one transaction.
    /// The service's writes wait while it runs.
    Rebuild,
}

/// What the command prints when it fails: the error and each of its causes, but a cause whose
/// text ends the text of the error it caused is left out. A storage error prints its cause in
/// its own text (`database error: UNIQUE constraint failed: …`) and also names it as its
/// source, which would otherwise be printed twice.
pub fn error_message(error: &anyhow::Error) -> String {
    let mut message = String::new();
    let mut caused = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if caused.is_empty() || !caused.ends_with(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        caused = text;
    }
    message
}

/// Run the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let database = DatabaseUrl::parse(&cli.database_url)?;
    let delivery_settings = delivery_options(&cli);
    match cli.command {
        Command::Serve(args) => {
            let settings = ServeSettings {
                listen: parse_listen(&args.listen)?,
                database,
                admin_token: args.admin_token,
                sweep_interval: (args.sweep_interval_secs > 0).then(|| Duration::from_secs(args.sweep_interval_secs)),
                delivery: delivery_settings,
                claim_window_days: args.claim_window_days,
            };
            let app = Application::build(&settings).await?;
            app.run_until(shutdown_signal()).await
        }
        Command::Business(BusinessCommand::Create { name }) => {
            let store = open(&database)?;
            let name = crate::business::parse_name(Some(&name)).map_err(|e| anyhow::anyhow!("{e}"))?;
            let created = crate::business::create(&store, name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&created)?);
            Ok(())
        }
        Command::Migrate => {
            let applied = Store::migrate(&database.store_settings().backend)
                .with_context(|| format!("could not migrate {}", database.describe()))?;
            eprintln!(
                "{}: {applied} migration(s) applied; schema is current",
                database.describe()
            );
            Ok(())
        }
        Command::Projections(ProjectionsCommand::Rebuild) => rebuild(&database).await,
        Command::Expire(args) => expire(&database, args).await,
        Command::Dlq(command) => dlq(&database, &delivery_settings, command).await,
        Command::Locations(command) => locations(&database, command).await,
        Command::Demo(DemoCommand::Restaurant(args)) => demo(&database, args).await,
        Command::Events(EventsCommand::Replay { to_bus: _, from }) => replay(&database, &delivery_settings, from).await,
        Command::Bench(args) => crate::bench::run(args, &database).await,
        Command::Import(ImportCommand::Accounts(args)) => {
            let store = open(&database)?;
            let imported = crate::import::run(&store, args).await;
            close(store).await;
            imported
        }
    }
}

async fn expire(database: &DatabaseUrl, args: ExpireArgs) -> anyhow::Result<()> {
    let store = open(database)?;
    let scope = crate::sweeper::SweepScope {
        as_of: args.as_of.unwrap_or_else(chrono::Utc::now),
        review_tiers: !args.skip_tier_review,
    };
    let bar = crate::progress::bar(0, "{spinner} sweeping [{bar:40}] {pos}/{len} accounts ({per_sec})");
    let report = crate::sweeper::sweep(&store, scope, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .context("the sweep failed; what it committed stays, run it again to finish")?;
    bar.finish_and_clear();
    println!("{}", serde_json::to_string(&report)?);
    close(store).await;
    // Every other account was swept; a script running this still learns of the skipped ones.
    let skipped = match report.accounts_skipped {
        0 => return Ok(()),
        1 => "1 account was".to_owned(),
        n => format!("{n} accounts were"),
    };
    anyhow::bail!(
        "{skipped} skipped: each is enrolled in a program its business does not have (the log names them); \
         every other account was swept"
    )
}

fn open(database: &DatabaseUrl) -> anyhow::Result<Store> {
    Store::open(&database.store_settings())
        .with_context(|| format!("could not open the database at {}", database.describe()))
}

/// Close a command's store before the process ends: its last commits copied into the database
/// file, nothing left for the next open to replay (see [`Store::close`]).
async fn close(store: Store) {
    if let Err(e) = tokio::task::spawn_blocking(move || store.close()).await {
        tracing::warn!(error = %e, "could not close the store");
    }
}

async fn rebuild(database: &DatabaseUrl) -> anyhow::Result<()> {
    let store = open(database)?;
    let bar = crate::progress::bar(
        0,
        "{spinner} rebuilding [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    // On SQLite the rebuild counts what it changed; on PostgreSQL digests of every row before
    // and after tell.
    let before = match database {
        DatabaseUrl::Postgres(_) => Some(store.read_model_fingerprint()?),
        DatabaseUrl::Sqlite(_) => None,
    };
    let report = tokio::task::block_in_place(|| {
        store.rebuild_projections(&mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
    })?;
    bar.finish_and_clear();
    let (read_models, snapshots) = match (report.changes, before) {
        (Some(changes), _) => (
            if changes.read_models_unchanged() {
                UNCHANGED_READ_MODELS.to_owned()
            } else {
                format!(
                    "changed (the live projections had drifted: {} rows written, {} deleted, {} tables rewritten whole)",
                    changes.rows_written, changes.rows_deleted, changes.tables_rewritten
                )
            },
            if changes.snapshots_unchanged() {
                "unchanged".to_owned()
            } else {
                format!(
                    "{} rewritten where they differed from the events' fold (or were stored in an older encoding), {} of no events deleted",
                    changes.snapshots_written, changes.snapshots_deleted
                )
            },
        ),
        (None, before) => {
            let after = store.read_model_fingerprint()?;
            let same =
                |pick: fn(&loyalty_store::Fingerprint) -> &String| before.as_ref().map(pick) == Some(pick(&after));
            (
                if same(|f| &f.read_models) {
                    UNCHANGED_READ_MODELS
                } else {
                    "changed (the live projections had drifted)"
                }
                .to_owned(),
                if same(|f| &f.snapshots) {
                    "unchanged"
                } else {
                    "rewritten where they differed from the events' fold (or were stored in an older encoding)"
                }
                .to_owned(),
            )
        }
    };
    let rate = report.events as f64 / report.elapsed.as_secs_f64().max(1e-9);
    println!(
        "rebuilt {} aggregates from {} events in {:.2}s ({:.0} events/s); read models {read_models}; snapshots {snapshots}",
        report.aggregates,
        report.events,
        report.elapsed.as_secs_f64(),
        rate,
    );
    close(store).await;
    Ok(())
}

const UNCHANGED_READ_MODELS: &str = "unchanged (matched the live projections)";

fn delivery_options(cli: &Cli) -> DeliveryOptions {
    DeliveryOptions {
        redis_url: cli.redis_url.clone(),
        stream_prefix: cli.redis_stream_prefix.clone(),
        restaurant_business: cli.restaurant_business,
        claim_idle: Duration::from_secs(cli.redis_claim_idle_secs),
        ..DeliveryOptions::default()
    }
}

fn delivery(database: &DatabaseUrl, options: &DeliveryOptions) -> anyhow::Result<Delivery> {
    Delivery::build(open(database)?, options).context("could not set up event delivery")
}

async fn dlq(database: &DatabaseUrl, options: &DeliveryOptions, command: DlqCommand) -> anyhow::Result<()> {
    let delivery = delivery(database, options)?;
    let store = delivery.store();
    let letter = |found: Option<loyalty_store::DeadLetter>, id: uuid::Uuid| {
        found.ok_or_else(|| anyhow::anyhow!("no dead letter {id}"))
    };
    match command {
        DlqCommand::List { business, limit } => {
            for letter in store.dead_letters(business, limit).await? {
                println!(
                    "{}",
                    serde_json::json!({
                        "deadLetterId": letter.dead_letter_id, "handler": letter.handler,
                        "eventType": letter.event_type, "eventId": letter.event_id,
                        "businessId": letter.business_id, "attempts": letter.attempts,
                        "reason": letter.reason, "error": letter.error, "createdAt": letter.created_at,
                    })
                );
            }
        }
        DlqCommand::Show { id } => {
            let found = letter(store.dead_letter(id).await?, id)?;
            println!("{}", serde_json::to_string_pretty(&found)?);
        }
        DlqCommand::Retry { id } => {
            let found = letter(store.dead_letter(id).await?, id)?;
            match delivery.retry_dead_letter(&found).await? {
                RetryOutcome::Handled(handled) => println!(
                    "{}",
                    serde_json::json!({"deadLetterId": id, "outcome": "HANDLED", "handled": handled.outcome()})
                ),
                RetryOutcome::Failed(error) => anyhow::bail!("dead letter {id} failed again: {error}"),
                RetryOutcome::UnknownHandler(name) => anyhow::bail!("no handler named {name:?} runs in this build"),
            }
        }
        DlqCommand::Discard { id } => {
            if !delivery.discard_dead_letter(id).await? {
                anyhow::bail!("no dead letter {id}");
            }
            println!("{}", serde_json::json!({"deadLetterId": id, "outcome": "DISCARDED"}));
        }
    }
    Ok(())
}

async fn replay(database: &DatabaseUrl, options: &DeliveryOptions, from: i64) -> anyhow::Result<()> {
    if options.redis_url.is_none() {
        anyhow::bail!(
            "events replay --to-bus needs --redis-url (or LOYALTY_REDIS_URL): the in-process bus reads the event \
             store itself, so there is nothing to replay to"
        );
    }
    let delivery = delivery(database, options)?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    let sent = delivery
        .relay()
        .replay(from, &mut |sent| bar.set_message(format!("{sent} events published")))
        .await
        .context("the replay stopped; run it again from the last position it reached")?;
    bar.finish_and_clear();
    println!("{}", serde_json::json!({"published": sent, "after": from}));
    Ok(())
}

async fn locations(database: &DatabaseUrl, command: LocationsCommand) -> anyhow::Result<()> {
    let store = open(database)?;
    let (business, location, program, enabled) = match command {
        LocationsCommand::List { business } => {
            for location in store.locations(business).await? {
                println!("{}", serde_json::to_string(&location)?);
            }
            return Ok(());
        }
        LocationsCommand::Enable {
            business,
            location,
            program,
        } => (business, location, program, true),
        LocationsCommand::Disable { business, location } => (business, location, None, false),
    };
    let location = location.trim().to_owned();
    anyhow::ensure!(
        !location.is_empty() && location.chars().count() <= 50,
        "--location must be 1 to 50 characters"
    );
    let switched = store
        .write(move |tx| {
            let program_id = match program.or(tx.location(business, &location)?.map(|l| l.program_id)) {
                Some(id) => id,
                None => return Ok(Err(format!("location {location} is not known yet: give --program"))),
            };
            match tx.load::<loyalty_domain::program::Program>(business, program_id)? {
                Some(p) if p.state.exists() => {}
                _ => return Ok(Err(format!("business {business} has no program {program_id}"))),
            }
            Ok(Ok(tx.location_put(business, &location, program_id, enabled)?))
        })
        .await?
        .map_err(|why| anyhow::anyhow!(why))?;
    println!("{}", serde_json::to_string(&switched)?);
    Ok(())
}

async fn demo(database: &DatabaseUrl, args: crate::demo::DemoArgs) -> anyhow::Result<()> {
    let store = open(database)?;
    let bar = crate::progress::bar(
        u64::from(args.payments),
        "{spinner} payments [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
    );
    let summary = crate::demo::run(&store, &args, &mut |done, _| bar.set_position(done)).await?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", crate::demo::table(&summary));
    }
    anyhow::ensure!(summary.reconciled, "the demo did not reconcile");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::error_message;

    #[derive(Debug, thiserror::Error)]
    #[error("database error: {0}")]
    struct Wrapper(#[from] std::io::Error);

    /// A cause that its wrapper already printed is not printed again; the others are.
    #[test]
    fn an_error_message_names_each_cause_once() {
        let error = anyhow::Error::from(Wrapper(std::io::Error::other(
            "UNIQUE constraint failed: accounts.email_key",
        )))
        .context("rebuilding the read models");
        assert_eq!(
            error_message(&error),
            "rebuilding the read models: database error: UNIQUE constraint failed: accounts.email_key"
        );
        let plain = anyhow::anyhow!("disk full").context("importing");
        assert_eq!(error_message(&plain), "importing: disk full");
        // A cause is left out only where it ends the error it caused, not wherever its words
        // appear.
        let short = anyhow::anyhow!("timed out").context("the import timed out and stopped");
        assert_eq!(error_message(&short), "the import timed out and stopped: timed out");
    }
}
