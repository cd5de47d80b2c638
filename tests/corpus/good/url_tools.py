"""Link hygiene: strip tracking parameters, explain a URL, build query strings."""
# call: cleanurl "https://shop.example.com/item?id=42&utm_source=news&utm_medium=mail&fbclid=xyz#reviews" => "https://shop.example.com/item?id=42#reviews (removed 3 tracking parameters)"
# call: cleanurl "https://example.org/docs?page=2" => "https://example.org/docs?page=2 is already clean."
# call: cleanurl "not a link" => "That does not look like an http(s) URL."
# call: urlinfo "https://bob@wiki.example.net:8443/a%20page/edit?lang=en&lang=fr&q=caf%C3%A9#top" => "scheme: https\nhost: wiki.example.net\nport: 8443\nuser: bob\npath: /a page/edit\nquery: lang=en, lang=fr, q=caf\u00e9\nfragment: top"
# call: build_url ["https://example.org/search/", "../tags", {"q": "r\u00e9sum\u00e9 tips", "page": 2}] => "https://example.org/tags?q=r%C3%A9sum%C3%A9+tips&page=2"
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

import pyward

TRACKING_PREFIXES = ("utm_", "mc_", "pk_")
TRACKING_NAMES = {"fbclid", "gclid", "dclid", "msclkid", "igshid", "yclid", "ref_src"}


def split_web_url(text):
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts


def is_tracking(name):
    name = name.lower()
    return name in TRACKING_NAMES or name.startswith(TRACKING_PREFIXES)


@pyward.command("cleanurl", security="everyone", help="cleanurl URL: drop utm_* and click ids")
def cleanurl(event, args):
    parts = split_web_url(args)
    if parts is None:
        return "That does not look like an http(s) URL."
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not is_tracking(k)]
    cleaned = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))
    removed = len(pairs) - len(kept)
    if not removed:
        return cleaned + " is already clean."
    return "{} (removed {} tracking parameter{})".format(cleaned, removed, "" if removed == 1 else "s")


@pyward.command("urlinfo", security="everyone", help="urlinfo URL: show the parts of a link")
def urlinfo(event, args):
    parts = split_web_url(args)
    if parts is None:
        return "That does not look like an http(s) URL."
    try:
        port = parts.port
    except ValueError:
        return "That URL has an invalid port."
    rows = [("scheme", parts.scheme), ("host", parts.hostname), ("port", port),
            ("user", parts.username), ("path", unquote(parts.path) or "/"),
            ("query", ", ".join("{}={}".format(k, v) for k, v in parse_qsl(parts.query))),
            ("fragment", parts.fragment)]
    return "\n".join("{}: {}".format(label, value) for label, value in rows if value)


def build_url(base, path, params=None):
    """Pipeline step: resolve a relative path against a base URL and add a query string."""
    target = urljoin(base, path)
    if params:
        target += ("&" if "?" in target else "?") + urlencode(params)
    return target
