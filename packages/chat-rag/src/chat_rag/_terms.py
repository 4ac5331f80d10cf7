"""Query terms for the lexical retrievers: lower-cased words without the commonest English ones."""

from __future__ import annotations

import re
from typing import Final

_WORD: Final = re.compile(r"\w+")
_MAX_TERMS: Final = 32
# Questions are mostly function words; matching on them only adds noise to a disjunctive (OR) query.
_STOPWORDS: Final = frozenset(
    """a about above after again all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here
    hers him his how i if in into is it its itself just me more most my no nor not now of off on once only
    or other our ours out over own same she should so some such than that the their theirs them then there
    these they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours""".split()  # noqa: SIM905  (a word list reads better as text)
)


def query_terms(query: str) -> list[str]:
    """Distinct content words of a query, in order (all words if every one is a stop word)."""
    words = [word.lower() for word in _WORD.findall(query)]
    content = [word for word in words if word not in _STOPWORDS] or words
    return list(dict.fromkeys(content))[:_MAX_TERMS]
