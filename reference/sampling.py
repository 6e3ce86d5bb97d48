"""Reference logits processors and token selection: the oracle for spec/sampling.md.

Every function takes logits of shape (B, V) (B batch rows, V vocabulary) in any floating
dtype, works in that dtype, and returns a new tensor: run it in float64 to get the oracle.
"Removed" means set to -inf; a kept logit is returned unchanged. Each filter keeps at least
one token of a row that has a finite logit (SAMP-KEEP-01).

Where real libraries legitimately differ, the choice is a keyword argument named after the
spec's variants (`top_k_ties`, `top_p_boundary`, `order`), defaulting to the spec's default.

Deliberately left out: repetition/frequency/presence penalties, stopping and beam search
(the generation family), typical/epsilon/eta sampling, and speed tricks beyond vectorising
over the batch. Randomness only comes in through an explicit torch.Generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

# The orders of SAMP-ORDER-01, by variant name.
ORDERS: dict[str, tuple[str, ...]] = {
    "transformers": ("temperature", "top_k", "top_p", "min_p"),
    "vllm": ("temperature", "min_p", "top_k", "top_p"),
    "llama.cpp": ("top_k", "top_p", "min_p", "temperature"),
}
TOP_K_TIES = ("keep-ties", "exactly-k")  # SAMP-TOPK-02
TOP_P_BOUNDARIES = ("strict", "inclusive")  # SAMP-TOPP-02
# The keyword argument that selects each clause's variant: the one table the suite, the
# benchmarks and the reference adapter read (through `variant_arguments`).
VARIANT_ARGUMENTS = {"SAMP-ORDER-01": "order", "SAMP-TOPK-02": "top_k_ties", "SAMP-TOPP-02": "top_p_boundary"}


def variant_arguments(variant_of: Callable[[str], str]) -> dict[str, str]:
    """The keyword arguments that select the variants `variant_of(clause_id)` names.

    >>> variant_arguments({"SAMP-ORDER-01": "vllm", "SAMP-TOPK-02": "exactly-k", "SAMP-TOPP-02": "strict"}.get)
    {'order': 'vllm', 'top_k_ties': 'exactly-k', 'top_p_boundary': 'strict'}
    """
    return {argument: variant_of(clause_id) for clause_id, argument in VARIANT_ARGUMENTS.items()}


@dataclass(frozen=True)
class SamplingParams:
    """The knobs of one sampling step. The defaults disable every filter.

    Clauses: SAMP-ORDER-03.
    """

    temperature: float = 1.0  # divides the logits; must be finite and > 0
    top_k: int | None = None  # keep the k largest logits; None: no top-k
    top_p: float = 1.0  # nucleus mass in (0, 1]; 1: no top-p
    min_p: float = 0.0  # in [0, 1], relative to the top probability; 0: no min-p
    min_tokens_to_keep: int = 1  # top-p and min-p never keep fewer than this

    def validate(self) -> None:
        validate_temperature(self.temperature)
        if self.top_k is not None:
            validate_top_k(self.top_k)
        validate_top_p(self.top_p)
        validate_min_p(self.min_p)
        validate_min_tokens_to_keep(self.min_tokens_to_keep)


# ---------------------------------------------------------------------------------------
# Validation: each error names the parameter, its value and the accepted range.


def check_logits(logits: torch.Tensor) -> None:
    """Logits must be a floating (B, V) tensor with no NaN and no +inf (SAMP-EDGE-01).

    Clauses: SAMP-EDGE-01.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ValueError(f"logits must be a floating-point torch.Tensor, got {type(logits).__name__}")
    if logits.dim() != 2 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (B, V) with V >= 1, got {tuple(logits.shape)}")
    # One pass for the common case (all finite); -inf is the only non-finite value allowed.
    if not torch.isfinite(logits).all() and (torch.isnan(logits).any() or torch.isposinf(logits).any()):
        raise ValueError("logits contain NaN or +inf; accepted: finite values or -inf (a removed token)")


def validate_temperature(temperature: float) -> None:
    """Reject a temperature that is not a finite real > 0, naming the parameter.

    Clauses: SAMP-TEMP-03.
    """
    if not _is_real(temperature) or not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be finite and > 0, got {temperature!r}; accepted range (0, inf)")


def validate_top_k(top_k: int) -> None:
    """Reject a top_k that is not an integer >= 1 (bool included), naming the parameter.

    Clauses: SAMP-TOPK-04.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")


def validate_top_p(top_p: float) -> None:
    """Reject a top_p outside (0, 1], naming the parameter.

    Clauses: SAMP-TOPP-05.
    """
    if not _is_real(top_p) or not (0.0 < top_p <= 1.0):
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")


def validate_min_p(min_p: float) -> None:
    """Reject a min_p outside [0, 1], naming the parameter.

    Clauses: SAMP-MINP-03.
    """
    if not _is_real(min_p) or not (0.0 <= min_p <= 1.0):
        raise ValueError(f"min_p must be in [0, 1], got {min_p!r}")


def validate_min_tokens_to_keep(min_tokens_to_keep: int) -> None:
    """Reject a min_tokens_to_keep that is not an integer >= 1, naming the parameter.

    Clauses: SAMP-TOPP-04, SAMP-MINP-04.
    """
    if isinstance(min_tokens_to_keep, bool) or not isinstance(min_tokens_to_keep, int) or min_tokens_to_keep < 1:
        raise ValueError(f"min_tokens_to_keep must be an integer >= 1, got {min_tokens_to_keep!r}")


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


# ---------------------------------------------------------------------------------------
# Processors: logits (B, V) -> logits (B, V).


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """l / T (SAMP-TEMP-01). T = 1 divides by one, which IEEE arithmetic makes exact.

    Clauses: SAMP-TEMP-01, SAMP-TEMP-02.
    """
    check_logits(logits)
    validate_temperature(temperature)
    return logits / temperature


def top_k_filter(logits: torch.Tensor, top_k: int, *, top_k_ties: str = "keep-ties") -> torch.Tensor:
    """Keep the k largest logits of each row (SAMP-TOPK-01..05).

    >>> top_k_filter(torch.tensor([[1.0, 1.0, 1.0, 0.0]]), 2)
    tensor([[1., 1., 1., -inf]])

    Clauses: SAMP-TOPK-01..05, SAMP-KEEP-01.
    """
    check_logits(logits)
    validate_top_k(top_k)
    _check_choice("top_k_ties", top_k_ties, TOP_K_TIES)
    if top_k >= logits.shape[-1]:
        return logits.clone()
    top = torch.topk(logits, top_k, dim=-1)  # values, indices: (B, k)
    if top_k_ties == "keep-ties":
        # Everything equal to the k-th value survives; -inf never beats -inf, so a row with
        # fewer than k finite logits keeps all of them.
        remove = logits < top.values[:, -1:]
    else:
        remove = torch.ones_like(logits, dtype=torch.bool).scatter(-1, top.indices, False)
    return logits.masked_fill(remove, -math.inf)


def top_p_filter(
    logits: torch.Tensor,
    top_p: float,
    *,
    min_tokens_to_keep: int = 1,
    top_p_boundary: str = "strict",
) -> torch.Tensor:
    """Keep the smallest most-probable set whose mass reaches top_p (SAMP-TOPP-01..06).

    A token is kept iff the mass of the tokens ranked strictly above it is < top_p
    ("strict") or <= top_p ("inclusive"), so the token that crosses top_p is kept.

    >>> top_p_filter(torch.log(torch.tensor([[0.5, 0.3, 0.1, 0.1]])), 0.6).isfinite()
    tensor([[ True,  True, False, False]])

    Clauses: SAMP-TOPP-01..06, SAMP-KEEP-01.
    """
    check_logits(logits)
    validate_top_p(top_p)
    validate_min_tokens_to_keep(min_tokens_to_keep)
    _check_choice("top_p_boundary", top_p_boundary, TOP_P_BOUNDARIES)
    if top_p >= 1.0:
        # Not merely an optimisation: computed, the rule would remove tokens whose
        # probability underflows to 0, and SAMP-TOPP-03 says p = 1 is the identity.
        return logits.clone()
    order = _rank(logits)  # (B, V): token indices, most probable first
    sorted_probs = torch.softmax(logits, dim=-1).gather(-1, order)
    # subtle: the mass strictly above rank r is the cumulative sum up to r - 1 (exclusive),
    # not cumsum - p, which rounds differently at an exact boundary.
    cumulative = sorted_probs.cumsum(dim=-1)
    mass_above = torch.cat([torch.zeros_like(cumulative[:, :1]), cumulative[:, :-1]], dim=-1)
    remove_sorted = mass_above >= top_p if top_p_boundary == "strict" else mass_above > top_p
    remove = torch.empty_like(remove_sorted).scatter(-1, order, remove_sorted)  # unsort
    remove = _protect_most_probable(remove, logits, order, min_tokens_to_keep)
    return logits.masked_fill(remove, -math.inf)


def min_p_filter(logits: torch.Tensor, min_p: float, *, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Remove tokens with p_i < min_p * max_j p_j; equality keeps (SAMP-MINP-01..04).

    >>> min_p_filter(torch.log(torch.tensor([[0.5, 0.25, 0.2]])), 0.5).isfinite()
    tensor([[ True,  True, False]])

    Clauses: SAMP-MINP-01..04, SAMP-KEEP-01.
    """
    check_logits(logits)
    validate_min_p(min_p)
    validate_min_tokens_to_keep(min_tokens_to_keep)
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    threshold = min_p * probs.amax(dim=-1, keepdim=True)  # (B, 1)
    # No full sort needed here: topk finds the min_tokens_to_keep most probable tokens.
    most_probable = torch.topk(logits, min(min_tokens_to_keep, logits.shape[-1]), dim=-1).indices
    remove = _protect_most_probable(probs < threshold, logits, most_probable, min_tokens_to_keep)
    return logits.masked_fill(remove, -math.inf)


def _rank(logits: torch.Tensor) -> torch.Tensor:
    """Token indices by descending logit; ties in index order, so results are deterministic."""
    return logits.sort(dim=-1, descending=True, stable=True).indices  # (B, V)


def _protect_most_probable(remove: torch.Tensor, logits: torch.Tensor, order: torch.Tensor, count: int) -> torch.Tensor:
    """Clear `remove` for the first `count` tokens of `order` in each row, and for rows with no
    finite logit, whose NaN probabilities must not decide anything (SAMP-EDGE-02)."""
    remove = remove.scatter(-1, order[:, :count], False)
    has_finite = torch.isfinite(logits).any(dim=-1, keepdim=True)  # (B, 1)
    return remove & has_finite


def process(
    logits: torch.Tensor,
    params: SamplingParams,
    *,
    order: str = "transformers",
    top_k_ties: str = "keep-ties",
    top_p_boundary: str = "strict",
) -> torch.Tensor:
    """Apply every enabled processor in the declared order (SAMP-ORDER-01..03).

    Each stage sees the logits the previous one returned, so a filter after another works
    on the renormalised survivors (SAMP-ORDER-02). Disabled stages are skipped.

    Clauses: SAMP-ORDER-01..03, SAMP-EDGE-02..05.
    """
    check_logits(logits)
    params.validate()
    _check_choice("order", order, tuple(ORDERS))
    stages = {
        "temperature": lambda x: apply_temperature(x, params.temperature),
        "top_k": lambda x: top_k_filter(x, params.top_k, top_k_ties=top_k_ties),
        "top_p": lambda x: top_p_filter(
            x, params.top_p, min_tokens_to_keep=params.min_tokens_to_keep, top_p_boundary=top_p_boundary
        ),
        "min_p": lambda x: min_p_filter(x, params.min_p, min_tokens_to_keep=params.min_tokens_to_keep),
    }
    enabled = {
        "temperature": params.temperature != 1.0,
        "top_k": params.top_k is not None,
        "top_p": params.top_p < 1.0,
        "min_p": params.min_p > 0.0,
    }
    result = logits.clone()
    for stage in ORDERS[order]:
        if enabled[stage]:
            result = stages[stage](result)
    return result


# ---------------------------------------------------------------------------------------
# Selection: logits (B, V) -> token ids (B,).


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The index of each row's largest logit, the lowest index on ties (SAMP-GREEDY-01).

    torch.argmax documents that it returns the first maximal index.

    Clauses: SAMP-GREEDY-01.
    """
    check_logits(logits)
    return logits.argmax(dim=-1)


def sample(
    logits: torch.Tensor,
    params: SamplingParams,
    generator: torch.Generator,
    *,
    order: str = "transformers",
    top_k_ties: str = "keep-ties",
    top_p_boundary: str = "strict",
) -> torch.Tensor:
    """Draw one token per row from softmax of the processed logits (SAMP-DRAW-01..04).

    A row with no finite logit after processing has nothing to draw: ValueError.

    Clauses: SAMP-DRAW-01..04.
    """
    processed = process(logits, params, order=order, top_k_ties=top_k_ties, top_p_boundary=top_p_boundary)
    empty_rows = (~torch.isfinite(processed).any(dim=-1)).nonzero().flatten()
    if len(empty_rows) > 0:
        raise ValueError(f"logits row {int(empty_rows[0])} has no finite value; nothing can be drawn")
    probs = torch.softmax(processed, dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)
