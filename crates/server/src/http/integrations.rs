//! The restaurant chain's integrations: its Front of House and Online Ordering post the payment
//! events they already publish, and guests' loyalty codes link table orders to members.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use loyalty_domain::restaurant::{OnlinePaymentProcessed, PaymentProcessed};
use loyalty_domain::values::OrderRef;
use loyalty_domain::ValidationErrors;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::extract::{path_id, Command, Tenant};
use super::AppState;
use crate::error::{ApiError, Problem};
use crate::service::{ok, Context, Reply, UpstreamPayment};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/integrations/front-of-house/payment-processed",
            post(front_of_house_payment),
        )
        .route(
            "/v1/integrations/online-ordering/payment-processed",
            post(online_payment),
        )
        .route(
            "/v1/integrations/front-of-house/table-orders/{tableOrderId}/account",
            post(link_table_order),
        )
        .route("/v1/accounts/{accountId}/claims", post(claim))
}

fn context(tenant: Tenant, command: &Command<impl Sized>) -> Context {
    Context {
        business_id: tenant.0,
        idempotency: command.idempotency.clone(),
        correlation_id: command.correlation_id,
    }
}

/// The Front of House's `PaymentProcessed` (plus the routing's `locationId`): accrues once for
/// the member linked to the table order, on the amount without the tip.
#[utoipa::path(post, path = "/v1/integrations/front-of-house/payment-processed", tag = "integrations",
    security(("apiKey" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = crate::service::PaymentReceipt,
               description = "`outcome`: ACCRUED, DUPLICATE, LOCATION_NOT_ENABLED or NO_ACCOUNT"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "the member's account refused (suspended, program paused)")))]
pub async fn front_of_house_payment(
    State(state): State<AppState>,
    tenant: Tenant,
    command: Command<Value>,
) -> Result<Reply, ApiError> {
    let payment = PaymentProcessed::parse(&command.body)?;
    state
        .service
        .record_payment(context(tenant, &command), UpstreamPayment::FrontOfHouse(payment))
        .await
}

/// Online Ordering's `OnlinePaymentProcessed`: accrues once for the account of `customerId` in
/// the location's program.
#[utoipa::path(post, path = "/v1/integrations/online-ordering/payment-processed", tag = "integrations",
    security(("apiKey" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = crate::service::PaymentReceipt,
               description = "`outcome`: ACCRUED, DUPLICATE, LOCATION_NOT_ENABLED or NO_ACCOUNT"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn online_payment(
    State(state): State<AppState>,
    tenant: Tenant,
    command: Command<Value>,
) -> Result<Reply, ApiError> {
    let payment = OnlinePaymentProcessed::parse(&command.body)?;
    state
        .service
        .record_payment(context(tenant, &command), UpstreamPayment::Online(payment))
        .await
}

/// A guest's loyalty code shown at the table.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkRequest {
    account_id: Option<String>,
}

/// Link a table order to a member: its payment earns for them.
#[utoipa::path(post, path = "/v1/integrations/front-of-house/table-orders/{tableOrderId}/account",
    tag = "integrations", request_body = LinkRequest, security(("apiKey" = [])),
    params(("tableOrderId" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, description = "`{tableOrderId, accountId}`"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn link_table_order(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(table_order_id): Path<String>,
    command: Command<LinkRequest>,
) -> Result<Reply, ApiError> {
    let table_order_id = OrderRef::parse("tableOrderId", &table_order_id)?;
    let account_id = match command.body.account_id.as_deref() {
        None => return Err(ValidationErrors::single("accountId", "is required").into()),
        Some(raw) => path_id("accountId", raw)?,
    };
    state
        .service
        .execute(context(tenant, &command), move |tx, ctx| {
            match tx.load::<loyalty_domain::account::LoyaltyAccount>(ctx.business_id, account_id)? {
                Some(account) if account.state.enrollment.is_some() => {}
                _ => return Ok(Err(ApiError::NotFound("account"))),
            }
            tx.table_order_link_put(ctx.business_id, table_order_id.as_str(), account_id)?;
            ok(
                StatusCode::OK,
                &json!({"tableOrderId": table_order_id.as_str(), "accountId": account_id}),
            )
        })
        .await
}

/// A late claim: the payment of a table order or an online order that found no member.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimRequest {
    table_order_id: Option<String>,
    online_order_id: Option<String>,
}

/// Claim a payment that found no member, within 30 days: it accrues for this member, once.
#[utoipa::path(post, path = "/v1/accounts/{accountId}/claims", tag = "integrations", request_body = ClaimRequest,
    security(("apiKey" = [])),
    params(("accountId" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = loyalty_store::views::TransactionView),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json", description = "ACCOUNT_NOT_FOUND, PAYMENT_NOT_FOUND (also another business's)"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "ALREADY_CLAIMED, CLAIM_WINDOW_CLOSED, PAYMENT_NOT_CLAIMABLE")))]
pub async fn claim(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(account): Path<String>,
    command: Command<ClaimRequest>,
) -> Result<Reply, ApiError> {
    let account_id = path_id("accountId", &account)?;
    let (source, field, raw) = match (&command.body.table_order_id, &command.body.online_order_id) {
        (Some(id), None) => ("front-of-house", "tableOrderId", id),
        (None, Some(id)) => ("online-ordering", "onlineOrderId", id),
        _ => {
            return Err(
                ValidationErrors::single("tableOrderId", "give exactly one of tableOrderId and onlineOrderId").into(),
            )
        }
    };
    let payment_ref = OrderRef::parse(field, raw)?;
    state
        .service
        .claim_payment(context(tenant, &command), account_id, source, payment_ref)
        .await
}
