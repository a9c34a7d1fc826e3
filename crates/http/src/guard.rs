//! The SSRF guard of callback URLs: http(s) only, and (unless the operator
//! allows it) no loopback, private or link-local address behind the name.
//! Checked when a merchant sets the URL (here) and again before every send
//! (the delivery crate), which then connects to the very address checked.

use std::net::{IpAddr, SocketAddr};

pub use url::Url;

/// Whether an address is one a callback may not reach (SSRF guard).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // 100.64.0.0/10
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Checks a callback URL: http(s), a host, and (unless allowed) no private
/// address behind the name. Returns the resolved addresses.
pub async fn check_url(url: &str, allow_private: bool) -> Result<(Url, Vec<SocketAddr>), String> {
    let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?}: only http and https callbacks are sent"));
    }
    if url.len() > 2048 {
        return Err("the callback URL is longer than 2048 characters".into());
    }
    let host = parsed.host_str().ok_or_else(|| format!("{url:?} has no host"))?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host_for_lookup = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host_for_lookup.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| is_private(a.ip())) {
            return Err(format!(
                "{host} resolves to {}, a loopback, private or link-local address; callbacks are not sent there \
                 (the operator may allow it with TAMBAH_CALLBACK_ALLOW_PRIVATE_NETWORKS=true)",
                bad.ip()
            ));
        }
    }
    Ok((parsed, addrs))
}
