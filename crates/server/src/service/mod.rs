//! The application service: turns validated requests into commands, runs them in the writer's
//! group commit with their idempotency record, and renders the answer from the read model of
//! the same transaction.

mod account_commands;
mod payment_commands;
mod program_commands;
mod reward_commands;

use axum::http::StatusCode;
use loyalty_store::{EventMetadata, IdempotencyRecord, JsonBody, Store, StoreError, StoredResponse, WriteTx};
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;

pub use account_commands::{AccountAction, EnrollInput, PurchaseReceipt};
pub use payment_commands::{outcome_of, refund_payment, translate_payment, PaymentReceipt, UpstreamPayment};
pub use program_commands::ProgramAction;

/// An `Idempotency-Key` and the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// Who asks, and how to answer a repeat.
#[derive(Debug, Clone)]
pub struct Context {
    pub business_id: Uuid,
    pub idempotency: Option<Idempotency>,
    pub correlation_id: Uuid,
}

impl Context {
    pub fn metadata(&self) -> EventMetadata {
        EventMetadata {
            correlation_id: Some(self.correlation_id),
            causation_id: None,
        }
    }
}

/// The answer to a command: fresh, or the first answer to the same idempotency key.
#[derive(Debug, Clone)]
pub struct Reply {
    pub response: StoredResponse,
    pub replayed: bool,
}

/// The services the HTTP layer and the CLI call.
#[derive(Clone)]
pub struct Service {
    pub store: Store,
    /// How long a payment that found no member can be claimed.
    pub claim_window_days: u32,
}

/// What one decision inside the writer produced: a success body, or a refusal that is an
/// answer (and is kept for idempotent replay), not a failure.
pub type Decision = Result<(StatusCode, JsonBody), ApiError>;

/// The rules of the program an account belongs to, read in the writer's transaction.
pub fn program_rules(
    tx: &WriteTx<'_>,
    business_id: Uuid,
    account: &loyalty_domain::account::LoyaltyAccount,
) -> Result<loyalty_domain::account::ProgramRules, StoreError> {
    let program_id = account.enrollment.as_ref().map(|e| e.program_id.0).unwrap_or_default();
    rules_of_program(tx, business_id, program_id)?
        .ok_or_else(|| StoreError::Corrupt(format!("an account refers to missing program {program_id}")))
}

/// The rules of `program_id`, read in the writer's transaction; `None` when `business_id` has
/// no such program.
pub fn rules_of_program(
    tx: &WriteTx<'_>,
    business_id: Uuid,
    program_id: Uuid,
) -> Result<Option<loyalty_domain::account::ProgramRules>, StoreError> {
    let program = tx.load_shared::<loyalty_domain::program::Program>(business_id, program_id)?;
    Ok(program
        .filter(|program| program.state.exists())
        .map(|program| loyalty_domain::account::ProgramRules::of(&program.state)))
}

/// Render a view as a success body: serialized once, here, for the answer, its idempotency
/// record and every replay.
pub fn ok<T: Serialize>(status: StatusCode, view: &T) -> Result<Decision, StoreError> {
    Ok(Ok((status, JsonBody::of(view)?)))
}

enum Outcome {
    Answered(StoredResponse),
    Replayed(StoredResponse),
    KeyReused,
}

impl Service {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            claim_window_days: loyalty_domain::restaurant::CLAIM_WINDOW_DAYS,
        }
    }

    /// The same service with another claim window.
    pub fn with_claim_window_days(self, days: u32) -> Self {
        Self {
            claim_window_days: days,
            ..self
        }
    }

    /// Run `decide` in the writer's transaction under the idempotency rules of the contract:
    /// a key seen with the same request replays the first answer; with another request, 422.
    pub async fn execute<F>(&self, context: Context, decide: F) -> Result<Reply, ApiError>
    where
        F: FnMut(&mut WriteTx<'_>, &Context) -> Result<Decision, StoreError> + Send + 'static,
    {
        self.execute_on(context, None, decide).await
    }

    /// [`Self::execute`] for a command to `aggregate`, whose snapshot is read together with the
    /// idempotency record, for the whole batch, in the round trip that begins it on PostgreSQL.
    pub async fn execute_on<F>(
        &self,
        context: Context,
        aggregate: Option<Uuid>,
        mut decide: F,
    ) -> Result<Reply, ApiError>
    where
        F: FnMut(&mut WriteTx<'_>, &Context) -> Result<Decision, StoreError> + Send + 'static,
    {
        let prefetch = loyalty_store::Prefetch {
            business_id: context.business_id,
            idempotency_key: context.idempotency.as_ref().map(|i| i.key.clone()),
            aggregate_id: aggregate,
        };
        let outcome = self
            .store
            .write_prefetching(Some(prefetch), move |tx| {
                let business_id = context.business_id;
                if let Some(idempotency) = &context.idempotency {
                    // Read with the batch's first round trip on PostgreSQL (see the prefetch).
                    if let Some(record) = tx.idempotency_get(business_id, &idempotency.key)? {
                        return Ok(if record.request_hash == idempotency.request_hash {
                            Outcome::Replayed(record.response)
                        } else {
                            Outcome::KeyReused
                        });
                    }
                }
                let response = match decide(tx, &context)? {
                    Ok((status, body)) => StoredResponse {
                        status: status.as_u16(),
                        body,
                    },
                    Err(refusal) => refusal.to_stored(),
                };
                if let Some(idempotency) = &context.idempotency {
                    tx.idempotency_put(
                        business_id,
                        &idempotency.key,
                        &IdempotencyRecord {
                            request_hash: idempotency.request_hash.clone(),
                            response: response.clone(),
                        },
                    )?;
                }
                Ok(Outcome::Answered(response))
            })
            .await?;
        match outcome {
            Outcome::Answered(response) => Ok(Reply {
                response,
                replayed: false,
            }),
            Outcome::Replayed(response) => Ok(Reply {
                response,
                replayed: true,
            }),
            Outcome::KeyReused => Err(ApiError::IdempotencyKeyReused),
        }
    }
}
