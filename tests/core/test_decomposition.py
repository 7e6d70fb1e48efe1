"""The Decomposition record: its array fields, named once, round-trip through to_arrays/from_arrays."""

from __future__ import annotations

import dataclasses

import numpy as np

from facecraft.core.camera import CropTransform
from facecraft.core.decomposition import ARRAYS, Decomposition

SCALARS = {
    "photo_size": (480, 640),
    "face_index": 0,
    "face_count": 1,
    "crop": CropTransform(0.5, (10.0, 20.0), (224, 224)),
    "fidelity": 0.25,
    "error": 0.1,
    "encoder_error": 0.2,
    "timings_ms": {"detect": 3.0},
}


def _arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    arrays = {}
    for name, (shape, dtype) in ARRAYS.items():
        concrete = tuple(7 if size is None else size for size in shape)
        arrays[name] = rng.random(concrete) > 0.5 if dtype is np.bool_ else rng.random(concrete)
    return arrays


def test_the_array_fields_are_the_dataclass_fields_that_are_not_scalars():
    fields = {f.name for f in dataclasses.fields(Decomposition)}
    assert set(ARRAYS) | set(SCALARS) == fields
    assert not set(ARRAYS) & set(SCALARS)


def test_from_arrays_casts_to_the_declared_dtypes_and_to_arrays_gives_them_back():
    arrays = _arrays(np.random.default_rng(0))
    decomposition = Decomposition.from_arrays(arrays, **SCALARS)
    for name, (_, dtype) in ARRAYS.items():
        assert getattr(decomposition, name).dtype == dtype, name
    again = decomposition.to_arrays()
    assert set(again) == set(ARRAYS)
    for name, value in again.items():
        np.testing.assert_allclose(value, arrays[name].astype(ARRAYS[name][1]), rtol=0, atol=0)
    assert decomposition.crop == SCALARS["crop"]
    assert decomposition.timings_ms == {"detect": 3.0}


def test_photo_camera_is_a_batch_of_one():
    decomposition = Decomposition.from_arrays(_arrays(np.random.default_rng(1)), **SCALARS)
    camera = decomposition.photo_camera()
    np.testing.assert_allclose(camera.to_vector()[0].numpy(), decomposition.camera, rtol=1e-6)
