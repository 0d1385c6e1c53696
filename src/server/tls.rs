//! TLS: a local CA and a leaf certificate generated on first start, or the operator's own
//! certificate; served through a resolver whose key can be swapped while the server runs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::TlsConfig;
use crate::server::datadir::{DataDir, write_atomic};

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

/// Where the served certificate and key live, and whether they were generated here.
#[derive(Debug, Clone)]
pub struct CertSource {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub self_signed: bool,
}

impl CertSource {
    /// The operator's files when configured, else the generated ones (created when missing).
    pub fn prepare(
        config: &TlsConfig,
        data_dir: &DataDir,
        public_names: &[String],
    ) -> Result<CertSource, TlsError> {
        if let (Some(cert), Some(key)) = (&config.cert_file, &config.key_file) {
            return Ok(CertSource {
                cert: cert.clone(),
                key: key.clone(),
                self_signed: false,
            });
        }
        ensure_self_signed(&data_dir.tls(), public_names)
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
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(host.trim().to_string());
    }
    names.extend(public_names.iter().map(|n| n.trim().to_string()));
    names.retain(|n| !n.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "rockit-edge local CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    Ok(params)
}

/// Creates `ca.pem`/`ca.key` once and a leaf `cert.pem`/`key.pem` signed by it; the leaf is
/// re-issued (same CA) when the wanted names change, so clients trusting `ca.pem` keep working.
fn ensure_self_signed(dir: &Path, public_names: &[String]) -> Result<CertSource, TlsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    let (ca_cert, ca_key_file) = (dir.join("ca.pem"), dir.join("ca.key"));
    let (cert, key, sans_file) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("leaf.sans"),
    );
    if !ca_cert.exists() || !ca_key_file.exists() {
        let ca_key = KeyPair::generate()?;
        let ca = ca_params()?.self_signed(&ca_key)?;
        write_atomic(&ca_key_file, ca_key.serialize_pem().as_bytes(), 0o600)
            .map_err(io(&ca_key_file))?;
        write_atomic(&ca_cert, ca.pem().as_bytes(), 0o644).map_err(io(&ca_cert))?;
        tracing::info!(ca = %ca_cert.display(), "generated local certificate authority");
    }
    let sans = subject_alt_names(public_names);
    let wanted = sans.join("\n");
    let current = std::fs::read_to_string(&sans_file).unwrap_or_default();
    if current != wanted || !cert.exists() || !key.exists() {
        let ca_pem = std::fs::read_to_string(&ca_key_file).map_err(io(&ca_key_file))?;
        let issuer = Issuer::new(ca_params()?, KeyPair::from_pem(&ca_pem)?);
        let leaf_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(sans.clone())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "rockit-edge appliance");
        let leaf = params.signed_by(&leaf_key, &issuer)?;
        write_atomic(&key, leaf_key.serialize_pem().as_bytes(), 0o600).map_err(io(&key))?;
        write_atomic(&cert, leaf.pem().as_bytes(), 0o644).map_err(io(&cert))?;
        write_atomic(&sans_file, wanted.as_bytes(), 0o644).map_err(io(&sans_file))?;
        tracing::info!(names = ?sans, cert = %cert.display(), "issued self-signed TLS certificate");
    }
    Ok(CertSource {
        cert,
        key,
        self_signed: true,
    })
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
