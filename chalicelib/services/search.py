"""Keyword search over goods and items, from an inverted index of words: no scan.

Publishing an item (and the first vote on goods) writes one index row per
distinct word of its title and text (``word#<word>`` / ``item#<id>``). A search
reads the rows of each query word, keeps what every word names, loads those
records and ranks them: by net votes, then votes in all, then age. So a search
costs what its words match, whatever else the state holds.
"""

from __future__ import annotations

from typing import Any

from ..domain.records import Goods, Item, Key, Word
from ..domain.similarity import normalise
from ..errors import InvalidParameter
from ..store import backend

MAX_QUERY_WORDS = 10


def words_of(text: str) -> list[str]:
    """The distinct words of ``text``, as the index keeps them (normalised; at most 200 bytes each)."""
    return sorted({w for w in normalise(text).split() if len(w.encode("utf-8")) <= 200})


def index_words(target: str, text: str) -> None:
    """Index ``target`` ("item#<id>" or "goods#<product>") under every word of ``text``; safe to repeat."""
    backend.state().put_all([Word(word=w, target=target) for w in words_of(text)])


def search(text: str, offset: int, limit: int) -> dict[str, Any]:
    """Every word must match; ranked by votes, then votes in all, then age."""
    words = words_of(text)
    if not words:  # only punctuation, say: nothing matches it
        return {"query": text, "results": [], "next": None}
    if len(words) > MAX_QUERY_WORDS:
        raise InvalidParameter(f"q has at most {MAX_QUERY_WORDS} distinct words", field="q")
    store = backend.state()
    matches: set[str] | None = None
    for word in sorted(words, key=len, reverse=True):  # longer words tend to be rarer
        found = {row.target for row in store.query(Word, f"word#{word}")}
        matches = found if matches is None else matches & found
        if not matches:
            break
    targets = sorted(matches or ())
    items = store.get_many(Item, [Key(t) for t in targets if t.startswith("item#")])
    goods = store.get_many(Goods, [Key(t) for t in targets if t.startswith("goods#")])
    results: list[dict[str, Any]] = []
    for item in items.values():
        results.append({"kind": "item", "id": item.item_id, "title": item.title, "up": item.up, "down": item.down,
                        "since": item.ts, "label": "commercial" if item.commercial else "non-commercial",
                        "reason": item.reason, "vote_to_earn": item.stake > 0})
    for g in goods.values():
        results.append({"kind": "goods", "id": g.product, "title": g.title, "up": g.up, "down": g.down,
                        "since": g.first_vote, "label": "commercial", "reason": "goods sold in orders",
                        "vote_to_earn": False})
    results.sort(key=lambda r: (-(r["up"] - r["down"]), -(r["up"] + r["down"]), r["since"], r["kind"], r["id"]))
    page = results[offset:offset + limit]
    following = offset + limit if offset + limit < len(results) else None
    return {"query": text, "results": page, "next": str(following) if following is not None else None}
