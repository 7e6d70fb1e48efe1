"""The training dataset over prepared photos, with augmentation.

Each sample is a 224x224 crop with its 68 landmarks and pseudo ground truth
(camera into the crop, per-vertex shape offsets), all kept consistent under the
augmentations: a random similarity jitter of the crop (scale, shift), a
horizontal flip (image mirrored, landmarks re-indexed, the pseudo shape mirrored
through the template's Face Mesh mirror pairs, yaw and roll negated) and a
colour jitter. Randomness comes from a generator seeded per (seed, epoch, index),
so a run resumes exactly and does not depend on the number of workers.

A sample's random draws and its targets' changes are made per sample here
(:func:`draw_augmentation`, :func:`augment_targets`); its image is warped and
jittered with the rest of its batch in torch by :func:`collate`
(:func:`facecraft.training.image_augment.augment_images`, kornia).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from facecraft.core.face.landmark_indices import IBUG_MIRROR
from facecraft.core.face.template import FaceTemplate
from facecraft.training.image_augment import augment_images
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
        size = split.crops.shape[1]
        landmarks = split.landmarks[index].astype(np.float64)
        camera = split.cameras[index].astype(np.float64)
        offsets = split.offsets[index].astype(np.float64)
        weight = 1.0 if split.annotated[index] else self.mapped_weight
        sample = {
            "images": np.ascontiguousarray(split.crops[index].transpose(2, 0, 1), dtype=np.float32) / 255.0
        }
        if self.augmentation is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            drawn = draw_augmentation(self.augmentation, rng, size)
            landmarks, camera, offsets = augment_targets(
                landmarks, camera, offsets, self.mesh_mirror, drawn, size
            )
            sample |= {"warps": drawn.warp.astype(np.float32), "colour": drawn.colour.astype(np.float32)}
        return sample | {
            "landmarks": landmarks.astype(np.float32),
            "landmark_weights": np.full(68, weight, dtype=np.float32),
            "cameras": camera.astype(np.float32),
            "offsets": offsets.astype(np.float32),
            "indices": np.int64(index),
        }


def collate(samples: list[dict[str, np.ndarray]]) -> FaceBatch:
    """Stack samples into a :class:`FaceBatch` (the DataLoader's ``collate_fn``); augmented
    samples' images are warped and jittered here, as one batch."""
    stacked = {name: torch.as_tensor(np.stack([s[name] for s in samples])) for name in samples[0]}
    if "warps" in stacked:
        stacked["images"] = augment_images(stacked["images"], stacked.pop("warps"), stacked.pop("colour"))
    return FaceBatch(**stacked)


@dataclass(frozen=True)
class SampleAugmentation:
    """One sample's random draws.

    Attributes:
        flip: mirrored left-right.
        factor: similarity scale about the crop's centre.
        offset: ``(2,)`` translation (crop pixels) after scaling: ``p -> factor * p + offset``.
        warp: ``(2, 3)`` the whole map of the image, flip included: input crop pixel -> output.
        colour: ``(3,)`` saturation, contrast, brightness factors.
    """

    flip: bool
    factor: float
    offset: np.ndarray
    warp: np.ndarray
    colour: np.ndarray


def draw_augmentation(settings: Augmentation, rng: np.random.Generator, size: int) -> SampleAugmentation:
    """Draw one sample's augmentation for a ``size`` x ``size`` crop."""
    flip = bool(rng.random() < settings.flip)
    factor = 1.0 + rng.uniform(-settings.scale, settings.scale)
    shift = rng.uniform(-settings.shift, settings.shift, size=2)
    centre = (size - 1) / 2.0
    offset = centre * (1.0 - factor) + shift  # crop pixel p -> factor * (p - centre) + centre + shift
    warp = np.array([[factor, 0.0, offset[0]], [0.0, factor, offset[1]]])
    if flip:  # x -> size - 1 - x first
        warp = np.array([[-factor, 0.0, factor * (size - 1.0) + offset[0]], [0.0, factor, offset[1]]])
    colour = np.ones(3)
    if settings.colour > 0:
        colour = 1.0 + rng.uniform(-settings.colour, settings.colour, size=3)
    return SampleAugmentation(flip, float(factor), offset, warp, colour)


def augment_targets(
    landmarks: np.ndarray,
    camera: np.ndarray,
    offsets: np.ndarray,
    mesh_mirror: np.ndarray,
    drawn: SampleAugmentation,
    size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sample's targets moved as :attr:`SampleAugmentation.warp` moves its image.

    Args:
        landmarks: ``(68, 2)`` crop pixels.
        camera: ``(6,)`` camera vector into the crop.
        offsets: ``(468, 3)`` canonical shape offsets.
        mesh_mirror: ``(468,)`` the template's Face Mesh mirror pairs.
        drawn: the sample's draws.
        size: crop side.

    Returns:
        The augmented ``(landmarks, camera, offsets)``.
    """
    if drawn.flip:
        landmarks = landmarks[list(IBUG_MIRROR)] * np.array([-1.0, 1.0]) + np.array([size - 1.0, 0.0])
        camera = camera * np.array([1.0, 1.0, -1.0, -1.0, -1.0, 1.0]) + np.array([0, 0, 0, 0, size - 1.0, 0])
        offsets = offsets[mesh_mirror] * np.array([-1.0, 1.0, 1.0])
    landmarks = landmarks * drawn.factor + drawn.offset
    camera = camera.copy()
    camera[0] *= drawn.factor
    camera[4:6] = camera[4:6] * drawn.factor + drawn.offset
    return landmarks, camera, offsets
