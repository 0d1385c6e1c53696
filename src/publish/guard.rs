//! Which addresses an origin may have. An org's user chooses an origin's host, so without a
//! guard the appliance would connect wherever it is told: to its own loopback services or
//! to the private network around it. Internal addresses are refused unless the operator
//! allows them (`origins.allow_private`), checked on every resolved address, and redirects
//! are never followed.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::PublishError;

/// The operator's rule for the addresses of one kind of target (origins, build URLs).
#[derive(Debug, Clone, Copy)]
pub struct AddressPolicy {
    /// Allow loopback, private, link-local and other internal addresses (local S3 servers).
    pub allow_private: bool,
    /// What the targets are and the setting that allows internal addresses for them, named
    /// in refusals.
    pub target: &'static str,
    pub setting: &'static str,
}

impl AddressPolicy {
    /// The rule for deployment origins (`origins.allow_private`).
    pub fn for_origins(allow_private: bool) -> Self {
        Self {
            allow_private,
            target: "the origin's address",
            setting: "origins.allow_private",
        }
    }

    /// The rule for build URLs (`builds.allow_private_urls`).
    pub fn for_build_urls(allow_private: bool) -> Self {
        Self {
            allow_private,
            target: "the build URL's address",
            setting: "builds.allow_private_urls",
        }
    }
}

/// An address the policy refused; found again in a request error's source chain.
#[derive(Debug)]
pub struct AddressRefused {
    pub ip: IpAddr,
    pub kind: &'static str,
    policy: AddressPolicy,
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} is {}; the operator allows such addresses with {}",
            self.policy.target, self.ip, self.kind, self.policy.setting
        )
    }
}

impl StdError for AddressRefused {}

/// What kind of internal address `ip` is, if it is one.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                Some("a private address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || a == 0 {
                Some("not a unicast address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_kind(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback address")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a private address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("not a unicast address")
            } else {
                None
            }
        }
    }
}

impl AddressPolicy {
    /// Refuses an internal address unless allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), AddressRefused> {
        match internal_kind(ip) {
            Some(kind) if !self.allow_private => Err(AddressRefused {
                ip,
                kind,
                policy: *self,
            }),
            _ => Ok(()),
        }
    }

    /// Resolves an origin's host and refuses it when any of its addresses is refused.
    pub async fn admit(&self, host: &str, port: u16) -> Result<(), PublishError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.check(ip).map_err(PublishError::from);
        }
        let addresses = tokio::net::lookup_host((host, port)).await.map_err(|_| {
            PublishError::Unreachable(format!("the host name {host} does not resolve"))
        })?;
        for address in addresses {
            self.check(address.ip())?;
        }
        Ok(())
    }

    /// An HTTP client that connects only to admitted addresses and follows no redirect.
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client, PublishError> {
        reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(GuardedResolver { policy: *self }))
            .build()
            .map_err(|_| PublishError::Settings("cannot build an HTTP client".into()))
    }
}

/// Redirects a download follows at most.
const MAX_REDIRECTS: usize = 10;

impl AddressPolicy {
    /// An HTTP client for downloads from URLs an org's user gave: connects only to admitted
    /// addresses, also after a redirect (names through the guarded resolver, literal
    /// addresses checked here), follows at most ten redirects, and gives up when connecting
    /// or waiting for the next bytes takes too long.
    pub fn download_client(
        &self,
        connect: Duration,
        read: Duration,
    ) -> Result<reqwest::Client, PublishError> {
        let policy = *self;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(TooManyRedirects);
            }
            match policy.check_literal(attempt.url()) {
                Err(refused) => attempt.error(refused),
                Ok(()) => attempt.follow(),
            }
        });
        reqwest::Client::builder()
            .connect_timeout(connect)
            .read_timeout(read)
            .redirect(redirects)
            .dns_resolver(std::sync::Arc::new(GuardedResolver { policy: *self }))
            .build()
            .map_err(|_| PublishError::Settings("cannot build an HTTP client".into()))
    }

    /// Refuses a URL whose host is a literal address the policy refuses (names are checked
    /// when they resolve).
    pub fn check_literal(&self, url: &reqwest::Url) -> Result<(), AddressRefused> {
        let host = url.host_str().unwrap_or("");
        match host.trim_start_matches('[').trim_end_matches(']').parse() {
            Ok(ip) => self.check(ip),
            Err(_) => Ok(()),
        }
    }
}

/// A download that redirected more than [`MAX_REDIRECTS`] times.
#[derive(Debug)]
pub struct TooManyRedirects;

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {MAX_REDIRECTS} redirects")
    }
}

impl StdError for TooManyRedirects {}

impl From<AddressRefused> for PublishError {
    fn from(refused: AddressRefused) -> Self {
        PublishError::Forbidden(refused.to_string())
    }
}

/// Resolves with the system resolver and drops nothing: one refused address refuses the host,
/// so a name cannot smuggle an internal address in beside a public one.
struct GuardedResolver {
    policy: AddressPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            for address in &found {
                policy.check(address.ip())?;
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Says in words why a request failed, without naming crates or repeating answer bodies.
pub fn describe(error: &reqwest::Error) -> PublishError {
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<AddressRefused>() {
            return PublishError::Forbidden(refused.to_string());
        }
        source = cause.source();
    }
    if error.is_timeout() {
        PublishError::Unreachable("the origin did not answer in time".into())
    } else if error.is_connect() {
        PublishError::Unreachable(
            "cannot connect to the origin (refused, unreachable, or its name does not resolve)"
                .into(),
        )
    } else {
        PublishError::Unreachable("the request to the origin failed before an answer".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = internal.parse().expect("ip");
            assert!(internal_kind(ip).is_some(), "{internal}");
        }
        for public in ["93.184.216.34", "2606:4700::1111", "172.32.0.1"] {
            let ip: IpAddr = public.parse().expect("ip");
            assert_eq!(internal_kind(ip), None, "{public}");
        }
    }
}
