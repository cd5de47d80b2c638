"""The example bot, driven through a scripted conversation against a real supervisor."""
import os
import subprocess
import sys

from conftest import HERE

BOT = os.path.join(HERE, "..", "examples", "bot.py")

SCRIPT = """\
@ann: hello everyone
@ann: .ping
@ann: .note add buy milk
@bob: .note add call mum
@ann: .note list
@ann: .fmt date 2026-11-22
@ann: .fmt json {"b": 1, "a": [1, 2]}
@bob: .clear-notes
!grant @bob notes clear-notes 1
@bob: .clear-notes
!sleep 1.2
@bob: .clear-notes
@bob: .clear-notes
@ann: .free-stickers
@ann: .afk lunch
@bob: is @ann around?
@ann: back
@ann: .help
"""


def test_a_scripted_conversation(daemon):
    out = subprocess.run([sys.executable, BOT, "--socket", daemon.socket], input=SCRIPT,
                         capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    text = out.stdout
    assert out.returncode == 0, out.stderr
    assert "loaded notes (clear-notes, note)" in lines
    assert "refused to load evil: scan_rejected" in lines
    assert any("[forbidden-attribute]" in l for l in lines), text
    assert any(l.startswith("bot> pong") for l in lines), text
    assert "bot> noted (2 so far)" in lines
    assert "bot> - buy milk (by @ann)\n- call mum (by @bob)" in text
    assert "bot> Sunday 22 November 2026" in lines
    assert '  "a": [' in text
    # @bob is no sudo: refused, then allowed by a one-second grant, then refused again.
    assert "bot> @bob, .clear-notes needs sudo rights" in lines
    assert "[log] notes: notes cleared in !example-room by @bob" in lines
    assert "bot> notes cleared" in lines
    assert "bot> @bob, your permission for .clear-notes has expired" in lines
    assert lines.count("bot> @bob, .clear-notes needs sudo rights") == 2, "the expiry is told once"
    assert "bot> unknown command .free-stickers" in lines
    # Events: the afk module hears plain messages; its data is in pyward's storage.
    assert "bot> @ann is now away" in lines
    assert "bot> @ann is away: lunch" in lines
    assert "bot> welcome back, @ann" in lines
    assert any(l.startswith("bot> .afk — afk REASON") for l in lines), text
    assert ".note — note add TEXT | note list" in text
