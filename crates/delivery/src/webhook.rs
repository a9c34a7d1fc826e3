//! One signed HTTP request to a merchant's URL: the URL is checked by the
//! SSRF guard, the connection goes to the very address checked, and the
//! answer is kept short for the log.

use std::time::Duration;

use tambah_http::guard::check_url;

use crate::callbacks::{Answer, CallbackSender};

/// Characters of the receiver's answer kept in the log.
const EXCERPT_CHARS: usize = 500;

impl CallbackSender {
    /// One HTTP attempt. Retryable: network errors, 5xx, 408, 429.
    pub(crate) async fn send(
        &self,
        url: &str,
        method: reqwest::Method,
        body: Option<Vec<u8>>,
        signature: &str,
    ) -> Answer {
        let (parsed, addrs) = match check_url(url, self.config.allow_private_networks).await {
            Ok(checked) => checked,
            Err(e) => return Answer::failed(e, false),
        };
        // Connect to the address just checked, not to whatever the name
        // resolves to a moment later (DNS rebinding).
        let client = if self.config.allow_private_networks {
            self.client.clone()
        } else {
            match reqwest::Client::builder()
                .timeout(Duration::from_millis(self.config.timeout_ms))
                .redirect(reqwest::redirect::Policy::none())
                .resolve(parsed.host_str().unwrap_or_default(), addrs[0])
                .build()
            {
                Ok(c) => c,
                Err(e) => return Answer::failed(e.to_string(), true),
            }
        };
        let mut request = client
            .request(method, parsed)
            .header("X-Signature", signature)
            .header("User-Agent", concat!("tambah/", env!("CARGO_PKG_VERSION")));
        if let Some(bytes) = body {
            request = request.header("Content-Type", "application/json").body(bytes);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let excerpt: String = text.chars().take(EXCERPT_CHARS).collect();
                let ok = (200..300).contains(&status);
                let retryable = status >= 500 || status == 408 || status == 429;
                Answer { http_status: Some(status), error: String::new(), excerpt, retryable, ok }
            }
            Err(e) => Answer::failed(format!("{e}"), true),
        }
    }
}
