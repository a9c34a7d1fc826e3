//! The HTTP plumbing the hand-written connectors share (Reloadly, Ding): one
//! call, read up to a bound, with the distinction money depends on — only a failed
//! connection proves the request never left; a timeout or reset after
//! connecting may have come after it was written.

/// An answer, read up to [`ANSWER_MAX_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub http_status: u16,
    pub body: String,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.http_status)
    }
}

/// A call that got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing left this machine (connection refused, DNS, connect timeout).
    NotSent(String),
    /// Bytes may have left and no answer came (timeout, reset, unreadable).
    Unknown(String),
}

/// The longest answer read from a provider (Ding's transfer lists and
/// Reloadly's reports come in pages well below it); a longer one is cut off
/// and, like a broken answer, leaves the outcome unknown.
pub const ANSWER_MAX_BYTES: usize = tambah_iimmpact::ANSWER_MAX_BYTES;

/// Sends and reads the answer, up to [`ANSWER_MAX_BYTES`].
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, Fault> {
    let response = request.send().await.map_err(|e| transport(&e))?;
    let http_status = response.status().as_u16();
    let bytes = tambah_iimmpact::body::read_capped(response, ANSWER_MAX_BYTES)
        .await
        .map_err(|e| Fault::Unknown(format!("reading the answer: {}", chain(&e))))?;
    Ok(Reply { http_status, body: String::from_utf8_lossy(&bytes).into_owned() })
}

fn transport(e: &reqwest::Error) -> Fault {
    let reason = chain(e);
    if e.is_builder() || e.is_connect() {
        Fault::NotSent(reason)
    } else if e.is_timeout() {
        Fault::Unknown(format!("timed out: {reason}"))
    } else {
        Fault::Unknown(reason)
    }
}

/// An error with its causes, `a: b: c` (reqwest's own text omits them).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
