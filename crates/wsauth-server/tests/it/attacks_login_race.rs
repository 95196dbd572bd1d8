//! Attacks on logins in flight while an operator changes their account: a
//! new password, a disable or a deletion raced by logins with the old
//! password. A login verified against the account as it was must never
//! yield a working family, and a deleted account's tokens must never act
//! for a later account of the same name. The changes run as `wsauth user`
//! runs them (`Admin::apply` on the same database, outside the server), and
//! once through the real binary.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use wsauth_domain::accounts::{Accounts, HashingLimits};
use wsauth_domain::admin::{Admin, Change};

use crate::databases::Backend;
use crate::support::*;

const NEW_PASSWORD: &str = "a new password nobody stole";
/// Logins racing each change.
const RACERS: usize = 12;
/// Rounds per backend, and the time they may take together.
const ROUNDS: usize = 4;
const BUDGET: Duration = Duration::from_secs(30);

/// The tokens of a login that answered 200.
struct Pair {
    user: String,
    access: String,
    refresh: String,
}

/// What a login answered: its pair, or its refusal.
enum Answer {
    Pair(Pair),
    Refused(u16, String),
}

async fn race_server(database: &TestDatabase) -> TestServer {
    TestServer::start_on(database, |c| {
        c.limits.password_rate = 0.0;
        c.limits.password_queue = 64;
    })
    .await
}

/// An operator's tools on the server's database, opened from outside the
/// server as the `wsauth user` commands open them.
struct Operator {
    accounts: Accounts,
    admin: Admin,
}

impl Operator {
    async fn open(database: &TestDatabase) -> Self {
        let stores = database.open().await;
        let accounts = Accounts::new(stores.accounts.clone(), HashingLimits::single());
        Self { accounts, admin: Admin::new(stores.accounts, stores.admin) }
    }

    async fn apply(&self, server: &TestServer, user: &str, change: Change) {
        self.admin.apply(user, change, server.now()).await.expect("the change applies");
    }
}

async fn login(http: reqwest::Client, url: String, user: String) -> Answer {
    let body = json!({ "username": user, "password": PASSWORD });
    let r = http.post(url).json(&body).send().await.expect("login");
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("json");
    if status == 200 {
        let (access, refresh) = (str_of(&body, "access_token"), str_of(&body, "refresh_token"));
        return Answer::Pair(Pair { user, access, refresh });
    }
    Answer::Refused(status, body["error"].as_str().unwrap_or_default().to_owned())
}

fn spawn_login(set: &mut JoinSet<Answer>, server: &TestServer, user: &str) {
    set.spawn(login(server.http.clone(), server.url("/auth/login"), user.to_owned()));
}

/// Keeps the pair of a login, or checks that its refusal is `expected`.
fn keep(answer: Answer, expected: (u16, &str), pairs: &mut Vec<Pair>, backend: Backend) {
    match answer {
        Answer::Pair(pair) => pairs.push(pair),
        Answer::Refused(status, code) => {
            assert_eq!((status, code.as_str()), expected, "{backend:?}: a racing login's refusal");
        }
    }
}

/// Registers `user`, fires `RACERS` logins with its password and, once the
/// first has answered (the others are being checked or waiting to be),
/// applies `change`. Returns the pairs the logins obtained.
async fn race(
    server: &TestServer,
    operator: &Operator,
    user: &str,
    change: Change,
    refusal: (u16, &str),
    backend: Backend,
) -> Vec<Pair> {
    server.register(user).await;
    let mut logins = JoinSet::new();
    for _ in 0..RACERS {
        spawn_login(&mut logins, server, user);
    }
    let mut pairs = Vec::new();
    let first = logins.join_next().await.expect("a login").expect("task");
    operator.apply(server, user, change).await;
    keep(first, refusal, &mut pairs, backend);
    while let Some(answer) = logins.join_next().await {
        keep(answer.expect("task"), refusal, &mut pairs, backend);
    }
    pairs
}

/// Rounds within the budget, each on a fresh account.
fn rounds() -> impl Iterator<Item = usize> {
    let started = Instant::now();
    (0..ROUNDS).take_while(move |round| *round == 0 || started.elapsed() < BUDGET)
}

/// Waits for the server to apply what another process changed (it polls
/// every 250 ms).
async fn let_the_server_learn() {
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The pairs that still work: `/auth/me` or `/auth/refresh` answer 200, or
/// `/ws` upgrades.
async fn working(server: &TestServer, pairs: &[Pair]) -> Vec<String> {
    let mut working = Vec::new();
    for pair in pairs {
        let me = server.http.get(server.url("/auth/me")).bearer_auth(&pair.access).send().await;
        let me = me.expect("me").status();
        let socket = server.ws(&format!("/ws?token={}", pair.access), &[]).await;
        let refresh = server.post_bearer("/auth/refresh", &pair.refresh).await.status();
        if me == 200 || socket.is_ok() || refresh == 200 {
            working.push(format!(
                "{}: me {me}, ws {}, refresh {refresh}",
                pair.user,
                socket.is_ok()
            ));
        }
    }
    working
}

/// What survived on one backend, if anything did.
fn survivors(working: &[String], obtained: usize, backend: Backend, change: &str) -> Vec<String> {
    if working.is_empty() {
        return Vec::new();
    }
    let summary = format!(
        "{backend:?}: {} of {obtained} pairs from logins racing {change} still work",
        working.len()
    );
    std::iter::once(summary).chain(working.iter().cloned()).collect()
}

#[tokio::test]
async fn a_login_racing_a_password_change_keeps_no_session() {
    let mut failed = Vec::new();
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let server = race_server(&database).await;
        let operator = Operator::open(&database).await;
        let mut pairs = Vec::new();
        for round in rounds() {
            let user = format!("victim{round}");
            let hash = operator.accounts.hash_new_password(NEW_PASSWORD).await.expect("hash");
            let change = Change::Password(hash);
            let bad = (401, "bad_credentials");
            pairs.extend(race(&server, &operator, &user, change, bad, backend).await);
        }
        let_the_server_learn().await;
        let working = working(&server, &pairs).await;
        failed.extend(survivors(&working, pairs.len(), backend, "passwd"));
    }
    assert!(failed.is_empty(), "a login racing an operator change kept its session: {failed:#?}");
}

#[tokio::test]
async fn a_login_racing_a_disable_keeps_no_session_once_enabled_again() {
    let mut failed = Vec::new();
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let server = race_server(&database).await;
        let operator = Operator::open(&database).await;
        let mut pairs = Vec::new();
        for round in rounds() {
            let user = format!("victim{round}");
            let disabled = (403, "account_disabled");
            pairs.extend(race(&server, &operator, &user, Change::Disable, disabled, backend).await);
            // Lifting the block brings back nothing verified before it.
            operator.apply(&server, &user, Change::Enable).await;
        }
        let_the_server_learn().await;
        let working = working(&server, &pairs).await;
        failed.extend(survivors(&working, pairs.len(), backend, "disable"));
    }
    assert!(failed.is_empty(), "a login racing an operator change kept its session: {failed:#?}");
}

#[tokio::test]
async fn a_login_racing_a_delete_never_acts_for_the_next_account_of_that_name() {
    let mut failed = Vec::new();
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let server = race_server(&database).await;
        let operator = Operator::open(&database).await;
        let mut pairs = Vec::new();
        let mut users = Vec::new();
        for round in rounds() {
            let user = format!("victim{round}");
            let bad = (401, "bad_credentials");
            pairs.extend(race(&server, &operator, &user, Change::Delete, bad, backend).await);
            users.push(user);
        }
        // Someone else takes each freed name, with a password of their own.
        for user in &users {
            let body = json!({ "username": user, "password": NEW_PASSWORD });
            assert_eq!(server.post("/auth/register", body).await.status(), 201, "{backend:?}");
        }
        let_the_server_learn().await;
        let working = working(&server, &pairs).await;
        failed.extend(survivors(&working, pairs.len(), backend, "delete"));
        // The new accounts work, as themselves.
        for user in &users {
            let body = json!({ "username": user, "password": NEW_PASSWORD });
            let r = server.post("/auth/login", body).await;
            assert_eq!(r.status(), 200, "{backend:?}: the new {user} logs in");
            let access = str_of(&r.json().await.expect("json"), "access_token");
            let me = server.http.get(server.url("/auth/me")).bearer_auth(&access).send().await;
            let me: Value = me.expect("me").json().await.expect("json");
            assert_eq!(me["sub"], json!(user), "{backend:?}");
        }
    }
    assert!(failed.is_empty(), "a login racing an operator change kept its session: {failed:#?}");
}

/// Runs `wsauth user passwd USER` on `database` as its own process, the new
/// password on stdin.
fn passwd_by_the_binary(database: &TestDatabase, user: &str) -> std::process::Output {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().display().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsauth"))
        .args(["--data-dir", &data_dir, "--database-url", &database.url, "user", "passwd", user])
        .env_remove("WSAUTH_HMAC_SECRET")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wsauth");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(format!("{NEW_PASSWORD}\n").as_bytes()).expect("write the password");
    drop(stdin);
    child.wait_with_output().expect("wsauth user passwd")
}

#[tokio::test]
async fn a_login_racing_wsauth_user_passwd_keeps_no_session() {
    const IN_FLIGHT: usize = 8;
    let mut failed = Vec::new();
    for database in TestDatabase::both().await {
        let backend = database.backend;
        let server = race_server(&database).await;
        let database = std::sync::Arc::new(database);
        let mut pairs = Vec::new();
        for round in rounds() {
            let user = format!("victim{round}");
            server.register(&user).await;
            let command = {
                let (database, user) = (database.clone(), user.clone());
                tokio::task::spawn_blocking(move || passwd_by_the_binary(&database, &user))
            };
            // Logins with the old password keep arriving until the command
            // has committed, and those in flight then finish.
            let mut logins = JoinSet::new();
            while !command.is_finished() {
                if logins.len() < IN_FLIGHT {
                    spawn_login(&mut logins, &server, &user);
                } else if let Some(answer) = logins.join_next().await {
                    keep(answer.expect("task"), (401, "bad_credentials"), &mut pairs, backend);
                }
            }
            let output = command.await.expect("join");
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            while let Some(answer) = logins.join_next().await {
                keep(answer.expect("task"), (401, "bad_credentials"), &mut pairs, backend);
            }
        }
        let_the_server_learn().await;
        let working = working(&server, &pairs).await;
        failed.extend(survivors(&working, pairs.len(), backend, "wsauth user passwd"));
    }
    assert!(failed.is_empty(), "a login racing an operator change kept its session: {failed:#?}");
}
