//! Reading an answer with a bound: a provider (or anything posing as one)
//! that streams back more than `limit` bytes is cut off instead of filling
//! the node's memory. The cut-off is an error the caller treats as "no
//! usable answer": for an order, its outcome stays unknown and is asked for
//! later, never taken as a refusal.

/// The answer broke off, or was longer than allowed.
#[derive(Debug)]
pub enum BodyError {
    Broken(reqwest::Error),
    TooLong { limit: usize },
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Broken(e) => write!(f, "the answer broke off: {e}"),
            BodyError::TooLong { limit } => write!(f, "the answer is longer than {limit} bytes: not read further"),
        }
    }
}

impl std::error::Error for BodyError {}

/// Reads at most `limit` bytes of `response`'s body (an announced
/// `Content-Length` above it is refused before reading).
pub async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLong { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Broken)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLong { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{read_capped, BodyError};

    /// A server that answers one request with `head` and then `body_len`
    /// bytes of body, written in 64 KiB pieces (as a stream would be).
    async fn serve_once(head: String, body_len: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            socket.write_all(head.as_bytes()).await.unwrap();
            let piece = vec![b'x'; 64 * 1024];
            let mut left = body_len;
            while left > 0 {
                let n = left.min(piece.len());
                if socket.write_all(&piece[..n]).await.is_err() {
                    return; // the reader gave up: as it should past its limit
                }
                left -= n;
            }
        });
        url
    }

    #[tokio::test]
    async fn an_answer_within_the_limit_is_read_whole() {
        let url = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".into(), 1000).await;
        let body = read_capped(reqwest::get(url).await.unwrap(), 4096).await.unwrap();
        assert_eq!(body.len(), 1000);
    }

    #[tokio::test]
    async fn a_stream_past_the_limit_is_cut_off() {
        // No length announced: 8 MiB streamed until the connection closes.
        let url = serve_once("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".into(), 8 << 20).await;
        let cut = read_capped(reqwest::get(url).await.unwrap(), 1 << 20).await;
        assert!(matches!(cut, Err(BodyError::TooLong { limit }) if limit == 1 << 20), "{cut:?}");
    }

    #[tokio::test]
    async fn an_announced_length_past_the_limit_is_refused_unread() {
        let url = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 9999999\r\n\r\n".into(), 0).await;
        let cut = read_capped(reqwest::get(url).await.unwrap(), 1 << 20).await;
        assert!(matches!(cut, Err(BodyError::TooLong { .. })), "{cut:?}");
    }
}
