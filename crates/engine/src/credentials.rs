//! Secrets: the node's master key, API key secrets sealed with it (they must
//! verify signatures, so they are encrypted, not hashed), memory-hard password
//! hashes, and random tokens stored only as SHA-256 hashes.

use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

const NONCE_BYTES: usize = 12;

/// The key that seals API secrets at rest (ChaCha20-Poly1305).
#[derive(Clone)]
pub struct MasterKey(Key);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// From 32 bytes in base64 (`TAMBAH_MASTER_KEY`).
    pub fn from_base64(text: &str) -> Result<MasterKey, String> {
        let bytes = B64.decode(text.trim()).map_err(|e| format!("master key is not base64: {e}"))?;
        if bytes.len() != 32 {
            return Err(format!("master key must be 32 bytes, got {}", bytes.len()));
        }
        Ok(MasterKey(*Key::from_slice(&bytes)))
    }

    /// Reads the key file, creating it (mode 0600, whatever the umask) with a
    /// fresh key if absent.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut bytes);
                let text = B64.encode(bytes);
                write_private(path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                // Another process may have raced us; whatever is on disk wins.
                let on_disk = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
                MasterKey::from_base64(&on_disk)
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::thread_rng().fill_bytes(&mut nonce);
        let cipher = ChaCha20Poly1305::new(&self.0);
        let mut out = nonce.to_vec();
        out.extend(cipher.encrypt(Nonce::from_slice(&nonce), plaintext).expect("encryption cannot fail"));
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() < NONCE_BYTES {
            return Err("sealed secret is truncated".into());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        ChaCha20Poly1305::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| "sealed secret does not open with this master key".into())
    }
}

/// Creates `path` holding `text`, for its owner only (0600, whatever the
/// umask); a file already there is left as it is.
#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut f) => f
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .and_then(|_| f.write_all(text.as_bytes()))
            .and_then(|_| f.sync_all()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

/// Random text from `[A-Za-z0-9]`, for key ids, usernames and passwords.
pub fn random_alnum(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..n).map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char).collect()
}

/// A new signing secret: 32 random bytes, shown to the merchant as base64.
pub fn new_api_secret() -> (String, Vec<u8>) {
    let bytes = random_bytes(32);
    (B64.encode(&bytes), bytes)
}

/// A new opaque bearer token and the hash under which it is stored.
pub fn new_token(prefix: &str) -> (String, String) {
    let token = format!("{prefix}{}", B64URL.encode(random_bytes(32)));
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Argon2id (the crate's defaults: 19 MiB, 2 passes) in PHC string form.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes(16)).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_round_trips_and_detects_tampering() {
        let key = MasterKey::from_base64(&B64.encode([7u8; 32])).unwrap();
        let sealed = key.seal(b"secret");
        assert_eq!(key.open(&sealed).unwrap(), b"secret");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(key.open(&bad).is_err());
        let other = MasterKey::from_base64(&B64.encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn passwords() {
        let phc = hash_password("hunter22");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("hunter22", &phc));
        assert!(!verify_password("hunter23", &phc));
        assert!(!verify_password("x", "not-a-hash"));
    }
}
