"""Supervised losses against pseudo ground truth: camera standardisation and Face Mesh reprojection."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from facecraft.core.camera import Camera
from facecraft.core.model.precision import bf16_is_native
from facecraft.training.process import Allocator, find_jemalloc, use_allocator
from facecraft.training.supervision import (
    CameraSpread,
    mesh_reprojection,
    shape_deviation_correlation,
)


def cameras(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            92.0 * np.exp(rng.normal(0, 0.1, n)),
            rng.normal(0, 0.1, n),
            rng.normal(0, 0.2, n),
            rng.normal(0, 0.05, n),
            111.5 + rng.normal(0, 3, n),
            111.5 + rng.normal(0, 4, n),
        ]
    )


def test_camera_spread_recovers_the_data_spread_and_prior():
    spread = CameraSpread.from_cameras(cameras(20000))
    assert spread.scale_prior == pytest.approx(92.0, rel=0.01)
    assert spread.spread == pytest.approx((0.1, 0.1, 0.2, 0.05, 3, 4), rel=0.05)


def test_a_one_spread_error_in_any_parameter_costs_the_same():
    spread = CameraSpread.from_cameras(cameras(20000))
    target = Camera.from_vector(torch.tensor([[92.0, 0.0, 0.0, 0.0, 111.5, 111.5]]))
    costs = []
    for index, step in enumerate(spread.spread):
        vector = target.to_vector().clone()
        if index == 0:
            vector[0, 0] *= float(np.exp(step))
        else:
            vector[0, index] += step
        costs.append(float(spread.standardised_error(Camera.from_vector(vector), target)))
    assert costs == pytest.approx([1 / 6] * 6, rel=1e-3)


def test_camera_spread_refuses_bad_input():
    with pytest.raises(ValueError, match="cameras must be"):
        CameraSpread.from_cameras(np.zeros((1, 6)))


def test_mesh_reprojection_is_in_eye_units_and_zero_when_equal():
    points = torch.randn(2, 50, 3)
    camera = Camera.from_vector(torch.tensor([[80.0, 0.1, 0.2, 0.0, 100, 110], [120.0, 0, 0, 0.1, 90, 95]]))
    assert float(mesh_reprojection(points, camera, points, camera)) == pytest.approx(0.0, abs=1e-10)
    moved = camera.translation + torch.tensor([[8.0, 0.0], [12.0, 0.0]])
    shifted = Camera(camera.scale, camera.angles, moved)
    # 8 px at scale 80 and 12 px at scale 120 are both a tenth of the eye distance.
    assert float(mesh_reprojection(points, shifted, points, camera)) == pytest.approx(0.01, rel=1e-4)
    huber = float(mesh_reprojection(points, shifted, points, camera, huber=0.05))
    assert huber == pytest.approx((0.1 - 0.025) * 0.05 / 0.05, rel=1e-3)


def test_shape_deviation_correlation():
    mean = torch.randn(1, 30, 3)
    deviation = torch.randn(4, 30, 3)
    assert shape_deviation_correlation(mean + deviation, mean + 2 * deviation, mean) == pytest.approx(1.0)
    assert shape_deviation_correlation(mean + deviation, mean - deviation, mean) == pytest.approx(-1.0)
    assert shape_deviation_correlation(mean.expand(4, -1, -1), mean + deviation, mean) == 0.0


def test_process_helpers(tmp_path):
    assert find_jemalloc([str(tmp_path / "missing.so")]) is None
    library = tmp_path / "libjemalloc.so.2"
    library.write_bytes(b"")
    assert find_jemalloc([str(tmp_path / "missing.so"), str(library)]) == library
    # touches nothing, never re-executes
    assert use_allocator(Allocator.SYSTEM, "nothing.to.run", []) is False
    assert bf16_is_native(torch.device("cuda"))
    assert bf16_is_native(torch.device("meta")) is False


_REFAULT_PROBE = """
import resource, sys
import torch
from facecraft.training.process import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def faults_of_one_allocation(megabytes):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.ones(megabytes << 20, dtype=torch.uint8)  # beyond glibc's largest mmap threshold
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_of_one_allocation(64)
print(faults_of_one_allocation(48))  # fits in the freed 64 MB
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keeping_freed_memory_stops_a_reallocated_block_faulting_in_again():
    def faults(allocator: str) -> int:
        run = subprocess.run([sys.executable, "-c", _REFAULT_PROBE, allocator],
                             capture_output=True, text=True, check=True)
        return int(run.stdout.split()[-1])

    unmapped_and_touched_again = faults("system")  # 12,288 pages of 4 KB, or 24 huge pages
    assert unmapped_and_touched_again >= 24
    assert faults("keep") * 8 < unmapped_and_touched_again
