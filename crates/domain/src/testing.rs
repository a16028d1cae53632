//! Given / when / then for aggregates: tests speak only in events and commands.
//!
//! ```ignore
//! given::<LoyaltyAccount>([enrolled(), earned(50)])
//!     .when(redeem(80))
//!     .then_err(AccountError::InsufficientPoints { available: 50, requested: 80 });
//! ```

use std::fmt::Debug;

use crate::{Aggregate, DomainEvent};

/// Past events of one aggregate.
pub struct Given<A: Aggregate> {
    state: A,
}

/// The outcome of a command on the given state.
pub struct Then<A: Aggregate> {
    result: Result<Vec<A::Event>, A::Error>,
}

/// Start a scenario from these past events.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let events: Vec<A::Event> = events.into_iter().collect();
    Given {
        state: A::from_events(events.iter()),
    }
}

impl<A: Aggregate> Given<A> {
    /// Run one command.
    pub fn when(self, command: A::Command) -> Then<A> {
        Then {
            result: self.state.handle(command),
        }
    }

    /// The folded state, for assertions on derived values.
    pub fn state(&self) -> &A {
        &self.state
    }
}

impl<A: Aggregate> Then<A>
where
    A::Event: PartialEq + Debug,
    A::Error: PartialEq + Debug,
{
    /// The command was accepted and produced exactly these events.
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => assert_eq!(events, expected, "unexpected events"),
            Err(error) => panic!("expected events {expected:?}, got error {error:?}"),
        }
    }

    /// The command was refused with exactly this error.
    pub fn then_err(self, expected: A::Error) {
        match self.result {
            Ok(events) => panic!("expected error {expected:?}, got events {events:?}"),
            Err(error) => assert_eq!(error, expected, "unexpected error"),
        }
    }

    /// The raw result, for checks that need more than equality.
    pub fn result(self) -> Result<Vec<A::Event>, A::Error> {
        self.result
    }
}

/// The events of running `commands` one after another from `state`, each on the state the ones
/// before it left: how fixtures and benches set up an aggregate in one append.
pub fn decide_all<A: Aggregate>(
    state: &A,
    commands: impl IntoIterator<Item = A::Command>,
) -> Result<Vec<A::Event>, A::Error> {
    let mut state = state.clone();
    let mut decided = Vec::new();
    for command in commands {
        let events = state.handle(command)?;
        for event in &events {
            state.apply(event);
        }
        decided.extend(events);
    }
    Ok(decided)
}

/// Whether `event` reads back as itself from its stored data, both as a [`serde_json::Value`]
/// and as JSON text as the store writes it (and a rebuild reads it), and whether that text is
/// the [`Value`](serde_json::Value)'s.
pub fn reads_back<E: DomainEvent + PartialEq>(event: &E) -> bool {
    let from_value = E::decode(event.event_type(), event.version(), event.data());
    let Ok(text) = serde_json::to_string(event) else {
        return false;
    };
    if serde_json::to_string(&event.data()).ok().as_deref() != Some(text.as_str()) {
        return false;
    }
    let from_text = E::decode(
        event.event_type(),
        event.version(),
        &mut serde_json::Deserializer::from_str(&text),
    );
    from_value.as_ref() == Ok(event) && from_text.as_ref() == Ok(event)
}

/// A manual enrolment of `account` (its customer id is its own id, its name "Ada") in the
/// active program `program` (named "Coffee"), with `email`.
pub fn enroll_command(program: uuid::Uuid, account: uuid::Uuid, email: &str) -> crate::account::AccountCommand {
    use crate::account::{AccountCommand, EnrollCustomer, EnrollmentMethod, ProgramFacts};
    use crate::values::{AccountId, CustomerId, DisplayName, Email, ProgramId};
    AccountCommand::Enroll(EnrollCustomer {
        account_id: AccountId(account),
        customer_id: CustomerId::parse("customerId", &account.to_string()).expect("valid"),
        display_name: DisplayName::parse("displayName", "Ada").expect("valid"),
        email: Email::parse("email", email).expect("valid"),
        method: EnrollmentMethod::Manual,
        program: ProgramFacts {
            program_id: ProgramId(program),
            name: "Coffee".to_owned(),
            status: crate::program::ProgramStatus::Active,
            self_enroll_enabled: true,
            enrollment_full: false,
            initial_tier: None,
        },
        email_taken: false,
    })
}

/// A manual accrual of `points` at `now`, in an active program whose lots expire after
/// `expiry_days` (never with `None`).
pub fn accrue_command(
    points: u64,
    now: chrono::DateTime<chrono::Utc>,
    expiry_days: Option<u32>,
) -> crate::account::AccountCommand {
    use crate::account::{AccountCommand, AccruePoints, ProgramRules, ReferenceType};
    use crate::values::{Points, Reason, TransactionId};
    AccountCommand::Accrue(AccruePoints {
        transaction_id: TransactionId::new_random(),
        points: Points::new(points),
        reason: Reason::parse("reason", "test").expect("valid"),
        order_ref: None,
        reference_type: ReferenceType::Manual,
        program: ProgramRules {
            status: crate::program::ProgramStatus::Active,
            rule: None,
            tiers: crate::program::TierPolicy::default(),
            point_expiry_days: expiry_days,
            pending_days: None,
        },
        now,
    })
}

/// The commands that create `program` of `business`, named `name` (a point per dollar; its lots
/// expire after `expiry_days`, never with `None`), and then activate it.
pub fn open_program_commands(
    program: uuid::Uuid,
    business: uuid::Uuid,
    name: &str,
    expiry_days: Option<u32>,
) -> [crate::program::ProgramCommand; 2] {
    use crate::program::{CreateProgram, ProgramCommand, ProgramDefinition};
    use crate::values::{BusinessId, ProgramId};
    let mut definition =
        serde_json::json!({"name": name, "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1}});
    if let Some(days) = expiry_days {
        definition["pointExpiryDays"] = days.into();
    }
    let create = ProgramCommand::Create(CreateProgram {
        program_id: ProgramId(program),
        business_id: BusinessId(business),
        definition: ProgramDefinition::parse(&definition).expect("valid"),
        template_id: None,
    });
    [create, ProgramCommand::Activate]
}
