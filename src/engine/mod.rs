//! Pure build processing: tars in, block images and patches out.
pub mod delta;
