//! Who may read the depot: a launcher with a signed URL (or anyone, when the operator made the
//! depot public), and only published files (no temporary or hidden name, no path outside).

use std::path::Component;

use super::DomainError;
use crate::publish::depot::{Depot, SignatureProblem};

/// Depot reading rules.
#[derive(Clone)]
pub struct DepotService {
    depot: Depot,
    public: bool,
}

impl DepotService {
    /// Reads `depot`; without signatures when `public`.
    pub fn new(depot: Depot, public: bool) -> Self {
        Self { depot, public }
    }

    /// Opens the published file at layout path `path`, requested as `url_path` with the
    /// given signature.
    pub async fn open(
        &self,
        path: &str,
        url_path: &str,
        md5: Option<&str>,
        expires: Option<i64>,
    ) -> Result<std::fs::File, DomainError> {
        let shown = path.to_string();
        let missing = move || DomainError::not_found(format!("depot file {shown}"));
        let published = !path.is_empty()
            && std::path::Path::new(path).components().all(|c| {
                matches!(c, Component::Normal(name) if !name.to_string_lossy().starts_with('.'))
            });
        if !published {
            return Err(missing());
        }
        if !self.public {
            let (Some(md5), Some(expires)) = (md5, expires) else {
                return Err(DomainError::BadSignature(
                    "depot URLs are signed (md5, expires); get them from POST /client/v1/auth"
                        .into(),
                ));
            };
            let now = chrono::Utc::now().timestamp();
            match self.depot.verify(url_path, md5, expires, now) {
                Ok(()) => {}
                Err(SignatureProblem::Tampered) => {
                    return Err(DomainError::BadSignature(
                        "the depot URL's signature does not match its path and expiry".into(),
                    ));
                }
                Err(SignatureProblem::Expired) => {
                    return Err(DomainError::UrlExpired(
                        "the depot URL expired; ask POST /client/v1/auth for fresh ones".into(),
                    ));
                }
            }
        }
        let local = self.depot.path_of(path).map_err(|_| missing())?;
        super::blocking(move || {
            let file = std::fs::File::open(&local).map_err(|_| missing())?;
            match file.metadata() {
                Ok(meta) if meta.is_file() => Ok(file),
                _ => Err(missing()),
            }
        })
        .await
    }
}
