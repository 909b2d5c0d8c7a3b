//! DSSE v1 envelopes with Ed25519 signatures.
//!
//! The signature covers the pre-authentication encoding (PAE) of the payload type and
//! the payload bytes, never the JSON around them, so the envelope's own whitespace or
//! key order cannot change what was signed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use super::keys::key_id;

/// A DSSE envelope as it appears on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    pub payload_type: String,
    /// Standard base64 of the payload bytes.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature entry of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    #[serde(default)]
    pub keyid: String,
    /// Standard base64 of the 64-byte Ed25519 signature.
    pub sig: String,
}

/// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let head = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(head.len() + payload.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// Signs `payload` with every key; signatures are sorted by key id and a key given
/// twice signs once, so the envelope is the same whatever order keys were passed in.
pub fn sign(payload_type: &str, payload: &[u8], keys: &[SigningKey]) -> Envelope {
    let message = pae(payload_type, payload);
    let mut signatures: Vec<EnvelopeSignature> = keys
        .iter()
        .map(|key| EnvelopeSignature {
            keyid: key_id(&key.verifying_key()),
            sig: BASE64.encode(key.sign(&message).to_bytes()),
        })
        .collect();
    signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    signatures.dedup_by(|a, b| a.keyid == b.keyid);
    Envelope {
        payload_type: payload_type.to_owned(),
        payload: BASE64.encode(payload),
        signatures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    use ed25519_dalek::{Signature, Verifier as _};

    const CAROL_DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/dsse/in-toto-golang-ed25519-carol"
    );

    fn carol() -> (SigningKey, Envelope) {
        let pem = std::fs::read_to_string(format!("{CAROL_DIR}/carol.TEST-ONLY-private.pem"))
            .expect("corpus key");
        let key = SigningKey::from_pkcs8_pem(&pem).expect("pkcs8");
        let env = std::fs::read(format!("{CAROL_DIR}/envelope.json")).expect("corpus envelope");
        let env: Envelope = serde_json::from_slice(&env).expect("envelope json");
        (key, env)
    }

    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        let got = pae("http://example.com/HelloWorld", b"hello world");
        assert_eq!(
            got,
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn signing_reproduces_the_in_toto_golang_envelope_byte_for_byte() {
        let (key, published) = carol();
        let payload = BASE64.decode(&published.payload).expect("base64");
        let ours = sign(&published.payload_type, &payload, &[key]);
        assert_eq!(ours.signatures[0].sig, published.signatures[0].sig);
    }

    #[test]
    fn published_signature_fails_when_payload_type_changes() {
        let (key, published) = carol();
        let payload = BASE64.decode(&published.payload).expect("base64");
        let sig = BASE64.decode(&published.signatures[0].sig).expect("base64");
        let sig = Signature::from_slice(&sig).expect("64 bytes");
        let vk = key.verifying_key();
        assert!(vk
            .verify(&pae(&published.payload_type, &payload), &sig)
            .is_ok());
        assert!(vk.verify(&pae("application/json", &payload), &sig).is_err());
    }
}
