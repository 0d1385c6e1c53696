//! Who made a request and from where: filled in by authentication, read by the audit trail;
//! and the address ranges allowed to read the metrics.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The authenticated (or attempted) actor of a request, stored in its extensions.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A username, or `admin:<name>` for the instance administrator.
    pub name: String,
    pub org: Option<String>,
}

/// The client's address as text (`unknown` when there is none), see [`client_ip`].
pub fn client_address(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> String {
    client_ip(req, trusted_proxies).map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

/// The client's address: the peer, or the last untrusted `X-Forwarded-For` hop when the peer
/// is a trusted reverse proxy.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    forwarded
        .split(',')
        .rev()
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .find(|hop| !trusted_proxies.contains(hop))
        .or(Some(peer))
}

/// An address or a network (`10.0.0.0/8`, `fd00::/8`) allowed to scrape.
#[derive(Debug, Clone, Copy)]
pub struct AddressRange {
    network: IpAddr,
    prefix: u8,
}

impl AddressRange {
    /// Parses `ADDRESS` or `ADDRESS/PREFIX`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(Self { network, prefix })
    }

    /// Whether `ip` is inside (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let whole = usize::from(prefix / 8);
    let rest = prefix % 8;
    a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
}

#[cfg(test)]
mod tests {
    use super::AddressRange;

    fn inside(range: &str, ip: &str) -> bool {
        AddressRange::parse(range)
            .expect("range")
            .contains(ip.parse().expect("ip"))
    }

    #[test]
    fn matches_addresses_and_networks() {
        assert!(inside("127.0.0.1", "127.0.0.1"));
        assert!(!inside("127.0.0.1", "127.0.0.2"));
        assert!(inside("10.0.0.0/8", "10.200.3.4"));
        assert!(!inside("10.0.0.0/8", "11.0.0.1"));
        assert!(inside("192.168.4.0/22", "192.168.7.255"));
        assert!(!inside("192.168.4.0/22", "192.168.8.0"));
        assert!(inside("0.0.0.0/0", "203.0.113.9"));
        assert!(inside("fd00::/8", "fd12::1"));
        assert!(inside("127.0.0.1", "::ffff:127.0.0.1"));
        assert!(!inside("::1", "127.0.0.1"));
    }

    #[test]
    fn refuses_what_is_not_a_range() {
        for bad in ["localhost", "10.0.0.0/33", "::/129", "10.0.0.0/x", ""] {
            assert!(AddressRange::parse(bad).is_err(), "{bad}");
        }
    }
}
