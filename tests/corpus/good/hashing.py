"""Digest commands: md5, sha1 and sha256 of the given text."""
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
