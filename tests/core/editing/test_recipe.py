"""Recipes: transfer and light edits are validated up front and applied through a reference source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facecraft.core.editing.editor import FaceEditor
from facecraft.core.editing.layers import LayerKind
from facecraft.core.editing.recipe import RecipeError, apply_recipe, load_recipe
from facecraft.core.editing.reference import Reference, ReferencePhotoError, build_reference


def _recipe(tmp_path: Path, *edits: dict) -> Path:
    (tmp_path / "b.jpg").write_bytes(b"unread: the reference source is given by the test")
    (tmp_path / "mask.png").write_bytes(b"x")
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps({"edits": list(edits)}))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"type": "transfer", "reference": "missing.jpg"},
            r"edit 1 \(transfer\): reference photo .*missing\.jpg not found",
        ),
        (
            {"type": "transfer", "reference": "b.jpg", "regions": ["nose"]},
            '"regions" must be a non-empty list',
        ),
        ({"type": "transfer", "reference": "b.jpg", "regions": "lips"}, '"regions" must be a non-empty list'),
        ({"type": "transfer", "reference": "b.jpg", "regions": []}, '"regions" must be a non-empty list'),
        (
            {"type": "transfer", "reference": "b.jpg", "mode": "paint"},
            "transfer mode must be one of colour, texture",
        ),
        ({"type": "transfer", "reference": "b.jpg", "strength": 1.7}, '"strength" must be in'),
        ({"type": "transfer", "reference": "b.jpg", "regions": ["painted"]}, '"painted" region needs "mask"'),
        ({"type": "transfer", "reference": "b.jpg", "face": -1}, '"face" must be 0'),
        ({"type": "light", "reference": "b.jpg", "mix": 2}, '"mix" must be in'),
        ({"type": "light"}, "reference"),
    ],
)
def test_bad_transfer_and_light_edits_are_refused_before_anything_runs(tmp_path, edit, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(_recipe(tmp_path, edit))


def test_good_edits_resolve_paths_against_the_recipe(tmp_path):
    recipe = load_recipe(
        _recipe(
            tmp_path,
            {"type": "transfer", "reference": "b.jpg", "regions": ["lips", "painted"], "mask": "mask.png"},
            {"type": "light", "reference": "b.jpg", "mix": 0.5},
        )
    )
    assert (
        recipe.edits[0]["reference"] == tmp_path / "b.jpg"
        and recipe.edits[0]["mask"] == tmp_path / "mask.png"
    )
    assert recipe.edits[1]["reference"] == tmp_path / "b.jpg"


@pytest.fixture(scope="module")
def reference(reference_rgb, reference_decomposition, template, astronaut_rgb, astronaut_decomposition):
    size = FaceEditor(astronaut_rgb, astronaut_decomposition, template).canvas_size
    return build_reference(reference_rgb, reference_decomposition, template, size, "b.jpg")


def test_transfer_and_light_edits_apply_as_a_layer_and_a_relighting(
    tmp_path, reference, astronaut_rgb, astronaut_decomposition, template
):
    recipe = load_recipe(
        _recipe(
            tmp_path,
            {
                "type": "transfer",
                "reference": "b.jpg",
                "regions": ["lips"],
                "mode": "texture",
                "strength": 0.7,
            },
            {"type": "light", "reference": "b.jpg", "mix": 0.5, "face": 0},
        )
    )
    asked: list[tuple[Path, int]] = []

    def source(path: Path, face: int) -> Reference:
        asked.append((path, face))
        return reference

    editor = FaceEditor(astronaut_rgb, astronaut_decomposition, template)
    apply_recipe(editor, recipe, source)
    assert asked == [(tmp_path / "b.jpg", 0)] * 2
    (layer,) = editor.document.layers
    assert layer.kind is LayerKind.TEXTURE_COPY and layer.transfer.strength == 0.7
    assert abs(int(layer.pixels[..., 3].max()) - 0.7 * 255) <= 1.0
    expected = 0.5 * astronaut_decomposition.lighting + 0.5 * reference.lighting
    assert np.allclose(editor.lighting, expected, atol=1e-6) and editor.compositor.relit
    with pytest.raises(RecipeError, match="need a way to decompose reference photos"):
        apply_recipe(FaceEditor(astronaut_rgb, astronaut_decomposition, template), recipe)


def test_a_reference_that_cannot_be_used_is_a_recipe_error_naming_the_edit(
    tmp_path, astronaut_rgb, astronaut_decomposition, template
):
    recipe = load_recipe(_recipe(tmp_path, {"type": "transfer", "reference": "b.jpg"}))

    def source(path: Path, face: int) -> Reference:
        raise ReferencePhotoError(f"{path}: cannot be used as a reference: no face was found")

    editor = FaceEditor(astronaut_rgb, astronaut_decomposition, template)
    with pytest.raises(RecipeError, match=r"edit 1 \(transfer\): .*b\.jpg: cannot be used as a reference"):
        apply_recipe(editor, recipe, source)
    assert editor.document.layers == []
