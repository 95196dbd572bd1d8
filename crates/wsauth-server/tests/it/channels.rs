//! Channels on one node, driven over real sockets: default deny, rules
//! with `{sub}` and wildcards, delivery (the publisher's own sockets too),
//! unsubscribe, presence with joins and leaves, the limits, and publishing
//! from a backend through `POST /api/publish`.

use crate::support::*;
use serde_json::{Value, json};
use wsauth::channels::Rule;
use wsauth_server::Config;

const PUBLISH_KEY: &str = "publish-key-that-is-long-enough-0123456789";

fn rule(pattern: &str, actions: &[&str]) -> Rule {
    serde_json::from_value(json!({"pattern": pattern, "actions": actions})).expect("rule")
}

/// A server whose rules grant every action on `room:*` and `subscribe` on
/// the socket's own `user:{sub}:>` channels.
async fn server_with_rooms(edit: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start_config(|c| {
        c.channels.rules = vec![
            rule("room:*", &["subscribe", "publish", "presence"]),
            rule("user:{sub}:>", &["subscribe"]),
        ];
        c.publish_api_key = Some(PUBLISH_KEY.to_owned());
        edit(c);
    })
    .await
}

async fn socket(server: &TestServer, user: &str) -> Ws {
    let (access, _) = server.login(user).await;
    server.ws_welcome(&access).await.0
}

/// Sends a command and returns the next frame.
async fn ask(ws: &mut Ws, command: Value) -> Value {
    send_json(ws, command).await;
    next_json(ws).await
}

async fn subscribe(ws: &mut Ws, channel: &str) -> Value {
    let answer = ask(ws, json!({"type": "subscribe", "id": "s", "channel": channel})).await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    answer
}

/// Proves nothing else is queued for `ws`: an echo comes back first.
async fn nothing_pending(ws: &mut Ws) {
    let answer = ask(ws, json!({"type": "echo", "data": "marker"})).await;
    assert_eq!(answer, json!({"type": "echo", "data": "marker"}));
}

#[tokio::test]
async fn the_welcome_frame_says_protocol_2_and_the_channel_subject() {
    let server = TestServer::start().await;
    let (access, _) = server.login("alice").await;
    let (_ws, welcome) = server.ws_welcome(&access).await;
    assert_eq!(welcome["protocol"], 2);
    assert_eq!(welcome["channel_sub"], "alice");
}

#[tokio::test]
async fn nothing_is_granted_by_default() {
    let server = TestServer::start().await;
    let mut ws = socket(&server, "alice").await;
    for command in ["subscribe", "publish", "presence"] {
        let answer =
            ask(&mut ws, json!({"type": command, "id": "7", "channel": "room:1", "data": 1})).await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(answer["id"], "7");
        assert_eq!(answer["command"], command);
        assert_eq!(answer["error"], "forbidden");
        assert!(answer["detail"].is_string());
    }
    nothing_pending(&mut ws).await;
}

#[tokio::test]
async fn subscribers_receive_what_is_published_and_the_publishers_own_sockets_too() {
    let server = server_with_rooms(|_| {}).await;
    let mut alice_listening = socket(&server, "alice").await;
    let mut alice_talking = socket(&server, "alice").await;
    let mut bob = socket(&server, "bob").await;
    let answer = subscribe(&mut alice_listening, "room:42").await;
    assert_eq!(
        answer,
        json!({"type": "subscribed", "id": "s", "channel": "room:42",
        "actions": ["subscribe", "publish", "presence"]})
    );
    subscribe(&mut bob, "room:42").await;
    // Bob's subscription was announced to Alice, who holds `presence`.
    assert_eq!(
        next_json(&mut alice_listening).await,
        json!({"type": "join", "channel": "room:42", "sub": "bob"})
    );
    // Publishing needs no subscription.
    for n in 0..3 {
        let answer = ask(
            &mut alice_talking,
            json!({"type": "publish", "id": format!("p{n}"),
            "channel": "room:42", "data": {"n": n}}),
        )
        .await;
        assert_eq!(
            answer,
            json!({"type": "published", "id": format!("p{n}"), "channel": "room:42"})
        );
    }
    for ws in [&mut alice_listening, &mut bob] {
        for n in 0..3 {
            assert_eq!(
                next_json(ws).await,
                json!({"type": "message", "channel": "room:42",
                "data": {"n": n}, "from": "alice"}),
                "in order per publisher"
            );
        }
    }
    nothing_pending(&mut alice_talking).await;
}

#[tokio::test]
async fn personal_channels_match_the_sockets_own_subject_only() {
    let server = server_with_rooms(|_| {}).await;
    let mut alice = socket(&server, "alice").await;
    let answer = subscribe(&mut alice, "user:alice:inbox").await;
    assert_eq!(answer["actions"], json!(["subscribe"]));
    let answer =
        ask(&mut alice, json!({"type": "subscribe", "id": "x", "channel": "user:bob:inbox"})).await;
    assert_eq!(answer["error"], "forbidden", "{answer}");
    // The rule grants `subscribe` only.
    let answer =
        ask(&mut alice, json!({"type": "publish", "channel": "user:alice:inbox", "data": 1})).await;
    assert_eq!(answer["error"], "forbidden", "{answer}");
}

#[tokio::test]
async fn bad_names_and_malformed_commands_are_refused_with_their_codes() {
    let server = server_with_rooms(|_| {}).await;
    let mut ws = socket(&server, "alice").await;
    let too_long = "a".repeat(65);
    let seventeen = vec!["a"; 17].join(":");
    for name in ["", "room::1", "room:*", "room:>", "room 1", too_long.as_str(), seventeen.as_str()]
    {
        let answer = ask(&mut ws, json!({"type": "subscribe", "id": "b", "channel": name})).await;
        assert_eq!(answer["error"], "bad_channel", "{name:?}: {answer}");
        assert_eq!(answer["command"], "subscribe");
    }
    let answer = ask(&mut ws, json!({"type": "subscribe", "channel": 42})).await;
    assert_eq!(answer["error"], "bad_channel", "{answer}");
    let answer = ask(&mut ws, json!({"type": "publish", "channel": "room:1"})).await;
    assert_eq!(answer["error"], "unknown_command", "a publish without data: {answer}");
    let long_id = "i".repeat(65);
    let answer =
        ask(&mut ws, json!({"type": "subscribe", "id": long_id, "channel": "room:1"})).await;
    assert_eq!(answer["error"], "unknown_command", "{answer}");
    assert!(answer.get("id").is_none(), "an id over the limit is not echoed: {answer}");
    nothing_pending(&mut ws).await;
}

#[tokio::test]
async fn a_socket_holds_at_most_max_subscriptions_and_resubscribing_answers_again() {
    let server = server_with_rooms(|c| c.channels.max_subscriptions = 2).await;
    let mut ws = socket(&server, "alice").await;
    subscribe(&mut ws, "room:1").await;
    subscribe(&mut ws, "room:2").await;
    subscribe(&mut ws, "room:1").await;
    let answer = ask(&mut ws, json!({"type": "subscribe", "id": "3", "channel": "room:3"})).await;
    assert_eq!(answer["error"], "too_many_subscriptions", "{answer}");
    let answer = ask(&mut ws, json!({"type": "unsubscribe", "id": "u", "channel": "room:2"})).await;
    assert_eq!(
        answer,
        json!({"type": "unsubscribed", "id": "u", "channel": "room:2", "reason": "client"})
    );
    subscribe(&mut ws, "room:3").await;
}

#[tokio::test]
async fn after_unsubscribed_no_message_of_the_channel_arrives() {
    let server = server_with_rooms(|_| {}).await;
    let mut listener = socket(&server, "alice").await;
    let mut talker = socket(&server, "bob").await;
    subscribe(&mut listener, "room:9").await;
    let answer =
        ask(&mut listener, json!({"type": "unsubscribe", "id": "u", "channel": "room:9"})).await;
    assert_eq!(answer["reason"], "client");
    let answer =
        ask(&mut talker, json!({"type": "publish", "channel": "room:9", "data": "late"})).await;
    assert_eq!(answer["type"], "published");
    nothing_pending(&mut listener).await;
}

#[tokio::test]
async fn presence_lists_subjects_with_their_socket_counts_and_announces_leaves() {
    let server = server_with_rooms(|_| {}).await;
    let mut watcher = socket(&server, "carol").await;
    subscribe(&mut watcher, "room:p").await;
    let mut alice_1 = socket(&server, "alice").await;
    let mut alice_2 = socket(&server, "alice").await;
    subscribe(&mut alice_1, "room:p").await;
    assert_eq!(
        next_json(&mut watcher).await,
        json!({"type": "join", "channel": "room:p", "sub": "alice"})
    );
    subscribe(&mut alice_2, "room:p").await;
    let answer =
        ask(&mut watcher, json!({"type": "presence", "id": "4", "channel": "room:p"})).await;
    assert_eq!(
        answer,
        json!({"type": "presence", "id": "4", "channel": "room:p",
        "members": [{"sub": "alice", "connections": 2}, {"sub": "carol", "connections": 1}],
        "truncated": false}),
        "a subject's second socket is no new join"
    );
    drop(alice_1);
    let answer = ask(&mut alice_2, json!({"type": "unsubscribe", "channel": "room:p"})).await;
    assert_eq!(answer["type"], "unsubscribed");
    assert_eq!(
        next_json(&mut watcher).await,
        json!({"type": "leave", "channel": "room:p", "sub": "alice"})
    );
    let answer = ask(&mut watcher, json!({"type": "presence", "channel": "room:p"})).await;
    assert_eq!(answer["members"], json!([{"sub": "carol", "connections": 1}]));
}

#[tokio::test]
async fn a_revoked_token_closes_the_socket_with_4003_and_no_unsubscribed_frame() {
    let server = server_with_rooms(|_| {}).await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws_welcome(&access).await;
    subscribe(&mut ws, "room:1").await;
    let r = server.post_bearer("/auth/logout", &access).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(next_close(&mut ws).await.0, 4003, "the close comes first, no unsubscribed");
}

#[tokio::test]
async fn a_backend_publishes_with_the_publish_key_and_its_messages_are_from_null() {
    let server = server_with_rooms(|_| {}).await;
    let mut ws = socket(&server, "alice").await;
    subscribe(&mut ws, "room:b").await;
    let publish = |key: &str, body: Value| {
        server.http.post(server.url("/api/publish")).bearer_auth(key).json(&body).send()
    };
    let r = publish(PUBLISH_KEY, json!({"channel": "room:b", "data": {"x": [1, 2]}}))
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"channel": "room:b", "delivered": 1})
    );
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "message", "channel": "room:b", "data": {"x": [1, 2]}, "from": null})
    );
    let r =
        publish("wrong-key-wrong-key-wrong-key-wrong-key", json!({"channel": "room:b", "data": 1}))
            .await
            .expect("post");
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "publish_unauthorized");
    let r = publish(PUBLISH_KEY, json!({"channel": "room:*", "data": 1})).await.expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "bad_channel");
    let r = publish(PUBLISH_KEY, json!({"channel": "room:b"})).await.expect("post");
    assert_eq!(r.status(), 400);
    let big = "x".repeat(70 * 1024);
    let r = publish(PUBLISH_KEY, json!({"channel": "room:b", "data": big})).await.expect("post");
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "payload_too_large");
    nothing_pending(&mut ws).await;
}

#[tokio::test]
async fn without_a_publish_key_the_endpoint_does_not_exist() {
    let server = TestServer::start().await;
    let r = server
        .http
        .post(server.url("/api/publish"))
        .bearer_auth(PUBLISH_KEY)
        .json(&json!({"channel": "room:b", "data": 1}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_short_publish_key_or_a_bad_rule_is_refused_at_start() {
    let short = Config::from_toml("publish_api_key = \"short\"\n", &Default::default());
    let message = short.expect_err("refused").to_string();
    assert!(message.contains("publish_api_key must be at least 32 bytes"), "{message}");
    let bad = Config::from_toml(
        "[[channels.rules]]\npattern = \"room:>:x\"\nactions = [\"subscribe\"]\n",
        &Default::default(),
    );
    let message = bad.expect_err("refused").to_string();
    assert!(message.contains("`>` may only be a pattern's last segment"), "{message}");
    let no_actions = Config::from_toml(
        "[[channels.rules]]\npattern = \"room:*\"\nactions = []\n",
        &Default::default(),
    );
    assert!(no_actions.is_err());
    let zero = Config::from_toml("[channels]\nmax_subscriptions = 0\n", &Default::default());
    assert!(zero.expect_err("refused").to_string().contains("max_subscriptions must be 1 to"));
}

/// Every channel series exists from the start, and a refused command is
/// counted (the recorder is the process's: other tests only add to it).
#[tokio::test]
async fn the_channel_metrics_exist_and_count() {
    let server = server_with_rooms(|_| {}).await;
    let scrape = || async {
        let r = server.http.get(server.url("/metrics")).send().await.expect("get");
        r.text().await.expect("text")
    };
    let forbidden = |text: &str| {
        crate::operations::sample(text, "wsauth_channel_denials_total", &[("error", "forbidden")])
            .expect("the forbidden series")
    };
    let before = scrape().await;
    for name in [
        "wsauth_channel_subscriptions",
        "wsauth_channel_messages_total{direction=\"in\"}",
        "wsauth_channel_messages_total{direction=\"out\"}",
        "wsauth_channel_denials_total{error=\"forbidden\"}",
        "wsauth_channel_denials_total{error=\"bad_channel\"}",
        "wsauth_channel_revocations_total",
        "wsauth_channel_revocation_seconds",
    ] {
        assert!(before.contains(name), "{name} missing from /metrics");
    }
    let mut ws = socket(&server, "alice").await;
    let answer = ask(&mut ws, json!({"type": "subscribe", "channel": "secret:1"})).await;
    assert_eq!(answer["error"], "forbidden");
    assert!(forbidden(&scrape().await) > forbidden(&before), "the refusal was not counted");
}

/// A trusted issuer's token: its channel subject is hashed, and the roles
/// its `roles_claim` names open the rules that ask for them.
#[tokio::test]
async fn an_external_tokens_roles_open_the_rules_that_ask_for_them() {
    use crate::jwks_provider::{Provider, claims, mint};
    let idp = Provider::start().await;
    let mut table = idp.config();
    table.roles_claim = vec!["realm_access".into(), "roles".into()];
    let server = TestServer::start_config(|c| {
        c.trusted_issuers = vec![table];
        c.channels.rules = vec![
            serde_json::from_value(
                json!({"pattern": "staff:*", "actions": ["subscribe"], "roles": ["staff"]}),
            )
            .expect("rule"),
            rule("user:{sub}:>", &["subscribe"]),
        ];
    })
    .await;
    let now = server.now();
    let mut staff = claims(&idp.issuer, "ann", now);
    staff["realm_access"] = json!({"roles": ["staff"]});
    let guest = claims(&idp.issuer, "gus", now);
    let demoted = claims(&idp.issuer, "ann", now);
    let minted = mint(
        &[("rsa", "RS256", "rsa-1")],
        &[("rsa", staff, json!({})), ("rsa", guest, json!({})), ("rsa", demoted, json!({}))],
    );
    idp.serve(&[minted.jwk("rsa")]);
    let (mut ann, welcome) = server.ws_welcome(&minted.tokens[0]).await;
    let channel_sub = welcome["channel_sub"].as_str().expect("channel_sub").to_owned();
    assert!(channel_sub.starts_with('@') && channel_sub.len() == 23, "{channel_sub}");
    assert_eq!(subscribe(&mut ann, "staff:news").await["actions"], json!(["subscribe"]));
    let own = format!("user:{channel_sub}:inbox");
    assert_eq!(subscribe(&mut ann, &own).await["channel"], own);
    let (mut gus, _) = server.ws_welcome(&minted.tokens[1]).await;
    let answer = ask(&mut gus, json!({"type": "subscribe", "channel": "staff:news"})).await;
    assert_eq!(answer["error"], "forbidden", "no role, no rule: {answer}");
    let answer = ask(&mut gus, json!({"type": "subscribe", "channel": own})).await;
    assert_eq!(answer["error"], "forbidden", "another subject's channel: {answer}");
    // Refreshed in band to a token without the role: that subscription
    // ends, the other stays, the socket stays open.
    send_json(&mut ann, json!({"type": "refresh", "token": minted.tokens[2]})).await;
    let mut frames = vec![next_json(&mut ann).await, next_json(&mut ann).await];
    frames.sort_by_key(|f| f["type"].to_string());
    assert_eq!(frames[0]["type"], "refreshed", "{frames:?}");
    assert_eq!(
        frames[1],
        json!({"type": "unsubscribed", "channel": "staff:news", "reason": "permission_revoked"})
    );
    nothing_pending(&mut ann).await;
    let answer =
        ask(&mut ann, json!({"type": "publish", "channel": "staff:news", "data": 1})).await;
    assert_eq!(answer["error"], "forbidden", "{answer}");
}
