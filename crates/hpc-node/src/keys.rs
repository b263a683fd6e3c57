//! The node's Ed25519 signing key: generated on first start, stored (hex, owner-only permissions),
//! and its public key printed for the admission proposal.

use ed25519_dalek::SigningKey;
use std::path::Path;

pub fn load_or_create(path: &Path) -> Result<SigningKey, String> {
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let bytes =
            hex::decode(text.trim()).map_err(|e| format!("{}: not hex: {e}", path.display()))?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("{}: a key is 32 bytes", path.display()))?;
        return Ok(SigningKey::from_bytes(&secret));
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, hex::encode(key.to_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(key)
}

pub fn public_key_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}
