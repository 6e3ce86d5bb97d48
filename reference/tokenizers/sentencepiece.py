"""Reference SentencePiece (Unigram and BPE), read from a real `.model` file.

A `.model` file is a serialized `sentencepiece.ModelProto`. `read_model` parses it with a small
protobuf wire-format reader (no protobuf package needed); `Unigram` and `SentencePieceBPE` encode
and decode as `sentencepiece.SentencePieceProcessor` 0.2.3 does with its default options (spec
clauses TOK-SP-*, TOK-UNI-*). Field numbers are those of sentencepiece's
`src/sentencepiece_model.proto`, checked against the descriptor in the 0.2.3 wheel. Where the
source read and the 0.2.3 binary differ, the binary wins: every rule below marked "verified" was
settled by experiment against it.

1. Normalise (`src/normalizer.cc::Normalizer::Normalize`), on UTF-8 bytes:
   - The text is cut into prefixes. At each position, the longest user-defined piece that
     starts there is copied unchanged; otherwise the longest key of the `precompiled_charsmap`
     trie that starts there is replaced by its value; otherwise one character is copied. The
     charsmap is the whole rule. For `nmt_nfkc` it is NFKC as sentencepiece's builder compiled
     it, from newer Unicode data than Python 3.11's 14.0 and without canonical reordering
     ("a\\u0301\\u0323" gives "\\u00e1\\u0323" where NFKC gives "\\u1ea1\\u0301"), plus the NMT
     rules: it deletes U+0001-U+0008, U+000B, U+000E-U+001F, U+007F, U+008F and U+009F; it maps
     TAB, LF, FF, CR, U+061C, U+1680, U+200B, U+200C, U+200E, U+200F, U+2028, U+2029, U+2581,
     U+FEFF and U+FFFD to a space; it keeps NUL, U+0085 and U+200D and leaves U+FF5E alone
     (verified for every code point). The `identity` rule has an empty charsmap: every
     character is copied.
   - `remove_extra_whitespaces` (default on): prefixes that normalise to exactly " " are dropped
     at the start; after a prefix whose output ends in a space, the leading U+0020s of the next
     outputs are dropped (so runs collapse to one space *after* normalisation, which is why TAB
     and LF collapse too); trailing spaces are dropped at the end. Only U+0020 counts as a space.
   - `add_dummy_prefix` (default on): one space is put in front of non-empty text.
   - `escape_whitespaces` (default on): every U+0020 is written as U+2581 "▁".
   - Text that is empty after dropping the leading spaces normalises to "" (no dummy prefix), so
     it encodes to [].
2. Segment the normalised text:
   - Unigram (`src/unigram_model.cc`, encoder "optimized"): Viterbi over characters maximising
     the sum of piece scores. Candidates are visited by increasing start and replace the best
     one only when strictly better, so on a tie the path whose last piece starts earliest (the
     longest last piece) wins, applied from the end backwards. A position where no
     one-character piece starts gets an unknown node of one character scoring
     `min_score - 10` (min over NORMAL pieces). Verified for 0.2.3: path scores are float32
     sums (each candidate rounded before the comparison); a path whose score leaves
     [-1e5, 1e5] is re-centred on 0; a user-defined piece scores `0.1 * (utf8_length - 1)`
     whatever its stored score. UNUSED, CONTROL, UNKNOWN and BYTE pieces are never in a path.
   - BPE (`src/bpe_model.cc::Model::SampleEncode`): start from characters (a user-defined piece
     is one frozen symbol) and repeatedly merge the adjacent pair whose concatenation is the
     highest-scoring NORMAL, USER_DEFINED or UNUSED piece, the leftmost on ties (+0.0 beats -0.0).
     A final UNUSED piece is split back into the two symbols it was last merged from; an UNUSED
     or CONTROL single character becomes unknown (verified).
3. Map to ids (`src/sentencepiece_processor.cc`): a run of adjacent unknown pieces becomes one
   unk id; with `byte_fallback` each unknown piece becomes one `<0xHH>` piece per UTF-8 byte
   instead (no fusing). Control spellings typed in text ("<s>", "<unk>") are ordinary text;
   user-defined pieces are the only ones matched as written.

Decoding (`SentencePieceProcessor::Decode`): CONTROL pieces decode to "", the unknown piece to
`unk_surface` (default " ⁇ "), a run of byte pieces to its bytes as UTF-8 where each byte that
does not start a valid sequence becomes U+FFFD on its own, and other pieces to their text with
"▁" replaced by a space. While nothing has been written yet, one leading "▁" is dropped from the
piece (if `add_dummy_prefix` or `remove_extra_whitespaces`); with `remove_extra_whitespaces` this
repeats for every piece until some text has been written. A model with a `denormalizer_spec`
charsmap has the decoded text normalised by it.

Deliberately left out: sampling (subword regularisation, BPE-dropout, n-best), offsets and the
surface strings of `SentencePieceText`, the `add_bos`/`add_eos`/`reverse` extra options, the
WORD and CHAR model types and `treat_whitespace_as_suffix` (both raise ValueError), training,
and speed: the Viterbi looks up every substring up to the longest piece in a dict.
"""

from __future__ import annotations

import heapq
import math
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property

SPACE_SYMBOL = "\u2581"  # "▁", LOWER ONE EIGHTH BLOCK: the escaped space
UNK_PENALTY = 10.0  # kUnkPenalty in unigram_model.cc
DEFAULT_UNK_SURFACE = " \u2047 "  # " ⁇ ", kDefaultUnknownSymbol
FLT_MAX = 3.4028234663852886e38
SCORE_RESET_THRESHOLD = 100000.0  # |path score| above which the Viterbi re-centres on 0


class PieceType(IntEnum):
    """ModelProto.SentencePiece.Type."""

    NORMAL = 1
    UNKNOWN = 2
    CONTROL = 3
    USER_DEFINED = 4
    UNUSED = 5
    BYTE = 6


class ModelType(IntEnum):
    """TrainerSpec.ModelType."""

    UNIGRAM = 1
    BPE = 2
    WORD = 3
    CHAR = 4


@dataclass(frozen=True)
class Piece:
    piece: str
    score: float  # a float32 value, stored exactly as a Python float
    type: PieceType = PieceType.NORMAL


@dataclass(frozen=True)
class TrainerSpec:
    """The TrainerSpec fields that matter when encoding; the defaults are the proto2 defaults."""

    model_type: ModelType = ModelType.UNIGRAM
    byte_fallback: bool = False
    treat_whitespace_as_suffix: bool = False
    unk_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    pad_id: int = -1  # -1: no padding piece
    unk_surface: str = DEFAULT_UNK_SURFACE


@dataclass(frozen=True)
class NormalizerSpec:
    name: str = ""
    precompiled_charsmap: bytes = b""  # empty: no rule, every character is copied
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True
    escape_whitespaces: bool = True


@dataclass(frozen=True)
class SentencePieceModel:
    pieces: tuple[Piece, ...]  # the id of a piece is its index
    trainer_spec: TrainerSpec = field(default_factory=TrainerSpec)
    normalizer_spec: NormalizerSpec = field(default_factory=NormalizerSpec)
    denormalizer_spec: NormalizerSpec | None = None


# ---------------------------------------------------------------------------------------
# Protobuf wire format: just enough to read a ModelProto.


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at `pos`; return (value, position after it).

    >>> read_varint(bytes([0xAC, 0x02]), 0)  # 0x2C + (0x02 << 7)
    (300, 2)
    """
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError(f"truncated varint in model data at byte {pos}")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def iter_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield (field_number, value) for each field of one serialized message.

    A varint field gives an int, a length-delimited field its bytes, a fixed32/fixed64 field its
    raw 4/8 bytes. `bytes([0x08, 0x96, 0x01])` is field 1 holding the varint 150.

    >>> list(iter_fields(bytes([0x08, 0x96, 0x01, 0x12, 0x02, 0x68, 0x69])))
    [(1, 150), (2, b'hi')]
    """
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = read_varint(data, pos)
            yield number, value
        elif wire_type == 2:
            length, pos = read_varint(data, pos)
            if pos + length > len(data):
                raise ValueError(f"field {number} runs past the end of the model data")
            yield number, data[pos : pos + length]
            pos += length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            if pos + size > len(data):
                raise ValueError(f"field {number} runs past the end of the model data")
            yield number, data[pos : pos + size]
            pos += size
        else:  # 3 and 4 are the deprecated groups, which ModelProto never uses
            raise ValueError(f"unsupported protobuf wire type {wire_type} (field {number}); accepted 0, 1, 2, 5")


def _int32(value: int) -> int:
    """A negative int32 is written as a 10-byte varint of its 64-bit two's complement."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _float32(raw: bytes) -> float:
    return struct.unpack("<f", raw)[0]


def _read_piece(data: bytes) -> Piece:
    piece, score, piece_type = "", 0.0, PieceType.NORMAL
    for number, value in iter_fields(data):
        if number == 1:
            piece = value.decode("utf-8")
        elif number == 2:
            score = _float32(value)
        elif number == 3:
            piece_type = PieceType(value)
    return Piece(piece, score, piece_type)


def _read_trainer_spec(data: bytes) -> TrainerSpec:
    names = {3: "model_type", 35: "byte_fallback", 24: "treat_whitespace_as_suffix", 40: "unk_id", 41: "bos_id"}
    names |= {42: "eos_id", 43: "pad_id", 44: "unk_surface"}
    values: dict[str, object] = {}
    for number, value in iter_fields(data):
        name = names.get(number)
        if name == "model_type":
            values[name] = ModelType(value)
        elif name in ("byte_fallback", "treat_whitespace_as_suffix"):
            values[name] = bool(value)
        elif name == "unk_surface":
            values[name] = value.decode("utf-8")
        elif name is not None:
            values[name] = _int32(value)
    return TrainerSpec(**values)


def _read_normalizer_spec(data: bytes) -> NormalizerSpec:
    names = {1: "name", 2: "precompiled_charsmap", 3: "add_dummy_prefix", 4: "remove_extra_whitespaces"}
    names |= {5: "escape_whitespaces"}
    values: dict[str, object] = {}
    for number, value in iter_fields(data):
        name = names.get(number)
        if name == "name":
            values[name] = value.decode("utf-8")
        elif name == "precompiled_charsmap":
            values[name] = bytes(value)
        elif name is not None:
            values[name] = bool(value)
    return NormalizerSpec(**values)


def read_model(path_or_bytes: str | os.PathLike[str] | bytes) -> SentencePieceModel:
    """Parse a sentencepiece `.model` file (a path, or its bytes) into a SentencePieceModel.

    ModelProto fields read: 1 pieces (1 piece, 2 score as float32, 3 type), 2 trainer_spec,
    3 normalizer_spec, 5 denormalizer_spec. Unknown fields are skipped.
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as model_file:
            data = model_file.read()
    pieces: list[Piece] = []
    trainer_spec, normalizer_spec, denormalizer_spec = TrainerSpec(), NormalizerSpec(), None
    for number, value in iter_fields(data):
        if number == 1:
            pieces.append(_read_piece(value))
        elif number == 2:
            trainer_spec = _read_trainer_spec(value)
        elif number == 3:
            normalizer_spec = _read_normalizer_spec(value)
        elif number == 5:
            denormalizer_spec = _read_normalizer_spec(value)
    model = SentencePieceModel(tuple(pieces), trainer_spec, normalizer_spec, denormalizer_spec)
    check_model(model)
    return model


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # a negative int32 becomes its 64-bit two's complement
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes | str | float) -> bytes:
    """One serialized field: varint for int/bool, fixed32 for float, length-delimited otherwise."""
    if isinstance(value, float):
        return _varint(number << 3 | 5) + struct.pack("<f", value)
    if isinstance(value, int):
        return _varint(number << 3) + _varint(int(value))
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def write_model(model: SentencePieceModel) -> bytes:
    """Serialize a model as a `.model` file (the inverse of read_model), e.g. to hand a small
    hand-written model to sentencepiece. Every field is written, defaults included."""
    trainer, normalizer = model.trainer_spec, model.normalizer_spec
    out = bytearray()
    for p in model.pieces:
        out += _field(1, _field(1, p.piece) + _field(2, float(p.score)) + _field(3, int(p.type)))
    trainer_fields = [
        (3, int(trainer.model_type)),
        (35, trainer.byte_fallback),
        (24, trainer.treat_whitespace_as_suffix),
    ]
    trainer_fields += [(40, trainer.unk_id), (41, trainer.bos_id), (42, trainer.eos_id), (43, trainer.pad_id)]
    trainer_fields += [(44, trainer.unk_surface)]
    out += _field(2, b"".join(_field(n, v) for n, v in trainer_fields))
    for number, spec in ((3, normalizer), (5, model.denormalizer_spec)):
        if spec is not None:
            spec_fields = [(1, spec.name), (2, spec.precompiled_charsmap), (3, spec.add_dummy_prefix)]
            spec_fields += [(4, spec.remove_extra_whitespaces), (5, spec.escape_whitespaces)]
            out += _field(number, b"".join(_field(n, v) for n, v in spec_fields))
    return bytes(out)


def check_model(model: SentencePieceModel) -> None:
    """Reject what sentencepiece's `ModelInterface::InitializePieces` rejects, plus what we leave out."""
    if not model.pieces:
        raise ValueError("model has no pieces; accepted: at least the unknown piece")
    seen: set[str] = set()
    for index, piece in enumerate(model.pieces):
        if not piece.piece or "\0" in piece.piece:
            raise ValueError(f"piece {index} is {piece.piece!r}; accepted: a non-empty string without NUL")
        if piece.piece in seen:
            raise ValueError(f"piece {index} {piece.piece!r} is already defined")
        seen.add(piece.piece)
    unknown = [i for i, p in enumerate(model.pieces) if p.type == PieceType.UNKNOWN]
    if len(unknown) != 1:
        raise ValueError(f"model has {len(unknown)} UNKNOWN pieces; accepted: exactly 1")
    byte_pieces = [p for p in model.pieces if p.type == PieceType.BYTE]
    if byte_pieces and not model.trainer_spec.byte_fallback:
        raise ValueError(f"byte piece {byte_pieces[0].piece!r} found although byte_fallback is false")
    if model.trainer_spec.byte_fallback and sorted(piece_to_byte(p.piece) for p in byte_pieces) != list(range(256)):
        raise ValueError("byte_fallback is true but the model does not have the 256 pieces <0x00> .. <0xFF>")
    if model.trainer_spec.treat_whitespace_as_suffix:
        raise ValueError("treat_whitespace_as_suffix=True is not supported by this reference; accepted: False")


# ---------------------------------------------------------------------------------------
# Byte pieces and sentencepiece's UTF-8 decoding.


def byte_to_piece(byte: int) -> str:
    """The piece of a byte: `<0x` + two uppercase hex digits + `>`.

    >>> byte_to_piece(0xE4)
    '<0xE4>'

    Clauses: TOK-SP-05.
    """
    return f"<0x{byte:02X}>"


def piece_to_byte(piece: str) -> int:
    """The byte of a byte piece, or -1 when `piece` is not one (lowercase hex is not one).

    >>> piece_to_byte("<0x0A>"), piece_to_byte("<0x0a>")
    (10, -1)

    Clauses: TOK-SP-05.
    """
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        digits = piece[3:5]
        if all(c in "0123456789ABCDEF" for c in digits):
            return int(digits, 16)
    return -1


def decode_utf8_per_byte(data: bytes) -> str:
    """Decode UTF-8 the way sentencepiece's `DecodeUTF8` does: a byte that does not start a
    complete, shortest-form, non-surrogate sequence becomes one U+FFFD and decoding goes on at
    the next byte.

    subtle: Python's errors="replace" gives one U+FFFD per maximal invalid subpart instead, so
    a truncated 3-byte sequence differs:

    >>> decode_utf8_per_byte(b"\\xe4\\xbd"), b"\\xe4\\xbd".decode("utf-8", "replace")
    ('\\ufffd\\ufffd', '\\ufffd')

    Clauses: TOK-SP-07.
    """
    out: list[str] = []
    pos = 0
    while pos < len(data):
        length = _valid_utf8_length(data, pos)
        if length:
            out.append(data[pos : pos + length].decode("utf-8"))
            pos += length
        else:
            out.append("\ufffd")
            pos += 1
    return "".join(out)


def _valid_utf8_length(data: bytes, pos: int) -> int:
    """Length of the valid UTF-8 sequence starting at `pos`, or 0 if there is none."""
    lead = data[pos]
    if lead < 0x80:
        return 1
    for length, mask, tag, lowest in ((2, 0xE0, 0xC0, 0x80), (3, 0xF0, 0xE0, 0x800), (4, 0xF8, 0xF0, 0x10000)):
        if lead & mask == tag:
            tail = data[pos + 1 : pos + length]
            if len(tail) < length - 1 or any(b & 0xC0 != 0x80 for b in tail):
                return 0
            code_point = lead & (0x7F >> length)
            for b in tail:
                code_point = (code_point << 6) | (b & 0x3F)
            valid = lowest <= code_point <= 0x10FFFF and not 0xD800 <= code_point <= 0xDFFF
            return length if valid else 0
    return 0


def _utf8(text: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"text must be encodable as UTF-8 (no lone surrogates), got {text!r}") from error


# ---------------------------------------------------------------------------------------
# The precompiled charsmap: a darts-clone double-array trie plus a blob of normalised strings.


class DoubleArray:
    """A read-only darts-clone double array (sentencepiece's `third_party/darts_clone/darts.h`).

    The array is a list of little-endian uint32 units. For a unit u:
    label = u & (1<<31 | 0xFF) (a leaf unit has bit 31 set, so it never matches a byte);
    has_leaf = bit 8 (a key ends here: the value sits in the unit at offset(u) ^ 0);
    offset = (u >> 10) << (8 if bit 9 else 0); value (of a leaf unit) = u & 0x7FFFFFFF.
    From node position p, the child for byte b is at p ^ offset(unit[p]) ^ b.

    Clauses: TOK-SP-01.
    """

    def __init__(self, blob: bytes) -> None:
        if len(blob) % 4:
            raise ValueError(f"double-array blob has {len(blob)} bytes; accepted: a multiple of 4")
        self.units = struct.unpack(f"<{len(blob) // 4}I", blob)

    @staticmethod
    def _offset(unit: int) -> int:
        return (unit >> 10) << ((unit & (1 << 9)) >> 6)

    def common_prefix_search(self, key: bytes, start: int = 0) -> list[tuple[int, int]]:
        """All keys of the trie that are prefixes of key[start:], as (length, value), shortest first."""
        results: list[tuple[int, int]] = []
        node = self._offset(self.units[0])
        for i in range(start, len(key)):
            node ^= key[i]
            if node >= len(self.units):
                break
            unit = self.units[node]
            if unit & ((1 << 31) | 0xFF) != key[i]:
                break
            node ^= self._offset(unit)
            if (unit >> 8) & 1:
                results.append((i + 1 - start, self.units[node] & 0x7FFFFFFF))
        return results


def decode_charsmap(blob: bytes) -> tuple[DoubleArray, bytes]:
    """Split a precompiled_charsmap into its trie and its normalised strings.

    Layout (normalizer.cc::DecodePrecompiledCharsMap): a little-endian uint32 n, then n bytes of
    double array, then the NUL-separated normalised strings that the trie values point into.

    Clauses: TOK-SP-01.
    """
    if len(blob) <= 4:
        raise ValueError(f"precompiled_charsmap has {len(blob)} bytes; accepted: more than 4")
    (trie_size,) = struct.unpack("<I", blob[:4])
    if trie_size >= len(blob):
        raise ValueError(f"precompiled_charsmap trie size {trie_size} exceeds the blob ({len(blob)} bytes)")
    return DoubleArray(blob[4 : 4 + trie_size]), blob[4 + trie_size :]


class Normalizer:
    """sentencepiece's `Normalizer` for one NormalizerSpec (see the module docstring, step 1).

    Clauses: TOK-SP-01..03.
    """

    def __init__(self, spec: NormalizerSpec, user_defined: tuple[str, ...] = ()) -> None:
        self.spec = spec
        self.trie: DoubleArray | None = None
        self.normalized = b""
        if spec.precompiled_charsmap:
            self.trie, self.normalized = decode_charsmap(spec.precompiled_charsmap)
        # User-defined pieces, by first byte, are copied without normalisation.
        self.user_defined: dict[int, list[bytes]] = {}
        for piece in user_defined:
            encoded = piece.encode("utf-8")
            self.user_defined.setdefault(encoded[0], []).append(encoded)

    def user_defined_length(self, data: bytes, pos: int) -> int:
        """Byte length of the longest user-defined piece starting at `pos` (0 if none)."""
        pieces = self.user_defined.get(data[pos])
        if not pieces:  # most bytes start no user-defined piece
            return 0
        return max((len(p) for p in pieces if data.startswith(p, pos)), default=0)

    def normalize_prefix(self, data: bytes, pos: int) -> tuple[bytes, int]:
        """(replacement, number of input bytes it replaces) for the prefix of data[pos:]."""
        length = self.user_defined_length(data, pos)
        if length:
            return data[pos : pos + length], length
        if self.trie is not None:
            matches = self.trie.common_prefix_search(data, pos)
            if matches:
                length, value = max(matches)  # the longest key; lengths are distinct
                end = self.normalized.index(b"\0", value)
                return self.normalized[value:end], length
        # subtle: sentencepiece turns a malformed byte into U+FFFD here; a Python str never has one.
        length = _valid_utf8_length(data, pos)
        return data[pos : pos + length], length

    def normalize(self, text: str) -> str:
        """Normalise `text` as sentencepiece does before segmenting it.

        With nmt_nfkc and the default flags: "  ﬁne\\tday " -> "▁fine▁day".
        """
        spec = self.spec
        data = _utf8(text)
        pos = 0
        if spec.remove_extra_whitespaces:  # drop prefixes that normalise to exactly one space
            while pos < len(data):
                replacement, consumed = self.normalize_prefix(data, pos)
                if replacement != b" ":
                    break
                pos += consumed
        if pos == len(data):
            return ""
        space = SPACE_SYMBOL.encode("utf-8") if spec.escape_whitespaces else b" "
        out = bytearray(space if spec.add_dummy_prefix else b"")
        is_prev_space = spec.remove_extra_whitespaces
        while pos < len(data):
            replacement, consumed = self.normalize_prefix(data, pos)
            if is_prev_space:
                replacement = replacement.lstrip(b" ")  # subtle: only U+0020, after normalisation
            if replacement:
                out += replacement.replace(b" ", space)
                is_prev_space = replacement.endswith(b" ")
            pos += consumed
            if not spec.remove_extra_whitespaces:
                is_prev_space = False
        if spec.remove_extra_whitespaces:
            while out.endswith(space):
                del out[-len(space) :]
        return out.decode("utf-8")


# ---------------------------------------------------------------------------------------
# Shared by both model types: vocabulary look-ups, ids from segments, decoding.


def f32(x: float) -> float:
    """Round a Python float to the nearest float32, as a C++ `float` variable stores it.

    >>> f32(0.1), f32(1e39)
    (0.10000000149011612, inf)
    """
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:  # beyond float32 after rounding: C++ gives an infinity
        return math.copysign(math.inf, x)


class _SentencePiece:
    """What Unigram and SentencePieceBPE share: normalisation, unknown handling and decoding."""

    expected_type: ModelType

    def __init__(self, model: SentencePieceModel) -> None:
        check_model(model)
        if model.trainer_spec.model_type != self.expected_type:
            raise ValueError(
                f"model_type is {model.trainer_spec.model_type.name}; accepted for "
                f"{type(self).__name__}: {self.expected_type.name}"
            )
        self.model = model
        self.pieces = model.pieces
        self.piece_to_id = {p.piece: i for i, p in enumerate(model.pieces)}
        self.unk_id = next(i for i, p in enumerate(model.pieces) if p.type == PieceType.UNKNOWN)
        self.byte_fallback = model.trainer_spec.byte_fallback
        self.byte_ids = {piece_to_byte(p.piece): i for i, p in enumerate(model.pieces) if p.type == PieceType.BYTE}
        user_defined = tuple(p.piece for p in model.pieces if p.type == PieceType.USER_DEFINED)
        self.normalizer = Normalizer(model.normalizer_spec, user_defined)
        denormalizer_spec = model.denormalizer_spec
        has_denormalizer = denormalizer_spec is not None and denormalizer_spec.precompiled_charsmap
        self.denormalizer = Normalizer(denormalizer_spec) if has_denormalizer else None
        # Pieces the segmenter may produce: NORMAL, USER_DEFINED and UNUSED (model_interface.cc).
        segment_types = (PieceType.NORMAL, PieceType.USER_DEFINED, PieceType.UNUSED)
        self.vocab = {p.piece: i for i, p in enumerate(model.pieces) if p.type in segment_types}

    def normalize(self, text: str) -> str:
        return self.normalizer.normalize(text)

    def segment(self, normalized: str) -> list[tuple[str, int]]:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        """Normalise, segment, and map the segments to ids (fusing unknowns or falling back to bytes)."""
        return self.ids_from_segments(self.segment(self.normalize(text)))

    def encode_as_pieces(self, text: str) -> list[str]:
        """The pieces of `encode(text)`. Unknown text shows as the unk piece, where sentencepiece's
        `encode(out_type=str)` shows the text itself."""
        return [self.pieces[i].piece for i in self.encode(text)]

    def ids_from_segments(self, segments: list[tuple[str, int]]) -> list[int]:
        """Unknown segments: one byte piece per UTF-8 byte with byte_fallback, else one unk id per run.

        With unk_id 0 and no byte fallback, [("▁a", 5), ("x", 0), ("y", 0)] gives [5, 0]; with byte
        fallback it gives [5, id of <0x78>, id of <0x79>].
        """
        ids: list[int] = []
        is_prev_unk = False
        for piece, piece_id in segments:
            is_unk = piece_id == self.unk_id
            if is_unk and self.byte_fallback:
                ids.extend(self.byte_ids[b] for b in piece.encode("utf-8"))
            elif not (is_unk and is_prev_unk):
                ids.append(piece_id)
            is_prev_unk = is_unk
        return ids

    def decode(self, ids: list[int]) -> str:
        """Text of `ids`, as `SentencePieceProcessor.decode` gives it (see the module docstring)."""
        spec = self.model.normalizer_spec
        strip_bos_space = spec.add_dummy_prefix or spec.remove_extra_whitespaces
        text: list[str] = []
        has_text = False  # any(text), kept as text grows
        byte_run = bytearray()
        is_bos_ws = True  # no text yet: a leading "▁" may still be the dummy prefix
        bos_ws_seen = False
        for piece_id in ids:
            if isinstance(piece_id, bool) or not isinstance(piece_id, int) or not 0 <= piece_id < len(self.pieces):
                raise ValueError(f"ids must be ints in [0, {len(self.pieces)}), got {piece_id!r}")
            piece = self.pieces[piece_id]
            if piece.type == PieceType.BYTE:
                byte_run.append(piece_to_byte(piece.piece))
                continue
            if byte_run:
                text.append(decode_utf8_per_byte(bytes(byte_run)))
                has_text = has_text or bool(text[-1])
                byte_run.clear()
            if bos_ws_seen or has_text:
                is_bos_ws = False
            surface, bos_ws_seen = piece.piece, False
            if piece.type == PieceType.CONTROL:
                surface = ""
            elif piece.type == PieceType.UNKNOWN:
                surface = self.model.trainer_spec.unk_surface
            elif is_bos_ws and strip_bos_space and surface.startswith(SPACE_SYMBOL):
                surface = surface[1:]
                # subtle: with remove_extra_whitespaces every piece may drop one, until text appears
                bos_ws_seen = not spec.remove_extra_whitespaces
            text.append(surface.replace(SPACE_SYMBOL, " "))
            has_text = has_text or bool(text[-1])
        text.append(decode_utf8_per_byte(bytes(byte_run)))
        decoded = "".join(text)
        return self.denormalizer.normalize(decoded) if self.denormalizer else decoded


# ---------------------------------------------------------------------------------------
# Unigram.


class Unigram(_SentencePiece):
    """sentencepiece's Unigram model (model_type UNIGRAM).

    Clauses: TOK-UNI-01..05, TOK-SP-04, TOK-SP-05, TOK-SP-07..09, TOK-GEN-03, TOK-GEN-04.
    """

    expected_type = ModelType.UNIGRAM

    def __init__(self, model: SentencePieceModel) -> None:
        super().__init__(model)
        normal_scores = [p.score for p in model.pieces if p.type == PieceType.NORMAL]
        self.min_score = min(normal_scores, default=FLT_MAX)
        self.unk_score = f32(self.min_score - UNK_PENALTY)
        self.max_piece_length = max(len(p) for p in self.vocab)

    @cached_property
    def _prefixes(self) -> frozenset[str]:
        """Every prefix of every piece: a lattice candidate longer than one that is no prefix cannot be a piece."""
        return frozenset(piece[:k] for piece in self.vocab for k in range(1, len(piece) + 1))

    def piece_score(self, piece_id: int) -> float:
        """The lattice score of a piece: its stored score, or 0.1 * (utf8_length - 1) if user-defined
        (a user-defined "[INST]", 6 bytes, scores 0.5 in float32 whatever its stored score)."""
        piece = self.pieces[piece_id]
        if piece.type == PieceType.USER_DEFINED:
            return f32(f32(0.1) * (len(piece.piece.encode("utf-8")) - 1))
        return piece.score

    def segment(self, normalized: str) -> list[tuple[str, int]]:
        """Best segmentation of normalised text into (piece, id); unknown characters get unk_id.

        best[end] = [score, start, id] of the best path over normalized[:end], in float32 like
        sentencepiece: each candidate is a float32 sum, replaced only when strictly greater.
        """
        n = len(normalized)
        best: list[list | None] = [None] * (n + 1)
        best[0] = [0.0, -1, -1]
        frontier = 0  # the furthest end any candidate has reached
        prefixes = self._prefixes

        def offer(end: int, score: float, start: int, piece_id: int) -> None:
            # subtle: strict ">" and increasing `start`: on a tie the earliest start is kept
            if best[end] is None or score > best[end][0]:
                best[end] = [score, start, piece_id]

        for start in range(n):
            till_here = best[start][0]
            if abs(till_here) > SCORE_RESET_THRESHOLD:
                # subtle: sentencepiece re-centres long paths on 0 so float32 keeps resolving ties
                for entry in best[start : frontier + 1]:
                    if entry is not None:
                        entry[0] = f32(entry[0] - till_here)
                till_here = 0.0
            has_single_char_piece = False
            for end in range(start + 1, min(n, start + self.max_piece_length) + 1):
                candidate = normalized[start:end]
                if candidate not in prefixes:
                    break  # no piece is this long from here
                piece_id = self.vocab.get(candidate)
                if piece_id is None or self.pieces[piece_id].type == PieceType.UNUSED:
                    continue
                frontier = max(frontier, end)
                offer(end, f32(self.piece_score(piece_id) + till_here), start, piece_id)
                has_single_char_piece |= end == start + 1
            if not has_single_char_piece:
                frontier = max(frontier, start + 1)
                offer(start + 1, f32(self.unk_score + till_here), start, self.unk_id)
        segments: list[tuple[str, int]] = []
        end = n
        while end > 0:
            _, start, piece_id = best[end]
            segments.append((normalized[start:end], piece_id))
            end = start
        return segments[::-1]

    def segmentation_score(self, segments: list[tuple[str, int]]) -> float:
        """Total lattice score of a segmentation, summed in float64."""
        return sum(self.unk_score if i == self.unk_id else self.piece_score(i) for _, i in segments)


def best_segmentation(
    text: str, scores: Mapping[str, float], unk_score: float | None = None
) -> tuple[float, list[str]]:
    """Brute force: the best of *all* segmentations of `text`, for testing the Viterbi search.

    A segment is a key of `scores`, or one character scoring `unk_score` where no one-character
    key starts (the Unigram lattice; None: such text has no segmentation and raises). Among
    equal totals (summed in float64) it returns the Viterbi tie winner: the segmentation whose
    last piece starts earliest, then the same for the rest, from the end.

    >>> best_segmentation("abc", {"a": -1.0, "b": -1.0, "c": -1.0, "ab": -1.5, "bc": -1.5})
    (-2.5, ['a', 'bc'])

    Clauses: TOK-UNI-01.
    """
    if len(text) > 16:
        raise ValueError(f"text must have at most 16 characters for brute force, got {len(text)}")
    found: list[tuple[float, tuple[int, ...], list[str]]] = []

    def extend(start: int, total: float, starts: tuple[int, ...], parts: list[str]) -> None:
        if start == len(text):
            found.append((total, starts, parts))
            return
        for end in range(start + 1, len(text) + 1):
            if text[start:end] in scores:
                extend(end, total + scores[text[start:end]], (*starts, start), [*parts, text[start:end]])
        if text[start] not in scores and unk_score is not None:
            extend(start + 1, total + unk_score, (*starts, start), [*parts, text[start]])

    extend(0, 0.0, (), [])
    if not found:
        raise ValueError(f"text {text!r} has no segmentation into the given pieces and unk_score is None")
    # Highest total; then the reversed start positions, smallest first (earliest last piece).
    total, _, parts = min(found, key=lambda f: (-f[0], f[1][::-1]))
    return total, parts


# ---------------------------------------------------------------------------------------
# BPE.


class SentencePieceBPE(_SentencePiece):
    """sentencepiece's BPE model (model_type BPE): merge the highest-scoring piece first.

    Clauses: TOK-SP-04..10, TOK-GEN-03, TOK-GEN-04.
    """

    expected_type = ModelType.BPE

    def segment(self, normalized: str) -> list[tuple[str, int]]:
        """Merge adjacent symbols, best piece score first (leftmost on ties), into (piece, id)."""
        data = normalized.encode("utf-8")
        symbols: list[str] = []  # a merged-away symbol becomes ""
        frozen: list[bool] = []
        pos = 0
        while pos < len(data):  # characters, or a whole user-defined piece (frozen)
            length = self.normalizer.user_defined_length(data, pos)
            frozen.append(length > 0)
            length = length or _valid_utf8_length(data, pos)
            symbols.append(data[pos : pos + length].decode("utf-8"))
            pos += length
        prev = [i - 1 for i in range(len(symbols))]
        next_ = [i + 1 if i + 1 < len(symbols) else -1 for i in range(len(symbols))]
        agenda: list[tuple[float, bool, int, int, int]] = []  # (-score, sign bit, left, right, merged length)
        rev_merge: dict[str, tuple[str, str]] = {}  # an UNUSED merged piece -> its two halves

        def maybe_add_pair(left: int, right: int) -> None:
            if left == -1 or right == -1 or frozen[left] or frozen[right]:
                return
            merged = symbols[left] + symbols[right]
            piece_id = self.vocab.get(merged)
            if piece_id is None:
                return
            score = self.pieces[piece_id].score
            # subtle: sentencepiece compares the float bits, so +0.0 (a user-defined piece) beats -0.0
            heapq.heappush(agenda, (-score, math.copysign(1.0, score) < 0, left, right, len(merged)))
            if self.pieces[piece_id].type == PieceType.UNUSED:
                rev_merge[merged] = (symbols[left], symbols[right])

        for i in range(1, len(symbols)):
            maybe_add_pair(i - 1, i)
        while agenda:
            *_, left, right, length = heapq.heappop(agenda)
            # subtle: a pair whose symbols changed since it was pushed is stale; the length shows it
            if not symbols[left] or not symbols[right] or len(symbols[left]) + len(symbols[right]) != length:
                continue
            symbols[left] += symbols[right]
            symbols[right] = ""
            next_[left] = next_[right]
            if next_[right] >= 0:
                prev[next_[right]] = left
            maybe_add_pair(prev[left], left)
            maybe_add_pair(left, next_[left])

        segments: list[tuple[str, int]] = []

        def resegment(piece: str) -> None:
            piece_id = self.vocab.get(piece, self.unk_id)
            if self.pieces[piece_id].type != PieceType.UNUSED:
                segments.append((piece, piece_id))
            elif piece in rev_merge:
                resegment(rev_merge[piece][0])
                resegment(rev_merge[piece][1])
            else:  # an UNUSED single character (verified: sentencepiece 0.2.3 gives unk)
                segments.append((piece, self.unk_id))

        index = 0 if symbols else -1
        while index != -1:
            resegment(symbols[index])
            index = next_[index]
        return segments


def load(path_or_bytes: str | os.PathLike[str] | bytes) -> Unigram | SentencePieceBPE:
    """Read a `.model` file and build the tokenizer its model_type names."""
    return tokenizer(read_model(path_or_bytes))


def tokenizer(model: SentencePieceModel) -> Unigram | SentencePieceBPE:
    """The tokenizer a parsed model's model_type names."""
    model_type = model.trainer_spec.model_type
    if model_type == ModelType.UNIGRAM:
        return Unigram(model)
    if model_type == ModelType.BPE:
        return SentencePieceBPE(model)
    raise ValueError(f"model_type is {model_type.name}; accepted: UNIGRAM or BPE")
