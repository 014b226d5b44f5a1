"""cvibot-faq benchmark: index build time, query latency, and ranking accuracy.

Run from the repository root:

    .venv/bin/python plugins/cvibot-faq/bench/bench_faq.py [--sizes 1000 10000] [--queries N]

1. For each size N: build an index of N synthetic entries (deterministic: pseudo-words
   with Zipf frequencies, the head cut off as stopwords would be; questions of 5-10
   words, answers of 20-50, up to two alternatives) and print the build time (ms); run
   ``--queries`` searches (each 2-4 words of one entry's question and 1-2 of its answer
   in another order, plus 1-2 words no entry uses) and print the latency p50/p99 (µs)
   and how often the source entry came first; once plain, once with ``typo_tolerance``
   on queries with a misspelled word.
2. Print the top-1 accuracy on the shop test set of the tests (the example knowledge
   base, 22 entries, and 31 paraphrased questions), with and without its synonym list,
   and what the default ``min_score`` answers, right and wrong, and how many unrelated
   questions it answers.

Targets on a 2-core machine: 10,000 entries build in under 1 s; plain queries p50 under
5 ms and p99 under 20 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cvibot_faq import FaqEntry, FaqIndex, FaqSettings, Synonyms, load_entries

_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["ch", "sh", "th"]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """``size`` distinct pseudo-words of 2 or 3 syllables."""
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3, 3)))))
    return sorted(words)


def synthetic_entries(count: int, seed: int = 7) -> list[FaqEntry]:
    """``count`` entries with unique questions; word frequencies follow Zipf's law."""
    rng = random.Random(seed)
    vocab = vocabulary(max(2000, count // 2), rng)
    # Offset 20: the commonest words of a language are stopwords, never asked for.
    weights = [1 / (rank + 20) for rank in range(len(vocab))]

    def text(low: int, high: int) -> str:
        return " ".join(rng.choices(vocab, weights, k=rng.randint(low, high)))

    entries: list[FaqEntry] = []
    seen: set[str] = set()
    while len(entries) < count:
        question = text(5, 10) + "?"
        if question in seen:
            continue
        seen.add(question)
        alternatives = tuple(text(4, 8) + "?" for _ in range(rng.randint(0, 2)))
        entries.append(FaqEntry(question, text(20, 50) + ".", alternatives, (), "bench", 0))
    return entries


def queries(
    entries: Sequence[FaqEntry], count: int, typos: bool, seed: int = 11
) -> list[tuple[str, int]]:
    """(query, index of the entry it was made from); ``typos`` swaps two letters of the
    longest word."""
    rng = random.Random(seed)
    made: list[tuple[str, int]] = []
    for _ in range(count):
        target = rng.randrange(len(entries))
        entry = entries[target]
        question_words = entry.question.rstrip("?").split()
        answer_words = entry.answer.rstrip(".").split()
        words = rng.sample(question_words, min(len(question_words), rng.randint(2, 4)))
        words += rng.sample(answer_words, rng.randint(1, 2))
        words += ["zzyzx", "qwopt"][: rng.randint(1, 2)]  # words no entry uses
        if typos:
            longest = max(range(len(words) - 1), key=lambda i: len(words[i]))
            w = words[longest]
            if len(w) > 4:
                words[longest] = w[:2] + w[3] + w[2] + w[4:]
        rng.shuffle(words)
        made.append((" ".join(words), target))
    return made


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def percentile(samples: Sequence[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


def bench_size(size: int, count: int) -> None:
    entries = synthetic_entries(size)
    holder: list[FaqIndex] = []
    build = timed(lambda: holder.append(FaqIndex(entries)))
    tolerant_build = timed(lambda: holder.append(FaqIndex(entries, typo_tolerance=True)))
    plain, tolerant = holder
    print(
        f"{size:>6} entries: build {build * 1000:7.1f} ms"
        f" ({tolerant_build * 1000:.1f} ms with typo_tolerance)"
    )
    for label, index, typos in (
        ("plain queries", plain, False),
        ("typo queries, typo_tolerance", tolerant, True),
    ):
        cases = queries(entries, count, typos)
        index.search(cases[0][0])  # warm up
        latencies: list[float] = []
        first = 0
        for question, target in cases:
            began = time.perf_counter()
            hits = index.search(question, limit=1)
            latencies.append(time.perf_counter() - began)
            first += bool(hits) and hits[0].entry is entries[target]
        print(
            f"        {label:<30} p50 {percentile(latencies, 50) * 1e6:7.0f} µs"
            f"   p99 {percentile(latencies, 99) * 1e6:7.0f} µs"
            f"   top-1 {first / len(cases):6.1%}"
        )
    plain.close()
    tolerant.close()


def bench_shop() -> None:
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    from faq_helpers import DATA, PARAPHRASES, SOURCES, SYNONYMS, UNRELATED

    entries = load_entries(SOURCES, DATA)
    min_score = FaqSettings(sources=()).min_score
    print(f"shop test set: {len(entries)} entries, {len(PARAPHRASES)} paraphrased questions")
    for label, synonyms in (("without synonyms", None), ("with synonyms", SYNONYMS)):
        index = FaqIndex(entries, synonyms=Synonyms(synonyms))
        right = answered = answered_right = 0
        for question, expected in PARAPHRASES:
            hits = index.search(question, min_score=0)
            right += bool(hits) and hits[0].entry.question == expected
            kept = [h for h in hits if h.score >= min_score]
            answered += bool(kept)
            answered_right += bool(kept) and kept[0].entry.question == expected
        unrelated = sum(bool(index.search(q, min_score=min_score)) for q in UNRELATED)
        n = len(PARAPHRASES)
        print(
            f"  {label:<17} top-1 {right}/{n} = {right / n:.1%};"
            f" at min_score {min_score}: {answered_right}/{n} answered right,"
            f" {answered - answered_right} wrong, {unrelated}/{len(UNRELATED)} unrelated answered"
        )
        index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    for size in args.sizes:
        bench_size(size, args.queries)
    bench_shop()


if __name__ == "__main__":
    main()
