"""Word frequency of a message, with collections.Counter."""
# call: words "the cat and the hat and the bat" => "cat x1, hat x1, bat x1"
# call: words "" => "No words to count."
import collections
import re

import pyward

WORD = re.compile(r"[\w']+", re.UNICODE)
STOPWORDS = frozenset("a an and the of to in is it that for on with as at by".split())


def top_words(text, n=5):
    words = [w.lower() for w in WORD.findall(text)]
    counts = collections.Counter(w for w in words if w not in STOPWORDS and len(w) > 1)
    return counts.most_common(n)


@pyward.command("words", security="everyone", help="words TEXT: most common words")
def words(event, args):
    common = top_words(args)
    if not common:
        return "No words to count."
    return ", ".join("{} x{}".format(word, count) for word, count in common)
