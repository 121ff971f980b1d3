"""Is an information item commercial? A stated reason for every answer (pure)."""

from __future__ import annotations

import re

from .similarity import normalise

PROMOTIONAL = ("buy", "discount", "sale", "offer", "coupon", "price", "order now", "shop", "subscribe", "deal",
               "free shipping", "limited time", "promo")
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)


def classify(title: str, text: str, price: int) -> tuple[bool, str]:
    """``(commercial, reason)``: sold for coins, or promotional wording or links, make an item commercial."""
    if price > 0:
        return True, f"offered for sale at {price} coin units"
    words = f" {normalise(title + ' ' + text)} "
    found = sorted(term for term in PROMOTIONAL if f" {term} " in words)
    if found:
        return True, "promotional terms: " + ", ".join(found)
    if _URL.search(text):
        return True, "carries links to outside offers"
    return False, "free, with no promotional terms or links"
