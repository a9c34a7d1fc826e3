//! Secrets: the node's master key, API key secrets sealed with it (they must
//! verify signatures, so they are encrypted, not hashed), memory-hard password
//! hashes, and random tokens stored only as SHA-256 hashes.

use std::path::Path;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
/// umask); a file already there is left as it is. The file appears whole or
/// not at all: `text` is written and synced to a temporary file of this
/// process, then linked to `path` (which fails if `path` exists), so a
/// process starting at the same moment never reads a half-written key. Where
/// the filesystem has no hard links, the file is created in place.
#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{}.tmp", std::process::id(), random_alnum(12)));
    let tmp = path.with_file_name(name);
    create_synced(&tmp, text)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => sync_dir(path),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // No hard links here (some FUSE, SMB or FAT mounts): create in place.
        Err(_) => match create_synced(path, text) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other.and_then(|()| sync_dir(path)),
        },
    }
}

/// Creates `path` (which must not exist) 0600 with `text`, synced.
#[cfg(unix)]
fn create_synced(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Makes a new name in `path`'s directory durable.
#[cfg(unix)]
fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => std::fs::File::open(".")?.sync_all(),
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
/// Argon2 working memory, kept by a thread across hashes. A fresh 19 MiB
/// allocation per hash made glibc raise its mmap threshold and keep freed
/// blocks in per-thread arenas: two hashing threads reached 200 MB. Reused,
/// the memory is one buffer per thread, touched once.
#[derive(Default)]
pub struct Scratch(Vec<Block>);

/// The largest working memory a stored hash may ask for (64 MiB): a hash
/// with more is refused, not computed.
const MAX_BLOCKS: usize = 64 * 1024;

impl Scratch {
    /// Argon2 with the hash's algorithm, version and parameters, over
    /// `password` and `salt`, in this buffer.
    fn compute<'a>(&mut self, argon: &Argon2<'_>, password: &str, salt: Salt<'a>) -> Option<PasswordHash<'a>> {
        let params = argon.params().clone();
        let blocks = params.block_count();
        if blocks > MAX_BLOCKS {
            return None;
        }
        if self.0.len() < blocks {
            self.0.resize(blocks, Block::default());
        }
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).ok()?;
        let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = Output::init_with(len, |out| {
            argon
                .hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, &mut self.0[..blocks])
                .map_err(|_| password_hash::Error::Crypto)
        })
        .ok()?;
        Some(PasswordHash {
            algorithm: Algorithm::default().ident(),
            version: Some(Version::default().into()),
            params: ParamsString::try_from(&params).ok()?,
            salt: Some(salt),
            hash: Some(output),
        })
    }

    /// A PHC string of Argon2id (default parameters) with a fresh salt.
    pub fn hash(&mut self, password: &str) -> String {
        let salt = SaltString::encode_b64(&random_bytes(16)).expect("16 bytes is a valid salt");
        self.compute(&Argon2::default(), password, salt.as_salt())
            .expect("argon2 with default parameters cannot fail")
            .to_string()
    }

    /// Whether `password` matches the PHC string (Argon2id only; the
    /// comparison is constant-time).
    pub fn verify(&mut self, password: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else { return false };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
        let argon2id = Algorithm::try_from(parsed.algorithm) == Ok(Algorithm::Argon2id);
        let version = parsed.version.map_or(Ok(Version::default()), Version::try_from);
        // The parameters carry the stored hash's length.
        let (true, Ok(params), Ok(Version::V0x13)) = (argon2id, Params::try_from(&parsed), version) else {
            return false;
        };
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        self.compute(&argon, password, salt).and_then(|h| h.hash).is_some_and(|out| out == expected)
    }
}

/// A PHC string of Argon2id with default parameters (19 MiB, 2 passes).
pub fn hash_password(password: &str) -> String {
    Scratch::default().hash(password)
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    Scratch::default().verify(password, phc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many first starts at once: every one gets the same key, none reads a
    /// half-written file, and no temporary file is left behind.
    #[test]
    fn a_master_key_created_by_racing_starts_is_one_key() {
        let dir = std::env::temp_dir().join(format!("tambah-key-race-{}-{}", std::process::id(), random_alnum(6)));
        std::fs::create_dir_all(&dir).unwrap();
        for round in 0..20 {
            let path = dir.join(format!("db{round}.key"));
            let keys: Vec<MasterKey> = std::thread::scope(|s| {
                let starts: Vec<_> = (0..8).map(|_| s.spawn(|| MasterKey::load_or_create(&path))).collect();
                starts.into_iter().map(|t| t.join().unwrap().unwrap()).collect()
            });
            let on_disk = MasterKey::from_base64(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let sealed = on_disk.seal(b"one key");
            assert!(keys.iter().all(|k| k.open(&sealed).is_ok()), "every start got the key on disk");
        }
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert!(left.iter().all(|n| n.to_string_lossy().ends_with(".key")), "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Hashes stored before the reused buffer (by the argon2 crate's own
    /// hasher) still verify, and ours verify with the crate's verifier.
    #[test]
    fn reused_memory_hashes_match_the_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default().hash_password(b"pa55word", &salt).unwrap().to_string();
        let mut scratch = Scratch::default();
        assert!(scratch.verify("pa55word", &theirs));
        assert!(!scratch.verify("pa55worD", &theirs));
        let ours = scratch.hash("s3cret");
        assert!(Argon2::default().verify_password(b"s3cret", &PasswordHash::new(&ours).unwrap()).is_ok());
        assert!(scratch.verify("s3cret", &ours) && !scratch.verify("s3cre", &ours));
        assert!(!scratch.verify("s3cret", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"), "Argon2id only");
        assert!(
            !scratch.verify("s3cret", "$argon2id$v=19$m=4000000,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$aGFzaGhhc2hoYXNoaGFzaA"),
            "too much memory"
        );
    }

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
