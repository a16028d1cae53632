//! Programs: creation with each rule type, validation of rule configs, and the lifecycle
//! `DRAFT → ACTIVE ↔ PAUSED → ENDED` with its events.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, assert_problem, error_fields, is_uuid, points_program, spawn_app};

fn two_tiers() -> Value {
    json!([
        {"tierId": "silver", "name": "Silver", "level": 1, "minPoints": 0, "maxPoints": 999},
        {"tierId": "gold", "name": "Gold", "level": 2, "minPoints": 1000,
         "benefits": [{"type": "POINT_MULTIPLIER", "value": "1.5"}]}
    ])
}

/// A valid config of each of the six rule types.
fn valid_rules() -> Vec<(&'static str, Value)> {
    vec![
        (
            "POINTS_BASED",
            json!({"pointsPerDollar": 10, "minPurchaseAmount": "1.00", "maxPointsPerTransaction": 500,
                   "excludedCategories": ["alcohol", "tobacco"]}),
        ),
        (
            "PUNCH_CARD",
            json!({"requiredPunches": 10, "rewardType": "FREE_ITEM", "rewardValue": "Coffee"}),
        ),
        (
            "STAMP_CARD",
            json!({"requiredStamps": 8, "stampsPerVisit": 2, "rewardType": "DISCOUNT_AMOUNT", "rewardValue": "5.00"}),
        ),
        (
            "VISIT_FREQUENCY",
            json!({"requiredVisits": 4, "periodDays": 30, "rewardType": "POINTS", "rewardValue": 100}),
        ),
        (
            "AMOUNT_SPENT",
            json!({"targetAmount": "250.00", "periodDays": 90, "rewardType": "DISCOUNT_PERCENTAGE",
                   "rewardValue": 10}),
        ),
        (
            "TIER_BASED",
            json!({"tiers": two_tiers(), "evaluationPeriod": "ROLLING_YEAR"}),
        ),
    ]
}

#[tokio::test]
async fn creates_a_draft_program_with_each_rule_type() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (rule_type, config) in valid_rules() {
        let name = format!("{rule_type} program");
        let (status, headers, program) = app
            .create_program(&json!({"name": name, "ruleType": rule_type, "ruleConfig": config}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{rule_type}: {program}");
        assert!(
            crate::helpers::content_type(&headers).starts_with("application/json"),
            "{headers:?}"
        );
        assert!(is_uuid(&program["programId"]), "{program}");
        assert_eq!(program["status"], "DRAFT", "{program}");
        assert_eq!(program["name"], name.as_str());
        assert_eq!(program["ruleType"], rule_type, "{program}");
        assert!(program["ruleConfig"].is_object(), "{program}");

        let id = program["programId"].as_str().expect("programId").to_owned();
        let (status, _, read) = app.get_program(&id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read, program, "GET answers what POST created");
        ids.push(id);
    }

    let (_, _, points) = app.get_program(&ids[0]).await;
    assert_eq!(points["ruleConfig"]["maxPointsPerTransaction"], 500);
    assert_eq!(
        points["ruleConfig"]["excludedCategories"],
        json!(["alcohol", "tobacco"])
    );
    let (_, _, punch) = app.get_program(&ids[1]).await;
    assert_eq!(punch["ruleConfig"]["requiredPunches"], 10);
    assert_eq!(punch["ruleConfig"]["rewardType"], "FREE_ITEM");
    let (_, _, stamp) = app.get_program(&ids[2]).await;
    assert_eq!(stamp["ruleConfig"]["requiredStamps"], 8);
    assert_eq!(stamp["ruleConfig"]["stampsPerVisit"], 2);
    let (_, _, visits) = app.get_program(&ids[3]).await;
    assert_eq!(visits["ruleConfig"]["requiredVisits"], 4);
    assert_eq!(visits["ruleConfig"]["periodDays"], 30);
    let (_, _, spent) = app.get_program(&ids[4]).await;
    assert_eq!(spent["ruleConfig"]["periodDays"], 90);
    let (_, _, tiered) = app.get_program(&ids[5]).await;
    assert_eq!(tiered["ruleConfig"]["evaluationPeriod"], "ROLLING_YEAR");
    let tiers = tiered["ruleConfig"]["tiers"].as_array().expect("tiers");
    assert_eq!(tiers.len(), 2, "{tiered}");
    assert_eq!(tiers[0]["tierId"], "silver");
    assert_eq!(tiers[1]["minPoints"], 1000);

    let (status, _, list) = app.list_programs().await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["programId"].as_str().expect("programId"))
        .collect();
    assert_eq!(listed.len(), 6, "{list}");
    for id in &ids {
        assert!(listed.contains(&id.as_str()), "{id} missing from {list}");
    }
}

#[tokio::test]
async fn every_rule_type_can_be_activated() {
    let app = spawn_app().await;
    for (rule_type, config) in valid_rules() {
        let id = app
            .program_from(&json!({"name": rule_type, "ruleType": rule_type, "ruleConfig": config}))
            .await;
        let (status, _, program) = app.activate(&id).await;
        assert_eq!(status, StatusCode::OK, "{rule_type}: {program}");
        assert_eq!(program["status"], "ACTIVE");
    }
}

#[tokio::test]
async fn invalid_rule_configs_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let overlapping = json!([
        {"name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 500},
        {"name": "Gold", "level": 2, "minPoints": 500}
    ]);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "POINTS_BASED",
            json!({"pointsPerDollar": 0}),
            "ruleConfig.pointsPerDollar",
        ),
        (
            "POINTS_BASED",
            json!({"pointsPerDollar": -1}),
            "ruleConfig.pointsPerDollar",
        ),
        (
            "POINTS_BASED",
            json!({"pointsPerDollar": "ten"}),
            "ruleConfig.pointsPerDollar",
        ),
        (
            "POINTS_BASED",
            json!({"minPurchaseAmount": "1.00"}),
            "ruleConfig.pointsPerDollar",
        ),
        (
            "POINTS_BASED",
            json!({"pointsPerDollar": 1, "minPurchaseAmount": "-1"}),
            "ruleConfig.minPurchaseAmount",
        ),
        (
            "POINTS_BASED",
            json!({"pointsPerDollar": 1, "maxPointsPerTransaction": 0}),
            "ruleConfig.maxPointsPerTransaction",
        ),
        (
            "POINTS_BASED",
            json!({"pointsPerDollar": 1, "pointPerDollar": 1}),
            "ruleConfig.pointPerDollar",
        ),
        (
            "PUNCH_CARD",
            json!({"requiredPunches": 1, "rewardType": "FREE_ITEM", "rewardValue": "Coffee"}),
            "ruleConfig.requiredPunches",
        ),
        (
            "PUNCH_CARD",
            json!({"requiredPunches": 51, "rewardType": "FREE_ITEM", "rewardValue": "Coffee"}),
            "ruleConfig.requiredPunches",
        ),
        (
            "PUNCH_CARD",
            json!({"requiredPunches": 10, "rewardType": "FREE_LUNCH", "rewardValue": "Coffee"}),
            "ruleConfig.rewardType",
        ),
        (
            "STAMP_CARD",
            json!({"requiredStamps": 0, "rewardType": "FREE_ITEM", "rewardValue": "Cake"}),
            "ruleConfig.requiredStamps",
        ),
        (
            "VISIT_FREQUENCY",
            json!({"requiredVisits": 1, "periodDays": 30, "rewardType": "POINTS", "rewardValue": 100}),
            "ruleConfig.requiredVisits",
        ),
        (
            "AMOUNT_SPENT",
            json!({"targetAmount": "0", "periodDays": 30, "rewardType": "POINTS", "rewardValue": 100}),
            "ruleConfig.targetAmount",
        ),
        (
            "AMOUNT_SPENT",
            json!({"targetAmount": "100.00", "periodDays": 0, "rewardType": "POINTS", "rewardValue": 100}),
            "ruleConfig.periodDays",
        ),
        (
            "TIER_BASED",
            json!({"tiers": [{"name": "Only", "level": 1, "minPoints": 0}], "evaluationPeriod": "LIFETIME"}),
            "ruleConfig.tiers",
        ),
        (
            "TIER_BASED",
            json!({"tiers": overlapping, "evaluationPeriod": "LIFETIME"}),
            "ruleConfig.tiers",
        ),
        (
            "TIER_BASED",
            json!({"tiers": two_tiers(), "evaluationPeriod": "WEEKLY"}),
            "ruleConfig.evaluationPeriod",
        ),
    ];
    for (rule_type, config, field) in cases {
        let reply = app
            .create_program(&json!({"name": "Bad", "ruleType": rule_type, "ruleConfig": config}))
            .await;
        assert_invalid_field(&reply, field);
    }
    let (status, _, list) = app.list_programs().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([]), "no refused program was stored");
}

#[tokio::test]
async fn overlapping_program_tiers_are_refused() {
    let app = spawn_app().await;
    let mut body = points_program("Tiered");
    body["tiers"] = json!([
        {"name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 500},
        {"name": "Gold", "level": 2, "minPoints": 400}
    ]);
    let reply = app.create_program(&body).await;
    assert_invalid_field(&reply, "tiers");

    body["tiers"] = two_tiers();
    let (status, _, program) = app.create_program(&body).await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    assert_eq!(program["tiers"].as_array().map(Vec::len), Some(2), "{program}");
}

#[tokio::test]
async fn program_fields_are_validated_all_at_once() {
    let app = spawn_app().await;
    let reply = app
        .create_program(&json!({
            "name": "",
            "ruleType": "FOO",
            "ruleConfig": {},
            "pointExpiryDays": 0,
            "colour": "red"
        }))
        .await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "VALIDATION_FAILED");
    let fields = error_fields(&reply.2);
    for field in ["name", "ruleType", "pointExpiryDays", "colour"] {
        assert!(fields.iter().any(|f| f == field), "{field} missing from {fields:?}");
    }

    let mut body = points_program("Dated");
    body["startDate"] = json!("2026-06-01T00:00:00Z");
    body["endDate"] = json!("2026-05-01T00:00:00Z");
    assert_invalid_field(&app.create_program(&body).await, "endDate");
    body["endDate"] = json!("next year");
    assert_invalid_field(&app.create_program(&body).await, "endDate");
    body["endDate"] = json!("2027-05-01T00:00:00Z");
    let (status, _, program) = app.create_program(&body).await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
}

#[tokio::test]
async fn lifecycle_moves_and_refuses_illegal_ones() {
    let app = spawn_app().await;
    let id = app.draft_program().await;

    // From DRAFT: only activate or end.
    assert_problem(&app.pause(&id).await, StatusCode::CONFLICT, "INVALID_TRANSITION");
    assert_problem(&app.resume(&id).await, StatusCode::CONFLICT, "INVALID_TRANSITION");

    let (status, _, program) = app.activate(&id).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["status"], "ACTIVE");
    assert_eq!(program["programId"], id.as_str());
    assert_problem(&app.activate(&id).await, StatusCode::CONFLICT, "INVALID_TRANSITION");
    assert_problem(&app.resume(&id).await, StatusCode::CONFLICT, "INVALID_TRANSITION");

    let (status, _, program) = app.pause(&id).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["status"], "PAUSED");
    assert_problem(&app.pause(&id).await, StatusCode::CONFLICT, "INVALID_TRANSITION");
    assert_problem(&app.activate(&id).await, StatusCode::CONFLICT, "INVALID_TRANSITION");

    let (status, _, program) = app.resume(&id).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["status"], "ACTIVE");

    let (status, _, program) = app.end(&id).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["status"], "ENDED");
    for reply in [
        app.activate(&id).await,
        app.pause(&id).await,
        app.resume(&id).await,
        app.end(&id).await,
    ] {
        assert_problem(&reply, StatusCode::CONFLICT, "INVALID_TRANSITION");
    }
    let (status, _, program) = app.get_program(&id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(program["status"], "ENDED");

    // A DRAFT and a PAUSED program can end too.
    let draft = app.draft_program().await;
    let (status, _, program) = app.end(&draft).await;
    assert_eq!((status, program["status"].clone()), (StatusCode::OK, json!("ENDED")));
    let paused = app.active_program().await;
    assert_eq!(app.pause(&paused).await.0, StatusCode::OK);
    let (status, _, program) = app.end(&paused).await;
    assert_eq!((status, program["status"].clone()), (StatusCode::OK, json!("ENDED")));
}

#[tokio::test]
async fn activation_needs_a_rule() {
    let app = spawn_app().await;
    let id = app.program_from(&json!({"name": "No rule yet"})).await;
    let (_, _, program) = app.get_program(&id).await;
    assert_eq!(program["status"], "DRAFT");
    assert_eq!(program["ruleType"], Value::Null, "{program}");

    assert_problem(&app.activate(&id).await, StatusCode::CONFLICT, "RULE_REQUIRED");
    let (_, _, program) = app.get_program(&id).await;
    assert_eq!(program["status"], "DRAFT", "a refused activation changes nothing");

    let (status, _, program) = app
        .change_rule(
            &id,
            &json!({"ruleType": "PUNCH_CARD",
                    "ruleConfig": {"requiredPunches": 5, "rewardType": "FREE_ITEM", "rewardValue": "Bagel"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["ruleType"], "PUNCH_CARD");
    assert_eq!(program["ruleConfig"]["requiredPunches"], 5);

    let (status, _, program) = app.activate(&id).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["status"], "ACTIVE");
}

#[tokio::test]
async fn the_rule_is_locked_while_active() {
    let app = spawn_app().await;
    let id = app.active_program().await;
    let new_rule = json!({"ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 2}});

    assert_problem(
        &app.change_rule(&id, &new_rule).await,
        StatusCode::CONFLICT,
        "RULE_LOCKED",
    );
    let (_, _, program) = app.get_program(&id).await;
    assert_eq!(
        program["ruleConfig"]["pointsPerDollar"].to_string().trim_matches('"'),
        "10"
    );

    // Invalid rules are refused as input before any state is looked at.
    let reply = app
        .change_rule(
            &id,
            &json!({"ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 0}}),
        )
        .await;
    assert_invalid_field(&reply, "ruleConfig.pointsPerDollar");

    assert_eq!(app.pause(&id).await.0, StatusCode::OK);
    let (status, _, program) = app.change_rule(&id, &new_rule).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["status"], "PAUSED");
    assert_eq!(
        program["ruleConfig"]["pointsPerDollar"].to_string().trim_matches('"'),
        "2"
    );

    assert_eq!(app.end(&id).await.0, StatusCode::OK);
    assert_problem(
        &app.change_rule(&id, &new_rule).await,
        StatusCode::CONFLICT,
        "INVALID_TRANSITION",
    );
}

#[tokio::test]
async fn unknown_programs_are_not_found() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4().to_string();
    assert_problem(&app.get_program(&id).await, StatusCode::NOT_FOUND, "PROGRAM_NOT_FOUND");
    assert_problem(&app.activate(&id).await, StatusCode::NOT_FOUND, "PROGRAM_NOT_FOUND");
    assert_problem(&app.end(&id).await, StatusCode::NOT_FOUND, "PROGRAM_NOT_FOUND");
    assert_problem(
        &app.change_rule(
            &id,
            &json!({"ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 2}}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "PROGRAM_NOT_FOUND",
    );
}

#[tokio::test]
async fn lifecycle_events_are_in_the_feed_in_order() {
    let app = spawn_app().await;
    let id = app.active_program().await;
    assert_eq!(app.pause(&id).await.0, StatusCode::OK);
    assert_eq!(app.resume(&id).await.0, StatusCode::OK);
    assert_eq!(app.end(&id).await.0, StatusCode::OK);
    // Refusals write nothing.
    assert_eq!(app.end(&id).await.0, StatusCode::CONFLICT);

    let (status, _, feed) = app.events("").await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    let items = feed["items"].as_array().expect("items");
    let types: Vec<&str> = items.iter().map(|e| e["eventType"].as_str().unwrap_or("")).collect();
    assert_eq!(
        types,
        [
            "loyalty.program.created",
            "loyalty.program.activated",
            "loyalty.program.paused",
            "loyalty.program.resumed",
            "loyalty.program.ended"
        ],
        "{feed}"
    );
    let positions: Vec<i64> = items
        .iter()
        .map(|e| e["position"].as_i64().expect("position"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    for event in items {
        assert_eq!(event["aggregateId"], id.as_str());
        assert_eq!(event["businessId"], app.business_id.as_str());
        assert!(is_uuid(&event["eventId"]), "{event}");
    }
    assert_eq!(feed["lastPosition"], json!(positions[4]));

    // Polling from lastPosition finds nothing new; `after` and `limit` page the feed.
    let (_, _, rest) = app.events(&format!("after={}", positions[4])).await;
    assert_eq!(rest["items"], json!([]));
    assert_eq!(rest["lastPosition"], json!(positions[4]));
    let (_, _, page) = app.events(&format!("after={}&limit=2", positions[0])).await;
    let page_types: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["eventType"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(page_types, ["loyalty.program.activated", "loyalty.program.paused"]);
    assert_eq!(page["lastPosition"], json!(positions[2]));
}
