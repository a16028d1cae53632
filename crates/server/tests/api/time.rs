//! What changes with time alone, driven through `loyalty expire --as-of` against the database of
//! a running server: lots expire lot by lot and at most once (also when sweeps race), pending
//! points are released when the return window closes, and tiers move down when their evaluation
//! period rolls over.

use std::process::Output;

use chrono::{DateTime, Datelike, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn expire(app: &TestApp, as_of: DateTime<Utc>) -> Output {
    app.expire_as_of(as_of)
}

fn report(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "loyalty expire failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one line of JSON")
}

#[tokio::test]
async fn lots_expire_soonest_first_and_at_most_once_even_when_sweeps_race() {
    let app = spawn_app().await;
    let account = app
        .member_of(
            &json!({"name": "Expiring", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1},
               "pointExpiryDays": 30}),
        )
        .await;
    let (_, _, earned) = app.accrue(&account, 100).await;
    let expires_at: DateTime<Utc> = earned["expiresAt"].as_str().expect("expiresAt").parse().expect("time");
    assert!(expires_at > Utc::now() + Duration::days(29), "{earned}");
    assert_eq!(app.redeem(&account, 30).await.0, StatusCode::CREATED);

    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["expiringSoon"], 70, "all of it expires within 30 days: {view}");
    assert_eq!(
        view["expiringAt"]
            .as_str()
            .map(|t| t.parse::<DateTime<Utc>>().expect("time")),
        Some(expires_at)
    );

    let early = report(&expire(&app, expires_at - Duration::seconds(1)));
    assert_eq!(early["lotsExpired"], 0, "{early}");
    assert_eq!(app.balance(&account).await, 70);

    // Three sweeps at once, all past the due date: the lot expires once.
    let at = expires_at + Duration::days(1);
    let runs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| expire(&app, at))).collect();
        handles.into_iter().map(|h| h.join().expect("sweep thread")).collect()
    });
    let expired: u64 = runs
        .iter()
        .map(|r| report(r)["pointsExpired"].as_u64().expect("count"))
        .sum();
    assert_eq!(expired, 70, "only what is left of the lot, once");
    assert_eq!(app.balance(&account).await, 0);
    let events = app.account_events_of_type(&account, "loyalty.points.expired").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["pointsExpired"], 70);
    assert_eq!(events[0]["data"]["remainingPoints"], 0);
    assert_eq!(
        events[0]["data"]["expirationDate"]
            .as_str()
            .map(|t| t.parse::<DateTime<Utc>>().expect("time")),
        Some(expires_at)
    );
    let ledger = app.all_transactions(&account).await;
    assert_eq!(ledger[0]["type"], "EXPIRE");
    assert_eq!(ledger[0]["pointsChanged"], -70);
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["expiringSoon"], 0);
    assert!(view["expiringAt"].is_null(), "{view}");

    let again = report(&expire(&app, at + Duration::days(400)));
    assert_eq!(again["lotsExpired"], 0, "{again}");
}

#[tokio::test]
async fn pending_points_are_released_when_the_return_window_closes() {
    let app = spawn_app().await;
    let account = app
        .member_of(
            &json!({"name": "Returns", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 10},
               "pendingDays": 14,
               "tiers": [
                   {"tierId": "bronze", "name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 99},
                   {"tierId": "silver", "name": "Silver", "level": 2, "minPoints": 100}]}),
        )
        .await;
    let receipt = app.purchase(&account, "12.00", "o-1").await;
    assert_eq!(receipt["pendingPoints"], 120, "{receipt}");
    assert_eq!(receipt["pointsChanged"], 0);
    assert!(receipt["tierUpgrade"].is_null(), "pending points do not qualify yet");
    let pending_until: DateTime<Utc> = receipt["pendingUntil"]
        .as_str()
        .expect("pendingUntil")
        .parse()
        .expect("time");
    app.purchase(&account, "5.00", "o-2").await;

    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["pendingPoints"], 170, "{view}");
    assert_eq!(view["pointBalance"], 0);
    let refused = app.redeem(&account, 1).await;
    assert_eq!(refused.0, StatusCode::CONFLICT, "pending points are not spendable");

    // Refunding an order whose points are pending cancels them, without touching the balance.
    let (status, _, reversal) = app
        .post(&format!("/v1/accounts/{account}/refunds"), &json!({"orderRef": "o-2"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reversal}");
    assert_eq!(reversal["pointsChanged"], 0);
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["pendingPoints"], 120);

    let early = report(&expire(&app, pending_until - Duration::seconds(1)));
    assert_eq!(early["lotsReleased"], 0, "{early}");
    let released = report(&expire(&app, pending_until));
    assert_eq!(released["pointsReleased"], 120, "{released}");
    assert_eq!(released["tierUpgrades"], 1, "{released}");
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["pendingPoints"], 0);
    assert_eq!(view["pointBalance"], 120);
    assert_eq!(view["lifetimePoints"], 120);
    assert_eq!(view["tier"]["tierId"], "silver");
    let ledger = app.all_transactions(&account).await;
    assert_eq!(ledger[0]["type"], "EARN");
    assert_eq!(ledger[0]["pointsChanged"], 120);
    assert_eq!(ledger[0]["orderRef"], "o-1");
    assert_eq!(
        app.account_events_of_type(&account, "loyalty.points.released")
            .await
            .len(),
        1
    );
    let again = report(&expire(&app, pending_until + Duration::days(1)));
    assert_eq!(again["lotsReleased"], 0, "released once: {again}");
    assert_eq!(app.redeem(&account, 120).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn members_move_down_when_a_calendar_year_rolls_over() {
    let app = spawn_app().await;
    let account = app
        .member_of(
            &json!({"name": "Yearly", "ruleType": "TIER_BASED", "ruleConfig": {"evaluationPeriod": "CALENDAR_YEAR",
               "tiers": [
                   {"tierId": "bronze", "name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 99},
                   {"tierId": "silver", "name": "Silver", "level": 2, "minPoints": 100}]}}),
        )
        .await;
    let receipt = app.purchase(&account, "150.00", "o-1").await;
    assert_eq!(receipt["tierUpgrade"]["toTierId"], "silver", "{receipt}");

    let this_year = report(&expire(&app, Utc::now()));
    assert_eq!(this_year["tierDowngrades"], 0, "{this_year}");
    let next_year = Utc::now()
        .date_naive()
        .with_day(1)
        .and_then(|d| d.with_month(1))
        .and_then(|d| d.with_year(d.year() + 1))
        .and_then(|d| d.and_hms_opt(0, 0, 1))
        .expect("next new year")
        .and_utc();
    let rolled = report(&expire(&app, next_year));
    assert_eq!(rolled["tierDowngrades"], 1, "{rolled}");
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["tier"]["tierId"], "bronze", "{view}");
    let down = app.account_events_of_type(&account, "loyalty.tier.downgraded").await;
    assert_eq!(down[0]["data"]["reason"], "PERIOD_ROLLOVER");
    assert_eq!(down[0]["data"]["fromTierId"], "silver");
    let again = report(&expire(&app, next_year));
    assert_eq!(again["tierDowngrades"], 0, "once: {again}");
}

/// Given two members with lots due, one of whose accounts names a program its business does not
/// have (its stored state altered behind the service's back), when `loyalty expire` runs, then
/// the other's lot expires, the altered account is skipped and reported, and the command exits
/// with an error that says so.
#[tokio::test]
async fn an_account_whose_program_is_missing_is_skipped_and_the_sweep_fails_after_the_others() {
    let app = spawn_app().await;
    let program = app
        .program_from(
            &json!({"name": "Expiring", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1},
               "pointExpiryDays": 30}),
        )
        .await;
    assert_eq!(app.activate(&program).await.0, StatusCode::OK);
    let healthy = app.enroll_customer(&program, "c-1", "ada@example.com").await;
    let altered = app.enroll_customer(&program, "c-2", "bob@example.com").await;
    app.accrue(&healthy, 100).await;
    app.accrue(&altered, 40).await;
    app.execute_sql(&format!(
        "UPDATE snapshots SET state = replace(state, '{program}', '{}') WHERE aggregate_id = '{altered}'",
        uuid::Uuid::new_v4()
    ));

    let output = expire(&app, Utc::now() + Duration::days(31));
    assert!(!output.status.success(), "it must say that it skipped one");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 account was skipped"), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("the report, still printed");
    assert_eq!(
        (
            &report["accountsSwept"],
            &report["accountsSkipped"],
            &report["lotsExpired"]
        ),
        (&json!(2), &json!(1), &json!(1)),
        "{report}"
    );
    assert_eq!(app.balance(&healthy).await, 0);
    assert_eq!(app.balance(&altered).await, 40);
}
