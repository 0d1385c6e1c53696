//! What an operator needs to know of the served certificate: whom it names, until when, and the
//! fingerprint to compare with what a client sees.

use std::path::Path;

use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

/// The facts of a PEM file's first certificate.
#[derive(Debug, Clone)]
pub struct CertFacts {
    /// SHA-256 of the DER, as `AB:CD:...` (what browsers and `openssl x509 -fingerprint` show).
    pub fingerprint: String,
    /// Subject alternative names: DNS names and IP addresses.
    pub names: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
}

/// Reads and parses the first certificate of a PEM file.
pub fn read(path: &Path) -> Result<CertFacts, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let block = Pem::iter_from_buffer(&pem)
        .next()
        .ok_or_else(|| format!("{} holds no PEM block", path.display()))?
        .map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
    let cert = block
        .parse_x509()
        .map_err(|e| format!("{} is not an X.509 certificate: {e}", path.display()))?;
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_string()),
                    GeneralName::IPAddress(bytes) => ip_text(bytes),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let validity = cert.validity();
    Ok(CertFacts {
        fingerprint: fingerprint(&block.contents),
        names,
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
    })
}

fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    let ip: std::net::IpAddr = match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok()?.into(),
        16 => <[u8; 16]>::try_from(bytes).ok()?.into(),
        _ => return None,
    };
    Some(ip.to_string())
}
