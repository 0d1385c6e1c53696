//! Running the appliance for months: the checks of `doctor` and what they read.

pub mod certificate;
pub mod doctor;
