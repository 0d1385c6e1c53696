//! TLS: a local CA and a leaf certificate generated on first start, or the operator's own
//! certificate; served through a resolver whose key can be swapped while the server runs.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use time::{Duration as TimeDuration, OffsetDateTime};

use crate::config::TlsConfig;
use crate::datadir::{DataDir, write_atomic};

/// Why TLS material could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path} holds no usable PEM {what}")]
    Pem { path: PathBuf, what: &'static str },
    #[error("certificate {cert} and key {key} do not form a usable pair: {message}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
}

/// Where the served certificate and key live; `self_signed` when generated here (and then
/// renewed here too).
#[derive(Debug, Clone)]
pub struct CertSource {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub self_signed: Option<SelfSigned>,
}

impl CertSource {
    /// The operator's files when configured, else the generated ones (created or renewed when
    /// due).
    pub fn prepare(
        config: &TlsConfig,
        data_dir: &DataDir,
        public_names: &[String],
    ) -> Result<CertSource, TlsError> {
        if let (Some(cert), Some(key)) = (&config.cert_file, &config.key_file) {
            return Ok(CertSource {
                cert: cert.clone(),
                key: key.clone(),
                self_signed: None,
            });
        }
        let generated = SelfSigned {
            dir: data_dir.tls(),
            names: subject_alt_names(public_names),
            leaf_days: i64::from(config.self_signed_days),
            renew_days_before: i64::from(config.renew_days_before),
        };
        generated.ensure()?;
        if !generated.dir.join("ca.names").exists() {
            tracing::warn!(dir = %generated.dir.display(), "the local CA predates name constraints and may sign any name; rotate it (docs/OPERATIONS.md, TLS)");
        }
        Ok(CertSource {
            cert: generated.cert(),
            key: generated.key(),
            self_signed: Some(generated),
        })
    }

    /// Modification times of both files, to notice replacements.
    pub fn stamp(&self) -> Option<(SystemTime, SystemTime)> {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        Some((modified(&self.cert)?, modified(&self.key)?))
    }
}

/// The names every generated certificate carries, plus the configured public names.
fn subject_alt_names(public_names: &[String]) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    // uname, not /proc/sys/kernel/hostname: the unit's ProcSubset=pid hides /proc/sys.
    let host = rustix::system::uname();
    names.push(host.nodename().to_string_lossy().trim().to_string());
    names.extend(public_names.iter().map(|n| n.trim().to_string()));
    names.retain(|n| !n.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// How long the local CA is valid.
const CA_DAYS: i64 = 3650;

/// What the leaf was issued for, kept beside it to decide when to re-issue.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct LeafFacts {
    names: Vec<String>,
    /// Unix seconds.
    not_after: i64,
}

/// The generated TLS material of a data dir: a local CA that may sign only the appliance's
/// own names, and a short-lived leaf signed by it.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    dir: PathBuf,
    names: Vec<String>,
    leaf_days: i64,
    renew_days_before: i64,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + use<> {
    let path = path.to_path_buf();
    move |source| TlsError::Io { path, source }
}

/// The name-constraint subtree of one certificate name.
fn subtree(name: &str) -> GeneralSubtree {
    match name.parse::<IpAddr>() {
        Ok(ip @ IpAddr::V4(_)) => GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(ip, 32)),
        Ok(ip @ IpAddr::V6(_)) => GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(ip, 128)),
        Err(_) => GeneralSubtree::DnsName(name.to_string()),
    }
}

/// `days` from now (and an hour back for `not_before`, against clock skew).
fn validity(days: i64) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - TimeDuration::hours(1), now + TimeDuration::days(days))
}

impl SelfSigned {
    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    fn ca_params(&self, names: &[String]) -> Result<CertificateParams, TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "rockit-edge local CA");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: names.iter().map(|n| subtree(n)).collect(),
            excluded_subtrees: Vec::new(),
        });
        (params.not_before, params.not_after) = validity(CA_DAYS);
        Ok(params)
    }

    /// Creates the CA when missing (or when it may not sign a wanted name: a new CA then, which
    /// clients must trust anew), and issues the leaf when missing, when the names changed, or
    /// when it expires within `renew_days_before`. True when a new leaf was written.
    pub fn ensure(&self) -> Result<bool, TlsError> {
        let (ca_cert, ca_key_file, ca_names_file) = (
            self.dir.join("ca.pem"),
            self.dir.join("ca.key"),
            self.dir.join("ca.names"),
        );
        let ca_names: Option<Vec<String>> = std::fs::read_to_string(&ca_names_file)
            .ok()
            .map(|text| text.lines().map(str::to_string).collect());
        let uncovered = ca_names
            .as_ref()
            .is_some_and(|allowed| self.names.iter().any(|n| !allowed.contains(n)));
        let mut new_ca = false;
        if !ca_cert.exists() || !ca_key_file.exists() || uncovered {
            if uncovered {
                tracing::warn!(names = ?self.names, "the local CA may not sign every configured name: a new CA is created, clients must trust the new tls/ca.pem");
            }
            let ca_key = KeyPair::generate()?;
            let ca = self.ca_params(&self.names)?.self_signed(&ca_key)?;
            write_atomic(&ca_key_file, ca_key.serialize_pem().as_bytes(), 0o600)
                .map_err(io_error(&ca_key_file))?;
            write_atomic(&ca_cert, ca.pem().as_bytes(), 0o644).map_err(io_error(&ca_cert))?;
            write_atomic(&ca_names_file, self.names.join("\n").as_bytes(), 0o644)
                .map_err(io_error(&ca_names_file))?;
            tracing::info!(ca = %ca_cert.display(), "generated local certificate authority");
            new_ca = true;
        }
        let facts_file = self.dir.join("leaf.json");
        let facts: Option<LeafFacts> = std::fs::read(&facts_file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let renew_at = OffsetDateTime::now_utc() + TimeDuration::days(self.renew_days_before);
        let due = match &facts {
            None => true,
            Some(facts) => {
                facts.names != self.names || facts.not_after <= renew_at.unix_timestamp()
            }
        };
        if !due && !new_ca && self.cert().exists() && self.key().exists() {
            return Ok(false);
        }
        let ca_pem = std::fs::read_to_string(&ca_key_file).map_err(io_error(&ca_key_file))?;
        let allowed = ca_names
            .filter(|_| !new_ca)
            .unwrap_or_else(|| self.names.clone());
        let issuer = Issuer::new(self.ca_params(&allowed)?, KeyPair::from_pem(&ca_pem)?);
        let leaf_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(self.names.clone())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "rockit-edge appliance");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        (params.not_before, params.not_after) = validity(self.leaf_days);
        let not_after = params.not_after.unix_timestamp();
        let leaf = params.signed_by(&leaf_key, &issuer)?;
        let (cert, key) = (self.cert(), self.key());
        write_atomic(&key, leaf_key.serialize_pem().as_bytes(), 0o600).map_err(io_error(&key))?;
        write_atomic(&cert, leaf.pem().as_bytes(), 0o644).map_err(io_error(&cert))?;
        let facts = LeafFacts {
            names: self.names.clone(),
            not_after,
        };
        let bytes = serde_json::to_vec(&facts).map_err(|e| TlsError::Io {
            path: facts_file.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&facts_file, &bytes, 0o644).map_err(io_error(&facts_file))?;
        tracing::info!(names = ?self.names, cert = %cert.display(), days = self.leaf_days, "issued self-signed TLS certificate");
        Ok(true)
    }
}

/// Serves the current certificate; [`CertResolver::reload`] swaps it without a restart.
#[derive(Debug)]
pub struct CertResolver {
    source: CertSource,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// Loads the certificate and key once; fails when they are unusable.
    pub fn new(source: CertSource, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let key = load(&source, &provider)?;
        Ok(Self {
            source,
            provider,
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// The files this resolver serves.
    pub fn source(&self) -> &CertSource {
        &self.source
    }

    /// Re-reads the files; on failure the previous certificate stays in service.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = load(&self.source, &self.provider)?;
        if let Ok(mut slot) = self.current.write() {
            *slot = Arc::new(key);
        }
        Ok(())
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|key| Arc::clone(&key))
    }
}

fn load(source: &CertSource, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&source.cert)
        .map_err(|_| TlsError::Pem {
            path: source.cert.clone(),
            what: "certificate",
        })?
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Pem {
            path: source.cert.clone(),
            what: "certificate",
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: source.cert.clone(),
            what: "certificate",
        });
    }
    let key = PrivateKeyDer::from_pem_file(&source.key).map_err(|_| TlsError::Pem {
        path: source.key.clone(),
        what: "private key",
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsError::Pair {
        cert: source.cert.clone(),
        key: source.key.clone(),
        message: e.to_string(),
    })
}

/// A rustls server config with the ring provider and the swappable resolver.
pub fn server_config(resolver: Arc<CertResolver>) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::clone(&resolver.provider);
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Pair {
            cert: resolver.source.cert.clone(),
            key: resolver.source.key.clone(),
            message: e.to_string(),
        })?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The process's crypto provider: ring, never a process-wide default.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
