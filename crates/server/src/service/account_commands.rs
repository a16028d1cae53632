//! Commands to loyalty accounts: enrol, accrue, purchase, refund, redeem, suspend, reactivate.

use axum::http::StatusCode;
use loyalty_domain::account::{
    AccountCommand, AccountError, AccountEvent, AccruePoints, EnrollCustomer, EnrollmentMethod, LoyaltyAccount,
    ProgramFacts, ReactivateAccount, RecordPurchase, RedeemPoints, ReferenceType, RefundOrder, SuspendAccount,
    UseIssuedReward,
};
use loyalty_domain::program::{Program, TierPolicy};
use loyalty_domain::values::{
    AccountId, CustomerId, DisplayName, Email, Money, OrderRef, Points, ProgramId, Reason, SuspensionReason,
    TransactionId,
};
use loyalty_domain::Aggregate;
use loyalty_store::{StoreError, WriteTx};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ok, Context, Decision, Reply, Service};
use crate::error::ApiError;

/// A validated enrolment request.
#[derive(Debug, Clone)]
pub struct EnrollInput {
    pub account_id: AccountId,
    pub program_id: ProgramId,
    pub customer_id: CustomerId,
    pub display_name: DisplayName,
    pub email: Email,
    pub method: EnrollmentMethod,
}

/// A validated command to an existing account.
#[derive(Debug, Clone)]
pub enum AccountAction {
    Accrue {
        points: Points,
        reason: Reason,
        order_ref: Option<OrderRef>,
    },
    Redeem {
        points: Points,
        reason: Reason,
    },
    Suspend {
        reason: SuspensionReason,
    },
    Reactivate,
    Purchase {
        amount: Money,
        order_ref: OrderRef,
        location_id: Option<String>,
        categories: Vec<String>,
    },
    UseIssuedReward {
        issued_reward_id: uuid::Uuid,
    },
    Refund {
        order_ref: OrderRef,
        /// `None` refunds what is left of the order.
        amount: Option<Money>,
    },
}

/// The answer to a purchase: the points it earned (by the program's rule and the member's
/// tier), and what it did to the member's card and tier.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseReceipt {
    /// The ledger entry's id when points were earned.
    pub transaction_id: uuid::Uuid,
    #[serde(rename = "type")]
    pub transaction_type: &'static str,
    /// Points this purchase added to the balance (0 for card rules, purchases that do not
    /// qualify, and points still pending).
    pub points_changed: i64,
    /// Points earned but pending until the program's return window closes (`pendingDays`).
    pub pending_points: i64,
    pub pending_until: Option<chrono::DateTime<chrono::Utc>>,
    pub new_balance: i64,
    pub reason: String,
    pub order_ref: String,
    /// The amount as counted, with two decimals.
    pub amount: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Card progress after this purchase, for card rules.
    #[schema(value_type = Option<Object>)]
    pub progress: Option<serde_json::Value>,
    /// Rewards this purchase issued (a full card).
    #[schema(value_type = Vec<Object>)]
    pub issued_rewards: Vec<serde_json::Value>,
    /// The tier this purchase upgraded the member to.
    #[schema(value_type = Option<Object>)]
    pub tier_upgrade: Option<serde_json::Value>,
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

impl Service {
    /// RIDDL `EnrollCustomer` into an ACTIVE program.
    pub async fn enroll(&self, context: Context, input: EnrollInput) -> Result<Reply, ApiError> {
        self.execute(context, move |tx, ctx| enroll(tx, ctx, &input)).await
    }

    /// Accrue, redeem, suspend or reactivate an account.
    pub async fn account_action(
        &self,
        context: Context,
        account_id: AccountId,
        action: AccountAction,
    ) -> Result<Reply, ApiError> {
        self.execute_on(context, Some(account_id.0), move |tx, ctx| {
            act(tx, ctx, account_id, &action)
        })
        .await
    }
}

fn enroll(tx: &mut WriteTx<'_>, ctx: &Context, input: &EnrollInput) -> Result<Decision, StoreError> {
    let business = ctx.business_id;
    let program = match tx.load_shared::<Program>(business, input.program_id.0)? {
        Some(program) if program.state.exists() => program,
        _ => return Ok(Err(ApiError::NotFound("program"))),
    };
    let Some(account) = tx.load::<LoyaltyAccount>(business, input.account_id.0)? else {
        return Ok(Err(loyalty_domain::account::AccountError::AlreadyExists.into()));
    };
    let settings = &program.state.definition.enrollment_settings;
    let enrollment_full = match settings.max_enrollments {
        Some(max) => tx.account_count(input.program_id.0)? >= max,
        None => false,
    };
    let command = AccountCommand::Enroll(EnrollCustomer {
        account_id: input.account_id,
        customer_id: input.customer_id.clone(),
        display_name: input.display_name.clone(),
        email: input.email.clone(),
        method: input.method,
        program: ProgramFacts {
            program_id: input.program_id,
            name: program.state.definition.name.clone(),
            status: program.state.status,
            self_enroll_enabled: settings.self_enroll_enabled,
            enrollment_full,
            initial_tier: TierPolicy::of(&program.state.definition)
                .tiers
                .first()
                .filter(|t| t.min_points == 0)
                .cloned(),
        },
        email_taken: tx.email_taken(input.program_id.0, &input.email.key())?,
    });
    match account.state.handle(command) {
        Err(refusal) => Ok(Err(refusal.into())),
        Ok(events) => {
            tx.append(&account, events, &ctx.metadata())?;
            render_account(tx, ctx, input.account_id, StatusCode::CREATED)
        }
    }
}

fn act(
    tx: &mut WriteTx<'_>,
    ctx: &Context,
    account_id: AccountId,
    action: &AccountAction,
) -> Result<Decision, StoreError> {
    let business = ctx.business_id;
    let account = match tx.load::<LoyaltyAccount>(business, account_id.0)? {
        Some(account) if account.state.enrollment.is_some() => account,
        _ => return Ok(Err(ApiError::NotFound("account"))),
    };
    let rules = super::program_rules(tx, business, &account.state)?;
    let now = tx.now();
    // Time-ordered ids keep the ledger index append-only.
    let transaction_id = TransactionId(uuid::Uuid::now_v7());
    let command = match action.clone() {
        AccountAction::Accrue {
            points,
            reason,
            order_ref,
        } => AccountCommand::Accrue(AccruePoints {
            transaction_id,
            points,
            reason,
            order_ref,
            reference_type: ReferenceType::Manual,
            program: rules,
            now,
        }),
        AccountAction::Redeem { points, reason } => AccountCommand::Redeem(RedeemPoints {
            transaction_id,
            points,
            reason,
            reward: None,
            program_status: rules.status,
        }),
        AccountAction::Suspend { reason } => AccountCommand::Suspend(SuspendAccount {
            reason,
            program_status: rules.status,
        }),
        AccountAction::Reactivate => AccountCommand::Reactivate(ReactivateAccount {
            program_status: rules.status,
        }),
        AccountAction::Purchase {
            amount,
            order_ref,
            location_id,
            categories,
        } => AccountCommand::Purchase(RecordPurchase {
            transaction_id,
            order_seen: tx.order_seen(account_id.0, order_ref.as_str())?,
            order_ref,
            amount,
            location_id,
            categories,
            program: rules,
            now,
            issued_reward_id: uuid::Uuid::now_v7(),
        }),
        AccountAction::UseIssuedReward { issued_reward_id } => AccountCommand::UseIssuedReward(UseIssuedReward {
            issued_reward_id,
            program_status: rules.status,
            now,
        }),
        AccountAction::Refund { order_ref, amount } => {
            let Some(order) = tx.order_facts(account_id.0, order_ref.as_str())? else {
                return Ok(Err(AccountError::OrderNotFound {
                    order_ref: order_ref.into_string(),
                }
                .into()));
            };
            AccountCommand::Refund(RefundOrder {
                transaction_id,
                order_ref,
                amount,
                order,
                program: rules,
                now,
            })
        }
    };
    let events = match account.state.handle(command) {
        Ok(events) => events,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    let state = tx.append(&account, events.clone(), &ctx.metadata())?;
    match action {
        AccountAction::Accrue { .. } | AccountAction::Redeem { .. } | AccountAction::Refund { .. } => {
            let view = tx
                .transaction_view(business, transaction_id.0)?
                .ok_or_else(|| StoreError::Corrupt(format!("transaction {transaction_id} was not projected")))?;
            ok(StatusCode::CREATED, &view)
        }
        AccountAction::Suspend { .. } | AccountAction::Reactivate | AccountAction::UseIssuedReward { .. } => {
            render_account(tx, ctx, account_id, StatusCode::OK)
        }
        AccountAction::Purchase { amount, order_ref, .. } => {
            let receipt = receipt(&events, &state, transaction_id, amount, order_ref, now);
            ok(StatusCode::CREATED, &receipt)
        }
    }
}

/// The purchase's receipt, from the events it produced.
fn receipt(
    events: &[AccountEvent],
    state: &LoyaltyAccount,
    transaction_id: TransactionId,
    amount: &Money,
    order_ref: &OrderRef,
    now: chrono::DateTime<chrono::Utc>,
) -> PurchaseReceipt {
    let earned = events.iter().find_map(|e| match e {
        AccountEvent::PointsEarned(e) if e.transaction_id == transaction_id => Some(e),
        _ => None,
    });
    PurchaseReceipt {
        transaction_id: transaction_id.0,
        transaction_type: "EARN",
        points_changed: earned
            .filter(|e| e.pending_until.is_none())
            .map_or(0, |e| e.points_earned as i64),
        pending_points: earned
            .filter(|e| e.pending_until.is_some())
            .map_or(0, |e| e.points_earned as i64),
        pending_until: earned.and_then(|e| e.pending_until),
        new_balance: state.balance.value() as i64,
        reason: format!("Purchase {order_ref}"),
        order_ref: order_ref.as_str().to_owned(),
        amount: amount.to_string(),
        expires_at: earned.and_then(|e| e.expires_at),
        progress: events.iter().find_map(|e| match e {
            AccountEvent::CardProgressed(p) => Some(serde_json::json!({
                "ruleType": p.rule_type, "unit": p.unit, "progress": p.progress,
                "target": p.target, "completedCards": p.completed_cards,
            })),
            _ => None,
        }),
        issued_rewards: events
            .iter()
            .filter_map(|e| match e {
                AccountEvent::RewardIssued(r) => Some(serde_json::json!({
                    "issuedRewardId": r.issued_reward_id, "rewardType": r.reward_type,
                    "rewardValue": r.reward_value, "orderRef": r.order_ref,
                })),
                _ => None,
            })
            .collect(),
        tier_upgrade: events.iter().find_map(|e| match e {
            AccountEvent::TierUpgraded(t) => Some(serde_json::json!({
                "fromTierId": t.from_tier_id, "toTierId": t.to_tier_id, "tierName": t.tier_name,
                "tierLevel": t.tier_level, "qualifyingPoints": t.qualifying_points,
            })),
            _ => None,
        }),
        timestamp: now,
    }
}

fn render_account(
    tx: &WriteTx<'_>,
    ctx: &Context,
    account_id: AccountId,
    status: StatusCode,
) -> Result<Decision, StoreError> {
    let view = tx
        .account_view(ctx.business_id, account_id.0)?
        .ok_or_else(|| StoreError::Corrupt(format!("account {account_id} was not projected")))?;
    ok(status, &view)
}
