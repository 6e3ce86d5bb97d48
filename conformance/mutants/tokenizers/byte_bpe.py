"""Tokenizer mutants of byte-level BPE (TOK-BL, TOK-BPE, TOK-TRAIN)."""

from __future__ import annotations

import regex

from specformer.conformance.mutants.tokenizers.base import (
    TokenizerMutant,
)
from specformer.reference.tokenizers import byte_bpe
from specformer.reference.tokenizers.byte_bpe import ByteLevelBPE

# ---------------------------------------------------------------------------------------
# Byte-level BPE: bytes and pre-tokenization


class SoftHyphenPrintable(TokenizerMutant):
    """Counts the soft hyphen 0xAD as printable (it is in Latin-1's printable range)."""

    breaks = ("TOK-BL-01",)

    def bytes_to_unicode(self) -> dict[int, str]:
        printable = [*range(0x21, 0x7F), *range(0xA1, 0x100)]  # bug: 0xAD included
        others = [b for b in range(256) if b not in printable]
        return {**{b: chr(b) for b in printable}, **{b: chr(0x100 + n) for n, b in enumerate(others)}}


class PretokenizeDropsWhitespace(TokenizerMutant):
    """Drops whitespace-only chunks, as `str.split` would."""

    breaks = ("TOK-BL-02", "TOK-BL-03", "TOK-BL-04")

    def pretokenize(self, text: str, pattern: str) -> list[str]:
        return [chunk for chunk in super().pretokenize(text, pattern) if chunk.strip()]  # bug


class Gpt2IgnoreCase(TokenizerMutant):
    """Adds the re.IGNORECASE that GPT-2's source says it should have had."""

    breaks = ("TOK-BL-03",)

    def pretokenize(self, text: str, pattern: str) -> list[str]:
        if pattern != "gpt2":
            return super().pretokenize(text, pattern)
        return regex.findall(byte_bpe.PATTERNS["gpt2"], text, flags=regex.IGNORECASE)  # bug


class Cl100kFormsConflated(TokenizerMutant):
    """Takes tiktoken's cl100k pattern for the tokenizer.json one, trusting the claim they match."""

    breaks = ("TOK-BL-04", "TOK-BL-03")

    def pretokenize(self, text: str, pattern: str) -> list[str]:
        return super().pretokenize(text, "cl100k" if pattern == "cl100k-tiktoken" else pattern)  # bug


class MergesAcrossChunks(TokenizerMutant):
    """Skips pre-tokenization and runs BPE on the text's bytes as one chunk."""

    breaks = ("TOK-BL-05", "TOK-BPE-05", "TOK-BPE-06")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        byte_bpe.check_scalar_values(text)
        return model.encode_chunk(text.encode()) if text else []  # bug


class DecodeCleansUpSpaces(TokenizerMutant):
    """Decodes with transformers' `clean_up_tokenization_spaces`: " ." becomes "." and so on."""

    breaks = ("TOK-BL-06", "TOK-BPE-06")

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str:
        text = super().bpe_decode(model, ids)
        for spaced in (" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"):
            text = text.replace(spaced, spaced.lstrip())  # bug
        return text


class DecodePerToken(TokenizerMutant):
    """Decodes each token on its own and joins the strings, so a split character is lost."""

    breaks = ("TOK-BL-07", "TOK-BL-06", "TOK-BPE-06")

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> str:
        return "".join(model.decode_bytes([i]).decode("utf-8", errors="replace") for i in ids)  # bug


# ---------------------------------------------------------------------------------------
# Byte-level BPE: merges


class _RankFromId(ByteLevelBPE):
    def merge_of(self, left: int, right: int) -> tuple[int, int] | None:
        merge = super().merge_of(left, right)
        return None if merge is None else (merge[1], merge[1])  # bug: the merged id as the priority


class MergeRankFromTokenId(TokenizerMutant):
    """Reads a pair-rank merge's priority from the merged token's id, as with tiktoken ranks."""

    breaks = ("TOK-BPE-01", "TOK-BPE-03")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        return super().bpe_encode(self._derived(model, "by_id", lambda m: m.rebuilt(_RankFromId)), text)


class _Rightmost(ByteLevelBPE):
    tie_direction = -1  # bug: the rightmost of equally ranked pairs first


class RightmostFirst(TokenizerMutant):
    """Merges the rightmost occurrence first among equal ranks."""

    breaks = ("TOK-BPE-02", "TOK-BPE-06")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        return super().bpe_encode(self._derived(model, "rightmost", lambda m: m.rebuilt(_Rightmost)), text)


class PairTablesByConcatenation(TokenizerMutant):
    """Applies a pair-rank table as if it were concatenation ranks (merges any pair whose bytes
    form a token), the quick way to run a tokenizer.json on a tiktoken-style engine."""

    breaks = ("TOK-BPE-04", "TOK-BPE-01", "TOK-BPE-03")

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        return super().bpe_encode(self._derived(model, "concatenation", lambda m: m.rebuilt(merges=None)), text)  # bug


class NoWholeChunkLookup(TokenizerMutant):
    """Ignores whole-chunk lookup (HF's ignore_merges left at its default)."""

    breaks = ("TOK-BPE-05",)

    def bpe_encode(self, model: ByteLevelBPE, text: str) -> list[int]:
        no_lookup = self._derived(model, "no_lookup", lambda m: m.rebuilt(whole_chunk_lookup=False))  # bug
        return super().bpe_encode(no_lookup, text)


# ---------------------------------------------------------------------------------------
# Byte-level BPE: training


class CountsPairsAcrossChunks(TokenizerMutant):
    """Counts pairs over the whole text, across chunk boundaries."""

    breaks = ("TOK-TRAIN-01", "TOK-TRAIN-03")

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        return super().bpe_train(text, num_merges, r"[\s\S]+")  # bug: one chunk


class TieBreakLastPair(TokenizerMutant):
    """Breaks ties by the pair seen last (a sort by count, then taking the last)."""

    breaks = ("TOK-TRAIN-02",)

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        chunks = byte_bpe.pretokenize(text, pattern)
        words = [list(chunk.encode()) for chunk in dict.fromkeys(chunks)]
        counts = [chunks.count(chunk) for chunk in dict.fromkeys(chunks)]
        token_bytes = {b: bytes([b]) for b in range(256)}
        merges = []
        for new_id in range(256, 256 + num_merges):
            stats = byte_bpe.pair_counts(words, counts)
            if not stats:
                break
            pair = sorted(stats, key=stats.__getitem__)[-1]  # bug: the last of the tied pairs
            words = [byte_bpe.merge_pair(word, pair, new_id) for word in words]
            token_bytes[new_id] = token_bytes[pair[0]] + token_bytes[pair[1]]
            merges.append((token_bytes[pair[0]], token_bytes[pair[1]]))
        return merges


class OneMergeShort(TokenizerMutant):
    """Makes `num_merges - 1` merges, mixing up the merge count and `vocab_size - 256`."""

    breaks = ("TOK-TRAIN-03",)

    def bpe_train(self, text: str, num_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
        return super().bpe_train(text, max(num_merges - 1, 0), pattern)  # bug
