//! Network and URI rules, one set for every host: URIs are parsed by the WHATWG URL parser of
//! the `url` crate (the parser `fetch` and reqwest use, so a check sees the host a request
//! goes to: `http://2130706433/` and `http://0x7f.1/` are 127.0.0.1 here too), and the SSRF
//! guard admits only globally reachable addresses ([`is_global`]).
//!
//! - [`HttpUri`]: an absolute http(s) URI and what the rules ask of its host.
//! - [`is_global`]: the guard's allow-list, for literals and for resolved addresses alike.
//! - [`check_target`]: a back-channel delivery's URI, checked before anything is sent.

use alloc::string::{String, ToString};
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use url::{Host, Url};

/// An absolute `http` or `https` URI, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUri {
    url: Url,
    host: Host,
}

/// Why a URI is not an absolute http(s) URI.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// The URL parser refused it.
    Invalid(url::ParseError),
    /// It parses, but its scheme is not http or https.
    NotHttp,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "the URI is not valid ({e})"),
            Self::NotHttp => f.write_str("the URI is not an absolute http(s) URI"),
        }
    }
}

impl HttpUri {
    /// Parse `uri` as `fetch` would, and keep it when it is http(s). Numeric IPv4 spellings
    /// (`0x7f.1`, `2130706433`, `0177.0.0.1`) come out as the address they mean, names in
    /// lower case (IDNA-mapped).
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let url = Url::parse(uri).map_err(UriError::Invalid)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UriError::NotHttp);
        }
        // http and https are special schemes: the parser refuses them without a host.
        let host = url.host().ok_or(UriError::NotHttp)?.to_owned();
        Ok(Self { url, host })
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The host: an IPv4 or IPv6 address, or a domain name.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The parsed URL, for a client to send to.
    pub fn into_url(self) -> Url {
        self.url
    }

    /// Whether the host is a loopback IP literal, 127.0.0.0/8 or `[::1]`: where RFC 8252 §7.3
    /// lets a native app's redirect URI use plain http. The name `localhost` is not one (§8.3:
    /// NOT RECOMMENDED; it may resolve elsewhere).
    pub fn is_loopback_literal(&self) -> bool {
        match self.host {
            Host::Ipv4(a) => a.is_loopback(),
            Host::Ipv6(a) => a == Ipv6Addr::LOCALHOST,
            Host::Domain(_) => false,
        }
    }

    /// The SSRF guard's test on the host, for realms that do not allow private URIs: an
    /// address must be globally reachable ([`is_global`]); a name must not be `localhost` or
    /// end in `.localhost` (RFC 6761 §6.3). Other names pass here: what they resolve to is
    /// checked where the host can resolve them (natively, at delivery).
    pub fn is_public(&self) -> bool {
        match &self.host {
            Host::Ipv4(a) => is_global(IpAddr::V4(*a)),
            Host::Ipv6(a) => is_global(IpAddr::V6(*a)),
            Host::Domain(name) => !is_loopback_name(name),
        }
    }

    /// The host as the audit trail writes it: an address without brackets, or the name.
    fn host_text(&self) -> String {
        match &self.host {
            Host::Ipv4(a) => a.to_string(),
            Host::Ipv6(a) => a.to_string(),
            Host::Domain(name) => name.clone(),
        }
    }
}

/// `localhost`, `*.localhost`, with or without the root's dot (names come lower-cased from the
/// parser).
fn is_loopback_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name == "localhost" || name.ends_with(".localhost")
}

/// Why a delivery is not sent, in the words of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetError {
    /// The URI is not an absolute http(s) URI.
    Uri(UriError),
    /// The URI's host is not public ([`HttpUri::is_public`]); the host as written.
    NotPublic(String),
    /// The URI's host name resolves to an address that is not globally reachable
    /// ([`check_resolved`]).
    ResolvesTo {
        /// The name.
        host: String,
        /// The address refused.
        ip: IpAddr,
    },
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uri(e) => e.fmt(f),
            Self::NotPublic(host) => write!(
                f,
                "refused by the SSRF guard: {host} is a loopback or private address"
            ),
            Self::ResolvesTo { host, ip } => {
                write!(f, "refused by the SSRF guard: {host} resolves to {ip}")
            }
        }
    }
}

/// Check a back-channel delivery's URI before anything is sent: it must be absolute http(s),
/// and, unless the realm allows private URIs, its host public ([`HttpUri::is_public`]). A host
/// that can resolve names checks every address with [`is_global`] as well. Returns the URL to
/// send to.
pub fn check_target(uri: &str, allow_private: bool) -> Result<Url, TargetError> {
    let uri = HttpUri::parse(uri).map_err(TargetError::Uri)?;
    if !allow_private && !uri.is_public() {
        return Err(TargetError::NotPublic(uri.host_text()));
    }
    Ok(uri.into_url())
}

/// The guard's second half, for a host that resolves names itself: every address `host`
/// resolves to must be globally reachable ([`is_global`]) unless private ones are allowed.
pub fn check_resolved(
    host: &str,
    ips: impl IntoIterator<Item = IpAddr>,
    allow_private: bool,
) -> Result<(), TargetError> {
    if allow_private {
        return Ok(());
    }
    match ips.into_iter().find(|ip| !is_global(*ip)) {
        Some(ip) => Err(TargetError::ResolvesTo {
            host: host.to_string(),
            ip,
        }),
        None => Ok(()),
    }
}

/// Whether `ip` is a globally reachable unicast address: the SSRF guard's allow-list.
///
/// IPv4: every address except the blocks the IANA IPv4 Special-Purpose Address Registry
/// (RFC 6890 and updates) marks not globally reachable, multicast and 240.0.0.0/4 (see
/// `V4_NOT_GLOBAL`). 192.0.0.0/24 is refused whole, its two anycast exceptions included.
///
/// IPv6: only global unicast, 2000::/3, which leaves out `::`, `::1`, 100::/64, 64:ff9b:1::/48
/// (local-use translation, not globally reachable; where the IPv4 address sits depends on a
/// prefix length the operator chose, so it is refused outright), fc00::/7, fe80::/10,
/// fec0::/10 and ff00::/8; and within it not 2001::/23 (IETF protocol assignments, refused
/// whole: benchmarking, ORCHID, a few anycast services that are no place for a relying party,
/// and Teredo 2001::/32, refused outright rather than judged by the IPv4 client address it
/// carries, since the traffic goes through a relay the guard cannot see), 2001:db8::/32 or
/// 3fff::/20 (documentation). Addresses that carry an IPv4 address are judged by the IPv4
/// rules: IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96) and
/// 6to4 (2002::/16).
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_global_v4(a),
        IpAddr::V6(a) => match embedded_ipv4(a) {
            Some(v4) => is_global_v4(v4),
            None => {
                within_v6(a, V6_GLOBAL_UNICAST) && !V6_NOT_GLOBAL.iter().any(|&b| within_v6(a, b))
            }
        },
    }
}

/// IPv4 blocks that are not globally reachable unicast.
const V4_NOT_GLOBAL: [(Ipv4Addr, u8); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8), // "this network" (RFC 791); 0.0.0.0 is local
    (Ipv4Addr::new(10, 0, 0, 0), 8), // private (RFC 1918)
    (Ipv4Addr::new(100, 64, 0, 0), 10), // shared address space, carrier-grade NAT (RFC 6598)
    (Ipv4Addr::new(127, 0, 0, 0), 8), // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16), // link local, where cloud metadata services answer
    (Ipv4Addr::new(172, 16, 0, 0), 12), // private
    (Ipv4Addr::new(192, 0, 0, 0), 24), // IETF protocol assignments (RFC 6890)
    (Ipv4Addr::new(192, 0, 2, 0), 24), // documentation, TEST-NET-1 (RFC 5737)
    (Ipv4Addr::new(192, 88, 99, 0), 24), // 6to4 relay anycast, deprecated (RFC 7526)
    (Ipv4Addr::new(192, 168, 0, 0), 16), // private
    (Ipv4Addr::new(198, 18, 0, 0), 15), // benchmarking (RFC 2544)
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation, TEST-NET-2
    (Ipv4Addr::new(203, 0, 113, 0), 24), // documentation, TEST-NET-3
    (Ipv4Addr::new(224, 0, 0, 0), 4), // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4), // reserved (RFC 1112), and the broadcast address
];

/// Global unicast (the IANA IPv6 Address Space registry).
const V6_GLOBAL_UNICAST: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

/// Blocks of global unicast that are not globally reachable.
const V6_NOT_GLOBAL: [(Ipv6Addr, u8); 3] = [
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments, Teredo
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation (RFC 3849)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation (RFC 9637)
];

/// Where an IPv6 address carries an IPv4 address in its last 32 bits.
const V6_LAST_32_IS_IPV4: [(Ipv6Addr, u8); 3] = [
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96), // IPv4-mapped (RFC 4291 §2.5.5.2)
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96),      // IPv4-compatible, deprecated (§2.5.5.1)
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96), // NAT64 well-known prefix (RFC 6052)
];

/// 6to4 (RFC 3056): the IPv4 address is bits 16 to 47.
const V6_SIX_TO_FOUR: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);

/// The IPv4 address an IPv6 address stands for, where the address format says so.
fn embedded_ipv4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = a.to_bits();
    // Truncating casts: they keep exactly the 32 bits that hold the IPv4 address.
    if V6_LAST_32_IS_IPV4.iter().any(|&b| within_v6(a, b)) {
        Some(Ipv4Addr::from_bits(bits as u32))
    } else if within_v6(a, V6_SIX_TO_FOUR) {
        Some(Ipv4Addr::from_bits((bits >> 80) as u32))
    } else {
        None
    }
}

fn is_global_v4(a: Ipv4Addr) -> bool {
    !V4_NOT_GLOBAL.iter().any(|&(net, len)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        a.to_bits() & mask == net.to_bits()
    })
}

fn within_v6(a: Ipv6Addr, (net, len): (Ipv6Addr, u8)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    a.to_bits() & mask == net.to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> bool {
        is_global(IpAddr::V4(s.parse().unwrap()))
    }

    fn v6(s: &str) -> bool {
        is_global(IpAddr::V6(s.parse().unwrap()))
    }

    /// Every IPv4 block refused, by its first and last address, and the addresses just
    /// outside it accepted.
    #[test]
    fn ipv4_special_purpose_blocks_are_not_global() {
        for (first, last, before, after) in [
            ("0.0.0.0", "0.255.255.255", None, Some("1.0.0.0")),
            (
                "10.0.0.0",
                "10.255.255.255",
                Some("9.255.255.255"),
                Some("11.0.0.0"),
            ),
            (
                "100.64.0.0",
                "100.127.255.255",
                Some("100.63.255.255"),
                Some("100.128.0.0"),
            ),
            (
                "127.0.0.0",
                "127.255.255.255",
                Some("126.255.255.255"),
                Some("128.0.0.0"),
            ),
            (
                "169.254.0.0",
                "169.254.255.255",
                Some("169.253.255.255"),
                Some("169.255.0.0"),
            ),
            (
                "172.16.0.0",
                "172.31.255.255",
                Some("172.15.255.255"),
                Some("172.32.0.0"),
            ),
            (
                "192.0.0.0",
                "192.0.0.255",
                Some("191.255.255.255"),
                Some("192.0.1.0"),
            ),
            (
                "192.0.2.0",
                "192.0.2.255",
                Some("192.0.1.255"),
                Some("192.0.3.0"),
            ),
            (
                "192.88.99.0",
                "192.88.99.255",
                Some("192.88.98.255"),
                Some("192.88.100.0"),
            ),
            (
                "192.168.0.0",
                "192.168.255.255",
                Some("192.167.255.255"),
                Some("192.169.0.0"),
            ),
            (
                "198.18.0.0",
                "198.19.255.255",
                Some("198.17.255.255"),
                Some("198.20.0.0"),
            ),
            (
                "198.51.100.0",
                "198.51.100.255",
                Some("198.51.99.255"),
                Some("198.51.101.0"),
            ),
            (
                "203.0.113.0",
                "203.0.113.255",
                Some("203.0.112.255"),
                Some("203.0.114.0"),
            ),
            (
                "224.0.0.0",
                "239.255.255.255",
                Some("223.255.255.255"),
                None,
            ),
            ("240.0.0.0", "255.255.255.255", None, None),
        ] {
            assert!(!v4(first), "{first}");
            assert!(!v4(last), "{last}");
            for outside in [before, after].into_iter().flatten() {
                assert!(v4(outside), "{outside}, next to {first}");
            }
        }
        // The two anycast services of 192.0.0.0/24 are refused with the rest of it.
        assert!(!v4("192.0.0.9") && !v4("192.0.0.10"));
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "192.31.196.1",
            "223.0.0.1",
        ] {
            assert!(v4(public), "{public}");
        }
    }

    #[test]
    fn ipv6_outside_global_unicast_and_its_special_blocks_are_not_global() {
        for (inside, outside) in [
            ("::", None),
            ("::1", None),
            ("100::", None),
            ("100::ffff:ffff:ffff:ffff", None),
            ("64:ff9b:1::", None),
            ("64:ff9b:1:ffff:ffff:ffff:808:808", None),
            ("5f00::1", None),
            ("fc00::1", None),
            ("fdff:ffff::1", None),
            ("fe80::1", None),
            ("febf:ffff::1", None),
            ("fec0::1", None),
            ("ff02::1", None),
            ("ff0e::1", None),
            ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("4000::1", None),
            // Teredo, whatever client address it carries (here the complement of 8.8.8.8).
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", Some("2001:200::1")),
            ("2001:1ff:ffff:ffff::1", Some("2001:200::")),
            ("2001:2::1", None),
            ("2001:db8::1", Some("2001:db9::")),
            (
                "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("2001:db7:ffff::"),
            ),
            ("3fff::1", Some("3ffe:ffff::")),
            ("3fff:0fff:ffff::1", Some("3fff:1000::")),
        ] {
            assert!(!v6(inside), "{inside}");
            if let Some(outside) = outside {
                assert!(v6(outside), "{outside}, next to {inside}");
            }
        }
        for public in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2000::1",
        ] {
            assert!(v6(public), "{public}");
        }
    }

    #[test]
    fn ipv6_carrying_ipv4_is_judged_by_the_ipv4_rules() {
        for (private, public) in [
            ("::ffff:127.0.0.1", "::ffff:8.8.8.8"),
            ("::ffff:10.0.0.1", "::ffff:1.1.1.1"),
            ("::ffff:100.64.0.1", "::ffff:100.128.0.1"),
            ("::10.0.0.1", "::8.8.8.8"),
            ("::0.0.0.1", "::1.0.0.1"),
            ("64:ff9b::a00:1", "64:ff9b::808:808"),
            ("64:ff9b::169.254.169.254", "64:ff9b::1.1.1.1"),
            ("2002:7f00:1::", "2002:808:808::"),
            ("2002:c0a8:101::1", "2002:101:101::1"),
            ("2002:a9fe:a9fe:1:2:3:4:5", "2002:5db8:d70e:1:2:3:4:5"),
        ] {
            assert!(!v6(private), "{private}");
            assert!(v6(public), "{public}");
        }
    }

    fn host_of(uri: &str) -> String {
        HttpUri::parse(uri).unwrap().host_text()
    }

    #[test]
    fn numeric_ipv4_spellings_are_the_address_they_mean() {
        for (uri, ip) in [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://127.0.0.1./", "127.0.0.1"),
            ("http://0x0a.0.0.1/", "10.0.0.1"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[64:ff9b::a00:1]/", "64:ff9b::a00:1"),
            ("http://[2002:7f00:1::]/", "2002:7f00:1::"),
            ("http://LOCALHOST./", "localhost."),
        ] {
            assert_eq!(host_of(uri), ip, "{uri}");
            assert_eq!(
                check_target(uri, false),
                Err(TargetError::NotPublic(ip.into())),
                "{uri}"
            );
            assert!(check_target(uri, true).is_ok(), "{uri}");
        }
        // A name that merely starts like an address is a name.
        assert_eq!(host_of("http://127.evil.example/"), "127.evil.example");
    }

    #[test]
    fn delivery_targets_need_a_public_host_unless_the_realm_allows_private_ones() {
        for uri in [
            "http://127.0.0.1:8080/bc",
            "http://[::1]/bc",
            "http://10.0.0.5/bc",
            "http://100.64.0.1/bc",
            "http://198.18.0.1/bc",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:192.168.1.1]/bc",
            "http://[fd00::1]/bc",
            "http://[2001:db8::1]/bc",
            "http://localhost/bc",
            "https://rp.localhost/bc",
        ] {
            let err = check_target(uri, false).unwrap_err().to_string();
            assert!(
                err.starts_with("refused by the SSRF guard: "),
                "{uri}: {err}"
            );
            assert!(check_target(uri, true).is_ok(), "{uri}");
        }
        assert_eq!(
            check_target("http://10.0.0.5/bc", false)
                .unwrap_err()
                .to_string(),
            "refused by the SSRF guard: 10.0.0.5 is a loopback or private address"
        );
        assert_eq!(
            check_target("http://[::1]/bc", false)
                .unwrap_err()
                .to_string(),
            "refused by the SSRF guard: ::1 is a loopback or private address"
        );
        for uri in [
            "https://rp.example/bc",
            "https://93.184.215.14/bc",
            "http://[2606:4700::1]/",
        ] {
            assert_eq!(
                check_target(uri, false).map(String::from),
                Ok(Url::parse(uri).unwrap().into())
            );
        }
        assert_eq!(
            check_target("ftp://rp.example/bc", true)
                .unwrap_err()
                .to_string(),
            "the URI is not an absolute http(s) URI"
        );
        assert_eq!(
            check_target("rp/bc", true).unwrap_err().to_string(),
            "the URI is not valid (relative URL without a base)"
        );
    }

    #[test]
    fn only_loopback_literals_are_loopback_literals() {
        for (uri, loopback) in [
            ("http://127.0.0.1:8080/cb", true),
            ("http://127.255.0.1/cb", true),
            ("http://[::1]:8080/cb", true),
            ("http://0x7f.1/cb", true),
            ("http://localhost/cb", false),
            ("http://app.localhost/cb", false),
            ("http://127.evil.example/cb", false),
            ("http://[::ffff:127.0.0.1]/cb", false),
            ("http://10.0.0.1/cb", false),
        ] {
            assert_eq!(
                HttpUri::parse(uri).unwrap().is_loopback_literal(),
                loopback,
                "{uri}"
            );
        }
    }
}
