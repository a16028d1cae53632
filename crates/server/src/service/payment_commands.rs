//! The restaurant adaptors' one translation (RIDDL `FromPayment`, `FromOnlinePayment`), shared by
//! the HTTP endpoints and (later) the stream consumers: an upstream payment becomes a purchase
//! accrual in its location's program, at most once per payment whichever way and however often
//! it arrives, and every payment gets an outcome.

use axum::http::StatusCode;
use loyalty_domain::account::{
    AccountCommand, AccountError, LoyaltyAccount, ProgramRules, RecordPurchase, RefundOrder,
};
use loyalty_domain::program::Program;
use loyalty_domain::restaurant::{
    claimable, OnlinePaymentProcessed, PaymentOutcome, PaymentProcessed, PaymentRefunded,
};
use loyalty_domain::values::{Money, OrderRef, TransactionId};
use loyalty_domain::Aggregate;
use loyalty_store::{JsonBody, PaymentRecord, StoreError, WriteTx};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ok, Context, Decision, Reply, Service};
use crate::error::ApiError;

/// A payment from one of the chain's systems.
#[derive(Debug, Clone)]
pub enum UpstreamPayment {
    FrontOfHouse(PaymentProcessed),
    Online(OnlinePaymentProcessed),
}

impl UpstreamPayment {
    /// The adaptor's name, for dedupe records and metrics.
    pub fn source(&self) -> &'static str {
        match self {
            Self::FrontOfHouse(_) => "front-of-house",
            Self::Online(_) => "online-ordering",
        }
    }

    /// The order the payment is for: the purchase's `orderRef`.
    pub fn order_ref(&self) -> &OrderRef {
        match self {
            Self::FrontOfHouse(p) => &p.table_order_id,
            Self::Online(p) => &p.online_order_id,
        }
    }

    fn location_id(&self) -> Option<&str> {
        match self {
            Self::FrontOfHouse(p) => Some(&p.location_id),
            Self::Online(p) => p.location_id.as_deref(),
        }
    }

    /// What earns points: without the tip.
    fn earning_amount(&self) -> Money {
        match self {
            Self::FrontOfHouse(p) => p.earning_amount(),
            Self::Online(p) => p.amount,
        }
    }
}

/// The answer to an upstream payment.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentReceipt {
    /// `ACCRUED | DUPLICATE | LOCATION_NOT_ENABLED | NO_ACCOUNT`.
    #[schema(value_type = String)]
    pub outcome: PaymentOutcome,
    /// The accrual, when there is one (for a duplicate: the first one's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<Uuid>,
}

impl Service {
    /// A member claims a payment that found no member, within the claim window: it accrues for
    /// them, once. `source` is `front-of-house` or `online-ordering`.
    pub async fn claim_payment(
        &self,
        context: Context,
        account_id: Uuid,
        source: &'static str,
        payment_ref: OrderRef,
    ) -> Result<Reply, ApiError> {
        let window = self.claim_window_days;
        self.execute(context, move |tx, ctx| {
            claim(tx, ctx, account_id, source, &payment_ref, window)
        })
        .await
    }

    /// Translate one upstream payment, exactly once.
    pub async fn record_payment(&self, context: Context, payment: UpstreamPayment) -> Result<Reply, ApiError> {
        let source = payment.source();
        let reply = self
            .execute(context, move |tx, ctx| translate_payment(tx, ctx, &payment))
            .await?;
        if let Some(outcome) = outcome_of(&reply.response.body) {
            metrics::counter!("adaptor_payments_total", "adaptor" => source, "outcome" => outcome).increment(1);
        }
        Ok(reply)
    }
}

/// The `outcome` of a payment's answer (for the `adaptor_payments_total` metric); `None` for a
/// refusal, which has none.
pub fn outcome_of(body: &JsonBody) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Outcome {
        outcome: String,
    }
    serde_json::from_str::<Outcome>(body.as_str()).ok().map(|o| o.outcome)
}

fn answer(outcome: PaymentOutcome, record: &PaymentRecord) -> Result<Decision, StoreError> {
    ok(
        StatusCode::ACCEPTED,
        &PaymentReceipt {
            outcome,
            transaction_id: record.transaction_id,
            account_id: record.account_id,
        },
    )
}

/// The translation, inside the writer's transaction (the HTTP adaptors and the stream consumers).
pub fn translate_payment(
    tx: &mut WriteTx<'_>,
    ctx: &Context,
    payment: &UpstreamPayment,
) -> Result<Decision, StoreError> {
    let business = ctx.business_id;
    let (source, order_ref) = (payment.source(), payment.order_ref().as_str());
    if let Some(first) = tx.payment(business, source, order_ref)? {
        return answer(PaymentOutcome::Duplicate, &first);
    }
    let amount = payment.earning_amount().to_string();
    let keep = |tx: &WriteTx<'_>, outcome: PaymentOutcome, account: Option<Uuid>, transaction: Option<Uuid>| {
        let record = PaymentRecord {
            outcome: outcome.as_str().to_owned(),
            account_id: account,
            transaction_id: transaction,
        };
        tx.payment_put(business, source, order_ref, payment.location_id(), &amount, &record)?;
        answer(outcome, &record)
    };
    let location = match payment.location_id() {
        Some(id) => tx.location(business, id)?,
        None => None,
    };
    let Some(location) = location.filter(|l| l.loyalty_enabled) else {
        return keep(tx, PaymentOutcome::LocationNotEnabled, None, None);
    };
    let account_id = match payment {
        UpstreamPayment::FrontOfHouse(p) => tx.table_order_account(business, p.table_order_id.as_str())?,
        UpstreamPayment::Online(p) => tx.account_of_customer(location.program_id, p.customer_id.as_str())?,
    };
    let account = match account_id {
        Some(id) => tx.load::<LoyaltyAccount>(business, id)?,
        None => None,
    };
    let Some(account) = account.filter(|a| {
        a.state
            .enrollment
            .as_ref()
            .is_some_and(|e| e.program_id.0 == location.program_id)
    }) else {
        return keep(tx, PaymentOutcome::NoAccount, None, None);
    };
    let rules = match tx.load_shared::<Program>(business, location.program_id)? {
        Some(program) if program.state.exists() => ProgramRules::of(&program.state),
        _ => return keep(tx, PaymentOutcome::LocationNotEnabled, None, None),
    };
    let transaction_id = TransactionId(Uuid::now_v7());
    let order_seen = tx.order_seen(account.aggregate_id, order_ref)?;
    if order_seen {
        return keep(tx, PaymentOutcome::Duplicate, Some(account.aggregate_id), None);
    }
    let command = AccountCommand::Purchase(RecordPurchase {
        transaction_id,
        order_ref: payment.order_ref().clone(),
        amount: payment.earning_amount(),
        location_id: payment.location_id().map(str::to_owned),
        categories: Vec::new(),
        program: rules,
        now: tx.now(),
        issued_reward_id: Uuid::now_v7(),
        order_seen,
    });
    match account.state.handle(command) {
        // A rule said no (suspended member, paused program): answered, not recorded, so the
        // same payment can accrue when sent again later.
        Err(refusal) => Ok(Err(refusal.into())),
        Ok(events) => {
            tx.append(&account, events, &ctx.metadata())?;
            keep(
                tx,
                PaymentOutcome::Accrued,
                Some(account.aggregate_id),
                Some(transaction_id.0),
            )
        }
    }
}

fn claim(
    tx: &mut WriteTx<'_>,
    ctx: &Context,
    account_id: Uuid,
    source: &'static str,
    payment_ref: &OrderRef,
    window_days: u32,
) -> Result<Decision, StoreError> {
    let business = ctx.business_id;
    let account = match tx.load::<LoyaltyAccount>(business, account_id)? {
        Some(account) if account.state.enrollment.is_some() => account,
        _ => return Ok(Err(ApiError::NotFound("account"))),
    };
    let reference = payment_ref.as_str();
    let Some(first) = tx.payment(business, source, reference)? else {
        return Ok(Err(AccountError::PaymentNotFound {
            payment_ref: reference.to_owned(),
        }
        .into()));
    };
    let now = tx.now();
    let unclaimed = tx.unclaimed_payment(business, source, reference)?;
    let received_at = unclaimed.as_ref().map_or(now, |u| u.received_at);
    if let Err(refusal) = claimable(reference, &first.outcome, received_at, now, window_days) {
        return Ok(Err(refusal.into()));
    }
    let Some(loyalty_store::UnclaimedPayment {
        location_id, amount, ..
    }) = unclaimed
    else {
        return Err(StoreError::Corrupt(format!("payment {reference} has no amount")));
    };
    let program_id = account
        .state
        .enrollment
        .as_ref()
        .map(|e| e.program_id.0)
        .unwrap_or_default();
    let location = match location_id.as_deref() {
        Some(id) => tx.location(business, id)?,
        None => None,
    };
    if location.as_ref().is_some_and(|l| l.program_id != program_id) {
        return Ok(Err(AccountError::PaymentNotClaimable {
            payment_ref: reference.to_owned(),
            reason: "it was paid at a location of another program".to_owned(),
        }
        .into()));
    }
    let rules = super::program_rules(tx, business, &account.state)?;
    let amount = Money::parse("amount", &amount)
        .map_err(|_| StoreError::Corrupt(format!("bad amount {amount:?} on payment {reference}")))?;
    let transaction_id = TransactionId(Uuid::now_v7());
    let command = AccountCommand::Purchase(RecordPurchase {
        transaction_id,
        order_ref: payment_ref.clone(),
        amount,
        location_id,
        categories: Vec::new(),
        program: rules,
        now,
        issued_reward_id: Uuid::now_v7(),
        order_seen: tx.order_seen(account_id, reference)?,
    });
    let events = match account.state.handle(command) {
        Ok(events) => events,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    tx.append(&account, events, &ctx.metadata())?;
    tx.payment_claimed(business, source, reference, account_id, transaction_id.0)?;
    match tx.transaction_view(business, transaction_id.0)? {
        Some(view) => ok(StatusCode::CREATED, &view),
        // A purchase under the program's minimum earns nothing: the claim still counts.
        None => ok(
            StatusCode::CREATED,
            &serde_json::json!({"transactionId": null, "pointsChanged": 0, "orderRef": reference}),
        ),
    }
}

/// An upstream refund: the refund logic of purchases reverses what the payment's accrual earned.
/// A payment that earned nothing here (no member, location off) has nothing to reverse.
pub fn refund_payment(
    tx: &mut WriteTx<'_>,
    ctx: &Context,
    source: &'static str,
    refund: &PaymentRefunded,
) -> Result<Decision, StoreError> {
    let business = ctx.business_id;
    let reference = refund.order_id.as_str();
    let Some(account_id) = tx
        .payment(business, source, reference)?
        .filter(|p| p.outcome == "ACCRUED" || p.outcome == "CLAIMED")
        .and_then(|p| p.account_id)
    else {
        return ok(StatusCode::OK, &serde_json::json!({"outcome": "NOTHING_TO_REVERSE"}));
    };
    let Some(account) = tx.load::<LoyaltyAccount>(business, account_id)? else {
        return Err(StoreError::Corrupt(format!(
            "payment {reference} names a missing account"
        )));
    };
    let rules = super::program_rules(tx, business, &account.state)?;
    let Some(order) = tx.order_facts(account_id, reference)? else {
        return ok(StatusCode::OK, &serde_json::json!({"outcome": "NOTHING_TO_REVERSE"}));
    };
    // Refunds of more than the order earned on (a refunded tip) reverse the whole order.
    let amount = refund
        .amount
        .filter(|a| *a < order.amount.checked_sub(order.refunded).unwrap_or(Money::ZERO));
    let transaction_id = TransactionId(Uuid::now_v7());
    let command = AccountCommand::Refund(RefundOrder {
        transaction_id,
        order_ref: refund.order_id.clone(),
        amount,
        order,
        program: rules,
        now: tx.now(),
    });
    match account.state.handle(command) {
        Err(refusal) => Ok(Err(refusal.into())),
        Ok(events) => {
            tx.append(&account, events, &ctx.metadata())?;
            ok(
                StatusCode::OK,
                &serde_json::json!({"outcome": "REVERSED", "transactionId": transaction_id.0}),
            )
        }
    }
}
