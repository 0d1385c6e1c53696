//! Running the appliance for months: backups and their restore, and the checks of `doctor`.

pub mod backup;
pub mod certificate;
pub mod doctor;
mod restore;

pub use restore::{read_manifest, restore};
