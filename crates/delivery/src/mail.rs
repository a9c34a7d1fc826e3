//! A minimal SMTP client for operator notices (low balance): plain SMTP to a
//! relay the operator runs (no TLS, no auth: `smtp://host:port`).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// `host:port` of the relay.
    pub relay: String,
    pub from: String,
}

impl SmtpConfig {
    /// `smtp://host:port` (port 25 when omitted).
    pub fn parse(url: &str, from: &str) -> Result<SmtpConfig, String> {
        let rest = url.strip_prefix("smtp://").ok_or_else(|| format!("{url:?}: use smtp://host:port"))?;
        let relay = if rest.contains(':') { rest.trim_end_matches('/').to_owned() } else { format!("{rest}:25") };
        Ok(SmtpConfig { relay, from: from.to_owned() })
    }
}

/// Sends one plain-text message; the error says which step failed.
pub async fn send(config: &SmtpConfig, to: &str, subject: &str, body: &str) -> Result<(), String> {
    tokio::time::timeout(Duration::from_secs(30), send_inner(config, to, subject, body))
        .await
        .map_err(|_| "SMTP timed out".to_owned())?
}

/// The most a relay's replies may take in one session.
const REPLIES_MAX_BYTES: u64 = 64 * 1024;

async fn send_inner(config: &SmtpConfig, to: &str, subject: &str, body: &str) -> Result<(), String> {
    for address in [to, config.from.as_str()] {
        if address.contains(['\r', '\n', '<', '>']) {
            return Err(format!("bad address {address:?}"));
        }
    }
    let stream = TcpStream::connect(&config.relay).await.map_err(|e| format!("connect {}: {e}", config.relay))?;
    let (read, mut write) = stream.into_split();
    // A whole session's replies are a few hundred bytes: a relay that sends
    // more (or one endless line) is cut off here, not buffered.
    let mut lines = BufReader::new(read.take(REPLIES_MAX_BYTES)).lines();
    async fn expect(
        lines: &mut tokio::io::Lines<BufReader<tokio::io::Take<tokio::net::tcp::OwnedReadHalf>>>,
        code: &str,
    ) -> Result<(), String> {
        loop {
            let line = lines.next_line().await.map_err(|e| e.to_string())?.ok_or("SMTP connection closed")?;
            if !line.starts_with(code) {
                return Err(format!("SMTP: expected {code}, got {line:?}"));
            }
            // "250-..." continues, "250 ..." ends the reply.
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    }
    expect(&mut lines, "220").await?;
    let steps = [
        ("EHLO tambah\r\n".to_owned(), "250"),
        (format!("MAIL FROM:<{}>\r\n", config.from), "250"),
        (format!("RCPT TO:<{to}>\r\n"), "250"),
        ("DATA\r\n".to_owned(), "354"),
    ];
    for (command, code) in steps {
        write.write_all(command.as_bytes()).await.map_err(|e| e.to_string())?;
        expect(&mut lines, code).await?;
    }
    // Dot-stuffing: a line starting with '.' gets another.
    let body = body
        .replace("\r\n", "\n")
        .lines()
        .map(|l| if l.starts_with('.') { format!(".{l}") } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\r\n");
    let subject = subject.replace(['\r', '\n'], " ");
    let message = format!(
        "From: <{}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n.\r\n",
        config.from
    );
    write.write_all(message.as_bytes()).await.map_err(|e| e.to_string())?;
    expect(&mut lines, "250").await?;
    let _ = write.write_all(b"QUIT\r\n").await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::{send, SmtpConfig};

    /// A relay that greets with one endless line is cut off after 64 KiB:
    /// the send fails, it does not buffer the line whole.
    #[tokio::test]
    async fn an_endless_reply_is_cut_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let piece = vec![b'2'; 16 * 1024];
            // One line that never ends, until the reader hangs up.
            while socket.write_all(&piece).await.is_ok() {}
        });
        let config = SmtpConfig { relay, from: "alerts@tambah.test".into() };
        let sent = send(&config, "ops@tambah.test", "subject", "body").await;
        // Read unbounded, this would only end at the 30 s timeout.
        let error = sent.expect_err("an endless greeting is no greeting");
        assert_ne!(error, "SMTP timed out", "cut off at the bound, not by the clock");
    }
}
