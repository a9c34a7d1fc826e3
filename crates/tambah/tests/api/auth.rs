//! Authentication over real HTTP: every failure mode of the HMAC scheme and of
//! tokens, environments, and the 401 body shape.

use serde_json::json;

use crate::harness::*;

fn assert_401(r: &Reply, error: &str, message: &str) {
    assert_eq!(r.status, 401, "{:?}", r.json);
    assert_eq!(r.json["error"], error, "{:?}", r.json);
    assert_eq!(r.json["message"], message, "{:?}", r.json);
}

/// Sends a balance request with hand-made signature headers.
async fn raw(s: &Server, key: &str, ts: &str, nonce: &str, sig: &str) -> Reply {
    read(
        reqwest::Client::new()
            .get(s.url("/v2/balance"))
            .header("X-Api-Key", key)
            .header("X-Timestamp", ts)
            .header("X-Nonce", nonce)
            .header("X-Signature", sig)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn signature_failures() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let good_ts = now_s().to_string();

    // A correct request works (and carries X-Request-Id).
    let n = nonce();
    let sig = signature(&m.api_secret, &good_ts, &n, "GET", "", b"");
    let ok = raw(&s, &m.api_key, &good_ts, &n, &sig).await;
    assert_eq!(ok.status, 200, "{:?}", ok.json);
    assert!(ok.headers.contains_key("x-request-id"));

    // Replaying the very same request: nonce reused.
    let replay = raw(&s, &m.api_key, &good_ts, &n, &sig).await;
    assert_401(&replay, "nonce_reused", "Unauthorized");

    // Bad signature (signed with another secret).
    let n = nonce();
    let bad = signature("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &good_ts, &n, "GET", "", b"");
    assert_401(&raw(&s, &m.api_key, &good_ts, &n, &bad).await, "invalid_signature", "Signature mismatch");
    // Signed for another method.
    let n = nonce();
    let wrong_method = signature(&m.api_secret, &good_ts, &n, "POST", "", b"");
    assert_401(&raw(&s, &m.api_key, &good_ts, &n, &wrong_method).await, "invalid_signature", "Signature mismatch");

    // Stale timestamp: 301 s in the past, and in the future.
    for ts in [now_s() - 301, now_s() + 301] {
        let ts = ts.to_string();
        let n = nonce();
        let sig = signature(&m.api_secret, &ts, &n, "GET", "", b"");
        assert_401(&raw(&s, &m.api_key, &ts, &n, &sig).await, "timestamp_out_of_window", "Unauthorized");
    }
    // Millisecond timestamp (13 digits), correctly signed: still refused.
    let ms = (now_s() * 1000).to_string();
    let n = nonce();
    let sig = signature(&m.api_secret, &ms, &n, "GET", "", b"");
    assert_401(&raw(&s, &m.api_key, &ms, &n, &sig).await, "timestamp_out_of_window", "Unauthorized");

    // Nonce too short.
    let sig = signature(&m.api_secret, &good_ts, "short", "GET", "", b"");
    assert_401(&raw(&s, &m.api_key, &good_ts, "short", &sig).await, "invalid_nonce", "Unauthorized");

    // Unknown key.
    let n = nonce();
    let sig = signature(&m.api_secret, &good_ts, &n, "GET", "", b"");
    assert_401(&raw(&s, "tbh_test_nosuchkey", &good_ts, &n, &sig).await, "invalid_api_key", "API key not found");

    // Missing signature headers with a key.
    let r =
        read(reqwest::Client::new().get(s.url("/v2/balance")).header("X-Api-Key", &m.api_key).send().await.unwrap())
            .await;
    assert_401(&r, "missing_signature_headers", "Unauthorized");

    // No credentials at all.
    let r = read(reqwest::get(s.url("/v2/balance")).await.unwrap()).await;
    assert_401(&r, "missing_credentials", "Unauthorized");
    assert!(r.headers.contains_key("x-request-id"));
}

/// A signed request captured on the wire and sent again after the node was
/// killed and restarted on the same database is still a replay: here a
/// callback-secret rotation, which would otherwise hand out a new secret.
#[tokio::test]
async fn a_replay_after_a_restart_is_refused() {
    let mut s = Server::start(&[]);
    let m = s.merchant(&[], "0");
    let ts = now_s().to_string();
    let n = nonce();
    let sig = signature(&m.api_secret, &ts, &n, "POST", "", b"");
    let rotate = |base: String| {
        let (key, ts, n, sig) = (m.api_key.clone(), ts.clone(), n.clone(), sig.clone());
        async move {
            let req = reqwest::Client::new()
                .post(format!("{base}/v2/callback-secret/rotate"))
                .header("X-Api-Key", key)
                .header("X-Timestamp", ts)
                .header("X-Nonce", n)
                .header("X-Signature", sig);
            read(req.send().await.unwrap()).await
        }
    };
    let first = rotate(s.base.clone()).await;
    assert_eq!(first.status, 200, "{:?}", first.json);
    let secret = first.json["data"]["secret"].as_str().expect("a new secret").to_owned();

    s.kill9();
    s.restart();
    let replay = rotate(s.base.clone()).await;
    assert_401(&replay, "nonce_reused", "Unauthorized");
    // The secret the first request got is still the newest one.
    let now = Client::new(&s, &m).signed("GET", "/v2/callback-secret", None).await;
    assert_eq!(now.status, 200, "{:?}", now.json);
    assert_eq!(now.json["data"]["secret"], secret.as_str(), "{:?}", now.json);
}

#[tokio::test]
async fn query_and_form_bodies_are_signed_exactly() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    // A query string with an encoded value: signed with decoded, sorted pairs.
    let r = c.signed("GET", "/v1/products?category=Mobile%20Postpaid", None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r.json["data"].as_array().unwrap().iter().all(|p| p["category"] == "Mobile Postpaid"));
    assert!(!r.json["data"].as_array().unwrap().is_empty());
    // A form body: the hash is over the exact bytes sent.
    let form = b"refid=FORM-1&product=D&account=0123456789&amount=10";
    let r = c.signed_raw("POST", "/v2/topup", "application/x-www-form-urlencoded", form, &[]).await;
    assert_eq!((r.status, r.code()), (200, "20".into()), "{:?}", r.json);
}

/// A key revoked or a merchant suspended by another process (the CLI here; another node alike) is
/// refused by a running node within 1 s, though the node holds credentials
/// in memory: it reads the database's change counter every 100 ms.
#[tokio::test]
async fn revocations_made_outside_the_node_are_refused_within_a_second() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "5000");
    let c = Client::new(&s, &m);
    // Each credential used twice: the second answer comes from memory.
    for _ in 0..2 {
        assert_eq!(c.signed("GET", "/v2/balance", None).await.status, 200);
    }
    s.cli(&["key", "revoke", &m.api_key]);
    let since = std::time::Instant::now();
    loop {
        let r = c.signed("GET", "/v2/balance", None).await;
        if r.status == 401 {
            assert_401(&r, "invalid_api_key", "API key not found");
            break;
        }
        assert!(since.elapsed() < std::time::Duration::from_secs(1), "a revoked key accepted after 1 s");
    }
    let token = c.login().await;
    let balance = || c.http.get(s.url("/v2/balance")).bearer_auth(&token).send();
    for _ in 0..2 {
        assert_eq!(balance().await.unwrap().status(), 200);
    }
    s.cli(&["merchant", "update", "--account", &m.account, "--suspended", "true"]);
    let since = std::time::Instant::now();
    let new_order = || {
        c.http.post(s.url("/v2/topup")).bearer_auth(&token).json(&serde_json::json!({
            "refid": format!("RV-{}", since.elapsed().as_nanos()), "product": "D", "account": "0123456789", "amount": "10"
        }))
    };
    while new_order().send().await.unwrap().status() != 403 {
        assert!(since.elapsed() < std::time::Duration::from_secs(1), "a suspension not acted on after 1 s");
    }
    s.cli_change(&["merchant", "update", "--account", &m.account, "--suspended", "false"]);
    // A second key for the same merchant works.
    let out: serde_json::Value =
        serde_json::from_str(&s.cli(&["key", "create", "--account", &m.account, "--json"])).unwrap();
    let mut m2 = m.clone();
    m2.api_key = out["api_key"].as_str().unwrap().into();
    m2.api_secret = out["api_secret"].as_str().unwrap().into();
    assert!(m2.api_key.starts_with("tbh_test_"));
    assert_eq!(Client::new(&s, &m2).signed("GET", "/v2/balance", None).await.status, 200);
}

#[tokio::test]
async fn environments_never_cross() {
    // A listener bound to live refuses staging credentials, and the reverse.
    let live = Server::start(&["--environment", "live"]);
    let staging_m = live.merchant(&[], "100");
    let live_m = live.merchant(&["--environment", "live"], "100");
    assert!(live_m.api_key.starts_with("tbh_live_"));
    let c = Client::new(&live, &staging_m);
    assert_401(&c.signed("GET", "/v2/balance", None).await, "invalid_api_key", "API key not found");
    let r = read(
        reqwest::Client::new()
            .post(live.url("/v2/token"))
            .json(&json!({"username": staging_m.username, "password": staging_m.password}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(&r, "NotAuthorizedException", "Incorrect username or password.");
    assert_eq!(Client::new(&live, &live_m).signed("GET", "/v2/balance", None).await.status, 200);

    let staging = Server::start(&["--environment", "staging"]);
    let live_m2 = staging.merchant(&["--environment", "live"], "100");
    assert_401(
        &Client::new(&staging, &live_m2).signed("GET", "/v2/balance", None).await,
        "invalid_api_key",
        "API key not found",
    );
}

#[tokio::test]
async fn tokens_login_refresh_and_failures() {
    let s = Server::start(&[]);
    let m = s.merchant(&["--username", "kedai.ali", "--password", "correct horse"], "100");
    let http = reqwest::Client::new();
    login_failures(&s, &http).await;
    let login = login_and_use_the_tokens(&s, &http, &m).await;
    let id2 = refresh_tokens(&s, &http, &login.refresh, &login.id).await;
    change_password_revokes_everything(&s, &http, &id2).await;
}

/// The tokens a login hands out that the later steps use.
struct Login {
    id: String,
    refresh: String,
}

/// Wrong password, unknown user, missing fields.
async fn login_failures(s: &Server, http: &reqwest::Client) {
    let r = read(
        http.post(s.url("/v2/token"))
            .json(&json!({"username": "kedai.ali", "password": "wrong"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(&r, "NotAuthorizedException", "Incorrect username or password.");
    let r =
        read(http.post(s.url("/v2/token")).json(&json!({"username": "nobody", "password": "x"})).send().await.unwrap())
            .await;
    assert_401(&r, "NotAuthorizedException", "Incorrect username or password.");
    let r = read(http.post(s.url("/v2/token")).json(&json!({"username": "kedai.ali"})).send().await.unwrap()).await;
    assert_eq!(r.status, 400);
}

/// Login (form body, v1 path), then use the IdToken both ways; a refresh
/// token or a made-up one is not an access credential.
async fn login_and_use_the_tokens(s: &Server, http: &reqwest::Client, m: &Merchant) -> Login {
    let r = read(
        http.post(s.url("/v1/token"))
            .form(&[("username", "kedai.ali"), ("password", "correct horse")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let auth = &r.json["AuthenticationResult"];
    assert_eq!(auth["ExpiresIn"], 3600);
    assert_eq!(auth["TokenType"], "Bearer");
    let id = auth["IdToken"].as_str().unwrap().to_owned();
    let access = auth["AccessToken"].as_str().unwrap().to_owned();
    let refresh = auth["RefreshToken"].as_str().unwrap().to_owned();
    for value in [format!("Bearer {id}"), id.clone(), format!("Bearer {access}")] {
        let r = read(http.get(s.url("/v1/balance")).header("Authorization", value).send().await.unwrap()).await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        assert_eq!(r.json["data"]["account"], m.account.as_str());
        assert!(r.json["data"].get("access").is_none(), "v1 balance has no access");
    }
    // A refresh token is not an access credential.
    let r = read(http.get(s.url("/v2/balance")).bearer_auth(&refresh).send().await.unwrap()).await;
    assert_401(&r, "invalid_token", "Unauthorized");
    // A made-up token.
    let r = read(http.get(s.url("/v2/balance")).bearer_auth("tbh_id_made_up").send().await.unwrap()).await;
    assert_401(&r, "invalid_token", "Unauthorized");
    Login { id, refresh }
}

/// Refresh: new Id/Access tokens, no new RefreshToken; an unknown refresh
/// token is refused. Returns the new IdToken.
async fn refresh_tokens(s: &Server, http: &reqwest::Client, refresh: &str, id: &str) -> String {
    let r = read(http.post(s.url("/v2/token/refresh")).json(&json!({"refresh_token": refresh})).send().await.unwrap())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r.json["AuthenticationResult"].get("RefreshToken").is_none());
    let id2 = r.json["AuthenticationResult"]["IdToken"].as_str().unwrap().to_owned();
    assert_ne!(id2, id);
    let r =
        read(http.post(s.url("/v1/token/refresh")).json(&json!({"refresh_token": "nope"})).send().await.unwrap()).await;
    assert_401(&r, "invalid_token", "Unauthorized");
    id2
}

/// Change password: old one stops working, every token is revoked.
async fn change_password_revokes_everything(s: &Server, http: &reqwest::Client, id2: &str) {
    let r = read(
        http.post(s.url("/v1/auth/change-password"))
            .bearer_auth(id2)
            .json(&json!({"old_password": "wrong", "new_password": "new password 1"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_401(&r, "NotAuthorizedException", "Incorrect username or password.");
    let r = read(
        http.post(s.url("/v1/auth/change-password"))
            .bearer_auth(id2)
            .json(&json!({"old_password": "correct horse", "new_password": "new password 1"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r.json["message"].is_string());
    let r = read(http.get(s.url("/v2/balance")).bearer_auth(id2).send().await.unwrap()).await;
    assert_401(&r, "invalid_token", "Unauthorized");
    let r = read(
        http.post(s.url("/v2/token"))
            .json(&json!({"username": "kedai.ali", "password": "correct horse"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = read(
        http.post(s.url("/v2/token"))
            .json(&json!({"username": "kedai.ali", "password": "new password 1"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn expired_token_is_refused() {
    let s = Server::start(&["--token-ttl-seconds", "1"]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let id = c.login().await;
    let r = read(c.http.get(s.url("/v2/balance")).bearer_auth(&id).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = read(c.http.get(s.url("/v2/balance")).bearer_auth(&id).send().await.unwrap()).await;
    assert_401(&r, "token_expired", "Unauthorized");
}
