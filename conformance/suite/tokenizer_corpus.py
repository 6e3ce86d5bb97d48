"""A multilingual corpus for comparing tokenizers, generated at run time from installed packages.

The tokenizer tests encode every string here with the reference and with a real library and
compare. Nothing is downloaded and nothing is written out by hand in bulk; the text comes from:

- natural language (en, de, zh, ja, ar, hi, ru): `faker` with a fixed seed per locale: its lorem
  word lists (real words, random order), names, addresses, jobs, companies and phone numbers.
  faker has no Hindi lorem, so Hindi sentences are built from its Hindi names, cities, states
  and countries, ended with the danda (।);
- emoji: generated from code points, so every ZWJ family, skin tone, flag and keycap is
  well formed by construction; only blocks fully assigned since Unicode 7 are drawn from, so the
  emoji do not depend on the running Python's Unicode version;
- source code: files shipped by Python's standard library (Python, bash, PowerShell with CRLF
  line ends, fish, csh), numpy (C headers), torch (C++ headers) and matplotlib (JavaScript,
  CSS with tab indentation, HTML), cut at line boundaries, plus two rewritten copies (tabs for
  indentation, CRLF line ends) so that both are present whatever the sources look like;
- `ADVERSARIAL`: short inputs on which tokenizers are known to disagree (research notes §8),
  each with the reason it is here.

Determinism: `corpus(seed)` is a pure function of the seed and the installed versions of Python,
faker, numpy, torch and matplotlib; `provenance()` names them, so a failure can be regenerated.
A different faker release may change the natural-language strings (its word lists and providers
change between releases), and a different Python or library release changes the code strings.
The comparisons do not depend on the exact text, only on both sides seeing the same text.

Left out: strings that are not valid Unicode. `LONE_SURROGATE_EXAMPLES` holds strings with lone
surrogates, which a Python `str` can hold but UTF-8 cannot encode; tests that want them use them
on purpose. Also left out: inputs of a megabyte or more (`"x" * 1_000_000`), which belong in
performance tests rather than in a corpus every comparison walks through.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import random
import sys
import sysconfig
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# The categories `corpus` returns, in order: languages as BCP 47 tags, then the rest.
LANGUAGES: tuple[str, ...] = ("en", "de", "zh", "ja", "ar", "hi", "ru")
CATEGORIES: tuple[str, ...] = (*LANGUAGES, "emoji", "code", "adversarial")

# UTF-8 bytes generated per category (byte budgets, so scripts with 3-byte characters get fewer
# characters): 7 languages x 26 KB, 20 KB of emoji, about 70 KB of code and 23 KB of adversarial
# inputs make about 300 KB, above the 200 KB the suite asks for.
LANGUAGE_BYTES = 26_000
EMOJI_BYTES = 20_000
# Code files are cut into strings of at most CODE_CHUNK_LINES lines, so a failing string stays
# readable, and only a file's first CODE_FILE_LINES lines are used, so no one file dominates.
CODE_CHUNK_LINES = 60
CODE_FILE_LINES = 240


@dataclass(frozen=True)
class CorpusString:
    """One corpus entry: a category from CATEGORIES, the text, and where the text came from."""

    category: str
    text: str
    source: str  # e.g. "faker de_DE address", "python: stdlib textwrap.py", "adversarial #12"


def corpus(seed: int = 0) -> list[CorpusString]:
    """The whole corpus for a seed: every category of CATEGORIES, in that order.

    The seed changes the faker draws and the emoji; code and the adversarial list are the same for
    every seed. Two calls with the same seed on the same installed versions return equal lists.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    strings: list[CorpusString] = []
    for language in LANGUAGES:
        strings += language_strings(language, seed)
    strings += emoji_strings(seed)
    strings += code_strings()
    strings += [CorpusString("adversarial", text, f"adversarial #{i}") for i, text in enumerate(ADVERSARIAL)]
    return strings


def size_by_category(strings: list[CorpusString]) -> dict[str, int]:
    """UTF-8 bytes per category, plus "total"."""
    sizes = dict.fromkeys(CATEGORIES, 0)
    for entry in strings:
        sizes[entry.category] = sizes.get(entry.category, 0) + len(entry.text.encode("utf-8"))
    sizes["total"] = sum(sizes.values())
    return sizes


def provenance() -> dict[str, str]:
    """The versions that determine the corpus's text, for failure messages and reports."""
    versions = {"python": platform.python_version(), "unicode": unicodedata.unidata_version}
    for package in ("faker", "numpy", "torch", "matplotlib"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


# --- natural language ------------------------------------------------------------------------

# faker locale per language; Arabic uses ar_AA, the locale with Arabic lorem and jobs.
FAKER_LOCALES: dict[str, str] = {
    "en": "en_US",
    "de": "de_DE",
    "zh": "zh_CN",
    "ja": "ja_JP",
    "ar": "ar_AA",
    "hi": "hi_IN",
    "ru": "ru_RU",
}


def language_strings(language: str, seed: int = 0) -> list[CorpusString]:
    """About LANGUAGE_BYTES of faker text in one language, cycling through its kinds of text.

    Only providers whose output is in the locale's language and does not depend on today's date
    are used (faker's date providers draw from a range that ends now).
    """
    if language not in FAKER_LOCALES:
        raise ValueError(f"language must be one of {sorted(FAKER_LOCALES)}, got {language!r}")
    locale = FAKER_LOCALES[language]
    fake = _faker(locale, seed)
    makers = _HINDI_MAKERS if language == "hi" else _MAKERS[language]
    strings: list[CorpusString] = []
    size = 0
    while size < LANGUAGE_BYTES:
        for kind, make in makers:
            text = make(fake)
            strings.append(CorpusString(language, text, f"faker {locale} {kind}"))
            size += len(text.encode("utf-8"))
    return strings


def _faker(locale: str, seed: int):  # -> faker.Faker, imported lazily
    try:
        from faker import Faker
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "the tokenizer corpus needs the 'faker' package; install specformer with its extras: "
            "pip install -e '.[all]'"
        ) from exc
    fake = Faker(locale)
    fake.seed_instance(seed)  # an instance-local random.Random: faker's global state is untouched
    return fake


def _prose(fake) -> str:
    """Two to four lorem paragraphs separated by blank lines, like a short document."""
    return "\n\n".join(fake.paragraphs(nb=fake.random_int(2, 4)))


def _card(fake) -> str:
    """A contact card: name, job, company and phone number on separate lines."""
    return "\n".join((fake.name(), fake.job(), fake.company(), fake.phone_number()))


_Maker = tuple[str, Callable[..., str]]
_FULL: tuple[_Maker, ...] = (
    ("prose", _prose),
    ("sentence", lambda fake: fake.sentence(nb_words=14)),
    ("address", lambda fake: fake.address()),
    ("card", _card),
)
# ar_AA has lorem, names and jobs in Arabic, but its addresses and companies are English templates.
_ARABIC: tuple[_Maker, ...] = (
    ("prose", _prose),
    ("sentence", lambda fake: fake.sentence(nb_words=14)),
    ("card", lambda fake: f"{fake.name()}، {fake.job()}\n{fake.phone_number()}"),
)
_MAKERS: dict[str, tuple[_Maker, ...]] = {**dict.fromkeys(("en", "de", "zh", "ja", "ru"), _FULL), "ar": _ARABIC}


def _hindi_words(fake) -> list[str]:
    """Devanagari words from hi_IN's providers (faker ships no Hindi lorem word list)."""
    draws = (fake.first_name, fake.last_name, fake.city_name, fake.administrative_unit, fake.country, fake.prefix)
    return [draw() for _ in range(6) for draw in draws]


def _hindi_prose(fake) -> str:
    """Sentences of Hindi names and places, each ended with the danda, in two paragraphs."""
    words = _hindi_words(fake)
    sentences = [" ".join(fake.random_choices(words, length=fake.random_int(5, 12))) + "।" for _ in range(8)]
    return " ".join(sentences[:4]) + "\n\n" + " ".join(sentences[4:])


_HINDI_MAKERS: tuple[_Maker, ...] = (
    ("prose", _hindi_prose),
    ("address", lambda fake: fake.address()),
    ("card", lambda fake: "\n".join((fake.name(), fake.company(), fake.phone_number()))),
)


# --- emoji -----------------------------------------------------------------------------------

ZWJ = "\u200d"
VARIATION_EMOJI = "\ufe0f"  # VS16: emoji presentation
VARIATION_TEXT = "\ufe0e"  # VS15: text presentation
KEYCAP = "\u20e3"
SKIN_TONES = tuple(chr(cp) for cp in range(0x1F3FB, 0x1F400))  # Fitzpatrick 1-2 .. 6
# Blocks every code point of which has been assigned since Unicode 7.0 (Python 3.10 has 13.0).
EMOJI_BLOCKS = ((0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F680, 0x1F6C5))
# Emoji modifier bases (Unicode emoji-data.txt) that take a skin tone.
MODIFIER_BASES = tuple(chr(cp) for cp in (0x1F44B, 0x1F44D, 0x1F44F, 0x1F64C, 0x1F64F, 0x1F4AA, 0x270C, 0x1F466))
ADULTS = ("\U0001f468", "\U0001f469")  # man, woman
CHILDREN = ("\U0001f466", "\U0001f467")  # boy, girl
# Objects of ZWJ profession sequences: laptop, microscope, rocket, palette, cooking, staff of aesculapius.
PROFESSION_OBJECTS = ("\U0001f4bb", "\U0001f52c", "\U0001f680", "\U0001f3a8", "\U0001f373", "\u2695\ufe0f")
# Subdivision flags are tag sequences: black flag, tag letters, cancel tag.
SUBDIVISIONS = ("gbeng", "gbsct", "gbwls")


def emoji_strings(seed: int = 0) -> list[CorpusString]:
    """Well-formed emoji sequences of every kind, then random runs and emoji inside sentences."""
    rng = random.Random(seed)
    english = _faker("en_US", seed)
    fixed = [
        ("zwj families", " ".join(_families())),
        ("zwj professions", " ".join(_professions())),
        ("skin tones", " ".join(base + tone for base in MODIFIER_BASES for tone in SKIN_TONES)),
        ("keycaps", " ".join(_keycaps())),
        ("flags", "".join(_flags(english, 60))),
        ("subdivision flags", " ".join(_tag_flag(code) for code in SUBDIVISIONS)),
        ("presentation selectors", "\u2764 \u2764\ufe0f \u263a\ufe0e \u263a\ufe0f \u2600\ufe0f \u00a9\ufe0f \u2122"),
    ]
    strings = [CorpusString("emoji", text, f"generated {kind}") for kind, text in fixed]
    size = sum(len(entry.text.encode("utf-8")) for entry in strings)
    while size < EMOJI_BYTES:
        for kind, text in (("run", _emoji_run(rng)), ("in text", _emoji_in_text(rng, english))):
            strings.append(CorpusString("emoji", text, f"generated {kind}"))
            size += len(text.encode("utf-8"))
    return strings


def _families() -> Iterator[str]:
    """Every family of one or two adults and one or two children, joined by ZWJ."""
    adult_sets = [(a,) for a in ADULTS] + [(a, b) for a in ADULTS for b in ADULTS]
    child_sets = [(c,) for c in CHILDREN] + [(c, d) for c in CHILDREN for d in CHILDREN]
    for adults in adult_sets:
        for children in child_sets:
            yield ZWJ.join(adults + children)


def _professions() -> Iterator[str]:
    """Adult + optional skin tone + ZWJ + object, and couples with a heart."""
    for adult in ADULTS:
        for tone in ("", *SKIN_TONES[::2]):
            for thing in PROFESSION_OBJECTS:
                yield adult + tone + ZWJ + thing
    yield ZWJ.join(("\U0001f469", "\u2764\ufe0f", "\U0001f468"))  # couple with heart
    yield "\U0001f3f3\ufe0f" + ZWJ + "\U0001f308"  # rainbow flag


def _keycaps() -> Iterator[str]:
    """Keycaps with and without the variation selector (both occur in real text)."""
    for key in "0123456789#*":
        yield key + VARIATION_EMOJI + KEYCAP
        yield key + KEYCAP


def _flags(fake, count: int) -> list[str]:
    """Country flags: pairs of regional indicator symbols spelling ISO 3166 alpha-2 codes."""
    return ["".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in fake.country_code()) for _ in range(count)]


def _tag_flag(code: str) -> str:
    """A subdivision flag: black flag, tag characters for the lowercase code, cancel tag."""
    return "\U0001f3f4" + "".join(chr(0xE0000 + ord(letter)) for letter in code) + "\U000e007f"


def _emoji(rng: random.Random) -> str:
    low, high = rng.choice(EMOJI_BLOCKS)
    return chr(rng.randint(low, high))


def _emoji_run(rng: random.Random) -> str:
    """A run of emoji, some toned, some joined, as chat text has them, with or without spaces."""
    families = list(_families())
    pieces = []
    for _ in range(rng.randint(5, 25)):
        piece = _emoji(rng)
        if rng.random() < 0.15:
            piece = rng.choice(MODIFIER_BASES) + rng.choice(SKIN_TONES)
        elif rng.random() < 0.1:
            piece = rng.choice(families)
        pieces.append(piece)
    return rng.choice(("", " ")).join(pieces)


def _emoji_in_text(rng: random.Random, fake) -> str:
    """An English sentence with emoji attached to words and at its end."""
    words = fake.sentence(nb_words=12).split(" ")
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(words))
        words[at] += _emoji(rng) * rng.randint(1, 3)
    return " ".join(words) + " " + _emoji(rng)


# --- source code -----------------------------------------------------------------------------

# (language, package whose files these are, path under that package's root). The standard
# library's files change with the Python version, the others with the package's version.
CODE_FILES: tuple[tuple[str, str, str], ...] = (
    ("python", "stdlib", "textwrap.py"),
    ("python", "stdlib", "json/decoder.py"),
    ("bash", "stdlib", "venv/scripts/common/activate"),
    ("powershell", "stdlib", "venv/scripts/common/Activate.ps1"),  # shipped with CRLF line ends
    ("fish", "stdlib", "venv/scripts/posix/activate.fish"),
    ("csh", "stdlib", "venv/scripts/posix/activate.csh"),
    ("c", "numpy", "numpy/npy_cpu.h"),
    ("c", "numpy", "numpy/halffloat.h"),
    ("c++", "torch", "c10/util/irange.h"),
    ("c++", "torch", "c10/core/Device.h"),
    ("javascript", "matplotlib", "backends/web_backend/js/mpl.js"),
    ("css", "matplotlib", "backends/web_backend/css/fbm.css"),  # indented with tabs
    ("html", "matplotlib", "backends/web_backend/single_figure.html"),
)


def code_strings() -> list[CorpusString]:
    """The first CODE_FILE_LINES lines of each source file, cut into chunks of at most
    CODE_CHUNK_LINES lines, plus a tab-indented copy of textwrap.py and a CRLF copy of a C header.

    A file missing from this installation (a stripped Python, a torch without headers) is left
    out rather than failing the whole corpus; `provenance()` and the sources show what was used.
    """
    strings: list[CorpusString] = []
    for language, package, relative in CODE_FILES:
        text = _read_source(package, relative)
        if text is None:
            continue
        text = "".join(text.splitlines(keepends=True)[:CODE_FILE_LINES])
        source = f"{language}: {package} {relative}"
        strings += [CorpusString("code", chunk, source) for chunk in _chunks(text)]
        if relative == "textwrap.py":
            tabbed = _indent_with_tabs(text)
            strings += [CorpusString("code", chunk, source + " (tab-indented)") for chunk in _chunks(tabbed)]
        if relative == "numpy/npy_cpu.h":
            crlf = text.replace("\r\n", "\n").replace("\n", "\r\n")
            strings += [CorpusString("code", chunk, source + " (CRLF)") for chunk in _chunks(crlf)]
    return strings


def _package_root(package: str) -> Path | None:
    """Where a CODE_FILES package's files are, found without importing it (importing torch takes
    a second); None if the package is not installed."""
    if package == "stdlib":
        return Path(sysconfig.get_paths()["stdlib"])
    if package not in ("numpy", "torch", "matplotlib"):
        raise ValueError(f"package must be one of stdlib, numpy, torch, matplotlib, got {package!r}")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    if package == "torch":
        return root / "include"
    if package == "numpy":  # numpy.get_include(): numpy/_core/include since numpy 2, numpy/core/include before
        return next((path for path in (root / "_core" / "include", root / "core" / "include") if path.is_dir()), None)
    return root


def _read_source(package: str, relative: str) -> str | None:
    """A file's exact text (line ends kept as stored), or None if it is not installed."""
    root = _package_root(package)
    path = root / relative if root is not None else None
    if path is None or not path.is_file():
        return None
    return path.read_bytes().decode("utf-8")


def _chunks(text: str, lines: int = CODE_CHUNK_LINES) -> list[str]:
    """Consecutive pieces of at most `lines` lines; joined, they give back `text` exactly.

    >>> _chunks("a\\r\\nb\\nc", lines=2)
    ['a\\r\\nb\\n', 'c']
    """
    kept = text.splitlines(keepends=True)
    return ["".join(kept[start : start + lines]) for start in range(0, len(kept), lines)]


def _indent_with_tabs(text: str, width: int = 4) -> str:
    """Each leading run of `width` spaces replaced by a tab, as Go or Makefile code is indented.

    >>> _indent_with_tabs("def f():\\n        return 1\\n")
    'def f():\\n\\t\\treturn 1\\n'
    """
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.lstrip(" ")
        depth, rest = divmod(len(line) - len(body), width)
        lines.append("\t" * depth + " " * rest + body)
    return "".join(lines)


# --- adversarial inputs ----------------------------------------------------------------------

ADVERSARIAL: tuple[str, ...] = (
    # Empty and whitespace-only input.
    "",  # BPE and spm give no ids; a BERT template still adds [CLS] [SEP]
    " ",  # one space: one byte-level token, nothing after BERT or spm normalization
    "     ",  # only spaces: kept by byte-level BPE, dropped by BERT and spm
    "   \t\n ",  # mixed whitespace only: round-trips in byte-level BPE only (§8)
    " " * 1000,  # a long run of spaces: `\s+(?!\S)` backtracking and spm whitespace collapse
    "a  b   c    d",  # runs of spaces between words: spm collapses them, byte-level BPE keeps them
    "  lead",  # leading spaces: spm strips them, the HF Metaspace emulation does not (§8)
    "trail  ",  # trailing spaces: the `\s+(?!\S)` branch of the GPT-2 pattern takes them
    "a \n b",  # space, newline, space: where the pre-tokenizer puts the spaces differs per pattern
    # Line ends and tabs.
    "line\r\n",  # CRLF at the end
    "one\r\ntwo\r\n\r\nthree",  # CRLF runs inside text: cl100k keeps `\r\n\r\n` as one piece
    "x\r",  # lone CR at the end of text
    "x\r\t",  # CR then TAB at end: tiktoken gives [x][\r\t], HF and minbpe [x][\r][\t] (§8)
    "\tindented\n\t\tdeeper\n",  # tab indentation, as Go and Makefiles have it
    "col1\tcol2\t\tcol4\n",  # tabs as separators, with an empty field
    "mixed \t \t indent",  # spaces and tabs interleaved
    # Unicode spaces, invisible and format characters.
    "a\u00a0b",  # NBSP: Zs, whitespace to BERT and Python, not to the GPT-2 pattern's ` ?`
    "a\u2009b\u202fc\u3000d\u2007e",  # thin, narrow no-break, ideographic and figure spaces
    "\x0b\x0c\x85\u2028\u2029",  # vertical whitespace: spm keeps U+0085, maps the rest (§8)
    "a\x1cb\x1dc\x1ed\x1ff",  # separators str.split() treats as whitespace, Unicode White_Space does not
    "a\u180eb",  # Mongolian vowel separator: was Zs before Unicode 6.3, now Cf
    "a\u200bb",  # zero-width space (Cf): BERT removes it, byte-level BPE keeps it
    "\U0001f469\u200d\U0001f4bb",  # ZWJ emoji: BERT removes the ZWJ, spm keeps it (§8)
    "می\u200cخواهم",  # ZWNJ inside a Persian word, where it is part of the spelling
    "\ufeffx",  # BOM at the start: removed by BERT, a space to spm (§8)
    "a\ufeffb",  # BOM in the middle (zero-width no-break space)
    "\u200fשלום\u200e",  # bidi marks around Hebrew: removed by BERT, spaces to spm (§8)
    "\u202eevil\u202c.txt",  # right-to-left override, as in spoofed file names
    # Combining marks and normal forms.
    "e\u0301",  # decomposed é: slow BERT composes it (NFC), fast does not (§8)
    "Café Cafe\u0301",  # precomposed and decomposed: different ids unless NFC/NFKC
    # "Zalgo" text: 18 marks above and below one letter.
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034d",
    "x" + "\u0300" * 50,  # one base with 50 combining graves: a long grapheme
    "\u0301start",  # a combining mark with no base at the start of text
    "\u1112\u1161\u11ab\uae00",  # Hangul as conjoining jamo then a syllable: NFC composes the jamo
    "\u0915\u094d\u0937\u0924\u094d\u0930",  # Devanagari conjuncts (virama): clusters that must not split
    # Compatibility forms: changed by NFKC (spm), kept by BERT and byte-level BPE.
    "ＡＢＣ１２３！？",  # full-width Latin, digits and punctuation
    "ｶﾀｶﾅ",  # half-width katakana
    "ﬁnancial ﬂow ﬀ",  # Latin ligatures
    "Ⅻ ½ ² ㎏ ℃",  # Roman numeral, vulgar fraction, superscript, squared unit, degree Celsius
    # Case mapping.
    "ΟΔΟΣ ΟΔΥΣΣΕΥΣ",  # Greek final sigma: slow BERT lowercases to ς, fast to σ (§8)
    "İstanbul ıI",  # Turkish dotted capital I lowercases to two code points; dotless ı
    "Straße STRASSE ẞ",  # ß upper-cases to SS; capital sharp s
    "ǅ ǈ ǋ",  # titlecase digraphs
    # Scripts mixed and unusual code points.
    "我爱北京天安门",  # CJK: one BERT token per character
    "Python3是一种编程语言，version 3.11发布于2022年",  # CJK mixed with ASCII words and digits
    "東京tower2024年のＡＩ",  # Japanese mixed with ASCII and full-width
    "\U0002b820\U0002b81f\U0002a700",  # CJK Ext-B tail: slow BERT splits, fast does not (§8)
    "مرحبا 123 بالعالم",  # right-to-left text with digits (§8)
    "\u0558\u1c89\u061d",  # recently assigned code points: `\p{L}` differs across regex engines (§8)
    "\u0378\U000e0000\U0010ffff",  # unassigned / noncharacter: slow BERT drops, fast keeps (§8)
    "\ufdd0\ufffe",  # noncharacters inside the BMP
    "a\ue000b\U000f0000",  # private use (BMP and plane 15): BERT drops them (§8)
    "\U0001d400\U00010000\U0001f600\U00020000",  # outside the BMP: math bold, Linear B, emoji, CJK Ext-B
    "a\ufffdb",  # U+FFFD: BERT removes it, spm maps it to a space (§8)
    # Control characters.
    "a\x00b",  # NUL inside text: BERT removes it, spm and byte-level BPE keep it (§8)
    "\x01\x02\x7f",  # C0 controls and DEL
    "\x1b[31mred\x1b[0m",  # ANSI escape sequences, as in captured terminal output
    "\x80\x9f",  # C1 controls
    # Long words, digits and punctuation.
    "a" * 100,  # a 100-character word: BERT's max_input_chars_per_word boundary, still split
    "a" * 101,  # 101 characters: one [UNK] in BERT (§8)
    "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3,  # a long word of real pieces (135 chars)
    "x" * 10_000,  # a long run of one letter: tiktoken's heap path, quadratic naive merges
    "^" * 10_000,  # a long run of punctuation (tiktoken's tests)
    "12345 1234567 1234567890123",  # digit runs: r50k keeps them whole, cl100k groups 1-3
    "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706",
    "1,000,000.00 1.000.000,00 1e-10 0x1F 0b1010",  # number formats
    "!!!!!!!!!!!!!!!!!!!!",  # repeated punctuation
    "?!?!?! ... …… ---- ==== ~~~~",  # mixed punctuation runs and the ellipsis character
    "I'LL don't they're we've YOU'D",  # contractions: GPT-2's pattern is case-sensitive (§8)
    "‘quoted’ “double” «guillemets» 「括弧」",  # typographic quotes of several languages
    # Special-token look-alikes and injection.
    "[CLS] hello [SEP]",  # BERT maps typed [SEP] to the special id: injection (§8)
    "[SEP][PAD][UNK][MASK]",  # BERT specials run together
    "<|endoftext|>",  # tiktoken raises by default, minbpe asserts, HF encodes the special (§8)
    "<|end",  # a prefix of a special token
    "<|endoftext|><|endoftext|>hi",  # specials back to back
    "<｜end▁of▁sentence｜>",  # full-width bars and U+2581, as DeepSeek spells its specials
    "<s> </s> <unk> <pad>",  # SentencePiece/Llama special spellings
    "<|im_start|>user\nhi<|im_end|>",  # chat-template markers
    "[INST] hi [/INST]",  # Mistral/Llama instruction markers
    "<0x00> <0xFF>",  # byte-fallback piece spellings
    "▁x ▁▁",  # U+2581: spm's space marker typed by the user (§8)
    "##ing",  # a WordPiece continuation marker typed by the user
    "Ġhello Ċ",  # GPT-2's byte-to-unicode spellings of space and newline
    # Mixed.
    "def f(x):\n\treturn x  # tab-indented body\r\n",  # code with a tab and a CRLF
    "http://example.com/a_b?c=d&e=%20#frag",  # a URL with escapes
    "user@example.com",  # an e-mail address
)

LONE_SURROGATE_EXAMPLES: tuple[str, ...] = (
    # Not valid Unicode scalar values: UTF-8 cannot encode them. tiktoken replaces them with U+FFFD,
    # HF tokenizers and minbpe raise, slow BERT drops them (§8).
    "a\ud800",  # a lone high surrogate at the end
    "\udc00b",  # a lone low surrogate at the start
    "x\udfffy",  # a lone low surrogate between letters
    "\ud83d",  # half of an emoji's UTF-16 pair
    "\ud83d\ude00",  # a UTF-16 surrogate pair as two code points: not the same string as "😀"
    "\udc00\ud800",  # low before high: not a pair even in UTF-16
    "\ud800\ud800",  # two high surrogates
)

if __name__ == "__main__":  # python -m specformer.conformance.suite.tokenizer_corpus: print the sizes
    built = corpus()
    for name, size in size_by_category(built).items():
        print(f"{name:12} {size:8,d} bytes")
    print(provenance(), file=sys.stderr)
