//! Pure build processing: tars in, block images and patches out.

/// Version of the image format (img.dxf, img.idx.7z, img.json) this binary writes.
pub const IMAGE_FORMAT_VERSION: u32 = 1;

/// Version of the patch format (map.7z, patch.data, patch.7z, patch.json) this binary writes.
pub const PATCH_FORMAT_VERSION: u32 = 1;
