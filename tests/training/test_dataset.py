"""Data preparation and augmentation: the pseudo ground truth, the kornia path, the batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_runs import ASTRONAUT

from facecraft.core.camera import Camera, project
from facecraft.core.mesh_fit import MeshToUV
from facecraft.core.render.texture import sample_texture
from facecraft.training.dataset import (
    Augmentation,
    PreparedFaces,
    augment_targets,
    collate,
    draw_augmentation,
)
from facecraft.training.faces_data import PhotoRecord, landmarked_photos
from facecraft.training.image_augment import augment_images
from facecraft.training.prepare_data import prepare, prepare_photo


def reprojected_landmarks(template, offsets: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """``(N, 68, 2)`` landmarks of the pseudo ground truth, projected by its camera."""
    mean = torch.as_tensor(template.mean_shape_uv).permute(2, 0, 1)[None]
    shape = mean + MeshToUV(template)(torch.as_tensor(offsets, dtype=torch.float32))
    uv = torch.as_tensor(template.landmark_uv)[None, None].expand(shape.shape[0], 1, -1, -1)
    points = sample_texture(shape, uv)[:, :, 0].transpose(1, 2)
    return project(points, Camera.from_vector(torch.as_tensor(camera, dtype=torch.float32)))[..., :2].numpy()


@pytest.fixture(scope="module")
def astronaut_sample(detector, template) -> dict[str, np.ndarray]:
    record = PhotoRecord(ASTRONAUT, "astronaut.jpg", "sample", 512, 512, has_landmarks=False, split="train")
    sample = prepare_photo(record, detector, template)
    assert sample is not None
    return sample


def test_pseudo_ground_truth_reprojects_onto_the_detected_landmarks(astronaut_sample, template):
    projected = reprojected_landmarks(
        template, astronaut_sample["offsets"][None], astronaut_sample["cameras"][None]
    )
    error = np.linalg.norm(projected[0] - astronaut_sample["landmarks"], axis=1)
    assert astronaut_sample["crops"].shape == (224, 224, 3) and not astronaut_sample["annotated"]
    assert error.mean() < 3.0 and error.max() < 8.0, (error.mean(), error.max())


@pytest.mark.data
def test_annotated_photos_keep_their_annotation_and_fit_it(template, data_dir):
    records = landmarked_photos("train", data_dir)[:3]
    split, failed = prepare(records, template)
    assert not failed and len(split) == 3 and split.annotated.all()
    projected = reprojected_landmarks(template, split.offsets, split.cameras)
    error = np.linalg.norm(projected - split.landmarks, axis=2)
    eye_distance = np.linalg.norm(split.landmarks[:, 36] - split.landmarks[:, 45], axis=1)
    assert (error.mean(1) / eye_distance < 0.08).all()


def augmented(sample: dict[str, np.ndarray], template, settings: Augmentation, rng: np.random.Generator):
    """A prepared sample augmented as training does: draws and targets per sample, the image
    through the batch path (kornia). Returns ``(image (S, S, 3) float in [0, 1], landmarks,
    camera, offsets)``."""
    size = sample["crops"].shape[0]
    drawn = draw_augmentation(settings, rng, size)
    landmarks, camera, offsets = augment_targets(
        sample["landmarks"].astype(np.float64),
        sample["cameras"].astype(np.float64),
        sample["offsets"].astype(np.float64),
        np.asarray(template.mesh_mirror),
        drawn,
        size,
    )
    image = torch.as_tensor(sample["crops"]).permute(2, 0, 1)[None].float() / 255.0
    image = augment_images(image, torch.as_tensor(drawn.warp)[None], torch.as_tensor(drawn.colour)[None])
    return image[0].permute(1, 2, 0).numpy(), landmarks, camera, offsets


@pytest.mark.parametrize("seed", range(4))
def test_augmentation_keeps_image_landmarks_and_pseudo_ground_truth_together(
    astronaut_sample, template, seed
):
    rng = np.random.default_rng(seed)
    settings = Augmentation(flip=0.5, scale=0.1, shift=12.0, colour=0.2)
    image, landmarks, camera, offsets = augmented(astronaut_sample, template, settings, rng)
    before = np.linalg.norm(
        reprojected_landmarks(template, astronaut_sample["offsets"][None], astronaut_sample["cameras"][None])[
            0
        ]
        - astronaut_sample["landmarks"],
        axis=1,
    ).mean()
    after = np.linalg.norm(
        reprojected_landmarks(template, offsets[None], camera[None])[0] - landmarks, axis=1
    )
    assert image.shape == (224, 224, 3) and image.min() >= 0.0 and image.max() <= 1.0
    assert after.mean() < before + 1.0


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_a_point_of_the_image_lands_where_the_landmarks_go(astronaut_sample, template, flip):
    """A bright dot drawn at a landmark is found, after augmentation, at that landmark's new place."""
    sample = dict(astronaut_sample)
    crop = np.zeros_like(sample["crops"])
    x, y = np.round(sample["landmarks"][30]).astype(int)  # the nose tip
    crop[y - 1 : y + 2, x - 1 : x + 2] = 255
    sample["crops"] = crop
    settings = Augmentation(flip=flip, scale=0.1, shift=12.0, colour=0.0)
    for seed in range(3):
        image, landmarks, *_ = augmented(sample, template, settings, np.random.default_rng(seed))
        grey = image.mean(axis=2)
        rows, cols = np.nonzero(grey > 0.5 * grey.max())
        weights = grey[rows, cols]
        found = np.array([np.average(cols, weights=weights), np.average(rows, weights=weights)])
        mirror = np.array([-1.0 if flip else 1.0, 1.0])
        expected = landmarks[30] + (np.array([x, y]) - sample["landmarks"][30]) * mirror
        assert np.linalg.norm(found - expected) < 1.0


def test_flip_mirrors_the_image_content(astronaut_sample, template):
    settings = Augmentation(flip=1.0, scale=0.0, shift=0.0, colour=0.0)
    image, landmarks, *_ = augmented(astronaut_sample, template, settings, np.random.default_rng(0))
    expected = astronaut_sample["crops"][:, ::-1].astype(np.float32) / 255.0
    np.testing.assert_allclose(image, expected, atol=1e-5)
    # The subject's right eye corner (36) is now where the mirrored left one (45) was.
    assert np.allclose(landmarks[36, 0], 223 - astronaut_sample["landmarks"][45, 0])


def test_dataset_batches_have_the_documented_shapes(prepared, template):
    from facecraft.training.prepare_data import load_split

    dataset = PreparedFaces(load_split(prepared / "train.npz"), template, Augmentation())
    batch = collate([dataset[0], dataset[1]])
    assert batch.images.shape == (2, 3, 224, 224) and batch.images.max() <= 1.0
    assert batch.landmarks.shape == (2, 68, 2) and batch.offsets.shape == (2, 468, 3)
    assert batch.landmark_weights[0, 0] == 1.0 and batch.landmark_weights[1, 0] == 0.5
    dataset.set_epoch(0)
    again = collate([dataset[0]])
    assert torch.equal(again.images[0], batch.images[0])  # same (seed, epoch, index): same augmentation
