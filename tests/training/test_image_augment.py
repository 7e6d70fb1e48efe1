"""Batch augmentation of training images (kornia): geometry as OpenCV's, batches as samples."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from facecraft.training.image_augment import augment_images


def test_the_batch_warp_matches_opencv(astronaut_rgb):
    """kornia's warp takes pixel centres where ``cv2.warpAffine`` does (bilinear, replicated border)."""
    crop = np.ascontiguousarray(astronaut_rgb[100:324, 150:374])
    warp = np.array([[1.07, 0.0, -9.3], [0.0, 1.07, 4.6]])
    expected = cv2.warpAffine(
        crop.astype(np.float32) / 255.0, warp, crop.shape[:2][::-1],
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
    )
    image = torch.as_tensor(crop).permute(2, 0, 1)[None].float() / 255.0
    actual = augment_images(image, torch.as_tensor(warp)[None], torch.ones(1, 3))[0].permute(1, 2, 0).numpy()
    assert np.abs(actual - expected).mean() < 1e-3 and np.abs(actual - expected).max() < 0.02


def test_a_batch_is_augmented_as_its_samples_alone():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(3, 3, 32, 32, generator=generator)
    warps = torch.tensor([[[1.1, 0.0, -1.0], [0.0, 1.1, 2.0]], [[-0.9, 0.0, 30.0], [0.0, 0.9, 1.0]],
                          [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    colour = torch.tensor([[1.2, 0.9, 1.1], [0.8, 1.1, 0.95], [1.0, 1.0, 1.0]])
    batch = augment_images(images, warps, colour)
    for i in range(3):
        alone = augment_images(images[i : i + 1], warps[i : i + 1], colour[i : i + 1])
        torch.testing.assert_close(batch[i : i + 1], alone)
    torch.testing.assert_close(batch[2], images[2], atol=1e-5, rtol=0)  # identity: unchanged
    with pytest.raises(ValueError, match="expected warps"):
        augment_images(images, warps[:2], colour)
