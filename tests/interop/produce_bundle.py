#!/usr/bin/env python3
"""Writes a stella bundle (format v1) from the contract in docs/bundle-format.md alone.

If the contract leaves out something our verifier relies on, a bundle from this producer is
refused. It was written from the document, not from the Rust writer, and departs from that
writer wherever the contract allows: tar in PAX format with an extended header on every
member, directory entries, members in the order given rather than sorted, JSON
pretty-printed with keys in insertion order (unless --canonical), several zstd frames at
another compression level, and signing by PyNaCl (libsodium).

usage:
  produce_bundle.py --seed-file SEED --pub-out KEY.pub --feed FEED --sequence N --out B.tar.zst
                    --doc KIND FORMAT MEMBER_PATH SOURCE_FILE [--doc ...]
                    [--subject MEMBER_PATH NAME sha256:HEX ...] [--mode snapshot|delta]
                    [--previous BUNDLE_ID] [--created T] [--expires T] [--canonical]
                    [--frames N] [--corrupt-member MEMBER_PATH]

SEED holds the hex of a 32-byte Ed25519 seed; when the file does not exist a new key is
generated with PyNaCl and its seed written there. KEY.pub receives the standard base64 of the
raw public key. --corrupt-member flips one byte of that member after its digest went into the
manifest, for negative tests. Prints {"bundleId", "keyid", "documents", "frames"} as JSON.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import re
import sys
import tarfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import zstandard
from nacl.signing import SigningKey

PAYLOAD_TYPE = "application/vnd.stella.bundle.v1+json"
SCHEMA = "stella.bundle.v1"
MANIFEST_MEMBER = "manifest.dsse.json"
FEED = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MEMBER_PATH = re.compile(r"[A-Za-z0-9._/-]{1,240}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
KINDS = {
    "advisory": {"osv"},
    "vex": {"openvex", "cyclonedx", "csaf"},
    "sbom": {"cyclonedx", "spdx"},
}
ZSTD_LEVEL = 9


class BadInputError(Exception):
    """An argument that would make a bundle the contract forbids."""


@dataclass
class Document:
    """One member: where it goes in the bundle, what it is, and its bytes."""

    kind: str
    format: str
    path: str
    data: bytes
    subject: dict | None = None

    def entry(self) -> dict:
        """The manifest's entry for this document."""
        entry = {
            "path": self.path,
            "kind": self.kind,
            "format": self.format,
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "size": len(self.data),
        }
        if self.subject is not None:
            entry["subject"] = self.subject
        return entry


def check_member_path(path: str) -> str:
    """Refuses a member path the contract forbids."""
    parts = path.split("/")
    if not MEMBER_PATH.fullmatch(path) or any(p in ("", ".", "..") for p in parts):
        raise BadInputError(f"member path {path!r} is not allowed by the contract")
    if path == MANIFEST_MEMBER:
        raise BadInputError(f"member path {path!r} is reserved")
    return path


def load_documents(docs: list[list[str]], subjects: list[list[str]]) -> list[Document]:
    """Reads each --doc source and attaches its --subject; sboms need one, others refuse it."""
    by_member = {member: {"name": name, "digest": digest} for member, name, digest in subjects}
    result = []
    for kind, fmt, member, source in docs:
        if fmt not in KINDS.get(kind, set()):
            raise BadInputError(
                f"--doc {member}: {kind}/{fmt} is not a kind/format of the contract"
            )
        subject = by_member.pop(member, None)
        if (kind == "sbom") != (subject is not None):
            raise BadInputError(f"--doc {member}: a subject is required on an sbom and only there")
        if subject is not None and not DIGEST.fullmatch(subject["digest"]):
            raise BadInputError(f"--subject {member}: digest must be sha256:<64 lowercase hex>")
        data = Path(source).read_bytes()
        result.append(Document(kind, fmt, check_member_path(member), data, subject))
    if by_member:
        raise BadInputError(f"--subject for members not given with --doc: {sorted(by_member)}")
    if len({d.path for d in result}) != len(result):
        raise BadInputError("two --doc arguments name the same member path")
    return result


def manifest(args: argparse.Namespace, documents: list[Document]) -> dict:
    """The manifest, keys in the order the contract shows them (not sorted)."""
    if not FEED.fullmatch(args.feed):
        raise BadInputError(f"feed {args.feed!r} does not match {FEED.pattern}")
    if args.sequence < 1:
        raise BadInputError(f"sequence {args.sequence} must be at least 1")
    body = {
        "schema": SCHEMA,
        "feed": args.feed,
        "sequence": args.sequence,
        "previous": args.previous,
        "mode": args.mode,
        "createdAt": args.created,
    }
    if args.expires is not None:
        body["expiresAt"] = args.expires
    body["documents"] = [d.entry() for d in documents]
    return body


def to_json(value: dict, canonical: bool) -> bytes:
    """Canonical (sorted keys, no whitespace) or pretty; the contract allows either."""
    if canonical:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, lengths in ASCII decimal."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope(payload: bytes, key: SigningKey, canonical: bool) -> bytes:
    """The DSSE envelope holding the manifest, signed once with `key`."""
    public = bytes(key.verify_key)
    signature = key.sign(pae(PAYLOAD_TYPE, payload)).signature
    body = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {
                "keyid": hashlib.sha256(public).hexdigest(),
                "sig": base64.b64encode(signature).decode("ascii"),
            }
        ],
    }
    return to_json(body, canonical)


def tar_info(name: str, size: int, mtime: int, directory: bool = False) -> tarfile.TarInfo:
    """A PAX header with an extended record, so every member carries a pax 'x' block."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.uname = info.gname = "producer"
    info.uid = info.gid = 1000
    info.mode = 0o755 if directory else 0o644
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.pax_headers = {"comment": "written by tests/interop/produce_bundle.py"}
    return info


def tar_bytes(manifest_member: bytes, members: list[tuple[str, bytes]], mtime: int) -> bytes:
    """The tar archive: the envelope first, then each member after its parent directories."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(
            tar_info(MANIFEST_MEMBER, len(manifest_member), mtime), io.BytesIO(manifest_member)
        )
        seen_dirs: set[str] = set()
        for path, data in members:
            for parent in reversed(PurePosixPath(path).parents[:-1]):
                if str(parent) not in seen_dirs:
                    seen_dirs.add(str(parent))
                    tar.addfile(tar_info(f"{parent}/", 0, mtime, directory=True))
            tar.addfile(tar_info(path, len(data), mtime), io.BytesIO(data))
    return buffer.getvalue()


def compress(data: bytes, frames: int) -> bytes:
    """zstd, cut into `frames` independent frames written one after another."""
    if frames < 1:
        raise BadInputError(f"--frames {frames} must be at least 1")
    step = -(-len(data) // frames)
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
    chunks = [data[i : i + step] for i in range(0, len(data), step)]
    if len(chunks) != frames:
        raise BadInputError(f"{len(data)} tar bytes cannot be cut into {frames} frames")
    return b"".join(compressor.compress(chunk) for chunk in chunks)


def member_bytes(documents: list[Document], corrupt: str | None) -> list[tuple[str, bytes]]:
    """The bytes written for each member; `corrupt` gets one byte flipped after hashing."""
    if corrupt is not None and corrupt not in {d.path for d in documents}:
        raise BadInputError(f"--corrupt-member {corrupt!r} is not one of the --doc members")
    members = []
    for doc in documents:
        data = bytearray(doc.data)
        if doc.path == corrupt:
            data[len(data) // 2] ^= 0x01
        members.append((doc.path, bytes(data)))
    return members


def signing_key(seed_file: Path) -> SigningKey:
    """The key whose seed is in `seed_file`, generated and saved there when it is absent."""
    if seed_file.exists():
        try:
            seed = bytes.fromhex(seed_file.read_text(encoding="ascii").strip())
        except ValueError as e:
            raise BadInputError(f"{seed_file}: not a hex seed: {e}") from e
        if len(seed) != 32:
            raise BadInputError(f"{seed_file}: seed is {len(seed)} bytes, expected 32")
        return SigningKey(seed)
    key = SigningKey.generate()
    fd = os.open(seed_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(bytes(key).hex() + "\n")
    return key


def epoch_seconds(rfc3339: str) -> int:
    """createdAt as a tar mtime."""
    try:
        return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())
    except ValueError as e:
        raise BadInputError(f"--created {rfc3339!r} is not an RFC 3339 time") from e


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-file", type=Path, required=True)
    parser.add_argument("--pub-out", type=Path, required=True)
    parser.add_argument("--feed", required=True)
    parser.add_argument("--sequence", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--doc",
        nargs=4,
        action="append",
        required=True,
        metavar=("KIND", "FORMAT", "MEMBER_PATH", "SOURCE_FILE"),
    )
    parser.add_argument(
        "--subject", nargs=3, action="append", default=[], metavar=("MEMBER_PATH", "NAME", "DIGEST")
    )
    parser.add_argument("--mode", choices=["snapshot", "delta"], default="snapshot")
    parser.add_argument("--previous")
    parser.add_argument("--created", default="2026-01-01T00:00:00Z")
    parser.add_argument("--expires")
    parser.add_argument("--canonical", action="store_true")
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--corrupt-member")
    return parser.parse_args()


def produce(args: argparse.Namespace) -> dict:
    """Writes the bundle and the public key; returns what it printed about them."""
    documents = load_documents(args.doc, args.subject)
    payload = to_json(manifest(args, documents), args.canonical)
    key = signing_key(args.seed_file)
    public = bytes(key.verify_key)
    archive = tar_bytes(
        envelope(payload, key, args.canonical),
        member_bytes(documents, args.corrupt_member),
        epoch_seconds(args.created),
    )
    args.out.write_bytes(compress(archive, args.frames))
    args.pub_out.write_text(base64.b64encode(public).decode("ascii") + "\n", encoding="ascii")
    return {
        "bundleId": hashlib.sha256(payload).hexdigest(),
        "keyid": hashlib.sha256(public).hexdigest(),
        "documents": len(documents),
        "frames": args.frames,
    }


def main() -> int:
    args = parse_args()
    try:
        summary = produce(args)
    except BadInputError as e:
        print(f"produce_bundle: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"produce_bundle: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
