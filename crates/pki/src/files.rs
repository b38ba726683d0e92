//! Reading and writing the files of a PKI directory.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::PkiError;

/// Mode of private keys and of kubeconfigs (which embed one): owner only.
pub(crate) const SECRET_MODE: u32 = 0o600;
/// Mode of certificates and public keys.
pub(crate) const PUBLIC_MODE: u32 = 0o644;

pub(crate) fn read_to_string(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|err| PkiError::io(path, err))
}

/// Writes `contents` to `path` with `mode`, through a temporary file in the same
/// directory and a rename, so a reader never sees half a key and a key file is never,
/// even briefly, readable by others.
pub(crate) fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.tmp"));
    let _ = fs::remove_file(&temp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(|err| PkiError::io(&temp, err))?;
    file.write_all(contents)
        .and_then(|()| file.set_permissions(fs::Permissions::from_mode(mode)))
        .and_then(|()| file.sync_all())
        .map_err(|err| PkiError::io(&temp, err))?;
    fs::rename(&temp, path).map_err(|err| PkiError::io(path, err))
}

pub(crate) fn create_dir_all(path: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(path).map_err(|err| PkiError::io(path, err))
}
