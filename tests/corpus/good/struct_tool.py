"""Binary packing for protocol debugging: pack values to hex and unpack hex to values."""
# call: pack "<hhI 1 -2 3" => "<hhI -> 0100feff03000000 (8 bytes)"
# call: unpack ">HB 1f9002" => ">HB <- 8080, 2"
# call: pack "<h 70000" => "Those values do not fit format <h."
# call: unpack "<I abcd" => "Format <I needs 4 bytes, got 2."
# call: layout ["<BxHd"] => {"size": 12, "fields": ["uint8", "pad", "uint16", "float64"]}
import binascii
import re
import struct

import pyward

FORMAT = re.compile(r"^[@=<>!]?(?:\d*[xcbB?hHiIlLqQefd])+$")
NAMES = {"x": "pad", "c": "char", "b": "int8", "B": "uint8", "?": "bool", "h": "int16",
         "H": "uint16", "i": "int32", "I": "uint32", "l": "int32", "L": "uint32",
         "q": "int64", "Q": "uint64", "e": "float16", "f": "float32", "d": "float64"}


def parse_value(text):
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text.encode("utf-8")


@pyward.command("pack", security="everyone", help="pack FORMAT VALUES..., e.g. pack <hhI 1 -2 3")
def pack(event, args):
    words = args.split()
    if not words or not FORMAT.match(words[0]):
        return "Usage: pack FORMAT VALUES... (struct format such as <hhI)"
    try:
        data = struct.pack(words[0], *[parse_value(w) for w in words[1:]])
    except (struct.error, OverflowError, TypeError):
        return "Those values do not fit format {}.".format(words[0])
    return "{} -> {} ({} bytes)".format(words[0], binascii.hexlify(data).decode("ascii"), len(data))


@pyward.command("unpack", security="everyone", help="unpack FORMAT HEX")
def unpack(event, args):
    words = args.split()
    if len(words) != 2 or not FORMAT.match(words[0]):
        return "Usage: unpack FORMAT HEX"
    try:
        data = binascii.unhexlify(words[1])
    except (binascii.Error, ValueError):
        return "That is not hex."
    size = struct.calcsize(words[0])
    if len(data) != size:
        return "Format {} needs {} bytes, got {}.".format(words[0], size, len(data))
    values = struct.unpack(words[0], data)
    return "{} <- {}".format(words[0], ", ".join(repr(v) if isinstance(v, bytes) else str(v) for v in values))


def layout(fmt):
    """Pipeline step: the size of a struct format and what each field is."""
    if not FORMAT.match(fmt):
        raise ValueError("not a struct format")
    fields = []
    for count, code in re.findall(r"(\d*)([xcbB?hHiIlLqQefd])", fmt):
        fields.extend([NAMES[code]] * int(count or 1))
    return {"size": struct.calcsize(fmt), "fields": fields}
