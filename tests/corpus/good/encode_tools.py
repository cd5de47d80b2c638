"""Encoding toolbox: base64, base32, hex and CRC32, plus compact blobs for pipelines."""
# call: encode "b64 hello world" => "aGVsbG8gd29ybGQ="
# call: decode "b64 aGVsbG8gd29ybGQ=" => "hello world"
# call: decode "hex 00ff10" => "3 bytes of binary data: 00 ff 10"
# call: decode "b64 not*base64" => "That is not valid b64 data."
# call: crc32 "The quick brown fox jumps over the lazy dog" => "CRC32 414fa339 (43 bytes)"
import base64
import binascii
import zlib

import pyward

ENCODERS = {
    "b64": base64.b64encode,
    "b64url": base64.urlsafe_b64encode,
    "b32": base64.b32encode,
    "hex": binascii.hexlify,
}
DECODERS = {
    "b64": lambda data: base64.b64decode(data, validate=True),
    "b64url": base64.urlsafe_b64decode,
    "b32": lambda data: base64.b32decode(data, casefold=True),
    "hex": binascii.unhexlify,
}


@pyward.command("encode", security="everyone", help="encode b64|b64url|b32|hex TEXT")
def encode(event, args):
    scheme, _, text = args.partition(" ")
    if scheme not in ENCODERS or not text:
        return "Usage: encode {} TEXT".format("|".join(ENCODERS))
    return ENCODERS[scheme](text.encode("utf-8")).decode("ascii")


@pyward.command("decode", security="everyone", help="decode b64|b64url|b32|hex DATA")
def decode(event, args):
    scheme, _, data = args.strip().partition(" ")
    if scheme not in DECODERS or not data:
        return "Usage: decode {} DATA".format("|".join(DECODERS))
    try:
        raw = DECODERS[scheme](data.strip().encode("ascii"))
    except (binascii.Error, ValueError):
        return "That is not valid {} data.".format(scheme)
    try:
        text = raw.decode("utf-8")
        if text.isprintable():
            return text
    except UnicodeDecodeError:
        pass
    return "{} bytes of binary data: {}".format(len(raw), raw[:32].hex(" "))


@pyward.command("crc32", security="everyone", help="crc32 TEXT")
def crc32(event, args):
    data = args.encode("utf-8")
    return "CRC32 {:08x} ({} bytes)".format(zlib.crc32(data), len(data))


def pack_blob(text):
    """Pipeline step: compress text and make it safe to store as a short ASCII string."""
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def unpack_blob(blob):
    """Pipeline step: the inverse of pack_blob."""
    return zlib.decompress(base64.urlsafe_b64decode(blob.encode("ascii"))).decode("utf-8")
