"""Where a model's l2,1 error lies: its albedo against the photo's own albedo at a range of blurs.

    python -m facecraft.training.albedo_bandwidth --model PATH [--split cache/prepared/val.npz]
        [--limit 32] [--sigmas 0 4 8 16 32]

For each photo the encoder's shape, camera and lighting are kept and only the albedo
is swapped, then ``I(S, A)`` is rendered again and scored with the l2,1 error of
:mod:`facecraft.training.evaluate`:

* ``model``: the model's own albedo ``A`` (the evaluation's ``l21_encoder``);
* ``photo[sigma]``: the photo's own albedo (the crop unwrapped through the model's
  geometry and divided by the model's shading, on the texels the camera sees; the
  model's albedo elsewhere), Gaussian-blurred by ``sigma`` UV texels. ``sigma = 0`` is
  the floor the geometry and the lighting leave; each larger ``sigma`` is an albedo that
  is right up to that scale and has no detail below it;
* ``model detail``: the photo's albedo blurred by ``detail_sigma`` plus the model
  albedo's own detail above that scale (``A - blur(A)``): how much the model's fine
  structure is worth once its coarse colour is right.

``equivalent_sigma`` places the model among the blurred photo albedos: the blur at
which the photo's albedo scores the model's error. It says how sharp the decoder's
albedo is, in texels of the 192x224 UV map, and how sharp it must become to reach a
given error.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import kornia
import torch
from torch import Tensor

from facecraft.core.appearance import photo_albedo
from facecraft.core.errors import FaceCraftError
from facecraft.core.face.template import load_template
from facecraft.core.model.io import load_model
from facecraft.core.model.model import FaceModel, ModelOutput
from facecraft.core.render.renderer import Renderer, RenderResult
from facecraft.core.render.unwrap import unwrap_image
from facecraft.training.eval_support import check_split, crops_to_images, frozen, model_device
from facecraft.training.evaluate import DEFAULT_SPLIT, photo_l21
from facecraft.training.prepare_data import PreparedSplit, load_split

DEFAULT_SIGMAS = (0.0, 4.0, 8.0, 16.0, 32.0)
"""Blurs of the photo's albedo, UV texels."""
DETAIL_SIGMA = 8.0
"""The scale above which ``model detail`` takes the model's albedo."""


@dataclass(frozen=True)
class BandwidthReport:
    """Mean l2,1 errors of ``I(S, A)`` over the photos with each albedo (see the module docstring).

    Attributes:
        photos: photos scored.
        model: with the model's albedo.
        photo: ``sigma -> error`` with the photo's albedo blurred by ``sigma`` texels.
        model_detail: the photo's albedo blurred by ``detail_sigma`` plus the model's detail.
        detail_sigma: that blur.
        equivalent_sigma: the blur at which ``photo`` scores ``model`` (linear between the
            measured blurs); ``None`` when ``model`` lies outside their range.
    """

    photos: int
    model: float
    photo: dict[float, float]
    model_detail: float
    detail_sigma: float
    equivalent_sigma: float | None

    def to_dict(self) -> dict[str, object]:
        record = asdict(self)
        record["photo"] = {f"{sigma:g}": error for sigma, error in self.photo.items()}
        return record


def blur(texture: Tensor, sigma: float) -> Tensor:
    """``(B, C, H, W)`` Gaussian blur by ``sigma`` texels (``sigma = 0``: unchanged)."""
    if sigma <= 0:
        return texture
    side = 2 * round(2 * sigma) + 1
    return kornia.filters.gaussian_blur2d(texture, (side, side), (sigma, sigma))


def equivalent_sigma(model_error: float, photo: dict[float, float]) -> float | None:
    """The blur whose photo-albedo error equals ``model_error``, linear between neighbours."""
    sigmas = sorted(photo)
    for low, high in itertools.pairwise(sigmas):
        below, above = photo[low], photo[high]
        if min(below, above) <= model_error <= max(below, above) and above != below:
            return low + (high - low) * (model_error - below) / (above - below)
    return None


def albedo_bandwidth(
    model: FaceModel,
    split: PreparedSplit,
    renderer: Renderer,
    *,
    sigmas: tuple[float, ...] = DEFAULT_SIGMAS,
    detail_sigma: float = DETAIL_SIGMA,
    limit: int | None = None,
    batch_size: int = 16,
) -> BandwidthReport:
    """Score the model's albedo against the photo's own at each blur (see the module docstring).

    Args:
        model: the model (evaluated frozen, in eval mode; restored afterwards).
        split: prepared photos, ``crops`` ``(N, S, S, 3)``.
        renderer: renders ``I(S, A)`` (on the model's device).
        sigmas: blurs of the photo's albedo, texels (>= 0).
        detail_sigma: the scale of ``model detail``.
        limit: only the first ``limit`` photos.
        batch_size: photos per batch.
    """
    if any(sigma < 0 for sigma in sigmas) or not sigmas or detail_sigma < 0 or batch_size < 1:
        raise ValueError(
            f"need sigmas >= 0 (at least one), detail_sigma >= 0, batch_size >= 1; "
            f"got {sigmas}, {detail_sigma}, {batch_size}"
        )
    check_split(model, split)
    count = len(split) if limit is None else min(limit, len(split))
    device = model_device(model)
    errors: dict[str, list[Tensor]] = {"model": [], "model_detail": []}
    errors |= {f"photo_{sigma}": [] for sigma in sigmas}
    with frozen(model), torch.no_grad():
        for begin in range(0, count, batch_size):
            images = crops_to_images(split.crops[begin : min(begin + batch_size, count)], device)
            output = model(images)
            face = output.face
            own = _render(renderer, output, face.albedo, images)
            errors["model"].append(photo_l21(own.image, images, own.mask).cpu())
            texture = unwrap_image(images, face.shape, output.camera)
            seen = own.visibility
            from_photo = photo_albedo(texture, own.shading_uv) * seen + face.albedo * (1 - seen)
            for sigma in sigmas:
                errors[f"photo_{sigma}"].append(_score(renderer, output, blur(from_photo, sigma), images))
            detail = face.albedo - blur(face.albedo, detail_sigma)
            with_detail = (blur(from_photo, detail_sigma) + detail).clamp(0.0, 1.0)
            errors["model_detail"].append(_score(renderer, output, with_detail, images))
    mean = {name: float(torch.cat(values).mean()) for name, values in errors.items()}
    photo = {sigma: mean[f"photo_{sigma}"] for sigma in sigmas}
    return BandwidthReport(
        photos=count,
        model=mean["model"],
        photo=photo,
        model_detail=mean["model_detail"],
        detail_sigma=detail_sigma,
        equivalent_sigma=equivalent_sigma(mean["model"], photo),
    )


def _render(renderer: Renderer, output: ModelOutput, albedo: Tensor, images: Tensor) -> RenderResult:
    """``I(S, albedo)`` with the encoder's shape, camera and lighting, over ``images`` ``(B, 3, S, S)``."""
    size = (images.shape[2], images.shape[3])
    return renderer(output.face.shape, albedo, output.camera, output.lighting, size, background=images)


def _score(renderer: Renderer, output: ModelOutput, albedo: Tensor, images: Tensor) -> Tensor:
    """``(B,)`` l2,1 error of :func:`_render`'s image against ``images``."""
    result = _render(renderer, output, albedo, images)
    return photo_l21(result.image, images, result.mask).cpu()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI: print the report as JSON; 1 with a one-line message on a bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m facecraft.training.albedo_bandwidth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, required=True, help="model file (.pt)")
    parser.add_argument("--split", type=Path, default=DEFAULT_SPLIT, help="prepared split (default: val)")
    parser.add_argument("--limit", type=int, default=32, help="score only the first N photos")
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(DEFAULT_SIGMAS), help="blurs, texels")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    try:
        if not args.model.is_file():
            raise FileNotFoundError(f"{args.model}: model file not found")
        if args.limit < 1:
            raise ValueError(f"--limit must be >= 1, got {args.limit}")
        template = load_template()
        model = load_model(args.model, template, args.device).model
        split = load_split(args.split)
        report = albedo_bandwidth(
            model, split, Renderer(template).to(args.device), sigmas=tuple(args.sigmas), limit=args.limit
        )
    except (FaceCraftError, OSError, ValueError) as exc:
        print(f"albedo_bandwidth: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"model_file": str(args.model), **report.to_dict()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
