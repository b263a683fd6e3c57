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
    // Created owner-only and never over an existing file: the secret is not readable by anyone else
    // at any moment, and a key another process wrote meanwhile is not replaced.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, hex::encode(key.to_bytes()).as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(key)
}

pub fn public_key_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_owner_only_from_the_start_and_reloads_the_same() {
        let dir = std::env::temp_dir().join(format!("hpc-node-key-test-{}", std::process::id()));
        let path = dir.join("node.key");
        let _ = std::fs::remove_file(&path);
        let key = load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        assert_eq!(load_or_create(&path).unwrap().to_bytes(), key.to_bytes());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
