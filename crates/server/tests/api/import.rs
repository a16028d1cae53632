//! `loyalty import accounts FILE.csv`, run as a real process on a served database.

use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

fn import(app: &TestApp, csv: &str, program: &str) -> (Output, Value) {
    let file = app.dir.path().join(format!("members-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(&file, csv).expect("write the CSV");
    let output = Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["import", "accounts"])
        .arg(&file)
        .args(["--business", &app.business_id, "--program", program, "--json"])
        .args(["--database-url", &app.database_url()])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run loyalty import accounts");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, json)
}

/// Each reported row error as (line, field).
fn line_and_field(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap_or(0),
                e["field"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn enrolled(app: &TestApp, email: &str) -> usize {
    let (status, _, body) = app.get(&format!("/v1/accounts?email={email}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_file_enrols_every_member() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let (output, report) = import(
        &app,
        "customerId,displayName,email,notes\n\
         c-1, Ada Lovelace ,ada@example.com,first\n\
         c-2,Grace Hopper,grace@example.com,\n\
         c-3,\"Hopper, Jr.\",junior@example.com,quoted comma\n",
        &program,
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report["imported"], 3, "{report}");
    for email in ["ada@example.com", "grace@example.com", "junior@example.com"] {
        assert_eq!(enrolled(&app, email).await, 1, "{email}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_all_reported_and_nothing_is_imported() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let (output, report) = import(
        &app,
        "customerId,displayName,email\n\
         c-1,Ada,ada@example.com\n\
         c-2,Bad,not-an-email\n\
         ,Nobody,nobody@example.com\n\
         c-4,Ada again,ADA@example.com\n",
        &program,
    );
    assert!(!output.status.success());
    assert_eq!(report["imported"], 0, "{report}");
    assert_eq!(report["errorCount"], 3, "{report}");
    let errors = line_and_field(&report);
    assert_eq!(
        errors,
        vec![
            (3, "email".to_owned()),
            (4, "customerId".to_owned()),
            (5, "email".to_owned())
        ]
    );
    assert_eq!(
        enrolled(&app, "ada@example.com").await,
        0,
        "the good row was not imported either"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_already_enrolled_rolls_the_whole_import_back() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    app.enroll_customer(&program, "c-0", "grace@example.com").await;
    let (output, report) = import(
        &app,
        "customerId,displayName,email\nc-1,Ada,ada@example.com\nc-2,Grace,grace@example.com\n",
        &program,
    );
    assert!(!output.status.success());
    assert_eq!(report["errors"][0]["line"], 3, "{report}");
    assert_eq!(report["errors"][0]["field"], "email", "{report}");
    assert_eq!(enrolled(&app, "ada@example.com").await, 0, "rolled back");

    let (output, _) = import(&app, "name,mail\nx,y\n", &program);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("customerId, displayName and email"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_id_in_use_and_an_enrolled_email_are_each_reported_on_their_line() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    let existing = app.enroll_customer(&program, "c-0", "grace@example.com").await;
    let fresh = uuid::Uuid::new_v4();
    let (output, report) = import(
        &app,
        &format!(
            "customerId,displayName,email,accountId\n\
             c-1,Ada,ada@example.com,{fresh}\n\
             c-2,Reused id,reused@example.com,{existing}\n\
             c-3,Grace,GRACE@example.com,\n\
             c-4,Alan,alan@example.com,\n"
        ),
        &program,
    );
    assert!(!output.status.success(), "{report}");
    let errors = line_and_field(&report);
    assert_eq!(
        errors,
        vec![(3, "accountId".to_owned()), (4, "email".to_owned())],
        "{report}"
    );
    assert_eq!(enrolled(&app, "ada@example.com").await, 0, "rolled back");
    assert_eq!(app.get_account(&fresh.to_string()).await.0, StatusCode::NOT_FOUND);
}

/// Past 10,000 members the import reads ahead in chunks and sends its writes in parts: an
/// enrolled email in the second chunk is still found, and what the first part wrote is rolled
/// back with the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_past_the_first_ten_thousand_members_rolls_back_those_already_sent() {
    let app = spawn_app().await;
    let program = app.active_program().await;
    app.enroll_customer(&program, "c-0", "taken@example.com").await;
    let mut csv = String::from("customerId,displayName,email\n");
    for n in 1..=10_001 {
        csv.push_str(&format!("c-{n},Member {n},member{n}@example.com\n"));
    }
    csv.push_str("c-last,Taken,Taken@Example.com\n");
    let (output, report) = import(&app, &csv, &program);
    assert!(!output.status.success(), "{report}");
    assert_eq!(line_and_field(&report), vec![(10_003, "email".to_owned())], "{report}");
    assert_eq!(enrolled(&app, "member1@example.com").await, 0, "rolled back");
    assert_eq!(enrolled(&app, "member10001@example.com").await, 0, "rolled back");
}
