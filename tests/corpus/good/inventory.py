"""RPG inventory per player, written with modern annotations (PEP 563 / 585 / 604)."""
# call: inv "" => "Your bag is empty."
# call: inv "add 3 potion" => "Added 3 potion. Bag: potion x3 (3/20 slots)"
# call: inv "add 2 rope" => "Added 2 rope. Bag: potion x3, rope x2 (5/20 slots)"
# call: inv "use 4 potion" => "You only have 3 potion."
# call: inv "use potion" => "Used 1 potion. Bag: potion x2, rope x2 (4/20 slots)"
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import ClassVar

import pyward


@dataclass
class Bag:
    items: collections.Counter[str] = field(default_factory=collections.Counter)
    capacity: ClassVar[int] = 20

    @classmethod
    def load(cls, player: str) -> Bag:
        return cls(collections.Counter(pyward.kv_get("bag:" + player, {})))

    def save(self, player: str) -> None:
        pyward.kv_set("bag:" + player, dict(+self.items))

    def used(self) -> int:
        return sum(self.items.values())

    def add(self, name: str, count: int) -> str | None:
        if self.used() + count > self.capacity:
            return "That would overfill your bag ({}/{} slots used).".format(self.used(), self.capacity)
        self.items[name] += count
        return None

    def take(self, name: str, count: int) -> str | None:
        if self.items[name] < count:
            return "You only have {} {}.".format(self.items[name], name) if self.items[name] else "You have no {}.".format(name)
        self.items[name] -= count
        return None

    def describe(self) -> str:
        listing = ", ".join("{} x{}".format(n, c) for n, c in sorted((+self.items).items()))
        return "Bag: {} ({}/{} slots)".format(listing or "empty", self.used(), self.capacity)


def parse(rest: str) -> tuple[int, str] | None:
    words = rest.split()
    if not words:
        return None
    count = 1
    if words[0].isdigit():
        count, words = int(words[0]), words[1:]
    name = " ".join(words).lower()
    return (count, name) if name and count > 0 else None


@pyward.command("inv", security="everyone", help="inv | inv add [N] ITEM | inv use [N] ITEM | inv drop [N] ITEM")
def inv(event: dict[str, str], args: str) -> str:
    player = event["sender"]
    bag = Bag.load(player)
    verb, _, rest = args.strip().partition(" ")
    if not verb:
        return "Your bag is empty." if not bag.used() else bag.describe()
    parsed = parse(rest)
    if verb not in ("add", "use", "drop") or parsed is None:
        return "Usage: inv | inv add [N] ITEM | inv use [N] ITEM | inv drop [N] ITEM"
    count, name = parsed
    problem = bag.add(name, count) if verb == "add" else bag.take(name, count)
    if problem:
        return problem
    bag.save(player)
    done = {"add": "Added", "use": "Used", "drop": "Dropped"}[verb]
    return "{} {} {}. {}".format(done, count, name, bag.describe())
