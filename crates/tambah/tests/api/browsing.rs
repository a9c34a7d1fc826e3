//! A browser without script for the dashboard and console tests: its
//! cookies kept by hand, redirects not followed, forms posted with their
//! CSRF token; and the operator created by the CLI and signed in.

use crate::harness::*;

/// A browser of one: its cookies, no redirects followed.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: std::collections::BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub location: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Browser {
    pub fn new(s: &Server) -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: s.url(""), cookies: Default::default() }
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let r = req.header("cookie", jar.join("; ")).send().await.unwrap();
        for set in r.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let headers = r.headers().clone();
        Page { status, location, headers, body: r.text().await.unwrap() }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    /// The value of the hidden `csrf` field of a page.
    pub fn csrf(page: &Page) -> String {
        let at = page.body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        page.body[at..at + page.body[at..].find('"').unwrap()].to_owned()
    }

    pub async fn log_in(&mut self, m: &Merchant) -> Page {
        let form = self.get("/dashboard/login").await;
        let csrf = Browser::csrf(&form);
        self.post("/dashboard/login", &[("username", &m.username), ("password", &m.password), ("csrf", &csrf)]).await
    }
}

impl Browser {
    /// The text of the element with `id` (a `<code>` or `<p>`), unescaped
    /// enough for tokens and keys.
    pub fn by_id(page: &Page, id: &str) -> String {
        let at = page.body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {}", page.body));
        let start = at + page.body[at..].find('>').unwrap() + 1;
        page.body[start..start + page.body[start..].find('<').unwrap()].replace("&amp;", "&")
    }

    pub async fn sign_up(&mut self, company: &str, email: &str, password: &str) -> Page {
        let form = self.get("/dashboard/signup").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = Browser::csrf(&form);
        let fields = [("company", company), ("email", email), ("password", password), ("csrf", &csrf)];
        self.post("/dashboard/signup", &fields).await
    }

    /// Turns two-factor sign-in on from the account page; returns the
    /// secret (base32).
    pub async fn enable_two_factor(&mut self) -> String {
        let page = self.get("/dashboard/account").await;
        let secret = Browser::by_id(&page, "totp-secret");
        let code = totp_code(&secret, 0);
        let form = [("csrf", Browser::csrf(&page)), ("secret", secret.clone()), ("code", code)];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let on = self.post("/dashboard/account/totp", &form).await;
        assert!(on.body.contains("Two-factor sign-in is on"), "{}", on.body);
        secret
    }

    /// Creates an API key on the keys page (setting up two-factor sign-in
    /// first when the page asks for it); returns (key, secret).
    pub async fn create_key(&mut self) -> (String, String) {
        if self.get("/dashboard/keys").await.status == 403 {
            self.enable_two_factor().await;
        }
        let keys = self.get("/dashboard/keys").await;
        assert_eq!(keys.status, 200, "{}", keys.body);
        let made = self.post("/dashboard/keys", &[("csrf", &Browser::csrf(&keys))]).await;
        assert_eq!(made.status, 200, "{}", made.body);
        (Browser::by_id(&made, "new-key"), Browser::by_id(&made, "new-secret"))
    }
}

impl Browser {
    /// Logs in and checks that the dashboard let it in.
    pub async fn log_in_ok(&mut self, m: &Merchant) -> Page {
        let entered = self.log_in(m).await;
        assert_eq!(entered.status, 303, "{}", entered.body);
        entered
    }
}

/// The current TOTP code of a base32 secret, `ahead_s` from now.
pub fn totp_code(secret: &str, ahead_s: u64) -> String {
    authenticator_code(secret, ahead_s)
}

/// An operator created by the CLI.
pub fn operator(s: &Server, email: &str) -> (String, String) {
    let out: serde_json::Value =
        serde_json::from_str(&s.cli(&["operator", "create", "--email", email, "--json"])).unwrap();
    (out["password"].as_str().unwrap().to_owned(), out["totp_secret"].as_str().unwrap().to_owned())
}

pub async fn operator_log_in(b: &mut Browser, email: &str, password: &str, code: &str) -> Page {
    let form = b.get("/operator/login").await;
    let csrf = Browser::csrf(&form);
    b.post("/operator/login", &[("email", email), ("password", password), ("code", code), ("csrf", &csrf)]).await
}

/// An operator created by the CLI, signed in with a browser of its own.
pub async fn signed_in_operator(s: &Server, email: &str) -> Browser {
    let (password, secret) = operator(s, email);
    let mut b = Browser::new(s);
    let inside = operator_log_in(&mut b, email, &password, &totp_code(&secret, 0)).await;
    assert_eq!((inside.status, inside.location.as_str()), (303, "/operator"), "{}", inside.body);
    b
}
