"""UUID toolbox: fresh ids, stable name-based ids, and what an existing UUID encodes."""
# call: uuid "new" ~ "New id: "
# call: uuid "v5 url https://example.org/" => "UUID v5 of https://example.org/ in the url namespace: 527dda32-a0de-5105-a042-cb475b5f7d11"
# call: uuid "info 6ba7b811-9dad-11d1-80b4-00c04fd430c8" => "6ba7b811-9dad-11d1-80b4-00c04fd430c8: version 1, RFC 4122 variant, created 1998-02-04 22:13:53 UTC"
# call: uuid "info not-a-uuid" => "That is not a UUID."
# call: short_id ["@alice:example.org"] => "q3ybv3zbwg"
import base64
import datetime
import hashlib
import uuid

import pyward

NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}
GREGORIAN = datetime.datetime(1582, 10, 15, tzinfo=datetime.timezone.utc)
USAGE = "Usage: uuid new | uuid v5 dns|url|oid|x500 NAME | uuid info UUID"


def describe(value):
    variant = {uuid.RFC_4122: "RFC 4122 variant", uuid.RESERVED_MICROSOFT: "Microsoft variant"}
    parts = ["version {}".format(value.version) if value.version else "no version",
             variant.get(value.variant, "reserved variant")]
    if value.version == 1:
        created = GREGORIAN + datetime.timedelta(microseconds=value.time // 10)
        parts.append("created " + created.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return "{}: {}".format(value, ", ".join(parts))


@pyward.command("uuid", security="everyone", help=USAGE)
def uuid_command(event, args):
    verb, _, rest = args.strip().partition(" ")
    if verb in ("", "new"):
        return "New id: {}".format(uuid.uuid4())
    if verb == "v5":
        space, _, name = rest.strip().partition(" ")
        if space not in NAMESPACES or not name.strip():
            return USAGE
        made = uuid.uuid5(NAMESPACES[space], name.strip())
        return "UUID v5 of {} in the {} namespace: {}".format(name.strip(), space, made)
    if verb == "info":
        try:
            return describe(uuid.UUID(rest.strip()))
        except ValueError:
            return "That is not a UUID."
    return USAGE


def short_id(text, length=10):
    """Pipeline step: a short, stable, case-insensitive id for any text (base32 of SHA-256)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[: int(length)]
