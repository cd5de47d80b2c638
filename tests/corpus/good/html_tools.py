"""HTML helpers for bridging chat text to web pages and back."""
# call: escape "<b>Tom & Jerry's</b>" => "&lt;b&gt;Tom &amp; Jerry&#x27;s&lt;/b&gt;"
# call: unescape "Fish &amp; chips &lt;3 &euro;5 &#x1F41F;" => "Fish & chips <3 \u20ac5 \ud83d\udc1f"
# call: escape "" => "Usage: escape TEXT"
# call: to_plain ["<p>Hello&nbsp;<b>world</b>!</p>\n<ul><li>one</li><li>two &amp; three</li></ul><script>alert(1)</script>"] => "Hello world!\n- one\n- two & three"
# call: link ["https://example.org/?q=a&b=\"c\"", "Search <results>"] => "<a href=\"https://example.org/?q=a&amp;b=&quot;c&quot;\" rel=\"nofollow\">Search &lt;results&gt;</a>"
import html
import re

import pyward

DROP = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
BREAKS = re.compile(r"<\s*(br|/p|/div|/h[1-6]|/li|/tr)\b[^>]*>", re.IGNORECASE)
ITEMS = re.compile(r"<\s*li\b[^>]*>", re.IGNORECASE)
TAGS = re.compile(r"<[^>]+>")
SPACES = re.compile(r"[ \t\u00a0]+")


@pyward.command("escape", security="everyone", help="escape TEXT: make text safe inside HTML")
def escape(event, args):
    if not args:
        return "Usage: escape TEXT"
    return html.escape(args, quote=True)


@pyward.command("unescape", security="everyone", help="unescape TEXT: decode HTML entities")
def unescape(event, args):
    if not args:
        return "Usage: unescape TEXT"
    return html.unescape(args)


def to_plain(markup):
    """Pipeline step: readable text from a small HTML fragment (scripts and styles dropped)."""
    text = DROP.sub("", markup)
    text = ITEMS.sub("\n- ", text)
    text = BREAKS.sub("\n", text)
    text = html.unescape(TAGS.sub("", text))
    lines = [SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def link(url, label):
    """Pipeline step: an anchor tag with both the address and the label escaped."""
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError("only http(s) links")
    return '<a href="{}" rel="nofollow">{}</a>'.format(html.escape(url, quote=True), html.escape(label))
