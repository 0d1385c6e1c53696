//! `GET /metrics`: the Prometheus exposition, for the addresses in `metrics.allow_from` or a
//! caller with the instance administrator's token.

use std::net::IpAddr;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};

use super::actor::client_ip;
use super::error::ApiError;
use super::extract::ADMIN_TOKEN_HEADER;
use super::state::AppState;
use crate::metrics;

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

/// The exposition, in the Prometheus text format.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let allowed = client_ip(&req, &state.trusted_proxies)
        .is_some_and(|ip| state.metrics_allow.iter().any(|range| range.contains(ip)));
    if !allowed {
        let token = admin_token(&req).ok_or_else(|| {
            ApiError::unauthorized(format!(
                "metrics are served to the addresses of metrics.allow_from, or with an admin token in {ADMIN_TOKEN_HEADER} or Authorization: Bearer"
            ))
        })?;
        state.admin.verify(token)?;
    }
    let census = state.tasks.census().await?;
    let build = [
        ("version", env!("CARGO_PKG_VERSION").to_string()),
        ("store_schema", crate::store::SCHEMA_VERSION.to_string()),
        (
            "image_format",
            crate::engine::IMAGE_FORMAT_VERSION.to_string(),
        ),
        (
            "patch_format",
            crate::engine::PATCH_FORMAT_VERSION.to_string(),
        ),
    ];
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render(&build, &census)))
}

/// The admin token of `x-rockit-admin-token`, or of `Authorization: Bearer` (what Prometheus
/// sends with `authorization.credentials`).
fn admin_token(req: &HttpRequest) -> Option<&str> {
    let headers = req.headers();
    if let Some(token) = headers.get(ADMIN_TOKEN_HEADER) {
        return token.to_str().ok();
    }
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
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
