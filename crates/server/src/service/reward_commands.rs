//! Commands to the rewards catalogue: add a reward, and redeem one. A redemption appends to the
//! account (the points) and to the reward (the stock) in the same savepoint: both or neither.

use axum::http::StatusCode;
use loyalty_domain::account::{AccountCommand, LoyaltyAccount, RedeemPoints, RewardRef};
use loyalty_domain::program::Program;
use loyalty_domain::reward::{AddReward, ClaimReward, Reward, RewardCommand, RewardDefinition, RewardError};
use loyalty_domain::values::{AccountId, ProgramId, Reason, RewardId, TransactionId};
use loyalty_domain::Aggregate;
use loyalty_store::{StoreError, WriteTx, REWARDS_PER_PROGRAM_MAX};

use super::{ok, Context, Decision, Reply, Service};
use crate::error::ApiError;

impl Service {
    /// Add a reward to a program's catalogue.
    pub async fn create_reward(
        &self,
        context: Context,
        program_id: ProgramId,
        definition: RewardDefinition,
    ) -> Result<Reply, ApiError> {
        let reward_id = RewardId(uuid::Uuid::now_v7());
        self.execute(context, move |tx, ctx| {
            create(tx, ctx, program_id, reward_id, &definition)
        })
        .await
    }

    /// Spend exactly a reward's `pointsCost` on it, while stock lasts and within its per-customer
    /// limit.
    pub async fn redeem_reward(
        &self,
        context: Context,
        account_id: AccountId,
        reward_id: RewardId,
    ) -> Result<Reply, ApiError> {
        self.execute(context, move |tx, ctx| redeem(tx, ctx, account_id, reward_id))
            .await
    }
}

fn create(
    tx: &mut WriteTx<'_>,
    ctx: &Context,
    program_id: ProgramId,
    reward_id: RewardId,
    definition: &RewardDefinition,
) -> Result<Decision, StoreError> {
    let business = ctx.business_id;
    let program = match tx.load_shared::<Program>(business, program_id.0)? {
        Some(program) if program.state.exists() => program,
        _ => return Ok(Err(ApiError::NotFound("program"))),
    };
    let Some(reward) = tx.load::<Reward>(business, reward_id.0)? else {
        return Ok(Err(RewardError::AlreadyExists.into()));
    };
    let command = RewardCommand::Add(AddReward {
        reward_id,
        program_id,
        definition: definition.clone(),
        program_status: program.state.status,
        catalogue_full: tx.reward_count(program_id.0)? >= u64::from(REWARDS_PER_PROGRAM_MAX),
    });
    let events = match reward.state.handle(command) {
        Ok(events) => events,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    tx.append(&reward, events, &ctx.metadata())?;
    let view = tx
        .reward_view(business, reward_id.0)?
        .ok_or_else(|| StoreError::Corrupt(format!("reward {reward_id} was not projected")))?;
    ok(StatusCode::CREATED, &view)
}

fn redeem(
    tx: &mut WriteTx<'_>,
    ctx: &Context,
    account_id: AccountId,
    reward_id: RewardId,
) -> Result<Decision, StoreError> {
    let business = ctx.business_id;
    let Some(account) = tx.load::<LoyaltyAccount>(business, account_id.0)? else {
        return Ok(Err(ApiError::NotFound("account")));
    };
    let Some(enrollment) = account.state.enrollment.clone() else {
        return Ok(Err(ApiError::NotFound("account")));
    };
    let Some(reward) = tx.load::<Reward>(business, reward_id.0)? else {
        return Ok(Err(ApiError::NotFound("reward")));
    };
    // Another business's reward, or another program's, answers as if it did not exist.
    let Some(entry) = reward
        .state
        .entry
        .clone()
        .filter(|entry| entry.program_id == enrollment.program_id)
    else {
        return Ok(Err(ApiError::NotFound("reward")));
    };
    let program_status = match tx.load_shared::<Program>(business, enrollment.program_id.0)? {
        Some(program) if program.state.exists() => program.state.status,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "account {account_id} refers to missing program {}",
                enrollment.program_id
            )))
        }
    };
    let transaction_id = TransactionId(uuid::Uuid::now_v7());
    // The name is 1 to 100 characters of the same alphabet as a reason, so this always parses.
    let reason = Reason::parse("reason", &format!("Reward: {}", entry.name))
        .map_err(|e| StoreError::Corrupt(format!("reward {reward_id} has a name no reason can hold: {e}")))?;
    let spend = AccountCommand::Redeem(RedeemPoints {
        transaction_id,
        points: entry.points_cost,
        reason,
        reward: Some(RewardRef {
            reward_id,
            name: entry.name.clone(),
        }),
        program_status,
    });
    let spent = match account.state.handle(spend) {
        Ok(events) => events,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    let claim = RewardCommand::Claim(ClaimReward {
        account_id,
        customer_id: enrollment.customer_id.clone(),
        program_id: enrollment.program_id,
        transaction_id,
        claims_by_customer: tx.reward_claims_by_customer(reward_id.0, enrollment.customer_id.as_str())?,
    });
    let claimed = match reward.state.handle(claim) {
        Ok(events) => events,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    // One savepoint holds both appends: a conflict on either undoes both and retries the whole.
    tx.append(&account, spent, &ctx.metadata())?;
    tx.append(&reward, claimed, &ctx.metadata())?;
    let view = tx
        .transaction_view(business, transaction_id.0)?
        .ok_or_else(|| StoreError::Corrupt(format!("transaction {transaction_id} was not projected")))?;
    ok(StatusCode::CREATED, &view)
}
