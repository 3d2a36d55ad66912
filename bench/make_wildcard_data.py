"""Write newsarchive/wildcard_data.py: what the stemmers of English, Spanish and Arabic take off a word.

``ENDINGS[lang]``: every ending ``e`` such that for some prefix ``P`` the term of ``P + e`` does not start
with ``P`` (nor, in Arabic, with ``P`` less a prefix the stemmer removes): the stemmer took off ``e`` and some
of ``P`` ("electi" + "on" = "election" -> "elect"). Found by growing endings letter by letter to the left
(an ending's tails are endings too) against a few thousand prefixes of real words, plus the tails of what the
stemmer took off each word of the real vocabulary (shared/corpus-stats) and of generated words.
``AR_PREFIXES``: the (removed, written instead) beginnings the Arabic stemmer changes, read off the same words.

Run: PYTHONPATH=. python bench/make_wildcard_data.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from newsarchive.analysis import index_terms_of_words, normalize_word

ALPHABET = {
    "en": "abcdefghijklmnopqrstuvwxyz",
    "es": "abcdefghijklmnopqrstuvwxyzñ",
    "ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوةيء",
}
MAXLEN = {"en": 9, "es": 10, "ar": 5}
ES_WORDS = [
    "política",
    "gobierno",
    "elección",
    "elecciones",
    "negociación",
    "independencia",
    "presidente",
    "ministro",
    "nacional",
    "guerra",
    "paz",
    "acuerdo",
    "trabajadores",
    "económico",
    "económica",
    "económicamente",
    "internacional",
    "internacionalmente",
    "desarrollar",
    "desarrollo",
    "comunicación",
    "comunicaciones",
    "administración",
    "organización",
    "organizaciones",
    "preocupación",
    "votación",
    "votaciones",
    "hablar",
    "hablando",
    "hablaba",
    "hablaríamos",
    "comiendo",
    "comer",
    "comeremos",
    "vivir",
    "viviendo",
    "viviríamos",
    "dándole",
    "diciéndoselo",
    "ponerlos",
    "constitucional",
    "constitución",
    "democracia",
    "democrático",
    "democráticas",
    "ciudadanos",
    "ciudad",
    "frontera",
    "fronteras",
    "seguridad",
    "libertad",
    "libertades",
    "sociedad",
    "sociedades",
    "militar",
    "militares",
    "periodista",
    "periodistas",
    "ataque",
    "ataques",
    "víctimas",
    "violencia",
    "violento",
    "violentamente",
    "rápidamente",
    "claramente",
    "lógica",
    "lógicamente",
    "biología",
    "capitalismo",
    "socialismo",
    "nacionalismo",
    "ministerio",
    "ministerios",
    "autoridad",
    "autoridades",
    "posibilidad",
    "posiblemente",
    "creciente",
    "crecimiento",
    "movimiento",
    "movimientos",
    "sentimiento",
    "conocimiento",
    "amistoso",
    "amistosa",
    "abundancia",
    "importancia",
]
ES_SUFFIXES = [
    "a",
    "o",
    "as",
    "os",
    "e",
    "es",
    "ar",
    "er",
    "ir",
    "ando",
    "iendo",
    "ado",
    "ido",
    "ada",
    "ida",
    "ados",
    "idos",
    "adas",
    "idas",
    "aba",
    "aban",
    "abas",
    "ía",
    "ían",
    "ías",
    "ara",
    "aran",
    "iera",
    "ieran",
    "ase",
    "iese",
    "aron",
    "ieron",
    "ó",
    "ió",
    "amos",
    "emos",
    "imos",
    "áis",
    "éis",
    "arán",
    "erán",
    "irán",
    "aría",
    "ería",
    "iría",
    "arían",
    "erían",
    "irían",
    "aremos",
    "eremos",
    "iremos",
    "ación",
    "aciones",
    "ador",
    "adora",
    "adores",
    "adoras",
    "ante",
    "antes",
    "ancia",
    "ancias",
    "anza",
    "anzas",
    "ico",
    "ica",
    "icos",
    "icas",
    "ismo",
    "ismos",
    "able",
    "ables",
    "ible",
    "ibles",
    "ista",
    "istas",
    "oso",
    "osa",
    "osos",
    "osas",
    "amiento",
    "amientos",
    "imiento",
    "imientos",
    "logía",
    "logías",
    "ución",
    "uciones",
    "encia",
    "encias",
    "amente",
    "mente",
    "idad",
    "idades",
    "iva",
    "ivo",
    "ivas",
    "ivos",
    "ya",
    "ye",
    "yan",
    "yen",
    "yeron",
    "yendo",
    "yo",
    "yó",
    "yas",
    "yes",
    "ándole",
    "iéndole",
    "arlo",
    "erlo",
    "irlo",
    "ándose",
    "iéndose",
    "arse",
    "erse",
    "irse",
    "selo",
    "sela",
    "nos",
    "les",
    "los",
    "las",
    "me",
    "se",
]


def _common(texts: list[str]) -> str:
    """The longest common start of two texts."""
    a, b = texts
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def vocabulary(shared: Path, lang: str) -> list[str]:
    path = shared / "corpus-stats" / "stats.json"
    if lang == "es" or not path.exists():
        return []
    stats = json.loads(path.read_text("utf-8"))
    return [w for w, *_ in stats["languages"][lang]["words"]]


def generated(lang: str) -> list[str]:
    if lang == "es":
        stems = {normalize_word(w, "es")[:n] for w in ES_WORDS for n in range(3, len(w))}
        return [*ES_WORDS, *(s + e for s in sorted(stems) for e in ES_SUFFIXES)]
    from tests.test_snippet_prefilter import AR_PREFIXES, AR_STEMS, AR_SUFFIXES, EN_STEMS, EN_SUFFIXES, EN_WORDS

    if lang == "en":
        stems = EN_STEMS.split()
        return [*EN_WORDS, *(s + a + b for s in stems for a in EN_SUFFIXES for b in EN_SUFFIXES)]
    return [p + s + e + f for p in AR_PREFIXES for s in AR_STEMS for e in AR_SUFFIXES for f in AR_SUFFIXES]


def ar_alignment(word: str, term: str) -> tuple[int, str, int]:
    """(letters removed at the start, what the stemmer wrote there, letters of the word kept after them)."""
    best = (-1, 0, 0, "")
    for a in range(min(len(word), 5) + 1):
        for written in ("", "ا"):
            if term.startswith(written):
                kept = len(_common([word[a:], term[len(written) :]]))
                best = max(best, (kept, -a, -len(written), written))
    kept, a, _, written = best
    return -a, written, kept


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = ap.parse_args()
    from newsarchive import wildcard

    endings: dict[str, set[str]] = {}
    prefixes: set[tuple[str, str]] = {("", "")}
    for lang in ("en", "es", "ar"):
        words = [normalize_word(w, lang) for w in vocabulary(args.shared, lang) + generated(lang)]
        words = [w for w in dict.fromkeys(words) if w.isalpha()]
        terms = index_terms_of_words(words, lang)
        found: set[str] = {""}
        for w, t in zip(words, terms, strict=True):
            if not t:
                continue
            start, written, kept = (0, "", len(_common([w, t])))
            if lang == "ar":
                start, written, kept = ar_alignment(w, t)
                if kept:
                    prefixes.add((w[:start], written))
            cut = start + kept
            found.update(w[k:] for k in range(cut + 1, len(w) + 1))
        # Grow endings to the left against prefixes of the words (an ending's tails are endings).
        rng = random.Random(f"contexts-{lang}")
        pool = sorted({w[:n] for w in words if len(w) >= 4 for n in range(2, min(len(w), 9))})
        contexts = rng.sample(pool, min(400, len(pool)))
        frontier = sorted(found)
        seen = set(found)
        while frontier:
            grown = []
            for x in frontier:
                for c in ALPHABET[lang]:
                    y = c + x
                    if y in seen or len(y) > MAXLEN[lang]:
                        continue
                    seen.add(y)
                    stems = index_terms_of_words([p + y for p in contexts], lang)
                    for p, t in zip(contexts, stems, strict=True):
                        starts = wildcard.starts_of(p, lang, sorted(prefixes))
                        if t and not any(t.startswith(s) for s in starts):
                            found.add(y)
                            grown.append(y)
                            break
            frontier = grown
            print(lang, len(found), flush=True)
        endings[lang] = found
    out = Path(__file__).resolve().parents[1] / "newsarchive" / "wildcard_data.py"
    lines = [
        '"""Generated by bench/make_wildcard_data.py: what the stemmers take off a word (see newsarchive.wildcard)."""',
        "",
        "# fmt: off",
        "ENDINGS: dict[str, frozenset[str]] = {",
    ]
    for lang in ("en", "es", "ar"):
        items = sorted(endings[lang], key=lambda s: (len(s), s))
        lines.append(f"    {lang!r}: frozenset({{")
        line = ""
        for e in items:
            if len(line) + len(repr(e)) + 2 > 110:
                lines.append("        " + line.rstrip())
                line = ""
            line += f"{e!r}, "
        lines.append("        " + line.rstrip())
        lines.append("    }),")
    lines.append("}")
    lines.append("AR_PREFIXES: tuple[tuple[str, str], ...] = (")
    for removed, written in sorted(prefixes, key=lambda p: (len(p[0]), p)):
        lines.append(f"    ({removed!r}, {written!r}),")
    lines.append(")")
    lines.append("# fmt: on")
    out.write_text("\n".join(lines) + "\n", "utf-8")
    print(out, {k: len(v) for k, v in endings.items()}, len(prefixes))


if __name__ == "__main__":
    main()
