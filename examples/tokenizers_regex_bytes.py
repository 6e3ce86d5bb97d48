"""A byte-level tokenizer's pre-tokenizer and decoder in pure Python on the third-party `regex`
package (the one GPT-2's encoder.py uses), with a decoder that answers with bytes.

Written from docs/adapters.md alone: the model's tables come from the public
`byte_level_tables` helper, the patterns from specformer's named patterns, and `bpe_decode`
returns the raw bytes (the suite applies TOK-BL-07's UTF-8 repair).
Run it:  PYTHONPATH=examples specformer run --adapter tokenizers_regex_bytes:RegexTokenizer --family tokenizers \
             --profile quick --no-bench
"""

from __future__ import annotations

import regex

from specformer.conformance.adapters.from_reference import byte_level_tables
from specformer.conformance.adapters.protocols import ByteLevelBPE, Capabilities
from specformer.reference.tokenizers.byte_bpe import resolve_pattern


class RegexTokenizer:
    name = "regex-tokenizer"
    description = "regex (the PyPI package) findall for pre-tokenization; bytes decoding"
    capabilities = Capabilities(families=frozenset({"tokenizers"}))

    def pretokenize(self, text: str, pattern: str) -> list[str]:
        return regex.findall(resolve_pattern(pattern), text)

    def bpe_decode(self, model: ByteLevelBPE, ids: list[int]) -> bytes:
        token_bytes, _merges = byte_level_tables(model)
        specials = {token_id: surface.encode() for surface, token_id in model.special_tokens.items()}
        try:
            return b"".join(token_bytes[i] if i in token_bytes else specials[i] for i in ids)
        except KeyError as exc:
            raise ValueError(f"ids: {exc.args[0]} is not a token id of this model") from exc

    def bytes_to_unicode(self) -> dict[int, str]:
        # GPT-2's table: printable bytes map to themselves, the rest to 256 + n in order.
        printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
        table, extra = {}, 0
        for byte in range(256):
            if byte in printable:
                table[byte] = chr(byte)
            else:
                table[byte] = chr(256 + extra)
                extra += 1
        return table
