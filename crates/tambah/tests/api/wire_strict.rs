//! Findings of an attack on the wire, each reproduced against a real server
//! and refused without changing anything.

use serde_json::Value;

use crate::harness::*;

async fn set_callback(c: &Client, url: &str) -> Reply {
    let q = form_urlencoded::Serializer::new(String::new()).append_pair("url", url).finish();
    c.signed("POST", &format!("/v2/callback-url?{q}"), None).await
}

async fn callback_url(c: &Client) -> Value {
    c.signed("GET", "/v2/callback-url", None).await.json["data"]["CallbackUrl"].clone()
}

#[tokio::test]
async fn callback_hosts_not_globally_reachable_are_refused_with_one_message() {
    let s = Server::start(&[]);
    let c = Client::new(&s, &s.merchant(&[], "1"));
    let good = "https://1.1.1.1/hook";
    assert_eq!(set_callback(&c, good).await.status, 200);
    let mut messages = std::collections::BTreeSet::new();
    for (url, addr) in [
        ("http://localhost:8080/hook", "127.0.0.1"),
        ("http://[64:ff9b::7f00:1]/hook", "64:ff9b::7f00:1"),
        ("http://[64:ff9b::808:808]/hook", "64:ff9b::808:808"),
        ("http://[64:ff9b:1::a00:1]/hook", "64:ff9b:1::a00:1"),
        ("http://[2002:7f00:1::1]/hook", "2002:7f00:1::1"),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "2001:0:4136"),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff"),
        ("http://[::ffff:8.8.8.8]/hook", "::ffff"),
        ("http://[::127.0.0.1]/hook", "::7f00:1"),
        ("http://100.64.0.1/hook", "100.64.0.1"),
        ("http://192.0.0.170/hook", "192.0.0.170"),
        ("http://198.18.0.1/hook", "198.18.0.1"),
        ("http://240.0.0.1/hook", "240.0.0.1"),
        ("http://0x7f000001/hook", "127.0.0.1"),
        ("http://[fd00::1]/hook", "fd00::1"),
        ("http://[2001:db8::1]/hook", "2001:db8::1"),
    ] {
        let r = set_callback(&c, url).await;
        assert_eq!((r.status, r.json["error"].as_str()), (400, Some("invalid_callback_url")), "{url}: {:?}", r.json);
        let message = r.json["message"].as_str().unwrap().to_owned();
        assert!(!message.contains(addr), "{url}: the answer names the address: {message}");
        messages.insert(message);
    }
    assert_eq!(messages.len(), 1, "one message for every refused host: {messages:?}");
    assert_eq!(callback_url(&c).await, good, "a refused URL changes nothing");
}
