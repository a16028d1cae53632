//! Built-in templates: listed for all 13 industries, and programs created from them with merged
//! overrides, `loyalty.template.used` (customized exactly when the overrides changed something)
//! and optional activation in the same request.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, assert_problem, spawn_app, Reply, TestApp};

async fn retail_template(app: &TestApp) -> Value {
    let (status, _, list) = app.get("/v1/templates?industry=RETAIL").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    items[0].clone()
}

async fn from_template(app: &TestApp, body: Value) -> Reply {
    app.post("/v1/programs/from-template", &body).await
}

async fn template_used(app: &TestApp, program_id: &str) -> Vec<Value> {
    let (_, _, feed) = app.events("after=0&limit=500").await;
    feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["aggregateId"] == program_id)
        .cloned()
        .collect()
}

#[tokio::test]
async fn every_industry_has_a_template() {
    let app = spawn_app().await;
    let (status, _, list) = app.get("/v1/templates").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    let mut industries: Vec<&str> = items.iter().filter_map(|t| t["industry"].as_str()).collect();
    industries.sort_unstable();
    industries.dedup();
    assert_eq!(industries.len(), 13, "{industries:?}");
    for template in items {
        for field in [
            "templateId",
            "name",
            "industry",
            "ruleType",
            "ruleConfig",
            "description",
        ] {
            assert!(!template[field].is_null(), "{field} missing in {template}");
        }
    }
    let (status, _, coffee) = app.get("/v1/templates?industry=COFFEE").await;
    assert_eq!(status, StatusCode::OK);
    assert!(coffee["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|t| t["industry"] == "COFFEE"));
    assert_invalid_field(&app.get("/v1/templates?industry=BAKERY").await, "industry");
}

#[tokio::test]
async fn a_template_without_overrides_is_not_customized() {
    let app = spawn_app().await;
    let template = retail_template(&app).await;
    let (status, _, program) = from_template(&app, json!({"templateId": template["templateId"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    assert_eq!(program["status"], "DRAFT");
    assert_eq!(program["name"], template["name"]);
    assert_eq!(
        program["ruleConfig"]["pointsPerDollar"], "1",
        "the template's 1 point per dollar"
    );
    let program_id = program["programId"].as_str().expect("programId");
    let events = template_used(&app, program_id).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["eventType"].as_str()).collect();
    assert_eq!(kinds, ["loyalty.program.created", "loyalty.template.used"]);
    let used = &events[1]["data"];
    assert_eq!(used["templateId"], template["templateId"]);
    assert_eq!(used["industry"], "RETAIL");
    assert_eq!(used["customized"], false);
    assert!(used["ruleConfigOverrides"].is_null());
}

#[tokio::test]
async fn overrides_merge_over_the_template_and_mark_it_customized_only_when_they_change_it() {
    let app = spawn_app().await;
    let template = retail_template(&app).await;
    let (status, _, program) = from_template(
        &app,
        json!({"templateId": template["templateId"], "name": "My shop",
               "ruleConfigOverrides": {"pointsPerDollar": "2.5", "maxPointsPerTransaction": 400}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    assert_eq!(program["name"], "My shop");
    let config = &program["ruleConfig"];
    assert_eq!(config["maxPointsPerTransaction"], 400, "{config}");
    assert_eq!(
        config["excludedCategories"], template["ruleConfig"]["excludedCategories"],
        "what the patch leaves alone stays"
    );
    let used = &template_used(&app, program["programId"].as_str().expect("id")).await[1]["data"];
    assert_eq!(used["customized"], true);
    assert_eq!(used["ruleConfigOverrides"]["maxPointsPerTransaction"], 400);

    let same = template["ruleConfig"]["pointsPerDollar"].clone();
    let (status, _, program) = from_template(
        &app,
        json!({"templateId": template["templateId"], "ruleConfigOverrides": {"pointsPerDollar": same}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    let used = &template_used(&app, program["programId"].as_str().expect("id")).await[1]["data"];
    assert_eq!(
        used["customized"], false,
        "an override equal to the template changes nothing"
    );
}

#[tokio::test]
async fn activate_creates_an_active_program_in_one_request() {
    let app = spawn_app().await;
    let template = retail_template(&app).await;
    let (status, _, program) =
        from_template(&app, json!({"templateId": template["templateId"], "activate": true})).await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    assert_eq!(program["status"], "ACTIVE");
    let events = template_used(&app, program["programId"].as_str().expect("id")).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["eventType"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "loyalty.program.created",
            "loyalty.template.used",
            "loyalty.program.activated"
        ]
    );
    let account = app
        .enroll_customer(program["programId"].as_str().expect("id"), "c-1", "ada@example.com")
        .await;
    assert_eq!(
        app.accrue(&account, 5).await.0,
        StatusCode::CREATED,
        "the program earns at once"
    );
}

#[tokio::test]
async fn bad_overrides_and_unknown_templates_are_refused() {
    let app = spawn_app().await;
    let template = retail_template(&app).await;
    let id = template["templateId"].clone();
    assert_invalid_field(
        &from_template(
            &app,
            json!({"templateId": id, "ruleConfigOverrides": {"pointsPerDollar": -1}}),
        )
        .await,
        "ruleConfigOverrides.pointsPerDollar",
    );
    assert_invalid_field(
        &from_template(&app, json!({"templateId": id, "ruleConfigOverrides": [1]})).await,
        "ruleConfigOverrides",
    );
    assert_invalid_field(
        &from_template(&app, json!({"templateId": id, "name": ""})).await,
        "name",
    );
    assert_invalid_field(&from_template(&app, json!({})).await, "templateId");
    assert_invalid_field(&from_template(&app, json!({"templateId": "nope"})).await, "templateId");
    let unknown = from_template(&app, json!({"templateId": "00000000-0000-0000-0000-000000000000"})).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "TEMPLATE_NOT_FOUND");
    let (_, _, programs) = app.list_programs().await;
    assert_eq!(
        programs["items"].as_array().map(Vec::len),
        Some(0),
        "nothing was created"
    );
}
