# Chapter 02 notes: learning_notes/02_data/README.md#the-offline-sample-sets
"""Offline sample data the project makes itself: a fictional world, NQ-style questions about it, GSM8K-style sums.

Nothing here is copied from GSM8K or Natural Questions. The two sets exist so that every code path
(preparation, validation, retrieval, rollout, reward, training) runs offline, and so that a tiny model
trained from scratch can learn the tasks on a CPU in minutes.

- **The world** (`corpus.jsonl`): countries, cities, people and rivers with invented names, described
  in short encyclopedia-style passages in the FlashRAG/Search-R1 corpus format
  `{"id", "contents": "Title\\ntext"}`. Because the names are invented, a model cannot know the answers:
  it has to search this corpus.
- **NQ-style questions** (`nq_{train,test}.jsonl`): `{"id", "question", "golden_answers": [...]}`, as
  FlashRAG's `nq` rows. Each answer is written in exactly one passage, the one titled with the entity
  the question names, and every answer is an invented name, so it cannot be guessed. Test questions ask
  about entities that no training question mentions.
- **GSM8K-style problems** (`gsm8k_{train,test}.jsonl`): `{"question", "answer"}` as `openai/gsm8k`,
  the answer a short worked solution ending in `#### N`, with one or two operations on small numbers.

Everything is a pure function of the seed; `python -m minimal_impl.sample_data` rewrites the shipped
files under `data/sample/` and `--check` verifies they are up to date (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
SEED = 20260501
NUM_COUNTRIES = 500
CITIES_PER_COUNTRY = 3
NUM_PEOPLE = 1000
NUM_RIVERS = 250
NQ_TEST_FRACTION = 0.06
GSM8K_TRAIN, GSM8K_TEST = 2000, 200

_ONSETS = "b br c d dr f g gr h k kl l m n p pr r s st t tr v z".split()
_VOWELS = "a e i o u ai ea io".split()
_CODAS = ["", "", "n", "r", "l", "s", "th", "m", "nd", "rk"]


def _name(rng: random.Random, syllables: tuple[int, int] = (2, 3)) -> str:
    """An invented, pronounceable proper name such as 'Brelthano' (never an English word of our lists)."""
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(*syllables))]
    return (("".join(parts)) + rng.choice(_CODAS)).capitalize()


@dataclass
class World:
    """The fictional entities and their relations (names are unique across the whole world)."""

    countries: list[str]
    capitals: dict[str, str]  # country -> capital city
    cities: dict[str, str]  # city -> country
    people: dict[str, tuple[str, str]]  # person -> (birth city, invention)
    rivers: dict[str, list[str]]  # river -> countries it flows through (1 or 2)


INVENTIONS = [
    "lantern",
    "water clock",
    "loom",
    "compass",
    "printing press",
    "telescope",
    "steam pump",
    "windmill",
    "glider",
    "music box",
    "pocket watch",
    "rope bridge",
    "kite",
    "star map",
    "bell tower",
    "sundial",
]


def build_world(seed: int = SEED) -> World:
    """Draw the world: unique names, a capital and two more cities per country, people, rivers."""
    rng = random.Random(seed)
    used: set[str] = set()

    def fresh(syllables: tuple[int, int] = (2, 3)) -> str:
        while True:
            name = _name(rng, syllables)
            if name not in used and len(name) >= 4:
                used.add(name)
                return name

    countries = [fresh() for _ in range(NUM_COUNTRIES)]
    capitals, cities = {}, {}
    for country in countries:
        for i in range(CITIES_PER_COUNTRY):
            city = fresh()
            cities[city] = country
            if i == 0:
                capitals[country] = city
    city_names = list(cities)
    people = {
        fresh((2, 2)) + " " + fresh((2, 3)): (rng.choice(city_names), rng.choice(INVENTIONS)) for _ in range(NUM_PEOPLE)
    }
    rivers = {fresh(): rng.sample(countries, rng.choice((1, 2))) for _ in range(NUM_RIVERS)}
    return World(countries, capitals, cities, people, rivers)


def corpus_passages(world: World) -> list[dict]:
    """One passage per entity, in the corpus format `{"id", "contents": "Title\\ntext"}`."""
    docs = []
    rivers_of: dict[str, list[str]] = {c: [] for c in world.countries}
    for river, countries in world.rivers.items():
        for country in countries:
            rivers_of[country].append(river)
    for country in world.countries:
        others = [c for c, k in world.cities.items() if k == country and c != world.capitals[country]]
        text = f"{country} is a country. Other cities of {country} are {others[0]} and {others[1]}."
        if rivers_of[country]:
            names = rivers_of[country]
            verb = "flows" if len(names) == 1 else "flow"
            text += f" The {' and the '.join(names)} {verb} through {country}."
        text += f" The capital of {country} is {world.capitals[country]}."
        docs.append({"title": country, "text": text})
    for city, country in world.cities.items():
        role = "the capital" if world.capitals[country] == city else "a city"
        docs.append({"title": city, "text": f"{city} is {role} of {country}."})
    for person, (city, invention) in world.people.items():
        docs.append({"title": person, "text": f"{person} invented the {invention}. {person} was born in {city}."})
    for river, countries in world.rivers.items():
        where = " and ".join(countries)
        docs.append({"title": f"{river} River", "text": f"The {river} is a river. The {river} flows through {where}."})
    return [{"id": str(i), "contents": f"{d['title']}\n{d['text']}"} for i, d in enumerate(docs)]


def nq_questions(world: World, seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """Questions with one true answer each, split so that test entities never appear in training questions."""
    rng = random.Random(seed + 1)
    by_entity: dict[str, list[tuple[str, list[str]]]] = {}
    for country in world.countries:
        by_entity[country] = [(f"what is the capital of {country}", [world.capitals[country]])]
    for city, country in world.cities.items():
        by_entity[city] = [(f"which country is {city} in", [country])]
    for person, (city, _invention) in world.people.items():
        # the invention is in the passage but never asked: 16 inventions could be guessed without searching
        by_entity[person] = [(f"where was {person} born", [city])]
    for river, countries in world.rivers.items():
        if len(countries) == 1:
            by_entity[f"{river} River"] = [(f"which country does the {river} flow through", list(countries))]
    entities = sorted(by_entity)
    rng.shuffle(entities)
    n_test = int(len(entities) * NQ_TEST_FRACTION)
    splits = {"test": entities[:n_test], "train": entities[n_test:]}
    out: dict[str, list[dict]] = {}
    for split, names in splits.items():
        rows = [(q, a) for name in names for q, a in by_entity[name]]
        rng.shuffle(rows)
        out[split] = [{"id": f"{split}_{i}", "question": q, "golden_answers": a} for i, (q, a) in enumerate(rows)]
    return out["train"], out["test"]


_ITEMS = ["apples", "pencils", "stickers", "marbles", "books", "cookies", "shells", "stamps", "coins", "cards"]
_NAMES = ["Mia", "Tom", "Ava", "Leo", "Zoe", "Sam", "Ivy", "Max", "Nia", "Ben", "Eli", "Ada"]


def _problem(rng: random.Random) -> tuple[str, str]:
    """One word problem and its worked solution ending in '#### N' (one or two steps, no negatives)."""
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    kind = rng.randrange(5)
    a, b = rng.randint(2, 20), rng.randint(2, 20)
    if kind == 0:
        q = f"{name} has {a} {item}. {name} gets {b} more {item}. How many {item} does {name} have now?"
        steps, answer = [f"{a} + {b} = {a + b}"], a + b
    elif kind == 1:
        a, b = max(a, b) + rng.randint(1, 9), min(a, b)
        q = f"{name} has {a} {item} and gives {b} {item} to a friend. How many {item} are left?"
        steps, answer = [f"{a} - {b} = {a - b}"], a - b
    elif kind == 2:
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        q = f"{name} buys {a} boxes with {b} {item} in each box. How many {item} does {name} buy?"
        steps, answer = [f"{a} * {b} = {a * b}"], a * b
    elif kind == 3:
        b = rng.randint(2, 9)
        total = b * rng.randint(2, 9)
        q = f"{name} shares {total} {item} equally among {b} friends. How many {item} does each friend get?"
        steps, answer = [f"{total} / {b} = {total // b}"], total // b
    else:
        c = rng.randint(1, min(a + b - 1, 15))
        q = f"{name} has {a} {item}, finds {b} more and then loses {c}. How many {item} does {name} have?"
        steps, answer = [f"{a} + {b} = {a + b}", f"{a + b} - {c} = {a + b - c}"], a + b - c
    return q, "\n".join(steps) + f"\n#### {answer}"


def gsm8k_problems(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """Distinct GSM8K-style problems, `{"question", "answer"}`, split into train and test."""
    rng = random.Random(seed + 2)
    seen, rows = set(), []
    while len(rows) < GSM8K_TRAIN + GSM8K_TEST:
        q, a = _problem(rng)
        if q not in seen:
            seen.add(q)
            rows.append({"question": q, "answer": a})
    return rows[:GSM8K_TRAIN], rows[GSM8K_TRAIN:]


def build_files(seed: int = SEED) -> dict[str, str]:
    """Every shipped file's name and exact text (JSONL, one object per line, UTF-8)."""
    world = build_world(seed)
    nq_train, nq_test = nq_questions(world, seed)
    gsm_train, gsm_test = gsm8k_problems(seed)
    sets = {
        "corpus.jsonl": corpus_passages(world),
        "nq_train.jsonl": nq_train,
        "nq_test.jsonl": nq_test,
        "gsm8k_train.jsonl": gsm_train,
        "gsm8k_test.jsonl": gsm_test,
    }
    return {name: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) for name, rows in sets.items()}


def read_jsonl(path: str | Path) -> list[dict]:
    """Read a JSONL file of objects (no validation: `check_data.py` is the validator)."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or --check) the shipped sample data under data/sample/.")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output directory (default: data/sample)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ from what the code makes")
    args = parser.parse_args(argv)
    files = build_files()
    if args.check:
        stale = [
            n for n, text in files.items() if not (args.out / n).is_file() or (args.out / n).read_text("utf-8") != text
        ]
        if stale:
            print(f"stale sample data in {args.out}: {stale}; run python -m minimal_impl.sample_data")
            return 1
        print(f"sample data in {args.out} is up to date ({len(files)} files)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name} ({text.count(chr(10))} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
