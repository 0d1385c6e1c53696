//! Who made a request and from where: filled in by authentication, read by the audit trail.

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
