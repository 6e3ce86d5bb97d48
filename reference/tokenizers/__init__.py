"""Reference tokenizers (spec/tokenizers.md): readable pure Python, one module per model.

Unicode behaviour (categories, normal forms, case mapping) is that of the running Python's
`unicodedata`; the spec pins Unicode 14.0.0, the data Python 3.11 ships, and the tests check it.
"""
