#!/usr/bin/env python3
"""Checks the DSSE envelope of a stella bundle with securesystemslib, code we did not write.

usage: verify_envelope.py BUNDLE.tar.zst KEY.pub

If stella-scheduler and securesystemslib disagree on the pre-authentication encoding, the
keyid, the base64 flavour or the signature scheme, this script fails where our own verifier
would pass. It reads the first tar member of the bundle, which must be manifest.dsse.json,
builds a `securesystemslib.dsse.Envelope` from it and verifies it against the one Ed25519 key
in KEY.pub (one line: standard base64 of the raw 32-byte key) with `Envelope.verify`.

On success it prints {"keyid", "payloadType", "bundleId"} as JSON, bundleId being the SHA-256
of the payload, and exits 0. A bundle or envelope that fails prints the reason on stderr and
exits 1; a file that cannot be read exits 2.
"""

import argparse
import base64
import binascii
import hashlib
import json
import sys
import tarfile
from pathlib import Path

import zstandard
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

PAYLOAD_TYPE = "application/vnd.stella.bundle.v1+json"
MANIFEST_MEMBER = "manifest.dsse.json"
ED25519_KEY_BYTES = 32


class RefusedError(Exception):
    """The bundle, the envelope or the key is not what the contract says."""


def read_manifest_member(bundle: Path) -> bytes:
    """Returns the bytes of the first tar member, which must be manifest.dsse.json."""
    decompressor = zstandard.ZstdDecompressor()
    with (
        bundle.open("rb") as raw,
        decompressor.stream_reader(raw, read_across_frames=True) as stream,
        tarfile.open(fileobj=stream, mode="r|") as tar,
    ):
        first = tar.next()
        if first is None:
            raise RefusedError(f"{bundle}: the tar archive has no members")
        if first.name != MANIFEST_MEMBER:
            raise RefusedError(
                f"{bundle}: first member is {first.name!r}, expected {MANIFEST_MEMBER!r}"
            )
        if not first.isreg():
            raise RefusedError(f"{bundle}: {MANIFEST_MEMBER} is not a regular file")
        member = tar.extractfile(first)
        if member is None:
            raise RefusedError(f"{bundle}: {MANIFEST_MEMBER} has no content")
        return member.read()


def load_key(pub: Path) -> SSlibKey:
    """Builds the securesystemslib ed25519 key for the raw key written in a .pub file."""
    text = pub.read_text(encoding="ascii").strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise RefusedError(f"{pub}: not standard base64: {e}") from e
    if len(raw) != ED25519_KEY_BYTES:
        raise RefusedError(f"{pub}: key is {len(raw)} bytes, expected {ED25519_KEY_BYTES}")
    keyid = hashlib.sha256(raw).hexdigest()
    return SSlibKey(keyid, "ed25519", "ed25519", {"public": raw.hex()})


def parse_envelope(data: bytes) -> Envelope:
    """Parses the envelope JSON and checks its payloadType against the contract."""
    try:
        envelope = Envelope.from_dict(json.loads(data))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as e:
        raise RefusedError(f"{MANIFEST_MEMBER}: not a DSSE envelope: {e!r}") from e
    if envelope.payload_type != PAYLOAD_TYPE:
        raise RefusedError(f"payloadType is {envelope.payload_type!r}, expected {PAYLOAD_TYPE!r}")
    return envelope


def verify(envelope: Envelope, key: SSlibKey) -> None:
    """Envelope.verify with threshold 1; the failure says whether any keyid matched."""
    try:
        envelope.verify([key], 1)
    except VerificationError as e:
        signed_by = sorted(envelope.signatures)
        matched = "matched" if key.keyid in signed_by else "did not match"
        raise RefusedError(
            f"securesystemslib refused the envelope: {e}; key {key.keyid} {matched} "
            f"a signature keyid (envelope keyids: {', '.join(signed_by) or 'none'})"
        ) from e


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the bundle (.tar.zst)")
    parser.add_argument("pub", type=Path, help="the Ed25519 public key (.pub)")
    args = parser.parse_args()
    try:
        key = load_key(args.pub)
        envelope = parse_envelope(read_manifest_member(args.bundle))
        verify(envelope, key)
    except RefusedError as e:
        print(f"verify_envelope: {e}", file=sys.stderr)
        return 1
    except (tarfile.TarError, zstandard.ZstdError) as e:
        print(f"verify_envelope: {args.bundle}: cannot read the archive: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"verify_envelope: {e}", file=sys.stderr)
        return 2
    result = {
        "keyid": key.keyid,
        "payloadType": envelope.payload_type,
        "bundleId": hashlib.sha256(envelope.payload).hexdigest(),
    }
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
