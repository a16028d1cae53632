//! Purchases earn by the program's rule: exact decimal amounts, minimums, caps and excluded
//! categories, tier multipliers and upgrades, cards that issue rewards, one accrual per order.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, assert_problem, spawn_app, Reply, TestApp};

async fn active(app: &TestApp, program: Value) -> String {
    let program_id = app.program_from(&program).await;
    let (status, _, body) = app.activate(&program_id).await;
    assert_eq!(status, StatusCode::OK, "activate: {body}");
    program_id
}

async fn buy(app: &TestApp, account: &str, body: Value) -> Reply {
    app.post(&format!("/v1/accounts/{account}/purchases"), &body).await
}

#[tokio::test]
async fn points_based_purchases_earn_exactly_and_once_per_order() {
    let app = spawn_app().await;
    let program = active(
        &app,
        json!({"name": "Cafe", "ruleType": "POINTS_BASED", "ruleConfig": {
            "pointsPerDollar": "1.5", "minPurchaseAmount": "2.00", "maxPointsPerTransaction": 300,
            "excludedCategories": ["ALCOHOL"]}}),
    )
    .await;
    let account = app.enroll_customer(&program, "c-1", "ada@example.com").await;

    let (status, _, receipt) = buy(&app, &account, json!({"amount": "12.50", "orderRef": "o-1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["pointsChanged"], 18, "floor(12.50 × 1.5) = 18: {receipt}");
    assert_eq!(receipt["newBalance"], 18);
    assert_eq!(receipt["orderRef"], "o-1");
    assert_eq!(receipt["amount"], "12.50");

    let repeat = buy(&app, &account, json!({"amount": "12.50", "orderRef": "o-1"})).await;
    assert_problem(&repeat, StatusCode::CONFLICT, "DUPLICATE_ORDER");

    let under = buy(&app, &account, json!({"amount": "1.99", "orderRef": "o-2"})).await;
    assert_eq!(under.0, StatusCode::CREATED, "{}", under.2);
    assert_eq!(under.2["pointsChanged"], 0, "under the minimum: {}", under.2);

    let excluded = buy(
        &app,
        &account,
        json!({"amount": "40", "orderRef": "o-3", "categories": ["alcohol"]}),
    )
    .await;
    assert_eq!(excluded.2["pointsChanged"], 0, "excluded category: {}", excluded.2);

    let capped = buy(&app, &account, json!({"amount": "1000.00", "orderRef": "o-4"})).await;
    assert_eq!(capped.2["pointsChanged"], 300, "capped: {}", capped.2);

    assert_eq!(app.balance(&account).await, 318);
    let ledger = app.all_transactions(&account).await;
    assert_eq!(ledger.len(), 2, "only purchases that earned are ledger entries");
    assert!(ledger.iter().all(|t| t["type"] == "EARN"));
    let (_, _, events) = app.account_events(&account).await;
    let purchases = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["eventType"] == "loyalty.purchase.recorded")
        .count();
    assert_eq!(purchases, 4, "every accepted purchase is recorded, the repeat is not");
    let earned = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["eventType"] == "loyalty.points.earned")
        .cloned()
        .expect("earned");
    assert_eq!(earned["data"]["referenceType"], "PURCHASE");
    assert_eq!(earned["data"]["referenceId"], "o-1");
}

#[tokio::test]
async fn amounts_are_decimal_strings_checked_field_by_field() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    for amount in [json!(12.5), json!("12.345"), json!("-1"), json!("abc"), json!("")] {
        let reply = buy(&app, &account, json!({"amount": amount, "orderRef": "o-1"})).await;
        assert_invalid_field(&reply, "amount");
    }
    let reply = buy(&app, &account, json!({"amount": "1.00"})).await;
    assert_invalid_field(&reply, "orderRef");
    let reply = buy(&app, &account, json!({"amount": "1.00", "orderRef": "x".repeat(51)})).await;
    assert_invalid_field(&reply, "orderRef");
    let reply = buy(
        &app,
        &account,
        json!({"amount": "1.00", "orderRef": "o", "categories": [""]}),
    )
    .await;
    assert_invalid_field(&reply, "categories[0]");
    assert_eq!(app.balance(&account).await, 0);
}

#[tokio::test]
async fn tiers_upgrade_on_earned_points_and_multiply_later_earning() {
    let app = spawn_app().await;
    let program = active(
        &app,
        json!({"name": "Tiered", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 10},
               "tiers": [
                   {"tierId": "bronze", "name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 99},
                   {"tierId": "silver", "name": "Silver", "level": 2, "minPoints": 100, "maxPoints": 999,
                    "benefits": [{"type": "POINT_MULTIPLIER", "value": "1.5"}]},
                   {"tierId": "gold", "name": "Gold", "level": 3, "minPoints": 1000,
                    "benefits": [{"type": "POINT_MULTIPLIER", "value": 2}]}]}),
    )
    .await;
    let account = app.enroll_customer(&program, "c-1", "ada@example.com").await;
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(
        view["tier"]["tierId"], "bronze",
        "members start in the lowest tier: {view}"
    );

    let (_, _, receipt) = buy(&app, &account, json!({"amount": "10.00", "orderRef": "o-1"})).await;
    assert_eq!(receipt["pointsChanged"], 100);
    assert_eq!(receipt["tierUpgrade"]["toTierId"], "silver", "{receipt}");
    assert_eq!(receipt["tierUpgrade"]["fromTierId"], "bronze");
    assert_eq!(receipt["tierUpgrade"]["qualifyingPoints"], 100);

    let (_, _, receipt) = buy(&app, &account, json!({"amount": "10.00", "orderRef": "o-2"})).await;
    assert_eq!(receipt["pointsChanged"], 150, "silver earns 1.5x: {receipt}");
    assert!(receipt["tierUpgrade"].is_null());

    // Spending does not demote.
    assert_eq!(app.redeem(&account, 250).await.0, StatusCode::CREATED);
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["tier"], json!({"tierId": "silver", "name": "Silver", "level": 2}));
    assert_eq!(view["pointBalance"], 0);

    let (_, _, events) = app.account_events(&account).await;
    let upgrade = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["eventType"] == "loyalty.tier.upgraded")
        .cloned()
        .expect("an upgrade event");
    for field in [
        "customerId",
        "programId",
        "fromTierId",
        "toTierId",
        "tierName",
        "tierLevel",
        "qualifyingPoints",
    ] {
        assert!(!upgrade["data"][field].is_null(), "{field} missing from {upgrade}");
    }
}

#[tokio::test]
async fn a_full_punch_card_issues_its_reward_and_starts_the_next() {
    let app = spawn_app().await;
    let program = active(
        &app,
        json!({"name": "Punch", "ruleType": "PUNCH_CARD", "ruleConfig": {
            "requiredPunches": 3, "rewardType": "FREE_ITEM", "rewardValue": "Coffee"}}),
    )
    .await;
    let account = app.enroll_customer(&program, "c-1", "ada@example.com").await;
    let mut receipts = Vec::new();
    for n in 1..=4 {
        let (status, _, receipt) = buy(&app, &account, json!({"amount": "3.50", "orderRef": format!("o-{n}")})).await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        receipts.push(receipt);
    }
    let progress: Vec<&Value> = receipts.iter().map(|r| &r["progress"]["progress"]).collect();
    assert_eq!(progress, [&json!("1"), &json!("2"), &json!("0"), &json!("1")]);
    assert_eq!(receipts[2]["issuedRewards"].as_array().map(Vec::len), Some(1));
    assert_eq!(receipts[2]["issuedRewards"][0]["rewardValue"], "Coffee");
    assert!(receipts.iter().all(|r| r["pointsChanged"] == 0));

    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["progress"]["progress"], "1");
    assert_eq!(view["progress"]["target"], "3");
    assert_eq!(view["progress"]["completedCards"], 1);
    assert_eq!(view["issuedRewards"].as_array().map(Vec::len), Some(1), "{view}");
    assert_eq!(view["pointBalance"], 0);

    // The member uses the reward: once.
    let reward = view["issuedRewards"][0]["issuedRewardId"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v1/accounts/{account}/issued-rewards/{reward}/use");
    let (status, _, view) = app.post(&path, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["issuedRewards"].as_array().map(Vec::len), Some(0), "{view}");
    assert_problem(
        &app.post(&path, &json!({})).await,
        StatusCode::CONFLICT,
        "REWARD_ALREADY_USED",
    );
    let unknown = format!("/v1/accounts/{account}/issued-rewards/00000000-0000-0000-0000-000000000000/use");
    assert_problem(
        &app.post(&unknown, &json!({})).await,
        StatusCode::NOT_FOUND,
        "ISSUED_REWARD_NOT_FOUND",
    );
    let used: Vec<Value> = app.account_events(&account).await.2["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["eventType"] == "loyalty.reward.used")
        .cloned()
        .collect();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0]["data"]["rewardValue"], "Coffee");
}

#[tokio::test]
async fn a_stamp_card_with_a_points_reward_earns_them() {
    let app = spawn_app().await;
    let program = active(
        &app,
        json!({"name": "Stamps", "ruleType": "STAMP_CARD", "ruleConfig": {
            "requiredStamps": 4, "stampsPerVisit": 2, "rewardType": "POINTS", "rewardValue": 75}}),
    )
    .await;
    let account = app.enroll_customer(&program, "c-1", "ada@example.com").await;
    buy(&app, &account, json!({"amount": "5", "orderRef": "o-1"})).await;
    let (_, _, receipt) = buy(&app, &account, json!({"amount": "5", "orderRef": "o-2"})).await;
    assert_eq!(receipt["issuedRewards"][0]["rewardType"], "POINTS", "{receipt}");
    assert_eq!(receipt["newBalance"], 75);
    assert_eq!(app.balance(&account).await, 75);
}

#[tokio::test]
async fn tier_based_programs_earn_a_point_per_unit() {
    let app = spawn_app().await;
    let program = active(
        &app,
        json!({"name": "Tiers", "ruleType": "TIER_BASED", "ruleConfig": {"evaluationPeriod": "CALENDAR_YEAR", "tiers": [
            {"tierId": "member", "name": "Member", "level": 1, "minPoints": 0, "maxPoints": 49},
            {"tierId": "vip", "name": "VIP", "level": 2, "minPoints": 50, "benefits": [{"type": "POINT_MULTIPLIER", "value": "3"}]}]}}),
    )
    .await;
    let account = app.enroll_customer(&program, "c-1", "ada@example.com").await;
    let (_, _, receipt) = buy(&app, &account, json!({"amount": "60.99", "orderRef": "o-1"})).await;
    assert_eq!(receipt["pointsChanged"], 60);
    assert_eq!(receipt["tierUpgrade"]["toTierId"], "vip");
    let (_, _, receipt) = buy(&app, &account, json!({"amount": "1.00", "orderRef": "o-2"})).await;
    assert_eq!(receipt["pointsChanged"], 3);
}

#[tokio::test]
async fn no_earning_while_paused_or_suspended() {
    let app = spawn_app().await;
    let (program, account) = app.account().await;
    assert_eq!(app.suspend(&account).await.0, StatusCode::OK);
    let reply = buy(&app, &account, json!({"amount": "5", "orderRef": "o-1"})).await;
    assert_problem(&reply, StatusCode::CONFLICT, "ACCOUNT_SUSPENDED");
    assert_eq!(app.reactivate(&account).await.0, StatusCode::OK);
    assert_eq!(app.pause(&program).await.0, StatusCode::OK);
    let reply = buy(&app, &account, json!({"amount": "5", "orderRef": "o-1"})).await;
    assert_problem(&reply, StatusCode::CONFLICT, "PROGRAM_NOT_ACTIVE");
    assert_eq!(app.resume(&program).await.0, StatusCode::OK);
    let reply = buy(&app, &account, json!({"amount": "5", "orderRef": "o-1"})).await;
    assert_eq!(
        reply.0,
        StatusCode::CREATED,
        "the refused order was not recorded: {}",
        reply.2
    );
}
