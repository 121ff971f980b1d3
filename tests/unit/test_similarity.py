"""Near-copy detection measured on real text: edits and close paraphrases flagged, unrelated text not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.similarity import NEAR_COPY_THRESHOLD, bands, jaccard, signature, similarity

# Jane Austen, Pride and Prejudice (1813), chapter 1: public domain.
ORIGINAL = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in "
            "want of a wife. However little known the feelings or views of such a man may be on his first entering a "
            "neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is "
            "considered the rightful property of some one or other of their daughters.")
# A light edit: three words changed, one dropped, American spelling.
EDITED = ("It is a truth universally acknowledged, that a single man in possession of a large fortune, must be in "
          "want of a wife. However little known the feelings or opinions of such a man may be on his first entering "
          "a neighborhood, this truth is so well fixed in the minds of the surrounding families, that he is "
          "considered the rightful property of one or other of their daughters.")
# A close paraphrase that keeps much of the phrasing.
PARAPHRASE = ("Everyone accepts it as true that a rich single man must be looking for a wife. However little is known "
              "of the feelings or views of such a man when he first arrives in a neighbourhood, this truth is so fixed "
              "in the minds of the families around him that he is thought of as the rightful property of one of their "
              "daughters.")
# A loose rewording that shares no phrasing.
REWORDED = ("All the world agrees that an unmarried gentleman with money will want to marry. Whatever he himself may "
            "think, once he moves into the district the local families treat him as a prize for one of their girls.")
# Herman Melville, Moby-Dick (1851), chapter 1: public domain, unrelated.
UNRELATED = ("Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, "
             "and nothing particular to interest me on shore, I thought I would sail about a little and see the "
             "watery part of the world.")


def _score(text: str) -> float:
    return similarity(signature(ORIGINAL), signature(text))


def test_an_edited_copy_is_flagged():
    assert _score(EDITED) >= 0.8 > NEAR_COPY_THRESHOLD


def test_a_close_paraphrase_is_flagged():
    assert _score(PARAPHRASE) >= NEAR_COPY_THRESHOLD


def test_a_loose_rewording_and_unrelated_text_are_not():
    assert _score(REWORDED) < NEAR_COPY_THRESHOLD
    assert _score(UNRELATED) < NEAR_COPY_THRESHOLD / 2


def test_near_copies_share_a_band_and_so_become_candidates():
    assert set(bands(signature(ORIGINAL))) & set(bands(signature(PARAPHRASE)))
    assert set(bands(signature(ORIGINAL))) & set(bands(signature(EDITED)))


def test_case_punctuation_and_spacing_do_not_matter():
    assert _score(ORIGINAL.upper().replace(",", " ;  ")) == 1.0


@given(st.text(min_size=20, max_size=300))
def test_the_minhash_estimate_tracks_the_true_jaccard(text):
    other = text[: len(text) // 2] + "something else entirely"
    estimate = similarity(signature(text), signature(other))
    assert abs(estimate - jaccard(text, other)) < 0.25
