"""Per-chat bot settings, validated by a dataclass and kept in the key-value store."""
# call: config "" => "prefix = \"!\"\ngreeting = \"Welcome!\"\nmax_warnings = 3\nslow_mode_seconds = 0\nquiet = false\nadmins = []\nlanguage = null"
# call: config "max_warnings 5" => "max_warnings = 5"
# call: config "max_warnings 0" => "Invalid value for max_warnings: must be at least 1"
# call: config "admins @bob:example.org, @carol:example.org" => "admins = [\"@bob:example.org\", \"@carol:example.org\"]"
# call: config "colour red" => "Unknown setting colour. Known: admins, greeting, language, max_warnings, prefix, quiet, slow_mode_seconds"
import dataclasses
import json
from dataclasses import dataclass, field
from typing import List, Optional

import pyward


@dataclass
class Settings:
    prefix: str = "!"
    greeting: str = "Welcome!"
    max_warnings: int = 3
    slow_mode_seconds: int = 0
    quiet: bool = False
    admins: List[str] = field(default_factory=list)
    language: Optional[str] = None

    def __post_init__(self):
        if len(self.prefix) != 1:
            raise ValueError("must be a single character")
        if self.max_warnings < 1:
            raise ValueError("must be at least 1")
        if not 0 <= self.slow_mode_seconds <= 3600:
            raise ValueError("must be between 0 and 3600")


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
TRUE_WORDS = {"yes", "true", "on", "1"}
FALSE_WORDS = {"no", "false", "off", "0"}


def load(chat):
    stored = pyward.kv_get("settings:" + chat)
    return Settings(**stored) if stored else Settings()


def coerce(name, text):
    kind = FIELDS[name].type
    if kind is bool:
        if text.lower() in TRUE_WORDS | FALSE_WORDS:
            return text.lower() in TRUE_WORDS
        raise ValueError("say yes or no")
    if kind is int:
        if not text.lstrip("-").isdigit():
            raise ValueError("must be a whole number")
        return int(text)
    if kind == List[str]:
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind == Optional[str]:
        return None if text.lower() in ("none", "-") else text
    return text


def show(settings):
    values = dataclasses.asdict(settings)
    return "\n".join("{} = {}".format(name, json.dumps(values[name])) for name in FIELDS)


@pyward.command("config", security="owner", help="config | config KEY | config KEY VALUE | config reset")
def config(event, args):
    chat = event["chat"]
    key, _, value = args.strip().partition(" ")
    settings = load(chat)
    if not key:
        return show(settings)
    if key == "reset":
        pyward.kv_delete("settings:" + chat)
        return "Settings reset to defaults."
    if key not in FIELDS:
        return "Unknown setting {}. Known: {}".format(key, ", ".join(sorted(FIELDS)))
    if not value.strip():
        return "{} = {}".format(key, json.dumps(dataclasses.asdict(settings)[key]))
    try:
        updated = dataclasses.replace(settings, **{key: coerce(key, value.strip())})
    except ValueError as error:
        return "Invalid value for {}: {}".format(key, error)
    pyward.kv_set("settings:" + chat, dataclasses.asdict(updated))
    pyward.log("{} changed {}".format(event["sender"], key))
    return "{} = {}".format(key, json.dumps(dataclasses.asdict(updated)[key]))
