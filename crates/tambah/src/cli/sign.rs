//! `tambah sign`: print a request signed with an API key (HMAC v1), as a curl
//! command or as headers, for trying the API by hand. Needs no database.

use clap::Args as ClapArgs;
use tambah_engine::signing;

#[derive(ClapArgs, Debug)]
pub struct SignArgs {
    #[arg(long, env = "TAMBAH_API_KEY")]
    pub key: String,
    /// The API secret (base64), as shown at creation.
    #[arg(long, env = "TAMBAH_API_SECRET", hide_env_values = true)]
    pub secret: String,
    #[arg(long, default_value = "GET")]
    pub method: String,
    #[arg(long, default_value = "http://127.0.0.1:8080/v2/balance")]
    pub url: String,
    /// Request body (sent as JSON).
    #[arg(long)]
    pub data: Option<String>,
    /// Print only the headers, one per line.
    #[arg(long)]
    pub headers_only: bool,
}

pub fn run(s: SignArgs) -> Result<(), String> {
    let secret = tambah_engine::auth::decode_secret(&s.secret)?;
    let method = s.method.to_ascii_uppercase();
    let query = s.url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let body = s.data.clone().unwrap_or_default();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs()
        .to_string();
    let nonce = tambah_engine::credentials::random_alnum(24);
    let canonical = signing::canonical(&timestamp, &nonce, &method, query, body.as_bytes());
    let signature = signing::sign(&secret, &canonical);
    let headers = [
        format!("X-Api-Key: {}", s.key),
        format!("X-Timestamp: {timestamp}"),
        format!("X-Nonce: {nonce}"),
        format!("X-Signature: {signature}"),
    ];
    if s.headers_only {
        for h in &headers {
            println!("{h}");
        }
        return Ok(());
    }
    let mut line = format!("curl -sS -X {method} '{}'", s.url);
    for h in &headers {
        line.push_str(&format!(" -H '{h}'"));
    }
    if s.data.is_some() {
        line.push_str(&format!(" -H 'Content-Type: application/json' --data-raw '{}'", body.replace('\'', "'\\''")));
    }
    println!("{line}");
    Ok(())
}
