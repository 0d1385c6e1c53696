//! The layout of API.md §5, the same on every origin and in the depot: where an image and a
//! patch live, and which prefixes an org or an app owns. The one module that knows it.

use crate::engine::image::{APP_JSON, DXF_FILE, IMG_JSON, INDEX_FILE};
use crate::engine::patch::{BULK_FILE, DATA_FILE, MAP_FILE, PATCH_JSON};

/// The file a launcher starts from in an image or patch directory: published last, so a
/// launcher that finds it finds everything it names.
pub const POINTER_FILE: &str = APP_JSON;
/// The order an image's files are published in: data first, the pointer last.
pub const IMAGE_INSTALL: [&str; 4] = [DXF_FILE, INDEX_FILE, IMG_JSON, APP_JSON];
/// The order a patch's files are published in.
pub const PATCH_INSTALL: [&str; 6] = [
    DATA_FILE, MAP_FILE, BULK_FILE, PATCH_JSON, IMG_JSON, APP_JSON,
];

/// The roots every org owns a directory under: images and patches.
pub const ROOTS: [&str; 2] = ["dxf", "pat"];

/// The directory of an image: `dxf/{org}/{app}/{buildId:04}/{dxfName}`.
pub fn image_dir(org: &str, app: &str, build_id: u32, dxf_name: &str) -> String {
    format!("dxf/{org}/{app}/{build_id:04}/{dxf_name}")
}

/// The directory of a patch: `pat/{org}/{app}/{toBuildId:04}/{fromBuildId:04}`.
pub fn patch_dir(org: &str, app: &str, to_build: u32, from_build: u32) -> String {
    format!("pat/{org}/{app}/{to_build:04}/{from_build:04}")
}

/// Every image of one build: `dxf/{org}/{app}/{buildId:04}`.
pub fn build_images(org: &str, app: &str, build_id: u32) -> String {
    format!("dxf/{org}/{app}/{build_id:04}")
}

/// Every patch to one build: `pat/{org}/{app}/{toBuildId:04}`.
pub fn patches_to(org: &str, app: &str, to_build: u32) -> String {
    format!("pat/{org}/{app}/{to_build:04}")
}

/// Every prefix an org's files live under.
pub fn org_prefixes(org: &str) -> Vec<String> {
    ROOTS.iter().map(|root| format!("{root}/{org}")).collect()
}

/// Every prefix an app's files live under.
pub fn app_prefixes(org: &str, app: &str) -> Vec<String> {
    ROOTS
        .iter()
        .map(|root| format!("{root}/{org}/{app}"))
        .collect()
}

/// The object key of a layout path under an origin's prefix: the path itself when the prefix
/// is empty, else the prefix without surrounding `/`, a `/`, and the path.
pub fn object_key(prefix: &str, path: &str) -> String {
    match prefix.trim_matches('/') {
        "" => path.to_string(),
        prefix => format!("{prefix}/{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_api_md_section_5() {
        assert_eq!(
            image_dir("acme", "game", 7, "5f1c"),
            "dxf/acme/game/0007/5f1c"
        );
        assert_eq!(patch_dir("acme", "game", 12, 9), "pat/acme/game/0012/0009");
        assert_eq!(org_prefixes("acme"), ["dxf/acme", "pat/acme"]);
        assert_eq!(build_images("acme", "game", 3), "dxf/acme/game/0003");
        assert_eq!(patches_to("acme", "game", 3), "pat/acme/game/0003");
        assert_eq!(
            app_prefixes("acme", "game"),
            ["dxf/acme/game", "pat/acme/game"]
        );
        assert_eq!(object_key("", "dxf/a"), "dxf/a");
        assert_eq!(object_key("/cdn/root/", "dxf/a"), "cdn/root/dxf/a");
    }
}
