#!/usr/bin/env python3
"""Checks stella completion events with securesystemslib and in-toto-attestation.

usage: verify_completion.py KEY.pub SOURCE...

A SOURCE is a completion event as the outbox holds it (NAME.dsse.json), or a completion
bundle (NAME.tar.zst), whose every events/RUN.dsse.json member is checked together with
the findings/RUN.json member of the same run.

Each envelope is verified with `securesystemslib.dsse.Envelope.verify` against the one
Ed25519 key in KEY.pub (one line: standard base64 of the raw 32-byte key); its payloadType
must be application/vnd.in-toto+json, and its payload must parse as an in-toto Statement
v1 under the attestation framework's own protobuf schema (unknown fields refused) and pass
its `Statement.validate`. For a bundle member, the run's findings document is read back:
its deltas give the delta digest (SHA-256 over each delta's canonical JSON and a newline)
and the new/resolved/changed counts the statement must carry.

On success it prints one JSON document, {"keyid", "events": [...]}, each event with its
source, member (bundles only), sha256 of the envelope bytes, statement and, for bundle
members, "recomputed" {runId, deltaDigest, deltas, new, resolved, changed}; exit 0. An
envelope that fails prints the reason on stderr and exits 1; a file that cannot be read
exits 2.
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
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"
ED25519_KEY_BYTES = 32


class RefusedError(Exception):
    """An envelope, its statement or its findings are not what the contract says."""


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


def bundle_members(bundle: Path) -> dict:
    """Every regular member of a bundle, by path."""
    members = {}
    decompressor = zstandard.ZstdDecompressor()
    with (
        bundle.open("rb") as raw,
        decompressor.stream_reader(raw, read_across_frames=True) as stream,
        tarfile.open(fileobj=stream, mode="r|") as tar,
    ):
        for member in tar:
            if member.isreg():
                members[member.name] = tar.extractfile(member).read()
    return members


def verified_statement(where: str, data: bytes, key: SSlibKey) -> dict:
    """Verifies one envelope; returns its statement after the in-toto schema check."""
    try:
        envelope = Envelope.from_dict(json.loads(data))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as e:
        raise RefusedError(f"{where}: not a DSSE envelope: {e!r}") from e
    if envelope.payload_type != PAYLOAD_TYPE:
        raise RefusedError(
            f"{where}: payloadType is {envelope.payload_type!r}, expected {PAYLOAD_TYPE!r}"
        )
    try:
        envelope.verify([key], 1)
    except VerificationError as e:
        raise RefusedError(f"{where}: securesystemslib refused the envelope: {e}") from e
    text = envelope.payload.decode("utf-8")
    try:
        parsed = json_format.Parse(text, statement_pb2.Statement())
        Statement.copy_from_pb(parsed).validate()
    except (json_format.ParseError, ValueError) as e:
        raise RefusedError(f"{where}: not a valid in-toto Statement v1: {e}") from e
    return json.loads(text)


def canonical(value) -> bytes:
    """Sorted keys, no whitespace, UTF-8: how the exporter serializes each delta."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def recompute(where: str, findings: bytes) -> dict:
    """The delta digest and counts that a run's findings document implies."""
    document = json.loads(findings)
    if document.get("schema") != "stella.findings.v1":
        raise RefusedError(f"{where}: schema is {document.get('schema')!r}")
    digest = hashlib.sha256()
    counts = {"new": 0, "resolved": 0, "changed": 0}
    for delta in document["deltas"]:
        digest.update(canonical(delta) + b"\n")
        for name in counts:
            counts[name] += len(delta[name])
    return {
        "runId": document["runId"],
        "deltaDigest": f"sha256:{digest.hexdigest()}",
        "deltas": len(document["deltas"]),
        **counts,
    }


def event(source: Path, member, data: bytes, key: SSlibKey) -> dict:
    where = f"{source}:{member}" if member else str(source)
    return {
        "source": str(source),
        "member": member,
        "sha256": hashlib.sha256(data).hexdigest(),
        "statement": verified_statement(where, data, key),
    }


def bundle_events(bundle: Path, key: SSlibKey) -> list:
    members = bundle_members(bundle)
    events = []
    for name in sorted(n for n in members if n.startswith("events/")):
        run_id = name.removeprefix("events/").removesuffix(".dsse.json")
        findings = f"findings/{run_id}.json"
        if findings not in members:
            raise RefusedError(f"{bundle}: {name} has no {findings} beside it")
        checked = event(bundle, name, members[name], key)
        checked["recomputed"] = recompute(f"{bundle}:{findings}", members[findings])
        events.append(checked)
    if not events:
        raise RefusedError(f"{bundle}: no events/ member")
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pub", type=Path, help="the site's Ed25519 public key (.pub)")
    parser.add_argument("sources", type=Path, nargs="+", help=".dsse.json or .tar.zst files")
    args = parser.parse_args()
    try:
        key = load_key(args.pub)
        events = []
        for source in args.sources:
            if source.name.endswith(".tar.zst"):
                events.extend(bundle_events(source, key))
            else:
                events.append(event(source, None, source.read_bytes(), key))
    except RefusedError as e:
        print(f"verify_completion: {e}", file=sys.stderr)
        return 1
    except (tarfile.TarError, zstandard.ZstdError) as e:
        print(f"verify_completion: cannot read the archive: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"verify_completion: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"keyid": key.keyid, "events": events}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
