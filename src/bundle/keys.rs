//! Ed25519 keys on disk, and key ids.
//!
//! A private key is a PKCS#8 PEM file (`NAME.key`, mode 0600), readable by OpenSSL and
//! Python `cryptography`. A public key is one line of standard base64 holding the raw
//! 32 bytes (`NAME.pub`). A key id is the lowercase hex SHA-256 of those 32 bytes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// Errors reading, writing or generating key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a PKCS#8 PEM Ed25519 private key")]
    PrivateKeyFormat {
        path: PathBuf,
        #[source]
        source: ed25519_dalek::pkcs8::Error,
    },
    #[error("{path}: public key is not standard base64 of 32 raw bytes")]
    PublicKeyFormat { path: PathBuf },
    #[error("public key is not standard base64 of 32 raw bytes")]
    PublicKeyText,
    #[error("{path} already exists; refusing to overwrite a key")]
    Exists { path: PathBuf },
    #[error("cannot write key file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the private key as PKCS#8")]
    Encode(#[source] ed25519_dalek::pkcs8::Error),
    #[error("the operating system gave no randomness for a new key")]
    Random(#[source] getrandom::Error),
}

/// Lowercase hex SHA-256 of a raw public key: the key id of format v1.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Standard base64 of the raw 32-byte public key, as `.pub` files and trust files hold it.
pub fn public_key_text(key: &VerifyingKey) -> String {
    BASE64.encode(key.as_bytes())
}

/// Decodes standard base64 of 32 raw bytes into a public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let raw = BASE64
        .decode(text.trim())
        .map_err(|_| KeyError::PublicKeyText)?;
    let raw: [u8; 32] = raw.try_into().map_err(|_| KeyError::PublicKeyText)?;
    VerifyingKey::from_bytes(&raw).map_err(|_| KeyError::PublicKeyText)
}

pub fn read_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = read_to_string(path)?;
    parse_public_key(&text).map_err(|_| KeyError::PublicKeyFormat {
        path: path.to_owned(),
    })
}

pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = read_to_string(path)?;
    SigningKey::from_pkcs8_pem(&text).map_err(|source| KeyError::PrivateKeyFormat {
        path: path.to_owned(),
        source,
    })
}

fn read_to_string(path: &Path) -> Result<String, KeyError> {
    fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })
}

/// A fresh key from the operating system's random source.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(KeyError::Random)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes `DIR/NAME.key` (0600) and `DIR/NAME.pub`, creating DIR; refuses to overwrite.
pub fn write_key_pair(dir: &Path, name: &str, key: &SigningKey) -> Result<KeyFiles, KeyError> {
    fs::create_dir_all(dir).map_err(|source| KeyError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let files = KeyFiles {
        private: dir.join(format!("{name}.key")),
        public: dir.join(format!("{name}.pub")),
    };
    for path in [&files.private, &files.public] {
        if path.exists() {
            return Err(KeyError::Exists { path: path.clone() });
        }
    }
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(KeyError::Encode)?;
    write_new(&files.private, pem.as_bytes(), 0o600)?;
    let public = format!("{}\n", public_key_text(&key.verifying_key()));
    write_new(&files.public, public.as_bytes(), 0o644)?;
    Ok(files)
}

/// Paths of a key pair written by [`write_key_pair`].
#[derive(Debug, Clone)]
pub struct KeyFiles {
    pub private: PathBuf,
    pub public: PathBuf,
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let io_err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_err)?;
    file.write_all(bytes).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAROL_PEM: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/dsse/in-toto-golang-ed25519-carol/carol.TEST-ONLY-private.pem"
    ));

    #[test]
    fn reads_a_pkcs8_key_written_by_another_tool() {
        let key = SigningKey::from_pkcs8_pem(CAROL_PEM).expect("carol's test key parses");
        assert_eq!(
            hex::encode(key.verifying_key().as_bytes()),
            "393e671b200f964c49083d34a867f5d989ec1c69df7b66758fe471c8591b139c"
        );
    }

    #[test]
    fn key_pair_round_trips_and_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = generate().expect("random key");
        let files = write_key_pair(dir.path(), "site", &key).expect("written");
        let back = read_signing_key(&files.private).expect("private key reads back");
        assert_eq!(back.to_bytes(), key.to_bytes());
        let public = read_public_key(&files.public).expect("public key reads back");
        assert_eq!(key_id(&public), key_id(&key.verifying_key()));
        let again = write_key_pair(dir.path(), "site", &key);
        assert!(matches!(again, Err(KeyError::Exists { .. })));
    }
}
