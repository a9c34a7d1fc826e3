//! The SSRF guard of callback URLs: http(s) only, and (unless the operator
//! allows it) every address behind the name globally reachable. Checked when
//! a merchant sets the URL (here) and again before every send (the delivery
//! crate), which then connects to the very address checked.
//!
//! The refused addresses are built from IANA's registries:
//!
//! - the IPv4 Special-Purpose Address Registry,
//!   <https://www.iana.org/assignments/iana-ipv4-special-registry/>: every
//!   entry whose "Globally Reachable" is False or N/A, and the whole of
//!   192.0.0.0/24 (its two globally reachable anycast addresses serve
//!   protocols, not web hooks); multicast 224.0.0.0/4 (the IPv4 Multicast
//!   Address Space Registry) besides;
//! - the IPv6 Special-Purpose Address Registry,
//!   <https://www.iana.org/assignments/iana-ipv6-special-registry/>: likewise,
//!   with the whole of 2001::/23; and, from the IPv6 Address Space registry
//!   (<https://www.iana.org/assignments/ipv6-address-space/>), anything
//!   outside global unicast 2000::/3 (multicast, unique local, link local,
//!   unassigned space).
//!
//! The translation and transition prefixes (IPv4-mapped and -compatible,
//! NAT64's 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo
//! 2001::/32) are refused whole: what they reach is an IPv4 host behind a
//! gateway this node cannot see. The IPv4 address they embed is checked as
//! well, and named in the log.
//!
//! Whatever the reason, the caller is told one thing: the URL's host must
//! resolve to public addresses. What a name resolves to, or whether it
//! resolves at all, is logged for the operator and never answered.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub use url::Url;

/// The one answer for a callback URL refused for its host: it says nothing
/// of what the name resolves to.
pub const REFUSED_HOST: &str =
    "the callback URL's host must be a public internet name or address; this one is not accepted";

/// The longest callback URL accepted.
const MAX_URL_LEN: usize = 2048;

/// IPv4 Special-Purpose Address Registry entries not globally reachable
/// (plus multicast), as (network, prefix length, name).
const V4_REFUSED: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "\"this network\" (RFC 791)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private-use (RFC 1918)"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "shared address space (RFC 6598)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (RFC 1122)"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link local (RFC 3927)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private-use (RFC 1918)"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments, DS-Lite, NAT64 discovery (RFC 6890)"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation TEST-NET-1 (RFC 5737)"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast, deprecated (RFC 7526)"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private-use (RFC 1918)"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking (RFC 2544)"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation TEST-NET-2 (RFC 5737)"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation TEST-NET-3 (RFC 5737)"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (RFC 5771)"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved and limited broadcast (RFC 1112, RFC 919)"),
];

/// IPv6 Special-Purpose Address Registry entries not globally reachable,
/// the translation and transition prefixes, and IPv6 Address Space entries
/// outside global unicast worth naming; anything else outside 2000::/3 is
/// refused too.
const V6_REFUSED: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 128, "unspecified (RFC 4291)"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, "loopback (RFC 4291)"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, "IPv4-mapped (RFC 4291)"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, "IPv4-compatible, deprecated (RFC 4291)"),
    (Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96, "IPv4-translated (RFC 2765)"),
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, "IPv4-IPv6 translation, NAT64 (RFC 6052)"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "IPv4-IPv6 local-use translation (RFC 8215)"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "discard-only (RFC 6666)"),
    (Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0), 64, "dummy prefix (RFC 9780)"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, "Teredo (RFC 4380)"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignments (RFC 2928)"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation (RFC 3849)"),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, "6to4 (RFC 3056)"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation (RFC 9637)"),
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, "segment routing SIDs (RFC 9602)"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "unique local (RFC 4193)"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link local (RFC 4291)"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site local, deprecated (RFC 3879)"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast (RFC 4291)"),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn v4_refusal(ip: Ipv4Addr) -> Option<&'static str> {
    V4_REFUSED.iter().find(|(net, len, _)| in_v4(ip, *net, *len)).map(|(_, _, name)| *name)
}

/// The IPv4 addresses an IPv6 address embeds, by the form that embeds them.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let o = ip.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let within = |net: [u16; 3], len: u8| in_v6(ip, Ipv6Addr::new(net[0], net[1], net[2], 0, 0, 0, 0, 0), len);
    if in_v6(ip, Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96)
        || in_v6(ip, Ipv6Addr::UNSPECIFIED, 96)
        || in_v6(ip, Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96)
        || within([0x64, 0xff9b, 0], 96)
    {
        vec![last]
    } else if within([0x64, 0xff9b, 1], 48) {
        // RFC 6052 §2.2, a /48 prefix: 16 bits, the zero `u` octet, 16 bits.
        vec![Ipv4Addr::new(o[6], o[7], o[9], o[10])]
    } else if within([0x2002, 0, 0], 16) {
        vec![Ipv4Addr::new(o[2], o[3], o[4], o[5])]
    } else if within([0x2001, 0, 0], 32) {
        // Teredo: the server, and the client's mapped address (inverted).
        vec![Ipv4Addr::new(o[4], o[5], o[6], o[7]), Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15])]
    } else {
        Vec::new()
    }
}

/// Why a callback may not reach an address, or `None` when it may.
pub fn refusal(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => v4_refusal(v4).map(str::to_owned),
        IpAddr::V6(v6) => {
            let embedded = embedded_ipv4(v6).into_iter().find_map(|v4| Some((v4, v4_refusal(v4)?)));
            let prefix = V6_REFUSED.iter().find(|(net, len, _)| in_v6(v6, *net, *len)).map(|(_, _, name)| *name);
            match (prefix, embedded) {
                (Some(prefix), Some((v4, why))) => Some(format!("{prefix}, embedding {v4}: {why}")),
                (Some(prefix), None) => Some(prefix.to_owned()),
                (None, Some((v4, why))) => Some(format!("embedding {v4}: {why}")),
                (None, None) if !in_v6(v6, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) => {
                    Some("outside global unicast 2000::/3".to_owned())
                }
                (None, None) => None,
            }
        }
    }
}

/// Whether an address is one a callback may not reach (SSRF guard).
pub fn is_refused(ip: IpAddr) -> bool {
    refusal(ip).is_some()
}

/// Checks a callback URL: http(s), a host, and (unless allowed) only
/// globally reachable addresses behind the name. Returns the resolved
/// addresses. A refusal for the host is always [`REFUSED_HOST`]; the detail
/// goes to the log.
pub async fn check_url(url: &str, allow_private: bool) -> Result<(Url, Vec<SocketAddr>), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("the callback URL is longer than {MAX_URL_LEN} characters"));
    }
    let parsed = Url::parse(url).map_err(|_| "the callback URL is not a valid absolute URL".to_owned())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("only http and https callback URLs are accepted".into());
    }
    let host = parsed.host_str().ok_or_else(|| "the callback URL has no host".to_owned())?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host_for_lookup = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host_for_lookup.as_str(), port)).await {
        Ok(found) => found.collect(),
        Err(e) => {
            tracing::info!(%host, error = %e, "callback URL refused: the name does not resolve");
            return Err(REFUSED_HOST.into());
        }
    };
    if addrs.is_empty() {
        tracing::info!(%host, "callback URL refused: the name resolves to no address");
        return Err(REFUSED_HOST.into());
    }
    if !allow_private {
        if let Some((addr, why)) = addrs.iter().find_map(|a| Some((a.ip(), refusal(a.ip())?))) {
            tracing::info!(%host, %addr, reason = %why, "callback URL refused: not a globally reachable address");
            return Err(REFUSED_HOST.into());
        }
    }
    Ok((parsed, addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        is_refused(text.parse().unwrap())
    }

    #[test]
    fn every_ipv4_special_purpose_range_is_refused_at_both_ends() {
        for (net, len, name) in V4_REFUSED {
            let first = u32::from(*net);
            let last = first | u32::MAX.checked_shr(u32::from(*len)).unwrap_or(0);
            for ip in [first, last] {
                assert!(is_refused(IpAddr::V4(ip.into())), "{} in {name}", Ipv4Addr::from(ip));
            }
        }
        for ip in [
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.9",
            "192.0.0.170",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "0.1.2.3",
            "192.88.99.1",
        ] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn public_ipv4_addresses_pass() {
        for ip in
            ["8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "198.17.255.255", "198.20.0.0", "223.255.255.254"]
        {
            assert!(!refused(ip), "{ip}");
        }
        // Globally reachable entries of the registry (AS112, AMT).
        for ip in ["192.31.196.1", "192.52.193.1", "192.175.48.1"] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_translation_and_transition_prefixes_are_refused() {
        for ip in [
            "64:ff9b::7f00:1",
            "64:ff9b::808:808", // NAT64 of a public address: the gateway is ours to fear
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2002:808:808::1", // 6to4 of a public address
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:0:a00:1",
            "::",
            "::1",
        ] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn other_ipv6_special_ranges_are_refused() {
        for ip in [
            "100::1",
            "100:0:0:1::1",
            "2001:2::1",
            "2001:db8::1",
            "2001:10::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "4000::1",
            "1::1",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in ["2606:4700::1111", "2a00:1450:4001::200e", "2620:4f:8000::1"] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn the_embedded_ipv4_address_is_read_from_each_form() {
        let v4 = |s: &str| embedded_ipv4(s.parse().unwrap());
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(v4("::ffff:10.1.2.3"), [ip("10.1.2.3")]);
        assert_eq!(v4("64:ff9b::a01:203"), [ip("10.1.2.3")]);
        assert_eq!(v4("64:ff9b:1:a01:2:300::"), [ip("10.1.2.3")]);
        assert_eq!(v4("2002:a01:203::1"), [ip("10.1.2.3")]);
        // The usual example: server 65.54.227.120, client 192.0.2.45.
        assert_eq!(v4("2001:0:4136:e378:8000:63bf:3fff:fdd2"), [ip("65.54.227.120"), ip("192.0.2.45")]);
        assert!(v4("2606:4700::1111").is_empty());
        let why = refusal("64:ff9b::7f00:1".parse().unwrap()).unwrap();
        assert!(why.contains("127.0.0.1") && why.contains("loopback"), "{why}");
    }

    #[tokio::test]
    async fn every_refusal_for_the_host_reads_the_same() {
        for url in ["http://127.0.0.1/x", "http://localhost:9/x", "http://[64:ff9b::a00:1]/x", "http://10.0.0.1/"] {
            assert_eq!(check_url(url, false).await.unwrap_err(), REFUSED_HOST, "{url}");
        }
        assert!(check_url("http://127.0.0.1/x", true).await.is_ok());
        assert!(check_url("ftp://example.my/x", false).await.unwrap_err().contains("http"));
    }
}
