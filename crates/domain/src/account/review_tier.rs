//! ReviewTier: when a tier evaluation period rolls over (a new calendar year, or a rolling year
//! moving past old earnings), a member whose qualifying points no longer reach their tier moves
//! down to the tier they do reach.

use super::{tiering, AccountError, AccountEvent, LoyaltyAccount, ReviewTier};

pub(super) fn decide(account: &LoyaltyAccount, command: ReviewTier) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.enrollment()?;
    Ok(
        tiering::reevaluate(account, enrollment, &command.program, command.as_of, "PERIOD_ROLLOVER")
            .into_iter()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::super::fixtures::*;
    use super::super::AccountCommand;
    use super::*;
    use crate::program::EvaluationPeriod;
    use crate::testing::given;

    fn review(period: EvaluationPeriod, as_of: chrono::DateTime<Utc>) -> AccountCommand {
        let mut program = rules_with_tiers();
        program.tiers.period = period;
        AccountCommand::ReviewTier(ReviewTier { as_of, program })
    }

    #[test]
    fn a_new_calendar_year_moves_members_down_to_what_they_earned_in_it() {
        let new_year = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().expect("date");
        let events = given::<LoyaltyAccount>([enrolled(), earned(1, 150, 150), upgraded(None, "silver", 150)])
            .when(review(EvaluationPeriod::CalendarYear, new_year))
            .result()
            .expect("reviewed");
        let [AccountEvent::TierDowngraded(down)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(down.from_tier_id, "silver");
        assert_eq!(down.to_tier_id.as_deref(), Some("bronze"));
        assert_eq!(down.qualifying_points, 0);
        assert_eq!(down.reason, "PERIOD_ROLLOVER");
    }

    #[test]
    fn members_who_still_qualify_keep_their_tier() {
        given::<LoyaltyAccount>([enrolled(), earned(1, 150, 150), upgraded(None, "silver", 150)])
            .when(review(EvaluationPeriod::RollingYear, now() + Duration::days(364)))
            .then([]);
        given::<LoyaltyAccount>([enrolled(), earned(1, 150, 150), upgraded(None, "silver", 150)])
            .when(review(EvaluationPeriod::Lifetime, now() + Duration::days(4000)))
            .then([]);
    }

    #[test]
    fn a_rolling_year_drops_earnings_older_than_a_year() {
        let events = given::<LoyaltyAccount>([enrolled(), earned(1, 150, 150), upgraded(None, "silver", 150)])
            .when(review(EvaluationPeriod::RollingYear, now() + Duration::days(366)))
            .result()
            .expect("reviewed");
        assert!(
            matches!(events.as_slice(), [AccountEvent::TierDowngraded(_)]),
            "{events:?}"
        );
    }
}
