//! Events written in an older shape keep working: a `loyalty.points.earned` 1.0 row (the seed's
//! `{points}` shape) in a running server's database is served as 2.0 and counted after
//! `loyalty projections rebuild`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn points_earned_1_0_is_served_as_2_0() {
    let app = spawn_app().await;
    let (program, account) = app.account().await;
    assert_eq!(app.accrue(&account, 10).await.0, StatusCode::CREATED);
    app.execute_sql(&format!(
        "INSERT INTO events (position, event_id, event_type, version, timestamp, aggregate_type, aggregate_id,
                             sequence, business_id, data, metadata)
         VALUES ((SELECT COALESCE(MAX(position), 0) + 1 FROM events), '{}', 'loyalty.points.earned', '1.0', '2025-11-07T15:30:00.000000Z', 'LoyaltyAccount', '{account}', 3,
                 '{}', '{}', '{{}}')",
        uuid::Uuid::new_v4(),
        app.business_id,
        json!({"customerId": "cust-1", "programId": program, "points": 50, "totalPoints": 60})
    ));
    let rebuilt = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["projections", "rebuild", "--database-url"])
        .arg(app.database_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run loyalty projections rebuild");
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));

    let events = app.account_events_of_type(&account, "loyalty.points.earned").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["version"], "2.0");
    assert_eq!(events[1]["data"]["pointsEarned"], 50);
    assert_eq!(events[1]["data"]["reason"], "Points earned");
    let (_, _, feed) = app.events("after=0&limit=500").await;
    assert!(feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|e| e["eventType"] != "loyalty.points.earned" || e["version"] == "2.0"));
    assert_eq!(app.balance(&account).await, 60, "the projection counts it");
    assert_eq!(
        app.redeem(&account, 60).await.0,
        StatusCode::CREATED,
        "the aggregate can spend it"
    );
}
