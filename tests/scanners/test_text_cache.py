"""The scanner modules' memory of texts they have scanned (modules/_scanning.py)."""

from leash_cli.modules._scanning import _SEEN_SLOTS, _TextCache


def test_a_text_seen_once_is_not_kept():
    cache = _TextCache(1 << 20)
    for i in range(1000):  # traffic of new prompts
        cache.put(f"prompt number {i} " * 20, ())
    assert not cache.items and cache.size == 0


def test_a_text_that_comes_back_is_kept_and_found():
    cache = _TextCache(1 << 20)
    text = "the same system prompt, sent on every turn " * 10
    cache.put(text, ("found",))
    assert cache.get(text) is None
    cache.put(text, ("found",))
    assert cache.get(text) == ("found",)


def test_a_hash_slot_taken_by_another_text_only_costs_a_scan():
    cache = _TextCache(1 << 20)
    a = "a text that comes back " * 10
    # another text whose hash lands in the same slot
    b = next(
        t
        for t in (f"other text {i} " * 10 for i in range(1_000_000))
        if hash(t) & (_SEEN_SLOTS - 1) == hash(a) & (_SEEN_SLOTS - 1) and t != a
    )
    cache.put(a, ("a",))
    cache.put(b, ("b",))  # takes the slot: a's first sighting is forgotten
    cache.put(a, ("a",))
    assert cache.get(a) is None and cache.get(b) is None
    cache.put(a, ("a",))
    assert cache.get(a) == ("a",) and cache.get(b) is None


def test_kept_texts_stay_within_the_limit():
    cache = _TextCache(4096)
    for i in range(200):
        t = f"text {i:04d} " * 20
        cache.put(t, ())
        cache.put(t, ())
        assert cache.size <= 4096
    assert cache.items and f"text {199:04d} " * 20 in cache.items
