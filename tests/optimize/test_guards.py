import time

import pytest

from agentopt.optimizer.guards import copied_from, token_count, too_long

EXAMPLE = "My card was charged twice for order #4411 and I want the second charge refunded today."


def test_token_count_is_ceil_of_chars_over_four():
    assert token_count("") == 0
    assert token_count("abcd") == 1
    assert token_count("abcde") == 2
    assert token_count("x" * 400) == 100


def test_too_long():
    assert too_long("x" * 400, max_tokens=100) is None
    reason = too_long("x" * 401, max_tokens=100)
    assert reason == "too long: ~101 tokens > max 100"


def test_verbatim_copy_is_detected_ignoring_case_and_punctuation():
    prompt = "Rules:\n- Example: my card was charged TWICE for order 4411, and I want the second charge refunded!"
    excerpt = copied_from(prompt, ["Where is my parcel? It was due on Monday and never came.", EXAMPLE])
    assert excerpt is not None
    assert excerpt.startswith('"My card was charged twice for order #4411')  # quoted as the source writes it
    assert excerpt.endswith('..."')  # longer than the excerpt cap


def test_first_matching_source_is_reported():
    other = "Please cancel my subscription before the next billing cycle starts on Friday."
    prompt = f"{EXAMPLE} Also: {other}"
    assert copied_from(prompt, [other, EXAMPLE]).startswith('"Please cancel')


def test_copy_of_the_last_words_of_a_source_is_detected():
    prompt = "Say: I want the second charge refunded today, politely."
    assert copied_from(prompt, [EXAMPLE], min_words=7) == '"I want the second charge refunded today"'


def test_short_shared_phrase_is_not_a_copy():
    prompt = "If my card was charged twice, look up the order and refund the duplicate."
    assert copied_from(prompt, [EXAMPLE]) is None  # shares 5 consecutive words only


def test_exactly_min_words_counts():
    assert copied_from("x my card was charged twice for y", [EXAMPLE], min_words=6) == '"My card was charged twice for"'
    assert copied_from("x my card was charged twice y", [EXAMPLE], min_words=6) is None


def test_paraphrase_is_not_a_copy():
    prompt = "When a customer reports a duplicate charge on an order, refund the second payment the same day."
    assert copied_from(prompt, [EXAMPLE]) is None


def test_sources_shorter_than_min_words_are_ignored():
    assert copied_from("Hello, where is my order?", ["where is my order"]) is None
    assert copied_from("", [EXAMPLE]) is None


def test_invalid_min_words():
    with pytest.raises(ValueError):
        copied_from("text", ["text"], min_words=0)


def test_fast_on_many_long_sources():
    sources = [" ".join(f"w{i}_{j}" for j in range(500)) for i in range(100)]
    prompt = " ".join(f"p{j}" for j in range(2000)) + " " + " ".join(f"w99_{j}" for j in range(8))
    start = time.perf_counter()
    assert copied_from(prompt, sources) == '"' + " ".join(f"w99_{j}" for j in range(8)) + '"'
    assert time.perf_counter() - start < 0.5
