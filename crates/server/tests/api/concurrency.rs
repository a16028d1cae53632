//! Concurrent commands to one account: the balance never goes below zero and nothing is lost.

use std::collections::HashSet;

use futures::future::join_all;
use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_never_overdraw() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    assert_eq!(app.accrue(&account, 100).await.0, StatusCode::CREATED);

    let replies = join_all((0..50).map(|_| app.redeem(&account, 10))).await;
    let mut created = 0;
    let mut insufficient = 0;
    let mut balances = HashSet::new();
    for (status, _, body) in &replies {
        match *status {
            StatusCode::CREATED => {
                created += 1;
                assert_eq!(body["pointsChanged"], -10, "{body}");
                assert!(
                    balances.insert(body["newBalance"].as_i64().expect("newBalance")),
                    "{body}"
                );
            }
            StatusCode::CONFLICT => {
                insufficient += 1;
                assert_eq!(body["code"], "INSUFFICIENT_POINTS", "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, insufficient), (10, 40));
    let expected: HashSet<i64> = (0..10).map(|i| i * 10).collect();
    assert_eq!(balances, expected, "each success saw its own balance");

    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["pointBalance"], 0);
    assert_eq!(view["lifetimePoints"], 100);
    let ledger = app.all_transactions(&account).await;
    assert_eq!(ledger.len(), 11, "one accrual and ten redemptions");
    let sum: i64 = ledger
        .iter()
        .map(|t| t["pointsChanged"].as_i64().expect("pointsChanged"))
        .sum();
    assert_eq!(sum, 0, "the ledger sums to the balance");
    assert!(ledger.iter().all(|t| t["newBalance"].as_i64().is_some_and(|b| b >= 0)));
    // Newest first, each entry's balance follows from the one before it.
    for pair in ledger.windows(2) {
        let (newer, older) = (&pair[0], &pair[1]);
        assert_eq!(
            older["newBalance"].as_i64().unwrap_or(-1) + newer["pointsChanged"].as_i64().unwrap_or(0),
            newer["newBalance"].as_i64().unwrap_or(-2),
            "{older} then {newer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_accruals_are_all_kept() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let replies = join_all((1..=50).map(|points| app.accrue(&account, points))).await;
    for (status, _, body) in &replies {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    let expected: i64 = (1..=50).sum();
    assert_eq!(app.balance(&account).await, expected);
    let ledger = app.all_transactions(&account).await;
    assert_eq!(ledger.len(), 50);
    let sum: i64 = ledger.iter().map(|t| t["pointsChanged"].as_i64().unwrap_or(0)).sum();
    assert_eq!(sum, expected);

    let (_, _, events) = app.account_events(&account).await;
    let items = events["items"].as_array().expect("items");
    assert_eq!(items.len(), 51, "enrolment and 50 accruals");
    let totals: Vec<i64> = items[1..]
        .iter()
        .map(|e| e["data"]["totalPoints"].as_i64().expect("totalPoints"))
        .collect();
    assert!(
        totals.windows(2).all(|w| w[0] < w[1]),
        "totals rise event by event: {totals:?}"
    );
    assert_eq!(totals.last(), Some(&expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enrolments_with_one_email_admit_one() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let app = &app;
    let replies = join_all((0..20).map(|i| {
        let email = if i % 2 == 0 {
            "ada@example.com"
        } else {
            "ADA@Example.com"
        };
        let body = crate::helpers::enrollment(&program, &format!("c{i}"), email);
        async move { app.enroll(&body).await }
    }))
    .await;
    let created = replies.iter().filter(|r| r.0 == StatusCode::CREATED).count();
    let duplicates = replies
        .iter()
        .filter(|r| r.0 == StatusCode::CONFLICT && r.2["code"] == "DUPLICATE_ENROLLMENT")
        .count();
    assert_eq!((created, duplicates), (1, 19), "{replies:?}");
    let (_, _, found) = app.find_accounts("email", "ada@example.com").await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_order_sent_many_times_at_once_accrues_once() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let path = format!("/v1/accounts/{account}/purchases");
    let body = serde_json::json!({"amount": "10.00", "orderRef": "till-7-0042"});
    let replies = join_all((0..20).map(|_| app.post(&path, &body))).await;
    let created = replies.iter().filter(|r| r.0 == StatusCode::CREATED).count();
    let duplicates = replies
        .iter()
        .filter(|r| r.0 == StatusCode::CONFLICT && r.2["code"] == "DUPLICATE_ORDER")
        .count();
    assert_eq!((created, duplicates), (1, 19), "{replies:?}");
    let earned = replies
        .iter()
        .find(|r| r.0 == StatusCode::CREATED)
        .map(|r| r.2["pointsChanged"].as_i64().expect("points"))
        .expect("one accrual");
    assert_eq!(app.balance(&account).await, earned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_partial_refunds_never_reverse_more_than_the_order_earned() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let (status, _, receipt) = app
        .post(
            &format!("/v1/accounts/{account}/purchases"),
            &serde_json::json!({"amount": "10.00", "orderRef": "o-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let earned = receipt["pointsChanged"].as_i64().expect("points");
    let path = format!("/v1/accounts/{account}/refunds");
    let body = serde_json::json!({"orderRef": "o-1", "amount": "3.00"});
    let replies = join_all((0..10).map(|_| app.post(&path, &body))).await;
    let created = replies.iter().filter(|r| r.0 == StatusCode::CREATED).count();
    assert_eq!(created, 3, "3 × 3.00 fit in 10.00, a fourth does not: {replies:?}");
    assert!(replies
        .iter()
        .filter(|r| r.0 != StatusCode::CREATED)
        .all(|r| r.2["code"] == "REFUND_EXCEEDS_ORDER"));
    let reversed: i64 = replies
        .iter()
        .filter(|r| r.0 == StatusCode::CREATED)
        .map(|r| -r.2["pointsChanged"].as_i64().expect("points"))
        .sum();
    assert_eq!(reversed, earned * 9 / 10, "floor of 90% of what the order earned");
    assert_eq!(app.balance(&account).await, earned - reversed);
}
