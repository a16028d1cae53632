//! `loyalty demo restaurant`: a chain on the embedded database, end to end through the same
//! service the HTTP adaptors use. A program from the RESTAURANT template, four locations (one
//! not enabled yet), members with linked table orders, and then a stream of dine-in and online
//! payments: some sent twice, some from the disabled location, some without a member, a few
//! refunded. The summary reconciles: payments seen = accrued + duplicates + not enabled + no
//! account, and the points on the accounts equal the points in the ledger.

use std::collections::BTreeMap;

use anyhow::Context as _;
use axum::http::StatusCode;
use clap::Args;
use loyalty_domain::account::EnrollmentMethod;
use loyalty_domain::program::templates::{self, Industry};
use loyalty_domain::program::{ProgramDefinition, TemplateUse};
use loyalty_domain::restaurant::{OnlinePaymentProcessed, PaymentProcessed, PaymentRefunded};
use loyalty_domain::values::{AccountId, CustomerId, DisplayName, Email, ProgramId};
use loyalty_store::Store;
use rand::Rng;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::service::{refund_payment, Context, EnrollInput, Service, UpstreamPayment};

/// Settings of the demo.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How many payments to send.
    #[arg(long, default_value_t = 3_000)]
    pub payments: u32,
    /// How many members the chain has.
    #[arg(long, default_value_t = 200)]
    pub members: u32,
    /// Print the summary as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What the demo did, reconciled.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoSummary {
    pub business_id: Uuid,
    pub payments_sent: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub refunds_sent: u64,
    pub points_on_accounts: i64,
    pub points_in_ledger: i64,
    pub reconciled: bool,
}

fn context(business_id: Uuid) -> Context {
    Context {
        business_id,
        idempotency: None,
        correlation_id: Uuid::now_v7(),
    }
}

/// Run the demo on `store`.
pub async fn run(
    store: &Store,
    args: &DemoArgs,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> anyhow::Result<DemoSummary> {
    let service = Service::new(store.clone());
    let name = crate::business::parse_name(Some("Demo Restaurant Chain")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let business = crate::business::create(store, name)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .business_id;

    // A program from the RESTAURANT template, active at once.
    let template = templates::for_industry(Industry::Restaurant)
        .next()
        .context("no RESTAURANT template")?;
    let (rule, _) = template
        .rule_config_with_overrides(&json!({}))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let definition = ProgramDefinition::parse(&json!({"name": "Chain Rewards", "ruleType": template.rule_type,
                                                       "ruleConfig": rule}))
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let created = service
        .create_program_from_template(
            context(business),
            definition,
            TemplateUse {
                template_id: template.template_id,
                template_name: template.name.to_owned(),
                industry: template.industry,
                rule_type: template.rule_type,
                customized: false,
                overrides: None,
            },
            true,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let program = created.response.body.value()?["programId"]
        .as_str()
        .and_then(|p| p.parse::<Uuid>().ok())
        .context("the program was not created")?;

    // Four locations; the last one not enabled yet.
    const LOCATIONS: [&str; 4] = ["downtown", "airport", "harbour", "uptown"];
    let locations = LOCATIONS;
    for (i, location) in LOCATIONS.into_iter().enumerate() {
        let enabled = i < 3;
        store
            .write(move |tx| tx.location_put(business, location, program, enabled))
            .await?;
    }

    // Members.
    let mut members = Vec::new();
    for n in 0..args.members {
        let account = AccountId(Uuid::now_v7());
        let input = EnrollInput {
            account_id: account,
            program_id: ProgramId(program),
            customer_id: CustomerId::parse("customerId", &format!("guest-{n}")).map_err(|e| anyhow::anyhow!("{e}"))?,
            display_name: DisplayName::parse("displayName", &format!("Guest {n}"))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            email: Email::parse("email", &format!("guest{n}@example.com")).map_err(|e| anyhow::anyhow!("{e}"))?,
            method: EnrollmentMethod::Auto,
        };
        let reply = service
            .enroll(context(business), input)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(
            reply.response.status == StatusCode::CREATED.as_u16(),
            "enrolment failed"
        );
        members.push(account.0);
    }

    // Payments.
    let mut summary = DemoSummary {
        business_id: business,
        ..DemoSummary::default()
    };
    let mut rng = rand::rng();
    let mut accrued_orders = Vec::new();
    let total = u64::from(args.payments);
    for n in 0..args.payments {
        let location = locations[rng.random_range(0..locations.len())];
        let cents: u32 = rng.random_range(500..15_000);
        let amount = format!("{}.{:02}", cents / 100, cents % 100);
        let online = rng.random_bool(0.3);
        let member = (!members.is_empty() && rng.random_bool(0.8)).then(|| members[rng.random_range(0..members.len())]);
        let payment = if online {
            let customer = match member.and_then(|m| members.iter().position(|x| *x == m)) {
                Some(i) => format!("guest-{i}"),
                None => format!("walk-in-{n}"),
            };
            let body = json!({"onlineOrderId": format!("W-{n}"), "customerId": customer, "locationId": location,
                              "onlinePaidAt": chrono::Utc::now().to_rfc3339(),
                              "onlinePayment": {"onlinePaymentMethod": "Card", "onlinePaymentAmount": amount,
                                                "onlineTransactionRef": format!("web-{n}")}});
            UpstreamPayment::Online(OnlinePaymentProcessed::parse(&body).map_err(|e| anyhow::anyhow!("{e}"))?)
        } else {
            let table_order = format!("T-{n}");
            if let Some(member) = member {
                let order = table_order.clone();
                store
                    .write(move |tx| tx.table_order_link_put(business, &order, member))
                    .await?;
            }
            let body = json!({"tableOrderId": table_order, "locationId": location,
                              "processedAt": chrono::Utc::now().to_rfc3339(),
                              "orderPayment": {"paymentMethod": "CreditCard", "paymentAmount": amount,
                                               "tipAmount": "1.00"}});
            UpstreamPayment::FrontOfHouse(PaymentProcessed::parse(&body).map_err(|e| anyhow::anyhow!("{e}"))?)
        };
        // One payment in ten arrives twice.
        let copies = if rng.random_bool(0.1) { 2 } else { 1 };
        for _ in 0..copies {
            let reply = service
                .record_payment(context(business), payment.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let outcome = reply.response.body.value()?["outcome"]
                .as_str()
                .unwrap_or("REFUSED")
                .to_owned();
            if outcome == "ACCRUED" {
                accrued_orders.push(payment.clone());
            }
            *summary.outcomes.entry(outcome).or_default() += 1;
            summary.payments_sent += 1;
        }
        progress(u64::from(n) + 1, total);
    }

    // A few refunds: half of one order in fifty that earned points.
    for payment in accrued_orders.iter().step_by(50) {
        let (source, order) = (payment.source(), payment.order_ref().clone());
        let refund = PaymentRefunded {
            order_id: order,
            amount: None,
        };
        store
            .write(move |tx| refund_payment(tx, &context(business), source, &refund).map(|_| ()))
            .await?;
        summary.refunds_sent += 1;
    }

    // Reconcile.
    let seen: u64 = summary.outcomes.values().sum();
    let (balances, ledger) = store.point_totals(business).await?;
    summary.points_on_accounts = balances;
    summary.points_in_ledger = ledger;
    summary.reconciled = seen == summary.payments_sent && balances == ledger;
    Ok(summary)
}

/// The summary as a table.
pub fn table(summary: &DemoSummary) -> String {
    let mut out = String::new();
    out.push_str(&format!("business                 {}\n", summary.business_id));
    out.push_str(&format!("payments sent            {}\n", summary.payments_sent));
    for (outcome, count) in &summary.outcomes {
        out.push_str(&format!("  {outcome:<22} {count}\n"));
    }
    out.push_str(&format!("refunds sent             {}\n", summary.refunds_sent));
    out.push_str(&format!("points on accounts       {}\n", summary.points_on_accounts));
    out.push_str(&format!("points in the ledger     {}\n", summary.points_in_ledger));
    out.push_str(&format!(
        "reconciled               {}\n",
        if summary.reconciled { "yes" } else { "NO" }
    ));
    out
}
