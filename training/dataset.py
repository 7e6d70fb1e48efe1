"""The training dataset over prepared photos, with augmentation.

Each sample is a 224x224 crop with its 68 landmarks and pseudo ground truth
(camera into the crop, per-vertex shape offsets), all kept consistent under the
augmentations: a random similarity jitter of the crop (scale, shift), a
horizontal flip (image mirrored, landmarks re-indexed, the pseudo shape mirrored
through the template's Face Mesh mirror pairs, yaw and roll negated) and a
colour jitter. Randomness comes from a generator seeded per (seed, epoch, index),
so a run resumes exactly and does not depend on the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from facecraft.core.landmark_indices import IBUG_MIRROR
from facecraft.core.template import FaceTemplate
from facecraft.training.prepare_data import PreparedSplit


@dataclass(frozen=True)
class Augmentation:
    """Random changes applied to each training sample.

    Attributes:
        flip: probability of a horizontal flip.
        scale: the crop is rescaled by a factor in ``[1 - scale, 1 + scale]``.
        shift: the crop moves by up to this many pixels in x and y.
        colour: brightness/contrast/saturation change by up to this fraction.
    """

    flip: float = 0.5
    scale: float = 0.08
    shift: float = 10.0
    colour: float = 0.15


@dataclass(frozen=True)
class FaceBatch:
    """A batch of training samples (``B`` of them).

    Attributes:
        images: ``(B, 3, S, S)`` float RGB in ``[0, 1]``.
        landmarks: ``(B, 68, 2)`` crop pixels.
        landmark_weights: ``(B, 68)``: 1 for annotated points, ``mapped_weight`` for mapped ones.
        cameras: ``(B, 6)`` pseudo ground-truth camera vectors into the crop.
        offsets: ``(B, 468, 3)`` pseudo ground-truth shape offsets (canonical frame).
        indices: ``(B,)`` sample indices in the split.
    """

    images: Tensor
    landmarks: Tensor
    landmark_weights: Tensor
    cameras: Tensor
    offsets: Tensor
    indices: Tensor

    def to(self, device: torch.device | str) -> FaceBatch:
        return FaceBatch(*(getattr(self, name).to(device) for name in self.__dataclass_fields__))


class PreparedFaces(Dataset):
    """Samples of one prepared split.

    Args:
        split: from :func:`facecraft.training.prepare_data.load_split`.
        template: supplies the Face Mesh mirror pairs for flips.
        augmentation: ``None`` for evaluation (samples returned as prepared).
        seed: base seed of the per-sample randomness.
        mapped_weight: landmark weight of photos without human annotation.
    """

    def __init__(
        self,
        split: PreparedSplit,
        template: FaceTemplate,
        augmentation: Augmentation | None = None,
        seed: int = 0,
        mapped_weight: float = 0.5,
    ) -> None:
        self.split = split
        self.augmentation = augmentation
        self.seed = seed
        self.epoch = 0
        self.mapped_weight = mapped_weight
        self.mesh_mirror = np.asarray(template.mesh_mirror)

    def __len__(self) -> int:
        return len(self.split)

    def set_epoch(self, epoch: int) -> None:
        """Choose the augmentation randomness of this epoch."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        split = self.split
        image = split.crops[index]
        landmarks = split.landmarks[index].astype(np.float64)
        camera = split.cameras[index].astype(np.float64)
        offsets = split.offsets[index].astype(np.float64)
        weight = 1.0 if split.annotated[index] else self.mapped_weight
        if self.augmentation is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            image, landmarks, camera, offsets = augment(
                image, landmarks, camera, offsets, self.mesh_mirror, self.augmentation, rng
            )
        return {
            "images": np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / 255.0,
            "landmarks": landmarks.astype(np.float32),
            "landmark_weights": np.full(68, weight, dtype=np.float32),
            "cameras": camera.astype(np.float32),
            "offsets": offsets.astype(np.float32),
            "indices": np.int64(index),
        }


def collate(samples: list[dict[str, np.ndarray]]) -> FaceBatch:
    """Stack samples into a :class:`FaceBatch` (the DataLoader's ``collate_fn``)."""
    return FaceBatch(
        **{
            name: torch.as_tensor(np.stack([s[name] for s in samples]))
            for name in FaceBatch.__dataclass_fields__
        }
    )


def augment(
    image: np.ndarray,
    landmarks: np.ndarray,
    camera: np.ndarray,
    offsets: np.ndarray,
    mesh_mirror: np.ndarray,
    settings: Augmentation,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One random augmentation of a sample, keeping image, landmarks and pseudo GT consistent.

    Args:
        image: ``(S, S, 3)`` uint8 crop.
        landmarks: ``(68, 2)`` crop pixels.
        camera: ``(6,)`` camera vector into the crop.
        offsets: ``(468, 3)`` canonical shape offsets.
        mesh_mirror: ``(468,)`` the template's Face Mesh mirror pairs.
        settings: how strong each change is.
        rng: the sample's random generator.

    Returns:
        The augmented ``(image, landmarks, camera, offsets)``.
    """
    size = image.shape[0]
    if rng.random() < settings.flip:
        image = image[:, ::-1]
        landmarks = landmarks[list(IBUG_MIRROR)] * np.array([-1.0, 1.0]) + np.array([size - 1.0, 0.0])
        camera = camera * np.array([1.0, 1.0, -1.0, -1.0, -1.0, 1.0]) + np.array([0, 0, 0, 0, size - 1.0, 0])
        offsets = offsets[mesh_mirror] * np.array([-1.0, 1.0, 1.0])
    factor = 1.0 + rng.uniform(-settings.scale, settings.scale)
    shift = rng.uniform(-settings.shift, settings.shift, size=2)
    centre = (size - 1) / 2.0
    # crop pixel p -> factor * (p - centre) + centre + shift
    offset = centre * (1.0 - factor) + shift
    matrix = np.array([[factor, 0.0, offset[0]], [0.0, factor, offset[1]]])
    image = cv2.warpAffine(
        np.ascontiguousarray(image),
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    landmarks = landmarks * factor + offset
    camera = camera.copy()
    camera[0] *= factor
    camera[4:6] = camera[4:6] * factor + offset
    if settings.colour > 0:
        pixels = image.astype(np.float32)
        grey = pixels.mean(axis=2, keepdims=True)
        saturation = 1.0 + rng.uniform(-settings.colour, settings.colour)
        pixels = grey + (pixels - grey) * saturation
        contrast = 1.0 + rng.uniform(-settings.colour, settings.colour)
        pixels = (pixels - pixels.mean()) * contrast + pixels.mean()
        pixels = pixels * (1.0 + rng.uniform(-settings.colour, settings.colour))
        image = np.clip(pixels, 0, 255).astype(np.uint8)
    return image, landmarks, camera, offsets
