//! Steps 4 and 5: open the DSSE envelope around the manifest and check its signatures.
//!
//! The envelope of a large snapshot holds tens of megabytes of base64, so the payload is
//! decoded in place inside the buffer that held the envelope, and the PAE prefix is
//! written into headroom just before it: no copy of the manifest is ever made.

use std::borrow::Cow;
use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::Signature;
use serde::Deserialize;
use time::OffsetDateTime;

use super::error::{Reason, RejectReason, Rejection, Step, VerifyError};
use super::manifest::MANIFEST_PAYLOAD_TYPE;
use super::trust::Trust;

/// Free bytes kept before the envelope so the PAE prefix fits in front of the payload.
pub const HEADROOM: usize = 128;
const DECODE_CHUNK: usize = 16 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireEnvelope<'a> {
    #[serde(borrow)]
    payload_type: Cow<'a, str>,
    #[serde(borrow)]
    payload: Cow<'a, str>,
    signatures: Vec<WireSignature>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

/// An envelope whose payload has been decoded.
#[derive(Debug)]
pub struct Opened {
    /// `HEADROOM` free bytes, then the payload; see [`Opened::into_payload`].
    buf: Vec<u8>,
    payload_len: usize,
    signatures: Vec<WireSignatureOwned>,
}

#[derive(Debug)]
struct WireSignatureOwned {
    keyid: String,
    sig: String,
}

/// The outcome of step 5: distinct trusted keys with valid signatures, and the rest.
#[derive(Debug, Default)]
pub struct SignatureOutcome {
    pub valid: BTreeSet<String>,
    pub rejections: Vec<Rejection>,
}

/// Step 4. `buf` holds `HEADROOM` bytes of anything, then the envelope JSON.
pub fn open(mut buf: Vec<u8>) -> Result<Opened, VerifyError> {
    let fail = |reason| VerifyError::new(Step::Envelope, reason);
    let env: WireEnvelope =
        serde_json::from_slice(&buf[HEADROOM..]).map_err(|e| fail(Reason::Envelope(e)))?;
    if env.payload_type != MANIFEST_PAYLOAD_TYPE {
        let got = env.payload_type.into_owned();
        return Err(fail(Reason::PayloadType { got }));
    }
    let signatures = env
        .signatures
        .into_iter()
        .map(|s| WireSignatureOwned {
            keyid: s.keyid,
            sig: s.sig,
        })
        .collect();
    let (start, len, owned) = match env.payload {
        Cow::Borrowed(s) => (s.as_ptr() as usize - buf.as_ptr() as usize, s.len(), None),
        // Only when the producer escaped characters inside the base64 string.
        Cow::Owned(s) => (0, s.len(), Some(s.into_bytes())),
    };
    let payload_len = match owned {
        None => decode_in_place(&mut buf, start, len)?,
        Some(text) => {
            buf.truncate(HEADROOM);
            buf.extend_from_slice(&text);
            decode_in_place(&mut buf, HEADROOM, text.len())?
        }
    };
    Ok(Opened {
        buf,
        payload_len,
        signatures,
    })
}

/// Decodes base64 at `buf[start..start + len]` into `buf[HEADROOM..]`; returns its length.
/// The write cursor never passes the read cursor: every 4 characters become 3 bytes, and
/// the output starts at or before the input.
fn decode_in_place(buf: &mut [u8], start: usize, len: usize) -> Result<usize, VerifyError> {
    let fail = || VerifyError::new(Step::Envelope, Reason::PayloadBase64);
    if len % 4 != 0 {
        return Err(fail());
    }
    // Chunks are decoded one by one, and each would accept its own padding; padding is
    // only legal in the last quantum of the whole string.
    let body_end = start + len.saturating_sub(4);
    if buf[start..body_end].contains(&b'=') {
        return Err(fail());
    }
    let mut chunk = vec![0u8; DECODE_CHUNK / 4 * 3];
    let (mut read, mut write) = (start, HEADROOM);
    while read < start + len {
        let end = (read + DECODE_CHUNK).min(start + len);
        let n = BASE64
            .decode_slice(&buf[read..end], &mut chunk)
            .map_err(|_| fail())?;
        buf[write..write + n].copy_from_slice(&chunk[..n]);
        read = end;
        write += n;
    }
    Ok(write - HEADROOM)
}

impl Opened {
    #[cfg(test)]
    pub fn payload(&self) -> &[u8] {
        &self.buf[HEADROOM..HEADROOM + self.payload_len]
    }

    pub fn keyids(&self) -> impl Iterator<Item = &str> {
        self.signatures.iter().map(|s| s.keyid.as_str())
    }

    /// Step 5: checks every signature against the trust roots as of `now`.
    pub fn check_signatures(
        &mut self,
        trust: &Trust,
        now: OffsetDateTime,
    ) -> Result<SignatureOutcome, VerifyError> {
        if self.signatures.is_empty() {
            return Err(VerifyError::new(Step::Signatures, Reason::Unsigned));
        }
        let message = self.write_pae();
        let mut outcome = SignatureOutcome::default();
        for s in &self.signatures {
            match check_one(trust, now, &self.buf[message.clone()], s) {
                Ok(()) => drop(outcome.valid.insert(s.keyid.clone())),
                Err(why) => outcome.rejections.push(Rejection {
                    keyid: s.keyid.clone(),
                    why,
                }),
            }
        }
        if outcome.valid.is_empty() {
            let rejections = outcome.rejections;
            let reason = Reason::NoTrustedSignature { rejections };
            return Err(VerifyError::new(Step::Signatures, reason));
        }
        Ok(outcome)
    }

    /// Writes the PAE prefix into the headroom; returns the range of the PAE message.
    fn write_pae(&mut self) -> std::ops::Range<usize> {
        let head = format!(
            "DSSEv1 {} {} {} ",
            MANIFEST_PAYLOAD_TYPE.len(),
            MANIFEST_PAYLOAD_TYPE,
            self.payload_len
        );
        let begin = HEADROOM - head.len();
        self.buf[begin..HEADROOM].copy_from_slice(head.as_bytes());
        begin..HEADROOM + self.payload_len
    }

    /// The payload alone, moved to the front of the buffer and trimmed.
    pub fn into_payload(mut self) -> Vec<u8> {
        self.buf
            .copy_within(HEADROOM..HEADROOM + self.payload_len, 0);
        self.buf.truncate(self.payload_len);
        self.buf.shrink_to_fit();
        self.buf
    }
}

fn check_one(
    trust: &Trust,
    now: OffsetDateTime,
    message: &[u8],
    s: &WireSignatureOwned,
) -> Result<(), RejectReason> {
    let key = trust.key(&s.keyid).ok_or(RejectReason::UnknownKey)?;
    if key.revoked {
        return Err(RejectReason::Revoked);
    }
    if key.expired_at(now) {
        let not_after = key.not_after.map(|t| t.to_string()).unwrap_or_default();
        return Err(RejectReason::Expired { not_after });
    }
    let raw = BASE64.decode(&s.sig).map_err(|_| RejectReason::Encoding)?;
    let sig = Signature::from_slice(&raw).map_err(|_| RejectReason::Encoding)?;
    key.key
        .verify_strict(message, &sig)
        .map_err(|_| RejectReason::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_headroom(json: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; HEADROOM];
        buf.extend_from_slice(json);
        buf
    }

    #[test]
    fn decodes_a_large_payload_in_place() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let json = format!(
            r#"{{"payloadType":"{MANIFEST_PAYLOAD_TYPE}","payload":"{}","signatures":[]}}"#,
            BASE64.encode(&payload)
        );
        let opened = open(with_headroom(json.as_bytes())).expect("opens");
        assert_eq!(opened.payload(), &payload[..]);
        assert_eq!(opened.into_payload(), payload);
    }

    #[test]
    fn escaped_payload_still_decodes() {
        let json = format!(
            r#"{{"payloadType":"{MANIFEST_PAYLOAD_TYPE}","payload":"aGVsbG8\/","signatures":[]}}"#
        );
        let opened = open(with_headroom(json.as_bytes())).expect("opens");
        assert_eq!(opened.payload(), b"hello?");
    }

    #[test]
    fn padding_inside_the_payload_is_refused() {
        let first = BASE64.encode(vec![1u8; DECODE_CHUNK / 4 * 3 - 2]);
        let payload = format!("{first}{}", BASE64.encode(b"tail"));
        let json = format!(
            r#"{{"payloadType":"{MANIFEST_PAYLOAD_TYPE}","payload":"{payload}","signatures":[]}}"#
        );
        let err = open(with_headroom(json.as_bytes())).expect_err("mid-string padding");
        assert!(matches!(err.reason, Reason::PayloadBase64));
    }

    #[test]
    fn bad_base64_and_wrong_type_are_named() {
        let json = format!(
            r#"{{"payloadType":"{MANIFEST_PAYLOAD_TYPE}","payload":"a!==","signatures":[]}}"#
        );
        let err = open(with_headroom(json.as_bytes())).expect_err("bad base64");
        assert!(matches!(err.reason, Reason::PayloadBase64));
        let json = br#"{"payloadType":"text/plain","payload":"","signatures":[]}"#;
        let err = open(with_headroom(json)).expect_err("wrong type");
        assert!(matches!(err.reason, Reason::PayloadType { got } if got == "text/plain"));
    }
}
