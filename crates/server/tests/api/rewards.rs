//! The rewards catalogue: rewards per program, redeemed for exactly their cost, with stock and
//! per-customer limits that hold under concurrency and redemptions that are all or nothing.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, assert_problem, is_uuid, spawn_app, TestApp};

fn free_coffee(stock: Option<u64>, per_customer_limit: Option<u32>) -> Value {
    let mut body = json!({"name": "Free coffee", "rewardType": "FREE_ITEM", "pointsCost": 100});
    if let Some(stock) = stock {
        body["stock"] = json!(stock);
    }
    if let Some(limit) = per_customer_limit {
        body["perCustomerLimit"] = json!(limit);
    }
    body
}

/// A member of `program` holding `points`.
async fn member_with(app: &TestApp, program: &str, n: u32, points: i64) -> String {
    let account = app
        .enroll_customer(program, &format!("cust-{n}"), &format!("member{n}@example.com"))
        .await;
    if points > 0 {
        let (status, _, body) = app.accrue(&account, points).await;
        assert_eq!(status, StatusCode::CREATED, "accrue: {body}");
    }
    account
}

/// Every event of the business of type `event_type`, in commit order.
async fn events_of_type(app: &TestApp, event_type: &str) -> Vec<Value> {
    let (status, _, feed) = app.events("after=0&limit=500").await;
    assert_eq!(status, StatusCode::OK, "event feed: {feed}");
    feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["eventType"] == event_type)
        .cloned()
        .collect()
}

#[tokio::test]
async fn rewards_are_created_and_listed_per_program() {
    let app = spawn_app().await;
    let program = app.active_program().await;

    let (status, _, reward) = app.create_reward(&program, &free_coffee(Some(5), Some(2))).await;
    assert_eq!(status, StatusCode::CREATED, "{reward}");
    assert!(is_uuid(&reward["rewardId"]), "{reward}");
    assert_eq!(reward["programId"], program.as_str());
    assert_eq!(reward["name"], "Free coffee");
    assert_eq!(reward["rewardType"], "FREE_ITEM");
    assert_eq!(reward["pointsCost"], 100);
    assert_eq!(reward["stock"], 5);
    assert_eq!(reward["remainingStock"], 5);
    assert_eq!(reward["perCustomerLimit"], 2);
    assert!(reward["createdAt"].is_string(), "{reward}");

    let (status, _, unlimited) = app
        .create_reward(
            &program,
            &json!({"name": "10% off", "rewardType": "DISCOUNT_PERCENTAGE", "pointsCost": "250"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{unlimited}");
    assert_eq!(unlimited["pointsCost"], 250);
    for field in ["stock", "remainingStock", "perCustomerLimit"] {
        assert!(
            unlimited[field].is_null(),
            "{field} of an unlimited reward: {unlimited}"
        );
    }

    let (status, _, list) = app.list_rewards(&program).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items[0], reward, "oldest first, as created");
    assert_eq!(items[1], unlimited);

    let created = events_of_type(&app, "loyalty.reward.created").await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["aggregateId"], reward["rewardId"]);
    assert_eq!(created[0]["data"]["stock"], 5);
    assert_eq!(created[0]["data"]["perCustomerLimit"], 2);

    // Another program's catalogue is its own.
    let other = app.active_program().await;
    let (_, _, empty) = app.list_rewards(&other).await;
    assert_eq!(empty["items"], json!([]));
}

#[tokio::test]
async fn a_draft_or_paused_program_takes_rewards_an_ended_one_does_not() {
    let app = spawn_app().await;
    let draft = app.draft_program().await;
    assert_eq!(
        app.create_reward(&draft, &free_coffee(None, None)).await.0,
        StatusCode::CREATED
    );
    let paused = app.active_program().await;
    assert_eq!(app.pause(&paused).await.0, StatusCode::OK);
    assert_eq!(
        app.create_reward(&paused, &free_coffee(None, None)).await.0,
        StatusCode::CREATED
    );
    let ended = app.active_program().await;
    assert_eq!(app.end(&ended).await.0, StatusCode::OK);
    let refused = app.create_reward(&ended, &free_coffee(None, None)).await;
    assert_problem(&refused, StatusCode::CONFLICT, "PROGRAM_NOT_ACTIVE");
    let (_, _, list) = app.list_rewards(&ended).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn invalid_rewards_are_refused_naming_each_field() {
    let app = spawn_app().await;
    let program = app.active_program().await;

    let missing = app.create_reward(&program, &json!({})).await;
    for field in ["name", "rewardType", "pointsCost"] {
        assert_invalid_field(&missing, field);
    }
    let bad = app
        .create_reward(
            &program,
            &json!({"name": "", "rewardType": "HUG", "pointsCost": 0, "stock": -1, "perCustomerLimit": "often",
                    "colour": "red"}),
        )
        .await;
    for field in [
        "name",
        "rewardType",
        "pointsCost",
        "stock",
        "perCustomerLimit",
        "colour",
    ] {
        assert_invalid_field(&bad, field);
    }
    let long_name = app
        .create_reward(
            &program,
            &json!({"name": "x".repeat(101), "rewardType": "FREE_ITEM", "pointsCost": 10}),
        )
        .await;
    assert_invalid_field(&long_name, "name");
    let zero_stock = app
        .create_reward(
            &program,
            &json!({"name": "Mug", "rewardType": "FREE_ITEM",
                                                           "pointsCost": 10, "stock": 0}),
        )
        .await;
    assert_invalid_field(&zero_stock, "stock");
    assert_invalid_field(
        &app.create_reward("not-a-uuid", &free_coffee(None, None)).await,
        "programId",
    );
    assert_invalid_field(&app.list_rewards("not-a-uuid").await, "programId");

    let (_, _, list) = app.list_rewards(&program).await;
    assert_eq!(list["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn another_business_neither_sees_nor_adds_to_a_catalogue() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    app.reward_from(&program, &free_coffee(Some(5), None)).await;
    let (_, other_key) = app.create_business("Rival").await;

    let listed = app.get_as(&other_key, &format!("/v1/programs/{program}/rewards")).await;
    assert_problem(&listed, StatusCode::NOT_FOUND, "PROGRAM_NOT_FOUND");
    let added = app
        .post_as(
            &other_key,
            &format!("/v1/programs/{program}/rewards"),
            &free_coffee(None, None),
        )
        .await;
    assert_problem(&added, StatusCode::NOT_FOUND, "PROGRAM_NOT_FOUND");
    let unknown = app.list_rewards(&uuid::Uuid::new_v4().to_string()).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "PROGRAM_NOT_FOUND");
    let (_, _, list) = app.list_rewards(&program).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn redeeming_a_reward_spends_exactly_its_cost_and_says_so_in_the_events() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let reward = app.reward_from(&program, &free_coffee(Some(5), None)).await;
    let account = member_with(&app, &program, 1, 250).await;

    let (status, _, transaction) = app.redeem_reward(&account, &reward).await;
    assert_eq!(status, StatusCode::CREATED, "{transaction}");
    assert_eq!(transaction["type"], "REDEEM");
    assert_eq!(transaction["pointsChanged"], -100);
    assert_eq!(transaction["newBalance"], 150);
    assert_eq!(transaction["rewardId"], reward.as_str());
    assert_eq!(transaction["reason"], "Reward: Free coffee");
    assert_eq!(app.balance(&account).await, 150);
    assert_eq!(app.listed_reward(&program, &reward).await["remainingStock"], 4);

    let (_, _, events) = app.account_events(&account).await;
    let redeemed = events["items"]
        .as_array()
        .expect("items")
        .last()
        .cloned()
        .expect("an event");
    assert_eq!(redeemed["eventType"], "loyalty.points.redeemed");
    assert_eq!(redeemed["data"]["pointsRedeemed"], 100);
    assert_eq!(redeemed["data"]["remainingPoints"], 150);
    assert_eq!(redeemed["data"]["rewardId"], reward.as_str());
    assert_eq!(redeemed["data"]["rewardName"], "Free coffee");

    let claimed = events_of_type(&app, "loyalty.reward.claimed").await;
    assert_eq!(claimed.len(), 1);
    let claim = &claimed[0];
    assert_eq!(claim["aggregateId"], reward.as_str());
    assert_eq!(claim["aggregateType"], "LoyaltyReward");
    assert_eq!(claim["data"]["rewardId"], reward.as_str());
    assert_eq!(claim["data"]["programId"], program.as_str());
    assert_eq!(claim["data"]["accountId"], account.as_str());
    assert_eq!(claim["data"]["customerId"], "cust-1");
    assert_eq!(claim["data"]["remainingStock"], 4);
    assert_eq!(claim["data"]["transactionId"], transaction["transactionId"]);
    assert_eq!(
        claim["metadata"]["correlationId"], redeemed["metadata"]["correlationId"],
        "one request caused both"
    );
    assert_eq!(
        claim["position"].as_i64(),
        redeemed["position"].as_i64().map(|p| p + 1),
        "committed together"
    );

    // Points redemptions still work beside rewards, and carry no reward.
    let (status, _, plain) = app.redeem(&account, 50).await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    assert!(plain.get("rewardId").is_none(), "{plain}");
}

#[tokio::test]
async fn a_redemption_is_either_points_and_reason_or_a_reward() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let reward = app.reward_from(&program, &free_coffee(Some(5), None)).await;
    let account = member_with(&app, &program, 1, 500).await;

    let both = app
        .redeem_body(
            &account,
            &json!({"rewardId": reward, "points": 100, "reason": "coffee"}),
        )
        .await;
    assert_invalid_field(&both, "rewardId");
    let reward_and_reason = app
        .redeem_body(&account, &json!({"rewardId": reward, "reason": "coffee"}))
        .await;
    assert_invalid_field(&reward_and_reason, "rewardId");
    let neither = app.redeem_body(&account, &json!({})).await;
    assert_invalid_field(&neither, "points");
    assert_invalid_field(&neither, "reason");
    assert_invalid_field(&app.redeem_reward(&account, "free-coffee").await, "rewardId");
    assert_invalid_field(&app.redeem_body(&account, &json!({"rewardId": 7})).await, "rewardId");

    assert_eq!(app.balance(&account).await, 500, "nothing was spent");
    assert_eq!(app.listed_reward(&program, &reward).await["remainingStock"], 5);
}

#[tokio::test]
async fn insufficient_points_consume_no_stock() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let reward = app.reward_from(&program, &free_coffee(Some(1), None)).await;
    let poor = member_with(&app, &program, 1, 99).await;
    let rich = member_with(&app, &program, 2, 100).await;

    let refused = app.redeem_reward(&poor, &reward).await;
    assert_problem(&refused, StatusCode::CONFLICT, "INSUFFICIENT_POINTS");
    assert_eq!(app.balance(&poor).await, 99);
    assert_eq!(app.listed_reward(&program, &reward).await["remainingStock"], 1);
    assert!(events_of_type(&app, "loyalty.reward.claimed").await.is_empty());

    assert_eq!(app.redeem_reward(&rich, &reward).await.0, StatusCode::CREATED);
    assert_eq!(app.balance(&rich).await, 0);
    let (_, _, poor_again) = app.accrue(&poor, 500).await;
    assert_eq!(poor_again["newBalance"], 599);
    let gone = app.redeem_reward(&poor, &reward).await;
    assert_problem(&gone, StatusCode::CONFLICT, "REWARD_OUT_OF_STOCK");
    assert_eq!(app.balance(&poor).await, 599, "an out-of-stock reward costs nothing");
    assert_eq!(app.listed_reward(&program, &reward).await["remainingStock"], 0);
}

#[tokio::test]
async fn a_member_over_the_per_customer_limit_is_refused() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let reward = app.reward_from(&program, &free_coffee(Some(10), Some(2))).await;
    let account = member_with(&app, &program, 1, 1_000).await;
    let other = member_with(&app, &program, 2, 1_000).await;

    for _ in 0..2 {
        let (status, _, body) = app.redeem_reward(&account, &reward).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let third = app.redeem_reward(&account, &reward).await;
    assert_problem(&third, StatusCode::CONFLICT, "REWARD_LIMIT_REACHED");
    assert_eq!(app.balance(&account).await, 800, "charged twice, not three times");
    assert_eq!(
        app.redeem_reward(&other, &reward).await.0,
        StatusCode::CREATED,
        "the limit is per customer"
    );
    assert_eq!(app.listed_reward(&program, &reward).await["remainingStock"], 7);
}

#[tokio::test]
async fn concurrent_redemptions_by_one_member_respect_the_limit() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let reward = app.reward_from(&program, &free_coffee(None, Some(3))).await;
    let account = member_with(&app, &program, 1, 10_000).await;

    let replies = join_all((0..10).map(|_| app.redeem_reward(&account, &reward))).await;
    let created = replies.iter().filter(|r| r.0 == StatusCode::CREATED).count();
    let limited = replies
        .iter()
        .filter(|r| r.0 == StatusCode::CONFLICT && r.2["code"] == "REWARD_LIMIT_REACHED")
        .count();
    assert_eq!((created, limited), (3, 7), "{replies:?}");
    assert_eq!(app.balance(&account).await, 10_000 - 300);
}

#[tokio::test]
async fn a_reward_of_another_program_or_business_is_not_found() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let account = member_with(&app, &program, 1, 1_000).await;
    let elsewhere = app.active_program().await;
    let foreign = app.reward_from(&elsewhere, &free_coffee(Some(5), None)).await;

    let other_program = app.redeem_reward(&account, &foreign).await;
    assert_problem(&other_program, StatusCode::NOT_FOUND, "REWARD_NOT_FOUND");
    let unknown = app.redeem_reward(&account, &uuid::Uuid::new_v4().to_string()).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "REWARD_NOT_FOUND");

    // A member of a rival business cannot use this business's reward, nor see that it exists.
    let (_, rival_key) = app.create_business("Rival").await;
    let (status, _, rival_program) = app
        .post_as(&rival_key, "/v1/programs", &crate::helpers::points_program("Rival"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rival_program}");
    let rival_program = rival_program["programId"].as_str().expect("programId").to_owned();
    let activated = app
        .post_as(
            &rival_key,
            &format!("/v1/programs/{rival_program}/activate"),
            &json!({}),
        )
        .await;
    assert_eq!(activated.0, StatusCode::OK, "{}", activated.2);
    let (_, _, rival_member) = app
        .post_as(
            &rival_key,
            "/v1/accounts",
            &crate::helpers::enrollment(&rival_program, "r-1", "rival@example.com"),
        )
        .await;
    let rival_member = rival_member["accountId"].as_str().expect("accountId").to_owned();
    let ours = app.reward_from(&program, &free_coffee(Some(5), None)).await;
    let crossed = app
        .post_as(
            &rival_key,
            &format!("/v1/accounts/{rival_member}/redemptions"),
            &json!({"rewardId": ours}),
        )
        .await;
    assert_problem(&crossed, StatusCode::NOT_FOUND, "REWARD_NOT_FOUND");

    assert_eq!(app.balance(&account).await, 1_000);
    assert_eq!(app.listed_reward(&elsewhere, &foreign).await["remainingStock"], 5);
    assert_eq!(app.listed_reward(&program, &ours).await["remainingStock"], 5);
}

#[tokio::test]
async fn a_paused_program_still_redeems_rewards_an_ended_or_suspended_one_does_not() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let reward = app.reward_from(&program, &free_coffee(Some(5), None)).await;
    let account = member_with(&app, &program, 1, 1_000).await;
    let suspended = member_with(&app, &program, 2, 1_000).await;

    assert_eq!(app.suspend(&suspended).await.0, StatusCode::OK);
    let refused = app.redeem_reward(&suspended, &reward).await;
    assert_problem(&refused, StatusCode::CONFLICT, "ACCOUNT_SUSPENDED");

    assert_eq!(app.pause(&program).await.0, StatusCode::OK);
    let (status, _, body) = app.redeem_reward(&account, &reward).await;
    assert_eq!(status, StatusCode::CREATED, "a paused program redeems: {body}");

    assert_eq!(app.end(&program).await.0, StatusCode::OK);
    let ended = app.redeem_reward(&account, &reward).await;
    assert_problem(&ended, StatusCode::CONFLICT, "PROGRAM_NOT_ACTIVE");
    assert_eq!(app.balance(&account).await, 900);
    assert_eq!(app.listed_reward(&program, &reward).await["remainingStock"], 4);
}

#[tokio::test]
async fn a_repeated_reward_redemption_with_one_idempotency_key_claims_once() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let reward = app.reward_from(&program, &free_coffee(Some(5), None)).await;
    let account = member_with(&app, &program, 1, 1_000).await;
    let path = format!("/v1/accounts/{account}/redemptions");
    let body = json!({"rewardId": reward});

    let (first_status, _, first) = app.post_idempotent(&path, "redeem-1", &body).await;
    assert_eq!(first_status, StatusCode::CREATED, "{first}");
    let (again_status, headers, again) = app.post_idempotent(&path, "redeem-1", &body).await;
    assert_eq!((again_status, &again), (first_status, &first));
    assert_eq!(
        headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(app.balance(&account).await, 900);
    assert_eq!(app.listed_reward(&program, &reward).await["remainingStock"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_members_racing_for_five_units_get_exactly_five() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let reward = app.reward_from(&program, &free_coffee(Some(5), None)).await;
    let mut members = Vec::new();
    for n in 0..20 {
        members.push(member_with(&app, &program, n, 100).await);
    }

    let replies = join_all(members.iter().map(|account| app.redeem_reward(account, &reward))).await;
    let mut winners = Vec::new();
    let mut out_of_stock = 0;
    for (account, (status, _, body)) in members.iter().zip(&replies) {
        match *status {
            StatusCode::CREATED => {
                assert_eq!(body["pointsChanged"], -100, "{body}");
                assert_eq!(body["rewardId"], reward.as_str(), "{body}");
                winners.push(account.clone());
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "REWARD_OUT_OF_STOCK", "{body}");
                out_of_stock += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((winners.len(), out_of_stock), (5, 15));

    let listed = app.listed_reward(&program, &reward).await;
    assert_eq!(listed["remainingStock"], 0, "{listed}");
    for account in &members {
        let expected = if winners.contains(account) { 0 } else { 100 };
        assert_eq!(app.balance(account).await, expected, "only winners paid");
    }
    let claimed = events_of_type(&app, "loyalty.reward.claimed").await;
    let mut stock_after: Vec<i64> = claimed
        .iter()
        .map(|e| e["data"]["remainingStock"].as_i64().expect("remainingStock"))
        .collect();
    stock_after.sort_unstable();
    assert_eq!(stock_after, [0, 1, 2, 3, 4], "each unit given once");
}
