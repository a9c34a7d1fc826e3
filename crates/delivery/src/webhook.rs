//! One signed HTTP request to a merchant's URL: the URL is checked by the
//! SSRF guard, the connection goes to the very address checked, and of the
//! answer only the status and its first few KiB are read — the rest is never
//! read, the connection is dropped.

use std::time::Duration;

use tambah_http::guard::check_url;
use tokio::time::{timeout_at, Instant};

use crate::callbacks::{Answer, CallbackSender};

/// Characters of the receiver's answer kept in the log.
const EXCERPT_CHARS: usize = 500;
/// Bytes of a receiver's answer read at most; what follows is never read.
pub(crate) const ANSWER_BYTES_MAX: usize = 4096;
/// How long the first bytes of an answer are waited for once its status is
/// in (they only go to the log).
const ANSWER_WAIT: Duration = Duration::from_secs(1);

/// The first bytes of an answer (at most [`ANSWER_BYTES_MAX`], within
/// [`ANSWER_WAIT`]) as text; the response is dropped after, closing the
/// connection if the receiver had more to say.
pub(crate) async fn answer_head(mut response: reqwest::Response) -> String {
    let deadline = Instant::now() + ANSWER_WAIT;
    let mut head = Vec::new();
    while head.len() < ANSWER_BYTES_MAX {
        match timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                let take = chunk.len().min(ANSWER_BYTES_MAX - head.len());
                head.extend_from_slice(&chunk[..take]);
            }
            // The end, an error or out of time: what came is all we keep.
            _ => break,
        }
    }
    drop(response);
    String::from_utf8_lossy(&head).chars().take(EXCERPT_CHARS).collect()
}

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
                let excerpt = answer_head(response).await;
                let ok = (200..300).contains(&status);
                let retryable = status >= 500 || status == 408 || status == 429;
                Answer { http_status: Some(status), error: String::new(), excerpt, retryable, ok }
            }
            Err(e) => Answer::failed(format!("{e}"), true),
        }
    }
}
