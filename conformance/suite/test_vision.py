"""Conformance tests for spec/vision.md: patches, [CLS] and positions, aggregation, ConvNeXt, preprocessing.

Weights and images are drawn from fixed seeds in float64 and handed to the adapter in float32
(the dtype vision models run in on CPU); outputs are compared with the float64 reference under
the numerical policy. Properties (permutation invariance) compare the adapter with itself.
"""

from __future__ import annotations

import pytest
import torch

from specformer.conformance.numerics import annotate, assert_close, fail, max_abs_error
from specformer.conformance.plugin import clause, require
from specformer.conformance.suite.checks import expect_value_error
from specformer.conformance.suite.frontend_inputs import assert_invariant, image, layout, permute_patches
from specformer.reference import vision as ref
from specformer.reference.vision import ConvNextHeadWeights, ViTConfig, ViTEmbeddingWeights, ViTWeights

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _expect_value_error(call, what: str, names: tuple[str, ...]) -> None:
    """`call()` must raise ValueError whose message names one of `names` (in any case)."""
    expect_value_error(call, *names, what=what, any_of=True, ignore_case=True)


def _patch_weights(seed: int, dim: int, channels: int, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(dim, channels, patch, patch, generator=generator, dtype=torch.float64) / patch
    return weight, torch.randn(dim, generator=generator, dtype=torch.float64)


def _embedding_weights(seed: int, grid: tuple[int, int] = (3, 4), *, zero_positions: bool = False):
    weights = ViTEmbeddingWeights.random(3, 4, grid, 8, torch.Generator().manual_seed(seed))
    if zero_positions:
        weights = ViTEmbeddingWeights(
            weights.patch_weight, weights.patch_bias, weights.cls_token, torch.zeros_like(weights.position), grid
        )
    return weights


# ---------------------------------------------------------------------------------------
# Patches


@clause("VIS-PATCH-01")
@pytest.mark.parametrize(
    ("kind", "shape", "patch", "dim", "how"),
    [
        ("random", (2, 3, 8, 12), 4, 6, "contiguous"),
        ("random", (2, 3, 8, 12), 4, 6, "batch-slice"),
        ("gradient", (2, 3, 12, 8), 4, 5, "transposed"),
        ("checkerboard", (1, 1, 5, 5), 5, 3, "contiguous"),
        ("random", (3, 2, 6, 6), 1, 4, "contiguous"),
        ("random", (2, 3, 224, 224), 16, 32, "contiguous"),  # ViT-B/16's grid, narrow width
        ("random", (1, 3, 160, 96), 16, 16, "transposed"),
    ],
)
def test_patch_embedding_is_one_linear_map_per_patch(adapter, kind, shape, patch, dim, how) -> None:
    op = require(adapter, "patch_embedding")
    images = image(kind, *shape, seed=1)
    weight, bias = _patch_weights(2, dim, shape[1], patch)
    given = layout(images.float(), how)
    actual = op(given, weight.float(), bias.float())
    if not torch.equal(given, images.float()):
        fail("patch_embedding changed its input images", kind=kind, shape=shape)
    with annotate(kind=kind, shape=shape, patch=patch, dim=dim, layout=how):
        assert_close(
            actual,
            ref.patch_embedding(images, weight, bias),
            ref.patch_embedding(images.float(), weight.float(), bias.float()),
            what="patch embedding",
        )


@clause("VIS-PATCH-02")
@pytest.mark.parametrize(("height", "width"), [(8, 12), (12, 8), (16, 16)])
def test_patches_are_in_raster_order(adapter, height: int, width: int) -> None:
    op = require(adapter, "patch_embedding")
    patch, h, w = 4, height // 4, width // 4
    weight, bias = torch.ones(1, 1, patch, patch), torch.zeros(1)
    for row in range(h):
        for col in range(w):
            marked = torch.zeros(1, 1, height, width)
            marked[..., row * patch : (row + 1) * patch, col * patch : (col + 1) * patch] = 1.0
            tokens = op(marked, weight, bias)[0, :, 0]  # (N,)
            lit = tokens.abs().gt(0.5).nonzero().flatten().tolist()
            if lit != [row * w + col]:
                fail(
                    f"the patch at grid ({row}, {col}) of a {h}x{w} grid came out as token(s) {lit}, "
                    f"expected {row * w + col} (raster order)",
                    grid=(h, w),
                )


@clause("VIS-PATCH-03")
@pytest.mark.parametrize(("height", "width"), [(7, 8), (8, 9), (3, 3), (2, 8)])
def test_sizes_the_patch_does_not_divide_are_rejected(adapter, height: int, width: int) -> None:
    op = require(adapter, "patch_embedding")
    weight, bias = _patch_weights(3, 4, 3, 4)
    images = torch.zeros(1, 3, height, width)
    _expect_value_error(
        lambda: op(images, weight.float(), bias.float()), f"a {height}x{width} image with patch 4", ("size", "patch")
    )


@clause("VIS-PATCH-04")
@pytest.mark.parametrize("channels", [1, 4])
def test_wrong_channel_count_is_rejected(adapter, channels: int) -> None:
    op = require(adapter, "patch_embedding")
    weight, bias = _patch_weights(3, 4, 3, 4)
    images = torch.zeros(1, channels, 8, 8)
    _expect_value_error(
        lambda: op(images, weight.float(), bias.float()), f"a {channels}-channel image for 3 channels", ("channel",)
    )


# ---------------------------------------------------------------------------------------
# [CLS] and positions


def _check_embeddings(adapter, images: torch.Tensor, weights: ViTEmbeddingWeights, what: str, **kwargs) -> None:
    op = require(adapter, "vit_embeddings")
    assert_close(
        op(images.float(), weights.to(torch.float32), **kwargs),
        ref.vit_embeddings(images, weights, **kwargs),
        ref.vit_embeddings(images.float(), weights.to(torch.float32), **kwargs),
        what=what,
    )


@clause("VIS-CLS-01")
@pytest.mark.parametrize("kind", ["random", "bright-patch"])
def test_cls_is_prepended(adapter, kind: str) -> None:
    weights = _embedding_weights(4, zero_positions=True)
    images = image(kind, 2, 3, 12, 16, seed=5)
    with annotate(kind=kind, positions="zero"):
        _check_embeddings(adapter, images, weights, "[CLS] + patch tokens (zero positions)")


@clause("VIS-CLS-02")
def test_cls_is_the_same_learned_vector_for_every_image(adapter) -> None:
    op = require(adapter, "vit_embeddings")
    weights = _embedding_weights(6, zero_positions=True).to(torch.float32)
    for kind in ("random", "constant", "checkerboard"):
        first = op(image(kind, 2, 3, 12, 16, seed=7).float(), weights)[:, 0]  # (B, D)
        error = max_abs_error(first, weights.cls_token.double().expand_as(first))
        if error > 1e-6:
            fail(f"token 0 for a {kind} image differs from the learned [CLS] vector by {error:.3g}", kind=kind)


@clause("VIS-POS-01")
@pytest.mark.parametrize(
    ("kind", "how"), [("random", "contiguous"), ("gradient", "batch-slice"), ("random", "transposed")]
)
def test_positions_are_added_after_cls_is_prepended(adapter, kind: str, how: str) -> None:
    weights = _embedding_weights(8)
    images = layout(image(kind, 2, 3, 12, 16, seed=9), how)
    with annotate(kind=kind, layout=how):
        _check_embeddings(adapter, images, weights, "[CLS] + patches + positions")


@clause("VIS-POS-02")
@pytest.mark.parametrize(("height", "width"), [(16, 16), (8, 16), (12, 12)])
def test_other_sizes_need_interpolation(adapter, height: int, width: int) -> None:
    op = require(adapter, "vit_embeddings")
    weights = _embedding_weights(10).to(torch.float32)  # a 3x4 grid: 12x16 images
    images = torch.zeros(1, 3, height, width)
    _expect_value_error(
        lambda: op(images, weights), f"a {height}x{width} image for a 12x16 position table", ("size", "grid")
    )


def _table(seed: int, grid: tuple[int, int], dim: int = 6) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1 + grid[0] * grid[1], dim, generator=generator, dtype=torch.float64)


def _check_interpolation(adapter, source: tuple[int, int], target: tuple[int, int], seed: int) -> torch.Tensor:
    op = require(adapter, "interpolate_position_embeddings")
    resampling = adapter.variant("VIS-POS-04")
    table = _table(seed, source)
    actual = op(table.float(), source, target)
    with annotate(source=source, target=target, resampling=resampling):
        assert_close(
            actual,
            ref.interpolate_position_embeddings(table, source, target, resampling=resampling),
            ref.interpolate_position_embeddings(table.float(), source, target, resampling=resampling),
            what=f"position table interpolated {source} -> {target}",
        )
    return actual


@clause("VIS-POS-03")
@pytest.mark.parametrize(("source", "target"), [((4, 4), (6, 6)), ((4, 4), (2, 2)), ((3, 3), (1, 1))])
def test_interpolation_keeps_the_cls_position(adapter, source, target) -> None:
    op = require(adapter, "interpolate_position_embeddings")
    table = _table(11, source)
    first = op(table.float(), source, target)[0]
    if max_abs_error(first, table[0]) > 1e-6:
        fail(f"row 0 ([CLS]) changed when interpolating {source} -> {target}", source=source, target=target)


@clause("VIS-POS-04")
@pytest.mark.parametrize(
    ("source", "target"), [((4, 4), (6, 6)), ((6, 6), (4, 4)), ((3, 3), (7, 7)), ((14, 14), (24, 24))]
)
def test_interpolation_resamples_the_grid(adapter, source, target) -> None:
    _check_interpolation(adapter, source, target, seed=12)


@clause("VIS-POS-04")
def test_embeddings_interpolate_for_another_image_size(adapter) -> None:
    weights = _embedding_weights(13, grid=(4, 4))  # trained on a 4x4 grid (square, as every ViT checkpoint)
    images = image("random", 2, 3, 24, 24, seed=14)  # a 6x6 grid (VIS-POS-06 has the non-square ones)
    with annotate(image_size=(24, 24), table_grid=weights.grid, resampling=adapter.variant("VIS-POS-04")):
        _check_embeddings(adapter, images, weights, "embeddings with interpolated positions", interpolate=True)


@clause("VIS-POS-05")
@pytest.mark.parametrize("grid", [(4, 4), (1, 1), (7, 7)])
def test_interpolation_to_the_same_grid_is_the_identity(adapter, grid) -> None:
    op = require(adapter, "interpolate_position_embeddings")
    table = _table(15, grid)
    with annotate(grid=grid):
        assert_close(op(table.float(), grid, grid), table, table.float(), what="interpolation to the same grid")


@clause("VIS-POS-06")
@pytest.mark.parametrize(("source", "target"), [((4, 4), (3, 6)), ((4, 4), (6, 2)), ((5, 5), (2, 7))])
def test_interpolation_to_a_non_square_grid(adapter, source, target) -> None:
    _check_interpolation(adapter, source, target, seed=16)


# ---------------------------------------------------------------------------------------
# Encoder and aggregation

SMALL = ViTConfig()  # 16x16 images, 4x4 patches, D 16, 2 layers
WIDE = ViTConfig(image_size=224, patch_size=16, hidden_size=32, num_hidden_layers=1, intermediate_size=64)


def _vit(seed: int, config: ViTConfig = SMALL, *, distilled: bool = False) -> ViTWeights:
    return ViTWeights.random(config, torch.Generator().manual_seed(seed), distilled=distilled)


def _classifier_weights(adapter, seed: int, config: ViTConfig = SMALL) -> ViTWeights:
    """Weights for the adapter's pooling: DeiT's variant needs the distillation token and head."""
    return _vit(seed, config, distilled=adapter.variant("VIS-POOL-01") == "deit-average")


@clause("VIS-ENC-01")
@pytest.mark.parametrize(
    ("config", "kind", "how"),
    [(SMALL, "random", "contiguous"), (SMALL, "checkerboard", "batch-slice"), (WIDE, "random", "transposed")],
)
def test_encoder_output(adapter, config: ViTConfig, kind: str, how: str) -> None:
    op = require(adapter, "vit_encode")
    weights = _vit(20, config)
    images = layout(image(kind, 2, 3, config.image_size, config.image_size, seed=21), how)
    with annotate(config=config, kind=kind, layout=how):
        assert_close(
            op(images.float(), weights.to(torch.float32)),
            ref.vit_encode(images, weights),
            ref.vit_encode(images.float(), weights.to(torch.float32)),
            what="ViT encoder output (after the final LayerNorm)",
        )


@clause("VIS-ENC-01")
def test_repeated_and_interleaved_calls_agree(adapter) -> None:
    op = require(adapter, "vit_encode")
    first, second = _vit(40).to(torch.float32), _vit(41).to(torch.float32)
    images = image("random", 2, 3, 16, 16, seed=42).float()
    a1, b1, a2 = op(images, first), op(images, second), op(images, first)
    if not torch.equal(a1, a2):
        fail(
            f"vit_encode gave another answer for the same weights after a call with other weights "
            f"(max difference {max_abs_error(a2, a1.double()):.3g})"
        )
    if torch.equal(a1, b1):
        fail("vit_encode gave the same answer for two different sets of weights")


@clause("VIS-POOL-01")
@pytest.mark.parametrize(("config", "kind"), [(SMALL, "random"), (SMALL, "bright-patch"), (WIDE, "gradient")])
def test_classifier_reads_the_pooled_state(adapter, config: ViTConfig, kind: str) -> None:
    op = require(adapter, "vit_classify")
    pooling = adapter.variant("VIS-POOL-01")
    weights = _classifier_weights(adapter, 22, config)
    images = image(kind, 3, 3, config.image_size, config.image_size, seed=23)
    with annotate(config=config, kind=kind, pooling=pooling):
        assert_close(
            op(images.float(), weights.to(torch.float32)),
            ref.vit_classify(images, weights, pooling=pooling),
            ref.vit_classify(images.float(), weights.to(torch.float32), pooling=pooling),
            what=f"ViT logits ({pooling} pooling)",
        )


def _check_permutation(adapter, weights: ViTWeights, order: torch.Tensor, *, with_positions: bool) -> None:
    op = require(adapter, "vit_classify")
    pooling = adapter.variant("VIS-POOL-01")
    config = weights.config
    images = image("random", 2, 3, config.image_size, config.image_size, seed=25)
    permuted_images = permute_patches(images, config.patch_size, order)
    permuted = weights
    if with_positions:
        table = weights.state["vit.embeddings.position_embeddings"]  # (1, 1 + N, D)
        prefix = weights.prefix_tokens  # [CLS] (and DeiT's distillation token) stay in front
        moved = torch.cat([table[:, :prefix], table[:, prefix:][:, order]], dim=1)
        permuted = weights.replace(vit__embeddings__position_embeddings=moved)
    original = op(images.float(), weights.to(torch.float32))
    changed = op(permuted_images.float(), permuted.to(torch.float32))
    oracle = ref.vit_classify(images, weights, pooling=pooling)
    reference_error = max_abs_error(
        ref.vit_classify(permuted_images.float(), permuted.to(torch.float32), pooling=pooling), oracle
    )
    assert_invariant(
        changed, original, reference_error, what="logits after permuting the patches", order=order.tolist()
    )


@clause("VIS-POOL-02")
@pytest.mark.parametrize("seed", [26, 27])
def test_without_positions_the_patch_order_does_not_matter(adapter, seed: int) -> None:
    weights = _classifier_weights(adapter, seed)
    weights = weights.replace(
        vit__embeddings__position_embeddings=torch.zeros_like(weights.state["vit.embeddings.position_embeddings"])
    )
    order = torch.randperm(16, generator=torch.Generator().manual_seed(seed))
    _check_permutation(adapter, weights, order, with_positions=False)


@clause("VIS-POOL-03")
@pytest.mark.parametrize("seed", [28, 29])
def test_patches_and_positions_permuted_together(adapter, seed: int) -> None:
    order = torch.randperm(16, generator=torch.Generator().manual_seed(seed))
    _check_permutation(adapter, _classifier_weights(adapter, seed), order, with_positions=True)


def _convnext_case(seed: int, shape: tuple[int, int, int, int], classes: int = 5):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(*shape, generator=generator, dtype=torch.float64) + torch.linspace(-1, 1, shape[1]).reshape(
        1, -1, 1, 1
    )
    return features, ConvNextHeadWeights.random(shape[1], classes, generator)


@clause("VIS-CNX-01")
@pytest.mark.parametrize(
    ("shape", "how"), [((2, 8, 3, 5), "contiguous"), ((3, 16, 7, 7), "batch-slice"), ((1, 6, 1, 1), "transposed")]
)
def test_convnext_head_pools_then_normalises(adapter, shape, how) -> None:
    op = require(adapter, "convnext_head")
    features, weights = _convnext_case(30, shape)
    with annotate(shape=shape, layout=how):
        assert_close(
            op(layout(features.float(), how), weights.to(torch.float32)),
            ref.convnext_head(features, weights),
            ref.convnext_head(features.float(), weights.to(torch.float32)),
            what="ConvNeXt head logits",
        )


@clause("VIS-CNX-02")
@pytest.mark.parametrize("seed", [31, 32])
def test_convnext_head_ignores_spatial_order(adapter, seed: int) -> None:
    op = require(adapter, "convnext_head")
    features, weights = _convnext_case(seed, (2, 8, 4, 6))
    order = torch.randperm(24, generator=torch.Generator().manual_seed(seed))
    permuted = features.flatten(2)[:, :, order].reshape(features.shape)
    oracle = ref.convnext_head(features, weights)
    reference_error = max_abs_error(ref.convnext_head(permuted.float(), weights.to(torch.float32)), oracle)
    assert_invariant(
        op(permuted.float(), weights.to(torch.float32)),
        op(features.float(), weights.to(torch.float32)),
        reference_error,
        what="ConvNeXt logits after permuting spatial positions",
    )


# ---------------------------------------------------------------------------------------
# Preprocessing


def _pixels(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@clause("VIS-PRE-01")
@pytest.mark.parametrize(
    ("shape", "mean", "std"),
    [((2, 8, 6, 3), MEAN, STD), ((1, 5, 5, 1), (0.5,), (0.25,)), ((2, 4, 4, 3), (0.0, 0.5, 1.0), (1.0, 2.0, 0.5))],
)
def test_rescale_then_normalise_channels_first(adapter, shape, mean, std) -> None:
    op = require(adapter, "preprocess")
    pixels = _pixels(33, shape)
    size = (shape[1], shape[2])
    with annotate(shape=shape, mean=mean, std=std):
        assert_close(
            op(pixels, size, mean, std),
            ref.preprocess(pixels, size, mean, std, dtype=torch.float64),
            ref.preprocess(pixels, size, mean, std),
            what="preprocessed pixels",
        )


@clause("VIS-PRE-02")
@pytest.mark.parametrize(
    ("shape", "size"), [((1, 10, 7, 3), (8, 6)), ((2, 5, 9, 3), (16, 16)), ((1, 32, 24, 3), (24, 32))]
)
def test_resizing_gives_the_configured_size(adapter, shape, size) -> None:
    op = require(adapter, "preprocess")
    constant = torch.full(shape, 77, dtype=torch.uint8)
    with annotate(shape=shape, size=size):
        assert_close(
            op(constant, size, MEAN, STD),
            ref.preprocess(constant, size, MEAN, STD, dtype=torch.float64),
            ref.preprocess(constant, size, MEAN, STD),
            what="a constant image after resizing",
        )
    resized = op(_pixels(34, shape), size, MEAN, STD)
    if tuple(resized.shape) != (shape[0], 3, *size):
        fail(f"a {shape} image resized to {size} came out {tuple(resized.shape)}, expected {(shape[0], 3, *size)}")


@clause("VIS-PRE-03")
@pytest.mark.parametrize(
    ("mean", "std", "names"),
    [((0.5, 0.5), STD, ("mean",)), (MEAN, (0.2, 0.2, 0.2, 0.2), ("std",)), (MEAN, (0.2, 0.0, 0.2), ("std",))],
)
def test_mismatched_mean_or_std_is_rejected(adapter, mean, std, names) -> None:
    op = require(adapter, "preprocess")
    pixels = _pixels(35, (1, 4, 4, 3))
    _expect_value_error(lambda: op(pixels, (4, 4), mean, std), f"mean={mean}, std={std} for 3 channels", names)
