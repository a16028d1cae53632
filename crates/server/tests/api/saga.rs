//! The enrolment saga: `signupBonusPoints` is awarded by a handler reacting to the committed
//! `loyalty.customer.enrolled` event, with a welcome notification, exactly once, also when the
//! events are delivered again and across restarts.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const SAGA_CHECKPOINT: &str = "handler:enrollment-saga";

/// Wait until the saga has read every event committed so far.
async fn saga_caught_up(app: &TestApp) {
    let head = app.store().head_position().await.expect("head");
    for _ in 0..500 {
        if app.store().checkpoint(SAGA_CHECKPOINT).await.expect("checkpoint") >= head {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the enrolment saga did not catch up within 5 s");
}

async fn bonus_events(app: &TestApp, account: &str) -> Vec<Value> {
    let (_, _, events) = app.account_events(account).await;
    events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["eventType"] == "loyalty.points.earned" && e["data"]["referenceType"] == "SIGNUP_BONUS")
        .cloned()
        .collect()
}

#[tokio::test]
async fn new_members_get_the_signup_bonus_and_a_welcome_exactly_once() {
    let mut app = spawn_app().await;
    let program = app
        .program_from(
            &json!({"name": "Bonus", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1},
                              "signupBonusPoints": 50}),
        )
        .await;
    assert_eq!(app.activate(&program).await.0, StatusCode::OK);
    let (status, _, enrolled) = app
        .enroll(&json!({"programId": program, "customerId": "c-1", "displayName": "Ada", "email": "ada@example.com"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    assert_eq!(enrolled["pointBalance"], 0, "the bonus is not inline in the enrolment");
    let account = enrolled["accountId"].as_str().expect("accountId").to_owned();

    saga_caught_up(&app).await;
    assert_eq!(app.balance(&account).await, 50);
    let bonus = bonus_events(&app, &account).await;
    assert_eq!(bonus.len(), 1, "{bonus:?}");
    let (_, _, events) = app.account_events(&account).await;
    let enrolled_event = &events["items"][0];
    assert_eq!(enrolled_event["eventType"], "loyalty.customer.enrolled");
    assert_eq!(
        bonus[0]["metadata"]["causationId"], enrolled_event["eventId"],
        "the bonus names the enrolment that caused it"
    );
    let uuid = |v: &Value| v.as_str().and_then(|s| s.parse::<uuid::Uuid>().ok()).expect("uuid");
    let welcome = app
        .store()
        .notifications(uuid(&json!(account)))
        .await
        .expect("notifications");
    assert_eq!(welcome.len(), 1);
    assert_eq!(welcome[0].0, "WELCOME");
    assert_eq!(welcome[0].1["signupBonusPoints"], 50);

    // Every event delivered again (a lost checkpoint), then a restart: still one bonus, one welcome.
    app.store()
        .write(|tx| tx.checkpoint_set(SAGA_CHECKPOINT, 0))
        .await
        .expect("reset the checkpoint");
    saga_caught_up(&app).await;
    app.restart().await;
    saga_caught_up(&app).await;
    assert_eq!(app.balance(&account).await, 50);
    assert_eq!(bonus_events(&app, &account).await.len(), 1);
    assert_eq!(
        app.store()
            .notifications(uuid(&json!(account)))
            .await
            .expect("notifications")
            .len(),
        1
    );
}

#[tokio::test]
async fn programs_without_a_bonus_only_welcome() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    saga_caught_up(&app).await;
    assert_eq!(app.balance(&account).await, 0);
    assert!(bonus_events(&app, &account).await.is_empty());
    let id = account.parse::<uuid::Uuid>().expect("uuid");
    assert_eq!(app.store().notifications(id).await.expect("notifications").len(), 1);
}
