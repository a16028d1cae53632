//! The enrolment saga (the seed's `EnrollmentSaga`): when a customer is enrolled, award the
//! program's `signupBonusPoints` and send a welcome notification. It reacts to the committed
//! `loyalty.customer.enrolled` event (not inline in the enrolment), and its accrual, the welcome
//! message, its inbox record and its checkpoint commit together: exactly once, however often
//! the event is delivered.

use std::sync::Arc;

use loyalty_delivery::{EventHandler, Handled};
use loyalty_domain::account::{
    AccountCommand, AccountEvent, AccruePoints, LoyaltyAccount, ProgramRules, ReferenceType,
};
use loyalty_domain::program::Program;
use loyalty_domain::values::{Points, Reason, TransactionId};
use loyalty_domain::{Aggregate, LoyaltyEvent};
use loyalty_store::{EventFilter, EventMetadata, StoreError, StoredEvent, WriteTx};
use uuid::Uuid;

use crate::notifications::{Notification, NotificationPort};

/// Awards signup bonuses and welcomes new members.
pub struct EnrollmentSaga {
    notifier: Arc<dyn NotificationPort>,
}

impl EnrollmentSaga {
    pub const NAME: &'static str = "enrollment-saga";

    pub fn new(notifier: Arc<dyn NotificationPort>) -> Self {
        Self { notifier }
    }

    /// The bonus accrual's id: derived from the enrolment event, so it can only ever be one.
    pub fn bonus_transaction_id(enrolled_event: Uuid) -> TransactionId {
        TransactionId(Uuid::new_v5(&enrolled_event, b"loyalty.signup-bonus"))
    }
}

impl EventHandler for EnrollmentSaga {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == AccountEvent::ENROLLED
    }

    fn filter(&self) -> EventFilter {
        EventFilter::Types(&[AccountEvent::ENROLLED])
    }

    fn handle(&self, tx: &mut WriteTx<'_>, event: &StoredEvent) -> Result<Handled, StoreError> {
        let LoyaltyEvent::Account(AccountEvent::Enrolled(enrolled)) =
            LoyaltyEvent::decode(&event.event_type, &event.version, event.data.clone())?
        else {
            return Ok(Handled::Skipped("not an enrolment".to_owned()));
        };
        let business_id = event.business_id;
        let Some(program) = tx.load_shared::<Program>(business_id, enrolled.program_id.0)? else {
            return Ok(Handled::Skipped("the program is gone".to_owned()));
        };
        let bonus = program.state.definition.signup_bonus_points.unwrap_or(0);
        // The welcome goes out either way; a refused bonus is the handler's recorded outcome.
        let mut outcome = Handled::Done;
        if bonus > 0 {
            let Some(account) = tx.load::<LoyaltyAccount>(business_id, event.aggregate_id)? else {
                return Ok(Handled::Skipped("the account is gone".to_owned()));
            };
            let command = AccountCommand::Accrue(AccruePoints {
                transaction_id: Self::bonus_transaction_id(event.event_id),
                points: Points::new(bonus),
                reason: Reason::parse("reason", "Signup bonus")
                    .map_err(|e| StoreError::Corrupt(format!("signup bonus reason: {e}")))?,
                order_ref: None,
                reference_type: ReferenceType::SignupBonus,
                program: ProgramRules::of(&program.state),
                now: tx.now(),
            });
            outcome = match account.state.handle(command) {
                Ok(events) => {
                    let metadata = EventMetadata {
                        correlation_id: event.metadata.correlation_id,
                        causation_id: Some(event.event_id),
                    };
                    tx.append(&account, events, &metadata)?;
                    Handled::Done
                }
                Err(refusal) => Handled::Refused(refusal.to_string()),
            };
        }
        self.notifier.send(
            tx,
            &Notification {
                business_id,
                account_id: event.aggregate_id,
                kind: "WELCOME",
                body: serde_json::json!({
                    "displayName": enrolled.display_name,
                    "email": enrolled.email,
                    "programName": enrolled.program_name,
                    "signupBonusPoints": bonus,
                }),
                caused_by: event.event_id,
            },
        )?;
        Ok(outcome)
    }
}
