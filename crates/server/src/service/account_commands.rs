//! Commands to loyalty accounts: enrol, accrue, redeem, suspend, reactivate.

use axum::http::StatusCode;
use loyalty_domain::account::{
    AccountCommand, AccruePoints, EnrollCustomer, EnrollmentMethod, LoyaltyAccount, ProgramFacts, RedeemPoints,
    ReferenceType, SuspendAccount,
};
use loyalty_domain::program::Program;
use loyalty_domain::values::{
    AccountId, CustomerId, DisplayName, Email, OrderRef, Points, ProgramId, Reason, SuspensionReason, TransactionId,
};
use loyalty_domain::Aggregate;
use loyalty_store::{StoreError, WriteTx};

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
        self.execute(context, move |tx, ctx| act(tx, ctx, account_id, &action))
            .await
    }
}

fn enroll(tx: &mut WriteTx<'_>, ctx: &Context, input: &EnrollInput) -> Result<Decision, StoreError> {
    let business = ctx.business_id;
    let program = match tx.load::<Program>(business, input.program_id.0)? {
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
    let program_id = account
        .state
        .enrollment
        .as_ref()
        .map(|e| e.program_id.0)
        .unwrap_or_default();
    let program_status = match tx.load::<Program>(business, program_id)? {
        Some(program) if program.state.exists() => program.state.status,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "account {account_id} refers to missing program {program_id}"
            )))
        }
    };
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
            program_status,
            expires_at: None,
        }),
        AccountAction::Redeem { points, reason } => AccountCommand::Redeem(RedeemPoints {
            transaction_id,
            points,
            reason,
            reward: None,
            program_status,
        }),
        AccountAction::Suspend { reason } => AccountCommand::Suspend(SuspendAccount { reason }),
        AccountAction::Reactivate => AccountCommand::Reactivate,
    };
    let events = match account.state.handle(command) {
        Ok(events) => events,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    tx.append(&account, events, &ctx.metadata())?;
    match action {
        AccountAction::Accrue { .. } | AccountAction::Redeem { .. } => {
            let view = tx
                .transaction_view(business, transaction_id.0)?
                .ok_or_else(|| StoreError::Corrupt(format!("transaction {transaction_id} was not projected")))?;
            ok(StatusCode::CREATED, &view)
        }
        AccountAction::Suspend { .. } | AccountAction::Reactivate => {
            render_account(tx, ctx, account_id, StatusCode::OK)
        }
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
