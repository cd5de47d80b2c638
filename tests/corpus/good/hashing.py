"""Digest commands: md5, sha1 and sha256 of the given text."""
# call: hash "md5 abc" => "md5: 900150983cd24fb0d6963f7d28e17f72"
# call: hash "sha256 pyward" => "sha256: 2fd86648f18a47d62cec084f76f2218a2783aefe36df71d6894b4a26ca51bf17"
import hashlib

import pyward

ALGORITHMS = ("md5", "sha1", "sha256")


def digest(algorithm, text):
    if algorithm not in ALGORITHMS:
        raise ValueError("unknown algorithm " + algorithm)
    h = hashlib.new(algorithm)
    h.update(text.encode("utf-8"))
    return h.hexdigest()


@pyward.command("hash", security="everyone", help="hash sha256 some text")
def hash_command(event, args):
    algorithm, _, text = args.partition(" ")
    if not text:
        return "Usage: hash md5|sha1|sha256 TEXT"
    try:
        return "{}: {}".format(algorithm, digest(algorithm.lower(), text))
    except ValueError as error:
        return str(error)
