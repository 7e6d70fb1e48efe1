"""Training-image augmentation of whole batches in torch, with kornia.

The per-sample random draws (and the matching changes to landmarks, camera and pseudo
shape) stay with the dataset (:func:`facecraft.training.dataset.draw_augmentation`), so a
run resumes exactly whatever the batch size; the images of a batch are warped and
colour-jittered here in one call each:

* geometry: one affine map per sample, the flip folded in
  (``kornia.geometry.transform.warp_affine``, bilinear, borders replicated, the crop-pixel
  convention of :mod:`facecraft.core.conventions`: the map takes source pixel centres to
  output pixel centres, as ``cv2.warpAffine`` does);
* colour: saturation about each pixel's grey, contrast about the image's mean, brightness.
"""

from __future__ import annotations

from kornia.geometry.transform import warp_affine
from torch import Tensor


def augment_images(images: Tensor, warps: Tensor, colour: Tensor) -> Tensor:
    """Warp and colour-jitter a batch of crops.

    Args:
        images: ``(B, 3, S, S)`` float RGB in ``[0, 1]``.
        warps: ``(B, 2, 3)`` affine maps, crop pixels of the input -> crop pixels of the output.
        colour: ``(B, 3)`` saturation, contrast and brightness factors (1 = unchanged).

    Returns:
        ``(B, 3, S, S)`` float in ``[0, 1]``.

    Raises:
        ValueError: on mismatched shapes.
    """
    batch = images.shape[0]
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, S, S), got {tuple(images.shape)}")
    if warps.shape != (batch, 2, 3) or colour.shape != (batch, 3):
        raise ValueError(
            f"expected warps (B={batch}, 2, 3) and colour (B={batch}, 3), "
            f"got {tuple(warps.shape)} and {tuple(colour.shape)}"
        )
    size = (images.shape[2], images.shape[3])
    warped = warp_affine(
        images, warps.to(images.dtype), size, mode="bilinear", padding_mode="border", align_corners=True
    )
    saturation, contrast, brightness = (factor.view(batch, 1, 1, 1) for factor in colour.to(images).unbind(1))
    grey = warped.mean(dim=1, keepdim=True)
    jittered = grey + (warped - grey) * saturation
    mean = jittered.mean(dim=(1, 2, 3), keepdim=True)
    return (((jittered - mean) * contrast + mean) * brightness).clamp_(0.0, 1.0)

