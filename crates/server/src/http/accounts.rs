//! Loyalty accounts: enrol, find, read, accrue, redeem, suspend, reactivate, history.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use loyalty_domain::account::EnrollmentMethod;
use loyalty_domain::values::{
    AccountId, CustomerId, DisplayName, Email, Money, OrderRef, Points, ProgramId, Reason, RewardId, SuspensionReason,
};
use loyalty_domain::ValidationErrors;
use loyalty_store::views::{AccountView, Items, TransactionPage, TransactionPageAnswer, TransactionView};
use loyalty_store::{StoredEvent, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{path_id, Command, Tenant};
use super::programs::EmptyRequest;
use super::AppState;
use crate::error::{ApiError, Problem};
use crate::service::{AccountAction, Context, EnrollInput, Reply};

/// The most events `GET /v1/accounts/{accountId}/events` returns.
pub const ACCOUNT_EVENTS_COUNT_MAX: u32 = 10_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", post(enroll).get(find_accounts))
        .route("/v1/accounts/{accountId}", get(get_account))
        .route("/v1/accounts/{accountId}/accruals", post(accrue))
        .route("/v1/accounts/{accountId}/redemptions", post(redeem))
        .route("/v1/accounts/{accountId}/purchases", post(purchase))
        .route("/v1/accounts/{accountId}/refunds", post(refund))
        .route(
            "/v1/accounts/{accountId}/issued-rewards/{issuedRewardId}/use",
            post(use_issued_reward),
        )
        .route("/v1/accounts/{accountId}/suspend", post(suspend))
        .route("/v1/accounts/{accountId}/reactivate", post(reactivate))
        .route("/v1/accounts/{accountId}/transactions", get(transactions))
        .route("/v1/accounts/{accountId}/events", get(account_events))
}

/// RIDDL `EnrollCustomer`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollRequest {
    program_id: Option<String>,
    /// The business's id of its customer: 1 to 100 characters (a UUID in the RIDDL model).
    customer_id: Option<String>,
    /// 1 to 100 characters.
    display_name: Option<String>,
    /// 5 to 254 characters; unique per program, any letter case.
    email: Option<String>,
    /// `MANUAL` (default) `| AUTO | SELF`.
    enrollment_method: Option<String>,
    /// Choose the account id (a UUID); a fresh one when absent.
    account_id: Option<String>,
}

/// RIDDL `AccruePoints`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccrueRequest {
    /// A natural number > 0.
    points: Option<i64>,
    /// 1 to 200 characters.
    reason: Option<String>,
    /// 1 to 50 characters.
    order_ref: Option<String>,
}

/// RIDDL `RedeemPoints`: either `{points, reason}` or `{rewardId}`, never both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedeemRequest {
    /// A natural number > 0, at most the balance.
    points: Option<i64>,
    /// 1 to 200 characters.
    reason: Option<String>,
    /// A reward of the account's program (a UUID): spends exactly its `pointsCost`.
    reward_id: Option<String>,
}

/// A purchase to earn on by the program's rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurchaseRequest {
    /// A decimal string with at most 2 places, such as "12.50".
    #[schema(value_type = String, example = "12.50")]
    amount: Option<serde_json::Value>,
    /// 1 to 50 characters; each order earns once per account.
    order_ref: Option<String>,
    /// 1 to 50 characters.
    location_id: Option<String>,
    /// Up to 20 category names, for `excludedCategories`.
    categories: Option<Vec<String>>,
}

/// A refund of (part of) an order: gives back the points it earned.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundRequest {
    /// The purchase's `orderRef`.
    order_ref: Option<String>,
    /// The amount refunded, a decimal string > 0 with at most 2 places; absent refunds whatever
    /// is left of the order.
    #[schema(value_type = Option<String>, example = "4.50")]
    amount: Option<serde_json::Value>,
}

/// The most categories one purchase may carry.
pub const PURCHASE_CATEGORIES_MAX: usize = 20;

/// RIDDL `SuspendAccount`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuspendRequest {
    /// 1 to 500 characters.
    reason: Option<String>,
}

fn context(tenant: Tenant, command: &Command<impl Sized>) -> Context {
    Context {
        business_id: tenant.0,
        idempotency: command.idempotency.clone(),
        correlation_id: command.correlation_id,
    }
}

/// A required field, parsed by `parse`, its errors collected.
fn required<T>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl FnOnce(&str, &str) -> Result<T, ValidationErrors>,
) -> Option<T> {
    match raw {
        None => {
            errors.push(field, "is required");
            None
        }
        Some(raw) => errors.collect(parse(field, raw)),
    }
}

fn points(errors: &mut ValidationErrors, raw: Option<i64>) -> Option<Points> {
    match raw {
        None => {
            errors.push("points", "is required");
            None
        }
        Some(raw) => errors.collect(Points::parse_positive("points", raw)),
    }
}

fn uuid_field(field: &str, raw: &str) -> Result<Uuid, ValidationErrors> {
    Uuid::parse_str(raw.trim()).map_err(|_| ValidationErrors::single(field, "must be a UUID"))
}

fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    Ok(AccountId(path_id("accountId", raw)?))
}

/// Enrol a customer into an ACTIVE program.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = EnrollRequest, security(("apiKey" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated request")),
    responses((status = 201, body = AccountView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "DUPLICATE_ENROLLMENT, PROGRAM_NOT_ACTIVE, ..."),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn enroll(
    State(state): State<AppState>,
    tenant: Tenant,
    command: Command<EnrollRequest>,
) -> Result<Reply, ApiError> {
    let body = &command.body;
    let mut errors = ValidationErrors::new();
    let program_id = required(&mut errors, "programId", body.program_id.as_deref(), uuid_field);
    let customer_id = required(
        &mut errors,
        "customerId",
        body.customer_id.as_deref(),
        CustomerId::parse,
    );
    let display_name = required(
        &mut errors,
        "displayName",
        body.display_name.as_deref(),
        DisplayName::parse,
    );
    let email = required(&mut errors, "email", body.email.as_deref(), Email::parse);
    let method = match body.enrollment_method.as_deref() {
        None => Some(EnrollmentMethod::default()),
        Some(raw) => match raw.parse() {
            Ok(method) => Some(method),
            Err(()) => {
                errors.push(
                    "enrollmentMethod",
                    format!("must be one of {}", EnrollmentMethod::NAMES.join(", ")),
                );
                None
            }
        },
    };
    let chosen_id = body
        .account_id
        .as_deref()
        .map(|raw| errors.collect(uuid_field("accountId", raw)));
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (Some(program_id), Some(customer_id), Some(display_name), Some(email), Some(method)) =
        (program_id, customer_id, display_name, email, method)
    else {
        return Err(errors.into());
    };
    let input = EnrollInput {
        account_id: AccountId(chosen_id.flatten().unwrap_or_else(Uuid::now_v7)),
        program_id: ProgramId(program_id),
        customer_id,
        display_name,
        email,
        method,
    };
    state.service.enroll(context(tenant, &command), input).await
}

/// Find accounts by `email` (any letter case) or by `customerId`.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", security(("apiKey" = [])),
    params(("email" = Option<String>, Query), ("customerId" = Option<String>, Query)),
    responses((status = 200, body = Items<AccountView>), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn find_accounts(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Items<AccountView>>, ApiError> {
    let items = match (query.get("email"), query.get("customerId")) {
        (Some(email), None) => state.store.accounts_by_email(tenant.0, email.clone()).await?,
        (None, Some(customer)) => state.store.accounts_by_customer(tenant.0, customer.clone()).await?,
        _ => {
            return Err(ApiError::field(
                "email",
                "give exactly one of the query parameters email or customerId",
            ))
        }
    };
    Ok(Json(Items { items }))
}

/// An account: balance, lifetime points, status and the newest 10 transactions.
#[utoipa::path(get, path = "/v1/accounts/{accountId}", tag = "accounts", security(("apiKey" = [])),
    params(("accountId" = Uuid, Path)),
    responses((status = 200, body = AccountView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_account(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    let id = account_id(&id)?;
    state
        .store
        .account(tenant.0, id.0)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("account"))
}

/// Grant points (RIDDL `AccruePoints`).
#[utoipa::path(post, path = "/v1/accounts/{accountId}/accruals", tag = "accounts", request_body = AccrueRequest,
    security(("apiKey" = [])),
    params(("accountId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = TransactionView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "ACCOUNT_SUSPENDED, PROGRAM_NOT_ACTIVE"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn accrue(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<AccrueRequest>,
) -> Result<Reply, ApiError> {
    let id = account_id(&id)?;
    let body = &command.body;
    let mut errors = ValidationErrors::new();
    let points = points(&mut errors, body.points);
    let reason = required(&mut errors, "reason", body.reason.as_deref(), Reason::parse);
    let order_ref = body
        .order_ref
        .as_deref()
        .map(|raw| errors.collect(OrderRef::parse("orderRef", raw)));
    let (Some(points), Some(reason)) = (points, reason) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let action = AccountAction::Accrue {
        points,
        reason,
        order_ref: order_ref.flatten(),
    };
    state
        .service
        .account_action(context(tenant, &command), id, action)
        .await
}

/// Spend points (RIDDL `RedeemPoints`), or redeem a catalogue reward for exactly its cost; never
/// below a zero balance.
#[utoipa::path(post, path = "/v1/accounts/{accountId}/redemptions", tag = "accounts", request_body = RedeemRequest,
    security(("apiKey" = [])),
    params(("accountId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = TransactionView), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json", description = "ACCOUNT_NOT_FOUND, REWARD_NOT_FOUND"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "INSUFFICIENT_POINTS, ACCOUNT_SUSPENDED, PROGRAM_NOT_ACTIVE, \
                                                            REWARD_OUT_OF_STOCK, REWARD_LIMIT_REACHED"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn redeem(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<RedeemRequest>,
) -> Result<Reply, ApiError> {
    let id = account_id(&id)?;
    let body = &command.body;
    if let Some(raw) = body.reward_id.as_deref() {
        if body.points.is_some() || body.reason.is_some() {
            return Err(ApiError::field(
                "rewardId",
                "give either rewardId or points and reason, not both",
            ));
        }
        let reward_id = RewardId(uuid_field("rewardId", raw)?);
        return state
            .service
            .redeem_reward(context(tenant, &command), id, reward_id)
            .await;
    }
    let mut errors = ValidationErrors::new();
    let points = points(&mut errors, body.points);
    let reason = required(&mut errors, "reason", body.reason.as_deref(), Reason::parse);
    let (Some(points), Some(reason)) = (points, reason) else {
        return Err(errors.into());
    };
    state
        .service
        .account_action(context(tenant, &command), id, AccountAction::Redeem { points, reason })
        .await
}

/// Record a purchase: points by the program's rule and the member's tier, or card progress.
#[utoipa::path(post, path = "/v1/accounts/{accountId}/purchases", tag = "accounts", request_body = PurchaseRequest,
    security(("apiKey" = [])),
    params(("accountId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = crate::service::PurchaseReceipt), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "DUPLICATE_ORDER, ACCOUNT_SUSPENDED, PROGRAM_NOT_ACTIVE"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn purchase(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<PurchaseRequest>,
) -> Result<Reply, ApiError> {
    let id = account_id(&id)?;
    let body = &command.body;
    let mut errors = ValidationErrors::new();
    let amount = match &body.amount {
        None => {
            errors.push("amount", "is required");
            None
        }
        Some(raw) => money(&mut errors, "amount", raw),
    };
    let order_ref = required(&mut errors, "orderRef", body.order_ref.as_deref(), OrderRef::parse);
    let location_id = body
        .location_id
        .as_deref()
        .and_then(|raw| errors.collect(loyalty_domain::values::BoundedText::<1, 50>::parse("locationId", raw)))
        .map(|l| l.into_string());
    let categories = body.categories.clone().unwrap_or_default();
    if categories.len() > PURCHASE_CATEGORIES_MAX {
        errors.push(
            "categories",
            format!("must have at most {PURCHASE_CATEGORIES_MAX} entries"),
        );
    }
    for (i, category) in categories.iter().enumerate() {
        let chars = category.trim().chars().count();
        if chars == 0 || chars > 50 {
            errors.push(format!("categories[{i}]"), "must be 1 to 50 characters");
        }
    }
    let (Some(amount), Some(order_ref)) = (amount, order_ref) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let action = AccountAction::Purchase {
        amount,
        order_ref,
        location_id,
        categories,
    };
    state
        .service
        .account_action(context(tenant, &command), id, action)
        .await
}

/// A decimal string such as `"12.50"`.
fn money(errors: &mut ValidationErrors, field: &str, raw: &serde_json::Value) -> Option<Money> {
    match raw {
        serde_json::Value::String(raw) => errors.collect(Money::parse(field, raw)),
        _ => {
            errors.push(field, "must be a decimal string such as \"12.50\"");
            None
        }
    }
}

/// Refund (part of) an order: the points it earned are taken back, prorated for a partial
/// amount (floor); what was already spent is reported as `unrecoveredPoints`.
#[utoipa::path(post, path = "/v1/accounts/{accountId}/refunds", tag = "accounts", request_body = RefundRequest,
    security(("apiKey" = [])),
    params(("accountId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = TransactionView, description = "the REVERSAL transaction"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json", description = "ACCOUNT_NOT_FOUND, ORDER_NOT_FOUND"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "REFUND_EXCEEDS_ORDER"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn refund(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<RefundRequest>,
) -> Result<Reply, ApiError> {
    let id = account_id(&id)?;
    let body = &command.body;
    let mut errors = ValidationErrors::new();
    let order_ref = required(&mut errors, "orderRef", body.order_ref.as_deref(), OrderRef::parse);
    let amount = body.amount.as_ref().and_then(|raw| money(&mut errors, "amount", raw));
    if amount == Some(Money::ZERO) {
        errors.push("amount", "must be greater than 0");
    }
    let Some(order_ref) = order_ref else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    state
        .service
        .account_action(
            context(tenant, &command),
            id,
            AccountAction::Refund { order_ref, amount },
        )
        .await
}

/// Use a reward a full card issued the member: once, while the account is active. Answers the
/// account, whose `issuedRewards` no longer lists it.
#[utoipa::path(post, path = "/v1/accounts/{accountId}/issued-rewards/{issuedRewardId}/use", tag = "accounts",
    request_body = EmptyRequest, security(("apiKey" = [])),
    params(("accountId" = Uuid, Path), ("issuedRewardId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = AccountView),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json", description = "ACCOUNT_NOT_FOUND, ISSUED_REWARD_NOT_FOUND"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "REWARD_ALREADY_USED, ACCOUNT_SUSPENDED"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn use_issued_reward(
    State(state): State<AppState>,
    tenant: Tenant,
    Path((id, reward)): Path<(String, String)>,
    command: Command<EmptyRequest>,
) -> Result<Reply, ApiError> {
    let id = account_id(&id)?;
    let issued_reward_id = path_id("issuedRewardId", &reward)?;
    state
        .service
        .account_action(
            context(tenant, &command),
            id,
            AccountAction::UseIssuedReward { issued_reward_id },
        )
        .await
}

/// Suspend an account (RIDDL `SuspendAccount`): it neither earns nor redeems.
#[utoipa::path(post, path = "/v1/accounts/{accountId}/suspend", tag = "accounts", request_body = SuspendRequest,
    security(("apiKey" = [])),
    params(("accountId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = AccountView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn suspend(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<SuspendRequest>,
) -> Result<Reply, ApiError> {
    let id = account_id(&id)?;
    let mut errors = ValidationErrors::new();
    let reason = required(
        &mut errors,
        "reason",
        command.body.reason.as_deref(),
        SuspensionReason::parse,
    );
    let reason = reason.ok_or(ApiError::Validation(errors))?;
    state
        .service
        .account_action(context(tenant, &command), id, AccountAction::Suspend { reason })
        .await
}

/// Reactivate a suspended account (RIDDL `ReactivateAccount`).
#[utoipa::path(post, path = "/v1/accounts/{accountId}/reactivate", tag = "accounts", security(("apiKey" = [])),
    params(("accountId" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = AccountView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn reactivate(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<EmptyRequest>,
) -> Result<Reply, ApiError> {
    let id = account_id(&id)?;
    state
        .service
        .account_action(context(tenant, &command), id, AccountAction::Reactivate)
        .await
}

/// The account's transactions, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/accounts/{accountId}/transactions", tag = "accounts", security(("apiKey" = [])),
    params(("accountId" = Uuid, Path), ("limit" = Option<u32>, Query, description = "1 to 500, default 50"),
           ("cursor" = Option<String>, Query, description = "nextCursor of a previous page of this account's transactions")),
    responses((status = 200, body = TransactionPage), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn transactions(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<TransactionPage>, ApiError> {
    let id = account_id(&id)?;
    let limit = page_limit(query.get("limit"))?;
    let cursor = match query.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|c| *c > 0)
                .ok_or_else(|| ApiError::field("cursor", "must be the nextCursor of a previous page"))?,
        ),
    };
    match state.store.transaction_page(tenant.0, id.0, cursor, limit).await? {
        TransactionPageAnswer::Page(page) => Ok(Json(page)),
        TransactionPageAnswer::NoAccount => Err(ApiError::NotFound("account")),
        TransactionPageAnswer::ForeignCursor => Err(ApiError::field(
            "cursor",
            "must be the nextCursor of a previous page of this account's transactions",
        )),
    }
}

/// Parse `limit`: 1 to [`PAGE_LIMIT_MAX`], default [`PAGE_LIMIT_DEFAULT`].
pub fn page_limit(raw: Option<&String>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(PAGE_LIMIT_DEFAULT),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=PAGE_LIMIT_MAX).contains(l))
            .ok_or_else(|| ApiError::field("limit", format!("must be a whole number from 1 to {PAGE_LIMIT_MAX}"))),
    }
}

/// The account's own event stream, oldest first.
#[utoipa::path(get, path = "/v1/accounts/{accountId}/events", tag = "accounts", security(("apiKey" = [])),
    params(("accountId" = Uuid, Path)),
    responses((status = 200, body = Items<StoredEvent>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn account_events(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Items<StoredEvent>>, ApiError> {
    let id = account_id(&id)?;
    let events = state
        .store
        .aggregate_events(tenant.0, id.0, ACCOUNT_EVENTS_COUNT_MAX)
        .await?
        .filter(|events| events.first().is_some_and(|e| e.aggregate_type == "LoyaltyAccount"))
        .ok_or(ApiError::NotFound("account"))?;
    Ok(Json(Items { items: events }))
}
