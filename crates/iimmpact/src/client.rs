//! The client: configuration, the typed calls (balance, products, topup and
//! its status check, tokens) and `request`, the signed or token-bearing HTTP
//! call they are all made of.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};

use crate::answer::{self, Reply};
use crate::credentials::{Authenticator, Credentials, HeldTokens, TokenSession};
use crate::error::Error;
use crate::topup::{TopupRequest, TopupResponse};
use crate::wire::{Balance, BalanceEnvelope, LoginBody, Product, ProductList, RefreshBody, TokenEnvelope, Tokens};

/// The longest answer read (a transactions page of 500 rows is ~250 KB);
/// a longer one is cut off and its outcome stays unknown.
pub const ANSWER_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Where and how to call.
#[derive(Clone, Debug)]
pub struct Config {
    /// The base as IIMMPACT documents it (`https://api.iimmpact.com/v2`) or
    /// the host alone (`http://127.0.0.1:8080`); a path prefix before `/v2`
    /// is kept.
    pub base_url: String,
    pub credentials: Credentials,
    /// The whole call at most, answer included. Past it the outcome is
    /// unknown. Keep it below the upstream's own gateway limit (29 s at
    /// IIMMPACT) so the answer, not the gateway, decides.
    pub timeout: Duration,
    /// Connecting at most (DNS, TCP, TLS). Kept below `timeout`: a connect
    /// that fails in time is *not sent*, while the overall timeout can only
    /// say *unknown*.
    pub connect_timeout: Duration,
}

impl Config {
    /// 25 s per call, 5 s to connect.
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> Config {
        Config {
            base_url: base_url.into(),
            credentials,
            timeout: Duration::from_secs(25),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A typed client of the IIMMPACT v2 API. Cheap to share behind an `Arc`;
/// calls may run concurrently.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    /// Scheme, host and any path prefix, without `/v2` and without a
    /// trailing slash.
    root: String,
    auth: Authenticator,
}

impl Client {
    pub fn new(config: Config) -> Result<Client, Error> {
        let root = api_root(&config.base_url)?;
        let auth = Authenticator::from_credentials(config.credentials).map_err(Error::Config)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout.min(config.timeout))
            // A redirect would re-send (or turn a POST into a GET) behind the
            // caller's back; a 3xx is reported instead.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tambah-iimmpact/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Client { http, root, auth })
    }

    /// The root requests are made under (`https://api.iimmpact.com`).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `GET /v2/balance`: the wallet, pending holds taken off.
    pub async fn balance(&self) -> Result<Balance, Error> {
        let reply = self.request(Method::GET, "/v2/balance", &[], None).await?;
        let envelope: BalanceEnvelope =
            serde_json::from_str(&reply.body).map_err(|e| reply.unparsable(format!("not a balance body: {e}")))?;
        Ok(envelope.data)
    }

    /// `GET /v2/product-list`: the catalogue priced for the caller's level.
    pub async fn products(&self) -> Result<Vec<Product>, Error> {
        let reply = self.request(Method::GET, "/v2/product-list", &[], None).await?;
        let list: ProductList =
            serde_json::from_str(&reply.body).map_err(|e| reply.unparsable(format!("not a product list: {e}")))?;
        list.data
            .into_iter()
            .map(|item| {
                let mut product: Product = serde_json::from_value(item.clone())
                    .map_err(|e| reply.unparsable(format!("a product item does not fit: {e}: {item}")))?;
                product.raw = item;
                Ok(product)
            })
            .collect()
    }

    /// `POST /v2/topup`. An HTTP 200 is a stored order in any status (20,
    /// 0/1 pending, or a final failure such as 43 or 48); a refusal that
    /// stored nothing is `Error::Rejected`. On `Error::Unknown`, call
    /// [`Client::status`] with the same request; never resend under a new
    /// refid.
    pub async fn topup(&self, request: &TopupRequest) -> Result<TopupResponse, Error> {
        let reply = self.request(Method::POST, "/v2/topup", &[], Some(&request.body())).await?;
        let response = TopupResponse::parse(&reply.body).map_err(|reason| reply.unparsable(reason))?;
        if response.refid != request.refid {
            // An answer about another order says nothing about this one.
            return Err(
                reply.unparsable(format!("the answer is for refid {:?}, not {:?}", response.refid, request.refid))
            );
        }
        Ok(response)
    }

    /// The status check: the same request sent again under the same refid.
    /// The upstream answers the stored order and charges nothing more; if
    /// the first send never arrived, this one places the order (once).
    pub async fn status(&self, request: &TopupRequest) -> Result<TopupResponse, Error> {
        self.topup(request).await
    }

    /// Logs in (`POST /v2/token`) with the configured username and password
    /// and keeps the tokens for the next calls. With API key credentials
    /// there is nothing to log in with: `Error::Config`.
    pub async fn login(&self) -> Result<Tokens, Error> {
        let session = self.session()?;
        let mut held = session.held.lock().await;
        let tokens = self.fetch_login(session).await?;
        *held = Some(HeldTokens::new(tokens.clone(), None));
        Ok(tokens)
    }

    /// Renews the held tokens (`POST /v2/token/refresh`), logging in first
    /// when none are held.
    pub async fn refresh(&self) -> Result<Tokens, Error> {
        let session = self.session()?;
        let mut held = session.held.lock().await;
        let previous = held.as_ref().and_then(|h| h.refresh_token.clone());
        let tokens = match previous.as_deref() {
            Some(refresh_token) => self.fetch_refresh(refresh_token).await?,
            None => self.fetch_login(session).await?,
        };
        *held = Some(HeldTokens::new(tokens.clone(), previous));
        Ok(tokens)
    }

    /// One authenticated call: `path` is the API path (`/v2/balance`), the
    /// query its decoded pairs, the body (JSON) its exact bytes. A 2xx comes
    /// back as it is; every other ending is an [`Error`] of its class.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply, Error> {
        let url = self.url(path, query)?;
        let body = body.unwrap_or_default();
        match &self.auth {
            Authenticator::Signed(signer) => {
                let signed = signer.sign(method.as_str(), query, body);
                let mut headers = HeaderMap::new();
                insert(&mut headers, "x-api-key", &signed.api_key)?;
                insert(&mut headers, "x-timestamp", &signed.timestamp)?;
                insert(&mut headers, "x-nonce", &signed.nonce)?;
                insert(&mut headers, "x-signature", &signed.signature)?;
                self.send(method, url, headers, body).await
            }
            Authenticator::Token(session) => self.send_with_token(session, method, url, body).await,
        }
    }

    /// A call with a bearer token. A 401 for the token (expired, revoked)
    /// refused the call before anything was done, so it is renewed and the
    /// call made once more.
    async fn send_with_token(
        &self,
        session: &TokenSession,
        method: Method,
        url: Url,
        body: &[u8],
    ) -> Result<Reply, Error> {
        let token = self.bearer(session).await?;
        let first = self.send(method.clone(), url.clone(), bearer_headers(&token)?, body).await;
        match first {
            Err(Error::Auth { http_status: 401, ref code, .. })
                if code == "token_expired" || code == "invalid_token" =>
            {
                self.forget(session, &token).await;
                let token = self.bearer(session).await?;
                self.send(method, url, bearer_headers(&token)?, body).await
            }
            other => other,
        }
    }

    /// The IdToken to send: the held one while fresh, else renewed (refresh,
    /// or login when the refresh is refused). Failing to get one means the
    /// call itself never left: `NotSent`, unless the credentials were
    /// refused (`Auth`).
    async fn bearer(&self, session: &TokenSession) -> Result<String, Error> {
        let mut held = session.held.lock().await;
        if let Some(h) = held.as_ref().filter(|h| h.is_fresh()) {
            return Ok(h.tokens.id_token.clone());
        }
        let previous = held.as_ref().and_then(|h| h.refresh_token.clone());
        let renewed = match previous.as_deref() {
            Some(refresh_token) => match self.fetch_refresh(refresh_token).await {
                Err(Error::Auth { .. } | Error::Rejected { .. }) => self.fetch_login(session).await,
                other => other,
            },
            None => self.fetch_login(session).await,
        };
        let tokens = renewed.map_err(|e| match e {
            Error::Auth { .. } | Error::Config(_) => e,
            other => Error::NotSent { reason: format!("no token, so the call was not made: {other}") },
        })?;
        let id_token = tokens.id_token.clone();
        *held = Some(HeldTokens::new(tokens, previous));
        Ok(id_token)
    }

    /// Marks the held tokens due for renewal if they are still the ones that
    /// were refused (another call may have renewed them meanwhile).
    async fn forget(&self, session: &TokenSession, refused: &str) {
        let mut held = session.held.lock().await;
        if let Some(h) = held.as_mut().filter(|h| h.tokens.id_token == refused) {
            h.expire();
        }
    }

    async fn fetch_login(&self, session: &TokenSession) -> Result<Tokens, Error> {
        let body = LoginBody { username: &session.username, password: &session.password };
        self.token_call("/v2/token", &serde_json::to_vec(&body).expect("a login body serializes")).await
    }

    async fn fetch_refresh(&self, refresh_token: &str) -> Result<Tokens, Error> {
        let body = RefreshBody { refresh_token };
        self.token_call("/v2/token/refresh", &serde_json::to_vec(&body).expect("a refresh body serializes")).await
    }

    /// `/v2/token*`: unauthenticated, JSON in, `AuthenticationResult` out.
    async fn token_call(&self, path: &str, body: &[u8]) -> Result<Tokens, Error> {
        let reply = self.send(Method::POST, self.url(path, &[])?, HeaderMap::new(), body).await?;
        let envelope: TokenEnvelope =
            serde_json::from_str(&reply.body).map_err(|e| reply.unparsable(format!("not a token body: {e}")))?;
        Ok(envelope.result)
    }

    fn session(&self) -> Result<&TokenSession, Error> {
        match &self.auth {
            Authenticator::Token(session) => Ok(session),
            Authenticator::Signed(_) => Err(Error::Config("tokens need Credentials::Password".into())),
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, Error> {
        if !path.starts_with('/') {
            return Err(Error::Config(format!("the path must start with '/': {path:?}")));
        }
        let mut url =
            Url::parse(&format!("{}{path}", self.root)).map_err(|e| Error::Config(format!("{path:?}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends and reads the answer whole, then sorts it (`answer::classify`).
    async fn send(&self, method: Method, url: Url, mut headers: HeaderMap, body: &[u8]) -> Result<Reply, Error> {
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut request = self.http.request(method, url).headers(headers);
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json").body(body.to_vec());
        }
        let response = request.send().await.map_err(|e| answer::transport(&e))?;
        let http_status = response.status().as_u16();
        let bytes = crate::body::read_capped(response, ANSWER_MAX_BYTES)
            .await
            .map_err(|e| Error::unknown(format!("HTTP {http_status}, {e}"), Some(http_status), None))?;
        answer::classify(http_status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The root of `base_url`: `/v2` (and a trailing slash) taken off.
fn api_root(base_url: &str) -> Result<String, Error> {
    let url = Url::parse(base_url.trim()).map_err(|e| Error::Config(format!("base URL {base_url:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Config(format!("base URL {base_url:?}: http or https with a host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!("base URL {base_url:?}: no query or fragment")));
    }
    let text = url.as_str().trim_end_matches('/');
    Ok(text.strip_suffix("/v2").unwrap_or(text).to_owned())
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) -> Result<(), Error> {
    let value = HeaderValue::from_str(value).map_err(|_| Error::Config(format!("{name} is not a header value")))?;
    headers.insert(name, value);
    Ok(())
}

fn bearer_headers(token: &str) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::new();
    insert(&mut headers, AUTHORIZATION.as_str(), &format!("Bearer {token}"))?;
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_as_documented_or_bare() {
        for (given, root) in [
            ("https://api.iimmpact.com/v2", "https://api.iimmpact.com"),
            ("https://api.iimmpact.com/v2/", "https://api.iimmpact.com"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("https://gw.example/iimmpact/v2", "https://gw.example/iimmpact"),
        ] {
            assert_eq!(api_root(given).unwrap(), root, "{given}");
        }
        for bad in ["127.0.0.1:8080", "ftp://x/v2", "http://x/v2?a=1", ""] {
            assert!(matches!(api_root(bad), Err(Error::Config(_))), "{bad}");
        }
    }

    #[test]
    fn queries_are_encoded_into_the_url() {
        let credentials = Credentials::ApiKey { key_id: "k".into(), secret: "c2VjcmV0".into() };
        let client = Client::new(Config::new("http://h:1/v2", credentials)).unwrap();
        let url = client.url("/v2/networkstatus", &[("product", "D & E"), ("a", "1")]).unwrap();
        assert_eq!(url.as_str(), "http://h:1/v2/networkstatus?product=D+%26+E&a=1");
        assert!(matches!(client.url("v2/x", &[]), Err(Error::Config(_))));
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused_up_front() {
        let credentials = Credentials::ApiKey { key_id: "k".into(), secret: "not base64!".into() };
        assert!(matches!(Client::new(Config::new("http://h:1", credentials)), Err(Error::Config(_))));
    }
}
