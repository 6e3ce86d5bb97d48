"""Reference implementations: readable, vectorised over the batch, float64 capable.

Each module mirrors a spec family (spec/FAMILY.md) and serves as the oracle of the
conformance suite. Randomness only ever comes in through an explicit torch.Generator.
"""
