//! Launcher download URLs on a deployment's CDN, signed the way its `dlAuth` says (API.md §4,
//! §5): the Gcore secure token (`md5`, `expires`, optionally bound to the client's address) or
//! Akamai token auth 2.0 (`hdnts=exp=…~acl=…~hmac=…`, the ACL covering the file's directory).

use std::net::IpAddr;

use hmac::Mac;

use super::PublishError;
use super::signing::gcore_query;
use crate::auth::jwt;
use crate::auth::sealing::Sealer;
use crate::store::DlAuthSettings;

/// Lifetime of CDN URLs when the deployment sets none.
pub const DEFAULT_TTL_SECS: u64 = 3600;

/// How one deployment's CDN URLs are made; secrets opened.
pub enum CdnSigner {
    Gcore {
        base_url: String,
        token: String,
        /// `bucket/prefix/` as the CDN's path puts them before the layout path.
        path_prefix: String,
        client_ip: bool,
        ttl: u64,
    },
    Akamai {
        base_url: String,
        key: Vec<u8>,
        ttl: u64,
    },
}

/// The path part of a URL, without a trailing `/` (empty for a bare host).
fn url_path(base_url: &str) -> &str {
    let after_scheme = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("", |slash| &after_scheme[slash..])
        .trim_end_matches('/')
}

/// The Akamai token auth 2.0 token for `acl` until `expires`: `exp=…~acl=…~hmac=…`, the HMAC
/// (SHA-256, hex) keyed with `key` over the fields before it.
pub fn akamai_token(acl: &str, expires: i64, key: &[u8]) -> String {
    let fields = format!("exp={expires}~acl={acl}");
    let mut mac = jwt::mac(key);
    mac.update(fields.as_bytes());
    format!("{fields}~hmac={}", hex::encode(mac.finalize().into_bytes()))
}

impl CdnSigner {
    /// The signer of stored `dlAuth` settings.
    pub fn open(settings: &DlAuthSettings, sealer: &Sealer) -> Result<Self, PublishError> {
        let open = |sealed: &str| {
            sealer
                .open(sealed)
                .map_err(|e| PublishError::Settings(e.to_string()))
        };
        Ok(match settings {
            DlAuthSettings::Gcore {
                base_url,
                secure_token_sealed,
                bucket,
                prefix,
                client_ip,
                ttl,
            } => CdnSigner::Gcore {
                base_url: base_url.trim_end_matches('/').to_string(),
                token: open(secure_token_sealed)?,
                path_prefix: [bucket.as_deref(), prefix.as_deref()]
                    .into_iter()
                    .flatten()
                    .map(|part| part.trim_matches('/'))
                    .filter(|part| !part.is_empty())
                    .fold(String::new(), |path, part| format!("{path}{part}/")),
                client_ip: client_ip.unwrap_or(false),
                ttl: ttl.unwrap_or(DEFAULT_TTL_SECS),
            },
            DlAuthSettings::Akamai {
                base_url,
                key_sealed,
                ttl,
            } => CdnSigner::Akamai {
                base_url: base_url.trim_end_matches('/').to_string(),
                key: hex::decode(open(key_sealed)?)
                    .map_err(|_| PublishError::Settings("the Akamai key is not hex".into()))?,
                ttl: ttl.unwrap_or(DEFAULT_TTL_SECS),
            },
        })
    }

    /// How long its URLs are valid, in seconds.
    pub fn ttl(&self) -> u64 {
        match self {
            CdnSigner::Gcore { ttl, .. } | CdnSigner::Akamai { ttl, .. } => *ttl,
        }
    }

    /// The URL of file `name` in the layout directory `dir`, valid until `expires`; bound to
    /// `client` where the deployment asks for it (Gcore with `clientIp`).
    pub fn url(&self, dir: &str, name: &str, expires: i64, client: Option<IpAddr>) -> String {
        match self {
            CdnSigner::Gcore {
                base_url,
                token,
                path_prefix,
                client_ip,
                ..
            } => {
                let url = format!("{base_url}/{path_prefix}{dir}/{name}");
                let mut path = format!("{}/{path_prefix}{dir}/{name}", url_path(base_url));
                if *client_ip {
                    path.push_str(&client.map(|ip| ip.to_string()).unwrap_or_default());
                }
                format!("{url}?{}", gcore_query(&path, expires, token))
            }
            CdnSigner::Akamai { base_url, key, .. } => {
                let acl = format!("{}/{dir}/*", url_path(base_url));
                let token = akamai_token(&acl, expires, key);
                format!("{base_url}/{dir}/{name}?hdnts={token}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_cdn_formulas() {
        let gcore = CdnSigner::Gcore {
            base_url: "https://cdn.example.com".into(),
            token: "s3cret".into(),
            path_prefix: "edge/games/".into(),
            client_ip: false,
            ttl: 60,
        };
        let url = gcore.url("dxf/a/b/0001/x", "img.dxf", 1_700_000_000, None);
        let path = "/edge/games/dxf/a/b/0001/x/img.dxf";
        assert_eq!(
            url,
            format!(
                "https://cdn.example.com{path}?{}",
                gcore_query(path, 1_700_000_000, "s3cret")
            )
        );
        let akamai = CdnSigner::Akamai {
            base_url: "https://cdn.example.com/v".into(),
            key: vec![0xab; 16],
            ttl: 60,
        };
        let url = akamai.url("dxf/a/b/0001/x", "img.dxf", 1_700_000_000, None);
        assert!(
            url.starts_with(
                "https://cdn.example.com/v/dxf/a/b/0001/x/img.dxf?hdnts=exp=1700000000~acl=/v/dxf/a/b/0001/x/*~hmac="
            ),
            "{url}"
        );
        assert_eq!(url_path("https://h"), "");
        assert_eq!(url_path("https://h/a/b/"), "/a/b");
    }
}
