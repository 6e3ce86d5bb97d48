"""Mutants of the tokenizers family: the reference adapter with one plausible bug each.

One module per sub-family, as in reference/tokenizers and the suite: general, byte_bpe, wordpiece,
sentencepiece, templates; base holds what they share. ALL lists every mutant, in the suite's order.

Each class lists in `breaks` the clauses its bug violates (the first is the one it targets, the
others follow from the same bug, as measured by running the suite on it); tests/test_mutants.py
checks that exactly those clauses fail. Most bugs are ones real tokenizers or their ports have
had: a decoder that decodes token by token, merges read from token ids, shortest-match WordPiece,
truncation that forgets the template, the HF and tiktoken behaviours the spec rejects.

The reference's tokenizers are objects the suite builds; a mutant changes a copy of one (an
attribute, a method) or post-processes the reference's answer, so each bug stays a few lines.

    specformer run --adapter specformer.conformance.mutants.tokenizers:DecodePerToken --family tokenizers
"""

from __future__ import annotations

from specformer.conformance.mutants.tokenizers.base import TokenizerMutant
from specformer.conformance.mutants.tokenizers.byte_bpe import (
    Cl100kFormsConflated,
    CountsPairsAcrossChunks,
    DecodeCleansUpSpaces,
    DecodePerToken,
    Gpt2IgnoreCase,
    MergeRankFromTokenId,
    MergesAcrossChunks,
    NoWholeChunkLookup,
    OneMergeShort,
    PairTablesByConcatenation,
    PretokenizeDropsWhitespace,
    RightmostFirst,
    SoftHyphenPrintable,
    TieBreakLastPair,
)
from specformer.conformance.mutants.tokenizers.general import (
    BatchOffsetsRunOn,
    EmptyTextGetsDummyPrefix,
    StaleUnicodeTables,
    SurrogatesReplaced,
)
from specformer.conformance.mutants.tokenizers.sentencepiece import (
    ByteFallbackOff,
    CharsmapIgnored,
    ControlSymbolsMatched,
    DecodeKeepsDummySpace,
    SentencePieceBpeLowestScoreFirst,
    UnigramGreedyLongest,
    UnigramTiesLatestStart,
    UnknownsNotFused,
    UnkScoreIsMinScore,
    UserDefinedScoredAsStored,
    WhitespaceNotCollapsed,
)
from specformer.conformance.mutants.tokenizers.templates import (
    AttentionOnPads,
    BudgetIgnoresSpecials,
    ClsAndSepSwapped,
    EmptyPairDropsSep,
    LongestFirstCutsBothEqually,
    OddBudgetToLonger,
    OffsetsIntoNormalizedText,
    OnlyFirstCutsTheLonger,
    PaddingAlwaysRight,
    PadIdZero,
    PadToMultipleIgnored,
    PairOffsetsShifted,
    SepOffsetAtEndOfText,
    ShortSequenceEmptiedSilently,
    SpecialMaskZeroOnPads,
    SpecialsShortestFirst,
    SpecialStringsAsText,
    TinyMaxLengthSkipsTruncation,
    TokenTypesAllZero,
)
from specformer.conformance.mutants.tokenizers.wordpiece import (
    AlwaysLowercase,
    CjkBmpOnly,
    CleanTextOnlyCc,
    ContinuationPrefixDropped,
    FinalSigmaInTokenizersVariant,
    MaxCharsOffByOne,
    PunctuationCategoryPOnly,
    StripAccentsNoneMeansFalse,
    SurrogatesRaiseInBert,
    UnkOnlyTheRest,
    WordPieceShortestMatch,
)

ALL: tuple[type[TokenizerMutant], ...] = (
    StaleUnicodeTables,
    BatchOffsetsRunOn,
    SurrogatesReplaced,
    EmptyTextGetsDummyPrefix,
    SoftHyphenPrintable,
    PretokenizeDropsWhitespace,
    Gpt2IgnoreCase,
    Cl100kFormsConflated,
    MergesAcrossChunks,
    DecodeCleansUpSpaces,
    DecodePerToken,
    MergeRankFromTokenId,
    RightmostFirst,
    PairTablesByConcatenation,
    NoWholeChunkLookup,
    CountsPairsAcrossChunks,
    TieBreakLastPair,
    OneMergeShort,
    CleanTextOnlyCc,
    CjkBmpOnly,
    AlwaysLowercase,
    StripAccentsNoneMeansFalse,
    FinalSigmaInTokenizersVariant,
    PunctuationCategoryPOnly,
    SurrogatesRaiseInBert,
    WordPieceShortestMatch,
    ContinuationPrefixDropped,
    UnkOnlyTheRest,
    MaxCharsOffByOne,
    OffsetsIntoNormalizedText,
    SepOffsetAtEndOfText,
    PairOffsetsShifted,
    CharsmapIgnored,
    WhitespaceNotCollapsed,
    UserDefinedScoredAsStored,
    ByteFallbackOff,
    SentencePieceBpeLowestScoreFirst,
    DecodeKeepsDummySpace,
    ControlSymbolsMatched,
    UnigramGreedyLongest,
    UnigramTiesLatestStart,
    UnkScoreIsMinScore,
    UnknownsNotFused,
    SpecialsShortestFirst,
    SpecialStringsAsText,
    ClsAndSepSwapped,
    TokenTypesAllZero,
    SpecialMaskZeroOnPads,
    EmptyPairDropsSep,
    BudgetIgnoresSpecials,
    LongestFirstCutsBothEqually,
    OddBudgetToLonger,
    OnlyFirstCutsTheLonger,
    ShortSequenceEmptiedSilently,
    TinyMaxLengthSkipsTruncation,
    PadToMultipleIgnored,
    PaddingAlwaysRight,
    AttentionOnPads,
    PadIdZero,
)
