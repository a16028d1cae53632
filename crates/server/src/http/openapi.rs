//! The OpenAPI document, generated from the handlers' annotations and served at `/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    accounts, businesses, dead_letters, events, health, integrations, locations, programs, rewards, templates,
    webhooks, AppState,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "loyalty", description = "Event-sourced customer loyalty platform: programs, accounts, points."),
    paths(
        health::healthz, health::readyz, health::metrics,
        businesses::create_business,
        programs::create_program, programs::list_programs, programs::get_program, programs::activate_program,
        programs::pause_program, programs::resume_program, programs::end_program, programs::change_rule,
        rewards::create_reward, rewards::list_rewards,
        templates::list_templates, templates::create_from_template,
        integrations::front_of_house_payment, integrations::online_payment, integrations::link_table_order, integrations::claim,
        locations::put_location, locations::list_locations,
        webhooks::create_webhook, webhooks::list_webhooks, webhooks::delete_webhook,
        webhooks::list_deliveries, webhooks::replay_delivery,
        dead_letters::list_dead_letters, dead_letters::retry_dead_letter, dead_letters::discard_dead_letter,
        accounts::enroll, accounts::find_accounts, accounts::get_account, accounts::accrue, accounts::redeem,
        accounts::purchase,
        accounts::refund,
        accounts::use_issued_reward,
        accounts::suspend, accounts::reactivate, accounts::transactions, accounts::account_events,
        events::event_feed,
    ),
    modifiers(&Security, &CommonProblems),
    tags((name = "accounts"), (name = "programs"), (name = "rewards"), (name = "events"), (name = "businesses"), (name = "operations"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("apiKey", bearer());
        components.add_security_scheme("adminToken", bearer());
    }
}

/// Answers every operation can give, declared once: 400 (a malformed path, query, body or
/// `Idempotency-Key`) on every operation of the API, 401 on every operation that needs a key,
/// 422 (`IDEMPOTENCY_KEY_REUSED`) on every write, which all take an `Idempotency-Key`.
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") {
                continue;
            }
            let operations = [
                (false, item.get.as_mut()),
                (true, item.put.as_mut()),
                (true, item.post.as_mut()),
                (true, item.delete.as_mut()),
                (true, item.patch.as_mut()),
            ];
            for (write, operation) in operations {
                let Some(operation) = operation else { continue };
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let responses = &mut operation.responses.responses;
                responses
                    .entry("400".to_owned())
                    .or_insert_with(|| problem("The request is malformed; the problem names the field"));
                if secured {
                    responses
                        .entry("401".to_owned())
                        .or_insert_with(|| problem("Missing or unknown API key"));
                }
                if write {
                    responses.entry("422".to_owned()).or_insert_with(|| {
                        problem("IDEMPOTENCY_KEY_REUSED: this Idempotency-Key was used with a different request")
                    });
                }
            }
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
