//! The published contracts against the real server.
//!
//! Events: `contracts/asyncapi.yaml` describes every event the code writes. The scenario below
//! drives the server over HTTP until every event type is emitted, reads the events back from
//! `GET /v1/events` and validates each envelope against the payload schema of the message for
//! its `eventType` and `version` (the message's `x-event-type` and `x-event-version`). It fails
//! listing every violation, for an emitted event the document does not describe, and for a
//! message the scenario never saw emitted (messages marked `x-historical` excepted).
//!
//! HTTP: `/openapi.json` (generated from the handlers' annotations) must describe real answers:
//! a handful of bodies are validated against the response schema it declares for their path,
//! method and status.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use jsonschema::{Draft, Registry, Validator};
use loyalty_domain::LoyaltyEvent;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{content_type, enrollment, spawn_app, Reply, TestApp};

/// The URI the AsyncAPI document is registered under, for `$ref`s into it.
const ASYNCAPI_URI: &str = "urn:loyalty:contracts:asyncapi";
/// The URI `/openapi.json` is registered under.
const OPENAPI_URI: &str = "urn:loyalty:contracts:openapi";

fn asyncapi_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/asyncapi.yaml")
}

/// `contracts/asyncapi.yaml` as JSON.
fn asyncapi() -> Value {
    let path = asyncapi_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

/// One message of the AsyncAPI document.
#[derive(Debug, Clone)]
struct Message {
    event_type: String,
    version: String,
    historical: bool,
    /// JSON pointer (into the document) of the message's payload schema.
    payload: String,
    /// JSON pointer of the message, for examples and messages.
    pointer: String,
}

/// Escape one JSON-pointer segment (RFC 6901).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Every message reachable from a channel `events:<eventType>`, keyed by `(eventType, version)`.
/// Problems with the document itself (a channel or message it cannot be read from) are pushed
/// onto `violations`.
fn messages(doc: &Value, violations: &mut Vec<String>) -> BTreeMap<(String, String), Message> {
    let mut found = BTreeMap::new();
    let Some(channels) = doc["channels"].as_object() else {
        violations.push("the AsyncAPI document has no channels".to_owned());
        return found;
    };
    for (channel_id, channel) in channels {
        let address = channel["address"].as_str().unwrap_or_default();
        let Some(event_type) = address.strip_prefix("events:") else {
            violations.push(format!(
                "channel {channel_id}: address {address:?} is not events:<eventType>"
            ));
            continue;
        };
        let Some(channel_messages) = channel["messages"].as_object() else {
            violations.push(format!("channel {channel_id} has no messages"));
            continue;
        };
        for (message_id, entry) in channel_messages {
            let pointer = match entry["$ref"].as_str() {
                Some(reference) => match reference.strip_prefix('#') {
                    Some(pointer) => pointer.to_owned(),
                    None => {
                        violations.push(format!("channel {channel_id}: message $ref {reference} is not local"));
                        continue;
                    }
                },
                None => format!("/channels/{}/messages/{}", escape(channel_id), escape(message_id)),
            };
            let Some(message) = doc.pointer(&pointer) else {
                violations.push(format!("channel {channel_id}: message #{pointer} does not exist"));
                continue;
            };
            if message["x-event-type"].as_str() != Some(event_type) {
                violations.push(format!(
                    "message #{pointer}: x-event-type {} does not match its channel address {address}",
                    message["x-event-type"]
                ));
            }
            let Some(version) = message["x-event-version"].as_str() else {
                violations.push(format!("message #{pointer} has no x-event-version"));
                continue;
            };
            if message.get("payload").is_none() {
                violations.push(format!("message #{pointer} has no payload"));
                continue;
            }
            let key = (event_type.to_owned(), version.to_owned());
            if found.contains_key(&key) {
                violations.push(format!("{event_type} version {version} is described twice"));
                continue;
            }
            found.insert(
                key,
                Message {
                    event_type: event_type.to_owned(),
                    version: version.to_owned(),
                    historical: message["x-historical"].as_bool().unwrap_or(false),
                    payload: format!("{pointer}/payload"),
                    pointer,
                },
            );
        }
    }
    found
}

/// A copy of `schema` whose local `$ref`s (`#/...`) point into the document registered at `uri`.
fn anchored(schema: &Value, uri: &str) -> Value {
    match schema {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, value)| match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) if reference.starts_with('#') => {
                        (key.clone(), Value::String(format!("{uri}{reference}")))
                    }
                    _ => (key.clone(), anchored(value, uri)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|item| anchored(item, uri)).collect()),
        other => other.clone(),
    }
}

/// A validator for the schema at `pointer` of the document registered at `uri`, with `$ref`s
/// resolved inside that document and formats (uuid, date-time) checked.
fn validator_at(doc: &Value, uri: &str, registry: &Registry<'_>, draft: Draft, pointer: &str) -> Validator {
    let schema = doc
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no schema at {uri}#{pointer}"));
    jsonschema::options()
        .with_draft(draft)
        .with_registry(registry)
        .should_validate_formats(true)
        .build(&anchored(schema, uri))
        .unwrap_or_else(|e| panic!("the schema at {uri}#{pointer} does not compile: {e}"))
}

/// Every violation of `instance` against `validator`, each prefixed with `what`.
fn violations_of(validator: &Validator, instance: &Value, what: &str) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| {
            let at = error.instance_path().to_string();
            let at = if at.is_empty() { "/".to_owned() } else { at };
            format!("{what}: at {at}: {error}")
        })
        .collect()
}

#[track_caller]
fn assert_ok(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.0, status, "{what}: {}", reply.2);
}

/// What the scenario answered, by name, for the OpenAPI checks.
type Replies = BTreeMap<&'static str, Reply>;

/// Drive the server through every event type: programs created with each rule type and without
/// one, a rule changed on a draft, activate, pause, resume, enrol, accrue, redeem (and a refused
/// redemption), rewards added and one redeemed, suspend, reactivate, end.
async fn scenario(app: &TestApp) -> Replies {
    let mut replies = BTreeMap::new();

    // The main program: a POINTS_BASED draft with most optional fields set.
    let reply = app
        .create_program(&json!({
            "name": "Coffee Rewards",
            "description": "A point a dollar",
            "ruleType": "POINTS_BASED",
            "ruleConfig": {"pointsPerDollar": 10, "minPurchaseAmount": "0"},
            "pointExpiryDays": 365,
            "enrollmentSettings": {"selfEnrollEnabled": true, "maxEnrollments": 1000},
            "locationIds": ["loc-1", "loc-2"]
        }))
        .await;
    assert_ok(&reply, StatusCode::CREATED, "create program");
    let program_id = reply.2["programId"].as_str().expect("programId").to_owned();
    replies.insert("create program", reply);

    let reply = app
        .change_rule(
            &program_id,
            &json!({"ruleType": "POINTS_BASED",
                    "ruleConfig": {"pointsPerDollar": 1.5, "minPurchaseAmount": "1.00",
                                   "maxPointsPerTransaction": 500, "excludedCategories": ["alcohol"]}}),
        )
        .await;
    assert_ok(&reply, StatusCode::OK, "change the rule of a draft");
    replies.insert("change rule", reply);

    assert_ok(&app.activate(&program_id).await, StatusCode::OK, "activate");
    assert_ok(&app.pause(&program_id).await, StatusCode::OK, "pause");
    assert_ok(&app.resume(&program_id).await, StatusCode::OK, "resume");

    let reply = app.enroll(&enrollment(&program_id, "cust-1", "ada@example.com")).await;
    assert_ok(&reply, StatusCode::CREATED, "enrol");
    let account_id = reply.2["accountId"].as_str().expect("accountId").to_owned();
    replies.insert("enrol", reply);

    let reply = app.accrue(&account_id, 120).await;
    assert_ok(&reply, StatusCode::CREATED, "accrue");
    replies.insert("accrue", reply);
    let reply = app
        .accrue_body(&account_id, &json!({"points": 30, "reason": "goodwill"}))
        .await;
    assert_ok(&reply, StatusCode::CREATED, "accrue without an order");

    let reply = app.redeem(&account_id, 50).await;
    assert_ok(&reply, StatusCode::CREATED, "redeem");
    replies.insert("redeem", reply);
    let reply = app.redeem(&account_id, 1_000_000).await;
    assert_ok(&reply, StatusCode::CONFLICT, "redeem more than the balance");
    replies.insert("redeem too much", reply);

    // The rewards catalogue: one reward with limits, one without, one redeemed.
    let reply = app
        .create_reward(
            &program_id,
            &json!({"name": "Free coffee", "rewardType": "FREE_ITEM", "pointsCost": 40, "stock": 3,
                    "perCustomerLimit": 1}),
        )
        .await;
    assert_ok(&reply, StatusCode::CREATED, "create a reward");
    let reward_id = reply.2["rewardId"].as_str().expect("rewardId").to_owned();
    replies.insert("create reward", reply);
    let reply = app
        .create_reward(
            &program_id,
            &json!({"name": "5 off", "rewardType": "DISCOUNT_AMOUNT", "pointsCost": 500}),
        )
        .await;
    assert_ok(&reply, StatusCode::CREATED, "create an unlimited reward");
    let reply = app.redeem_reward(&account_id, &reward_id).await;
    assert_ok(&reply, StatusCode::CREATED, "redeem a reward");
    replies.insert("redeem reward", reply);
    let reply = app.list_rewards(&program_id).await;
    assert_ok(&reply, StatusCode::OK, "list rewards");
    replies.insert("list rewards", reply);

    assert_ok(&app.suspend(&account_id).await, StatusCode::OK, "suspend");
    assert_ok(&app.reactivate(&account_id).await, StatusCode::OK, "reactivate");

    let reply = app.get_account(&account_id).await;
    assert_ok(&reply, StatusCode::OK, "get account");
    replies.insert("get account", reply);

    // A program created without a rule that gets a TIER_BASED one while a draft.
    let tiered = app.program_from(&json!({"name": "Later"})).await;
    let reply = app
        .change_rule(
            &tiered,
            &json!({"ruleType": "TIER_BASED",
                    "ruleConfig": {"evaluationPeriod": "ROLLING_YEAR", "tiers": [
                        {"tierId": "silver", "name": "Silver", "level": 1, "minPoints": 0, "maxPoints": 999},
                        {"tierId": "gold", "name": "Gold", "level": 2, "minPoints": 1000,
                         "benefits": [{"type": "POINT_MULTIPLIER", "value": "1.5"},
                                      {"type": "FREE_SHIPPING"}]}]}}),
        )
        .await;
    assert_ok(&reply, StatusCode::OK, "give a draft a TIER_BASED rule");

    // One draft of each card rule, so every ruleConfig variant is written once.
    for (rule_type, config) in [
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
    ] {
        app.program_from(&json!({"name": format!("{rule_type} program"), "ruleType": rule_type,
                                 "ruleConfig": config}))
            .await;
    }

    purchases_refunds_and_time(app, &mut replies).await;

    let (_, _, templates) = app.get("/v1/templates?industry=RESTAURANT").await;
    let reply = app
        .post(
            "/v1/programs/from-template",
            &json!({"templateId": templates["items"][0]["templateId"], "ruleConfigOverrides": {"pointsPerDollar": 5},
                    "activate": true}),
        )
        .await;
    assert_ok(&reply, StatusCode::CREATED, "a program from a template");
    replies.insert("from template", reply);

    assert_ok(&app.end(&program_id).await, StatusCode::OK, "end");

    let reply = app.list_programs().await;
    assert_ok(&reply, StatusCode::OK, "list programs");
    replies.insert("list programs", reply);

    let reply = app.events("after=0&limit=500").await;
    assert_ok(&reply, StatusCode::OK, "event feed");
    replies.insert("event feed", reply);

    replies
}

/// Run `loyalty expire --as-of` on the server's database.
fn sweep_at(app: &TestApp, as_of: chrono::DateTime<chrono::Utc>) {
    let output = app.expire_as_of(as_of);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Purchases on a tiered program with a return window and expiry (pending points, a refund,
/// their release with a tier upgrade, expiry, a refund of spent points that loses the tier), and
/// a punch card that fills and issues its reward.
async fn purchases_refunds_and_time(app: &TestApp, replies: &mut Replies) {
    let now = chrono::Utc::now();
    let program = app
        .program_from(
            &json!({"name": "Tiered", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 10},
                              "pendingDays": 1, "pointExpiryDays": 1,
                              "tiers": [
                                  {"tierId": "bronze", "name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 99},
                                  {"tierId": "silver", "name": "Silver", "level": 2, "minPoints": 100}]}),
        )
        .await;
    assert_ok(
        &app.activate(&program).await,
        StatusCode::OK,
        "activate the tiered program",
    );
    let account = app.enroll_customer(&program, "cust-2", "grace@example.com").await;
    let purchases = format!("/v1/accounts/{account}/purchases");
    let refunds = format!("/v1/accounts/{account}/refunds");
    let reply = app
        .post(
            &purchases,
            &json!({"amount": "20.00", "orderRef": "o-1", "locationId": "loc-1"}),
        )
        .await;
    assert_ok(&reply, StatusCode::CREATED, "a purchase with pending points");
    replies.insert("purchase", reply);
    let reply = app.post(&refunds, &json!({"orderRef": "o-1", "amount": "5.00"})).await;
    assert_ok(&reply, StatusCode::CREATED, "a partial refund of pending points");
    replies.insert("refund", reply);
    sweep_at(app, now + chrono::Duration::hours(36));
    sweep_at(app, now + chrono::Duration::days(3));
    let reply = app.post(&refunds, &json!({"orderRef": "o-1"})).await;
    assert_ok(
        &reply,
        StatusCode::CREATED,
        "a refund of expired points that loses the tier",
    );

    let card = app
        .program_from(&json!({"name": "Punch", "ruleType": "PUNCH_CARD",
                              "ruleConfig": {"requiredPunches": 2, "rewardType": "FREE_ITEM", "rewardValue": "Coffee"}}))
        .await;
    assert_ok(&app.activate(&card).await, StatusCode::OK, "activate the punch card");
    let member = app.enroll_customer(&card, "cust-3", "linus@example.com").await;
    for order in ["p-1", "p-2"] {
        let reply = app
            .post(
                &format!("/v1/accounts/{member}/purchases"),
                &json!({"amount": "3.50", "orderRef": order, "categories": ["coffee"]}),
            )
            .await;
        assert_ok(&reply, StatusCode::CREATED, "a punch");
    }
    let reply = app.get_account(&member).await;
    let issued = reply.2["issuedRewards"][0]["issuedRewardId"]
        .as_str()
        .expect("issued")
        .to_owned();
    let reply = app
        .post(
            &format!("/v1/accounts/{member}/issued-rewards/{issued}/use"),
            &json!({}),
        )
        .await;
    assert_ok(&reply, StatusCode::OK, "use the issued reward");
}

/// Every event of the business, in commit order, following `lastPosition`.
async fn all_events(app: &TestApp) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let (status, _, page) = app.events(&format!("after={after}&limit=500")).await;
        assert_eq!(status, StatusCode::OK, "event feed: {page}");
        let items = page["items"].as_array().expect("items").clone();
        let done = items.len() < 500;
        events.extend(items);
        after = page["lastPosition"].as_i64().expect("lastPosition");
        if done {
            return events;
        }
    }
}

#[tokio::test]
async fn every_emitted_event_matches_the_asyncapi_contract() {
    let app = spawn_app().await;
    scenario(&app).await;
    let events = all_events(&app).await;

    let doc = asyncapi();
    let mut violations = Vec::new();
    let messages = messages(&doc, &mut violations);
    let registry = Registry::new()
        .draft(Draft::Draft7)
        .add(ASYNCAPI_URI, doc.clone())
        .and_then(|builder| builder.prepare())
        .expect("the AsyncAPI document can be registered");
    let validators: BTreeMap<&(String, String), Validator> = messages
        .iter()
        .map(|(key, message)| {
            let validator = validator_at(&doc, ASYNCAPI_URI, &registry, Draft::Draft7, &message.payload);
            (key, validator)
        })
        .collect();

    // The document's own examples must be valid instances of their messages.
    for (key, message) in &messages {
        let examples = doc
            .pointer(&format!("{}/examples", message.pointer))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, example) in examples.iter().enumerate() {
            let name = example["name"].as_str().unwrap_or("?");
            violations.extend(violations_of(
                &validators[key],
                &example["payload"],
                &format!("example {name} ({i}) of {} {}", message.event_type, message.version),
            ));
        }
    }

    // Every served envelope against the message of its type and version.
    let mut seen = BTreeSet::new();
    for event in &events {
        let event_type = event["eventType"].as_str().unwrap_or_default().to_owned();
        let version = event["version"].as_str().unwrap_or_default().to_owned();
        let what = format!("{event_type} version {version} at position {}", event["position"]);
        let key = (event_type, version);
        match validators.get(&key) {
            Some(validator) => violations.extend(violations_of(validator, event, &what)),
            None => violations.push(format!(
                "{what}: emitted but not described by contracts/asyncapi.yaml: {event}"
            )),
        }
        seen.insert(key);
    }
    for (key, message) in &messages {
        if !message.historical && !seen.contains(key) {
            violations.push(format!(
                "{} version {} is described but the scenario never emitted it \
                 (mark it x-historical if it is no longer written)",
                key.0, key.1
            ));
        }
    }

    assert!(
        violations.is_empty(),
        "{} violation(s) of contracts/asyncapi.yaml by {} served events:\n  {}",
        violations.len(),
        events.len(),
        violations.join("\n  ")
    );
}

/// Every event type the domain declares it writes has a (non-historical) message, so a type
/// added to the code cannot go unpublished even before a scenario emits it.
#[test]
fn every_event_type_the_code_writes_is_described() {
    let doc = asyncapi();
    let mut violations = Vec::new();
    let described: BTreeSet<String> = messages(&doc, &mut violations)
        .into_values()
        .filter(|m| !m.historical)
        .map(|m| m.event_type)
        .collect();
    let written: BTreeSet<String> = LoyaltyEvent::all_types().map(str::to_owned).collect();
    for missing in written.difference(&described) {
        violations.push(format!(
            "the code writes {missing} but contracts/asyncapi.yaml does not describe it"
        ));
    }
    for extra in described.difference(&written) {
        violations.push(format!(
            "contracts/asyncapi.yaml describes {extra} but the code does not write it"
        ));
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

// ---- OpenAPI ---------------------------------------------------------------------------------

/// Whether the media type of the answer must be the one `/openapi.json` declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// The answer's Content-Type must be declared for its status; its schema is used.
    Declared,
    /// Only the body is checked, against the schema of the (first) media type declared.
    Any,
}

/// Validate the body of the scenario's reply `name` against the schema `/openapi.json` declares
/// for `method path` answering with the reply's status (and, with [`Media::Declared`], its
/// media type).
async fn check_openapi(name: &str, method: Method, path: &str, media: Media) {
    let app = spawn_app().await;
    let replies = scenario(&app).await;
    let (status, headers, body) = replies
        .get(name)
        .unwrap_or_else(|| panic!("the scenario has no reply {name}"));
    let (openapi_status, _, doc) = app.request(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(openapi_status, StatusCode::OK, "/openapi.json: {doc}");

    let method_key = method.as_str().to_ascii_lowercase();
    let responses = format!("/paths/{}/{method_key}/responses", escape(path));
    let declared = format!("{responses}/{}", status.as_u16());
    let content = doc
        .pointer(&format!("{declared}/content"))
        .and_then(Value::as_object)
        .unwrap_or_else(|| {
            panic!(
                "/openapi.json declares no content for {method} {path} {status}; it declares {}",
                doc.pointer(&responses).cloned().unwrap_or(Value::Null)
            )
        });
    let mut violations = Vec::new();
    let served = content_type(headers)
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let media = if content.contains_key(&served) {
        served
    } else {
        if media == Media::Declared {
            violations.push(format!(
                "{method} {path} answered {status} with Content-Type {served:?}, but /openapi.json declares only {:?}",
                content.keys().collect::<Vec<_>>()
            ));
        }
        content.keys().next().cloned().expect("a declared media type")
    };
    let schema_pointer = format!("{declared}/content/{}/schema", escape(&media));

    let registry = Registry::new()
        .draft(Draft::Draft202012)
        .add(OPENAPI_URI, doc.clone())
        .and_then(|builder| builder.prepare())
        .expect("/openapi.json can be registered");
    let validator = validator_at(&doc, OPENAPI_URI, &registry, Draft::Draft202012, &schema_pointer);
    violations.extend(violations_of(&validator, body, &format!("{method} {path} {status}")));
    assert!(
        violations.is_empty(),
        "the {name} answer does not match /openapi.json ({schema_pointer}):\n  {}\nbody: {body}",
        violations.join("\n  ")
    );
}

#[tokio::test]
async fn openapi_describes_get_account() {
    check_openapi("get account", Method::GET, "/v1/accounts/{accountId}", Media::Declared).await;
}

#[tokio::test]
async fn openapi_describes_a_created_accrual() {
    check_openapi(
        "accrue",
        Method::POST,
        "/v1/accounts/{accountId}/accruals",
        Media::Declared,
    )
    .await;
}

/// The problem body of a refused redemption matches the declared `Problem` schema.
#[tokio::test]
async fn openapi_describes_a_refused_redemption() {
    check_openapi(
        "redeem too much",
        Method::POST,
        "/v1/accounts/{accountId}/redemptions",
        Media::Any,
    )
    .await;
}

/// Problems are sent as `application/problem+json` (RFC 9457), and the document must say so.
#[tokio::test]
async fn openapi_declares_the_problem_media_type() {
    check_openapi(
        "redeem too much",
        Method::POST,
        "/v1/accounts/{accountId}/redemptions",
        Media::Declared,
    )
    .await;
}

#[tokio::test]
async fn openapi_describes_the_program_list() {
    check_openapi("list programs", Method::GET, "/v1/programs", Media::Declared).await;
}

#[tokio::test]
async fn openapi_describes_the_event_feed() {
    check_openapi("event feed", Method::GET, "/v1/events", Media::Declared).await;
}

#[tokio::test]
async fn openapi_describes_a_created_program() {
    check_openapi("create program", Method::POST, "/v1/programs", Media::Declared).await;
}

#[tokio::test]
async fn openapi_describes_an_enrolment() {
    check_openapi("enrol", Method::POST, "/v1/accounts", Media::Declared).await;
}

#[tokio::test]
async fn openapi_describes_a_redemption() {
    check_openapi(
        "redeem",
        Method::POST,
        "/v1/accounts/{accountId}/redemptions",
        Media::Declared,
    )
    .await;
}

#[tokio::test]
async fn openapi_describes_a_rule_change() {
    check_openapi(
        "change rule",
        Method::PUT,
        "/v1/programs/{programId}/rule",
        Media::Declared,
    )
    .await;
}

#[tokio::test]
async fn openapi_describes_a_created_reward() {
    check_openapi(
        "create reward",
        Method::POST,
        "/v1/programs/{programId}/rewards",
        Media::Declared,
    )
    .await;
}

#[tokio::test]
async fn openapi_describes_the_reward_list() {
    check_openapi(
        "list rewards",
        Method::GET,
        "/v1/programs/{programId}/rewards",
        Media::Declared,
    )
    .await;
}

#[tokio::test]
async fn openapi_describes_a_reward_redemption() {
    check_openapi(
        "redeem reward",
        Method::POST,
        "/v1/accounts/{accountId}/redemptions",
        Media::Declared,
    )
    .await;
}

#[tokio::test]
async fn openapi_describes_a_program_from_a_template() {
    check_openapi(
        "from template",
        Method::POST,
        "/v1/programs/from-template",
        Media::Declared,
    )
    .await;
}

#[tokio::test]
async fn openapi_describes_a_purchase_and_a_refund() {
    check_openapi(
        "purchase",
        Method::POST,
        "/v1/accounts/{accountId}/purchases",
        Media::Declared,
    )
    .await;
    check_openapi(
        "refund",
        Method::POST,
        "/v1/accounts/{accountId}/refunds",
        Media::Declared,
    )
    .await;
}
