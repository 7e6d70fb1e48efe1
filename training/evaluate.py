"""Evaluation of a trained model on the validation split (paper section 4.2, Table 1, Fig. 5).

    python -m facecraft.training.evaluate --model PATH [--split cache/prepared/val.npz] [--out DIR]
        [--fit-steps N] [--limit N] [--figure-photos 6]

Three numbers describe a model (see :class:`EvaluationReport`):

* the 68-landmark NME of the true shape ``S`` projected by the encoder's camera,
  normalised by the ground truth's outer-eye-corner distance, on the photos whose
  landmarks a person annotated (mapped landmarks are not ground truth);
* ``l21_encoder``: the robust l2,1 RGB error (eq. 4) over the rendered face region
  between each crop and its reconstruction ``I(S, A)``, encoder only (Table 1);
* ``l21_fitted``: the same after fitting, per photo, the shape code, albedo code and
  lighting (camera fixed) to that error with Adam, the model's weights frozen.

The figure is the paper's Fig. 5: per photo the input, the four combinations of
proxy and true shape and albedo, and the true shape shaded in grey.
The CLI writes ``<out>/<model stem>_eval.json`` and ``<out>/<model stem>_fig5.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from facecraft.core.camera import Camera, project
from facecraft.core.errors import FaceCraftError
from facecraft.core.face.landmark_indices import nme
from facecraft.core.face.template import FaceTemplate, load_template
from facecraft.core.io.atomic import write_bytes_atomically
from facecraft.core.mesh_fit import MeshToUV
from facecraft.core.model import losses
from facecraft.core.model.io import load_model
from facecraft.core.model.model import FaceModel, ModelOutput
from facecraft.core.render.renderer import Renderer
from facecraft.training.eval_support import check_split, crops_to_images, frozen
from facecraft.training.faces_data import DEFAULT_CACHE_DIR
from facecraft.training.figures import figure_indices, save_figure
from facecraft.training.prepare_data import PREPARED_DIR, PreparedSplit, load_split
from facecraft.training.pseudo_gt import pseudo_shape
from facecraft.training.supervision import mesh_points, shape_deviation_correlation

FIT_STEPS = 50
"""Adam steps of the per-photo fit behind ``l21_fitted``."""
FIT_LR = 0.01
"""Learning rate of that fit."""

DEFAULT_SPLIT = PREPARED_DIR / "val.npz"
DEFAULT_OUT = DEFAULT_CACHE_DIR / "eval"



@dataclass(frozen=True)
class EvaluationReport:
    """The evaluation of one model on one split.

    Attributes:
        photos: photos evaluated.
        annotated_photos: of those, photos with human-annotated landmarks (the NME's photos).
        nme_mean: mean landmark NME (a fraction of the outer-eye-corner distance) over the
            annotated photos; ``None`` when there are none.
        nme_median: median of the same.
        nme_pseudo_camera_mean: the mean NME of the model's shape seen through the pseudo
            ground-truth camera instead of the encoder's: what the landmarks would score with a
            perfect camera, so ``nme_mean - nme_pseudo_camera_mean`` is the camera's share.
        l21_encoder: mean over photos of the l2,1 RGB error of ``I(S, A)`` on the face
            region, encoder estimates only (the paper's Table 1 metric).
        visible_fraction: mean over photos of the share of the template's face texels that
            ``S`` shows to the encoder's camera (facing it, not hidden): a torn or folded shape
            hides its own face, so a collapse here flags a degenerate shape that NME and l2,1 miss.
        shape_correlation: Pearson correlation of the predicted shape's per-person deviation
            from the mean (at the 468 Face Mesh vertices) with the pseudo ground truth's, over
            all photos (0: no per-person shape learned).
        l21_fitted: the same after ``fit_steps`` Adam steps on the codes and lighting.
        fit_steps: steps of that fit.
        seconds: wall time of the evaluation.
    """

    photos: int
    annotated_photos: int
    nme_mean: float | None
    nme_median: float | None
    nme_pseudo_camera_mean: float | None
    l21_encoder: float
    l21_fitted: float
    visible_fraction: float
    shape_correlation: float
    fit_steps: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``None`` for a missing NME)."""
        return asdict(self)


def photo_l21(rendered: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """``(B,)`` robust l2,1 error (eq. 4) of each photo; see :func:`losses.reconstruction_l21_per_photo`."""
    return losses.reconstruction_l21_per_photo(rendered, target, mask)


def model_landmarks(model: FaceModel, output: ModelOutput) -> Tensor:
    """``(B, 68, 2)`` crop pixels: the landmarks of the true shape ``S`` through the encoder's camera."""
    return project(model.landmark_points(output.face.shape), output.camera)[..., :2]


def _true_render_error(
    model: FaceModel,
    renderer: Renderer,
    images: Tensor,
    shape_code: Tensor,
    albedo_code: Tensor,
    camera: Camera,
    lighting: Tensor,
) -> Tensor:
    """``(B,)`` l2,1 error of ``I(S, A)`` decoded from the codes, rendered over ``images``."""
    face = model.decode(shape_code, albedo_code)
    size = (images.shape[2], images.shape[3])
    result = renderer(face.shape, face.albedo, camera, lighting, size, background=images)
    return photo_l21(result.image, images, result.mask)


def fit_photos(
    model: FaceModel,
    renderer: Renderer,
    images: Tensor,
    output: ModelOutput,
    steps: int = FIT_STEPS,
    lr: float = FIT_LR,
) -> Tensor:
    """Fit each photo's shape code, albedo code and lighting to its l2,1 error; camera fixed.

    Starts from the encoder's estimates in ``output``; Adam on the sum of the per-photo
    errors, so the photos do not interact. The model's weights must not require
    gradients (see :func:`frozen`); the codes are copies, ``output`` is not changed.

    Args:
        model: decodes the codes (eval mode).
        renderer: renders ``I(S, A)``.
        images: ``(B, 3, S, S)`` the crops ``output`` was estimated from.
        output: the encoder's estimates.
        steps: Adam steps (0 = no fit).
        lr: Adam's learning rate.

    Returns:
        ``(B,)`` error of each photo after the last step.
    """
    camera = output.camera.detach()
    shape_code = output.shape_code.detach().clone().requires_grad_(True)
    albedo_code = output.albedo_code.detach().clone().requires_grad_(True)
    lighting = output.lighting.detach().clone().requires_grad_(True)
    if steps > 0:
        optimiser = torch.optim.Adam([shape_code, albedo_code, lighting], lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                optimiser.zero_grad(set_to_none=True)
                errors = _true_render_error(
                    model, renderer, images, shape_code, albedo_code, camera, lighting
                )
                errors.sum().backward()
                optimiser.step()
    with torch.no_grad():
        return _true_render_error(model, renderer, images, shape_code, albedo_code, camera, lighting)


def evaluate(
    model: FaceModel,
    split: PreparedSplit,
    template: FaceTemplate,
    *,
    fit_steps: int = FIT_STEPS,
    batch_size: int = 16,
    limit: int | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    fit_lr: float = FIT_LR,
) -> EvaluationReport:
    """Landmark NME and l2,1 reconstruction errors of ``model`` on ``split``.

    The model is moved to ``device`` (in place) and evaluated in eval mode; its weights
    get no gradients, and its mode and ``requires_grad`` flags are restored afterwards.

    Args:
        model: the model to evaluate; its ``image_size`` must be the crops' side.
        split: prepared photos; ``crops`` ``(N, S, S, 3)``, ``landmarks`` ``(N, 68, 2)``
            crop pixels, ``annotated`` ``(N,)``.
        template: the face template (render mesh).
        fit_steps: Adam steps of the per-photo fit behind ``l21_fitted``.
        batch_size: photos per batch (the fit runs batch-wise).
        limit: evaluate only the first ``limit`` photos.
        device: where to run.
        progress: show a progress bar (stderr).
        fit_lr: Adam's learning rate in the fit.

    Raises:
        ValueError: an empty split, crops of another size, or a bad argument.
    """
    if fit_steps < 0 or batch_size < 1 or (limit is not None and limit < 1):
        raise ValueError(
            f"need fit_steps >= 0, batch_size >= 1, limit >= 1; got {fit_steps}, {batch_size}, {limit}"
        )
    check_split(model, split)
    start = time.perf_counter()
    count = len(split) if limit is None else min(limit, len(split))
    model.to(device)
    renderer = Renderer(template).to(device)
    reference = _PseudoShapes(template, device)
    visible_fractions: list[Tensor] = []
    predicted_meshes: list[Tensor] = []
    target_meshes: list[Tensor] = []
    encoder_errors: list[Tensor] = []
    fitted_errors: list[Tensor] = []
    nmes: list[np.ndarray] = []
    nmes_pseudo_camera: list[np.ndarray] = []
    with frozen(model), tqdm(total=count, desc="evaluating", unit="photo", disable=not progress) as bar:
        for begin in range(0, count, batch_size):
            index = np.arange(begin, min(begin + batch_size, count))
            images = crops_to_images(split.crops[index], device)
            with torch.no_grad():
                output = model(images)
                face = output.face
                result = renderer(
                    face.shape,
                    face.albedo,
                    output.camera,
                    output.lighting,
                    (images.shape[2], images.shape[3]),
                    background=images,
                )
                encoder_errors.append(photo_l21(result.image, images, result.mask).cpu())
                visible_fractions.append(reference.visible_fraction(result.visibility).cpu())
                predicted_meshes.append(reference.mesh(face.shape).cpu())
                target_meshes.append(reference.target_mesh(split.offsets[index]).cpu())
                predicted = model_landmarks(model, output).cpu().double().numpy()
                pseudo_camera = Camera.from_vector(torch.as_tensor(split.cameras[index], device=device))
                through_pseudo = project(model.landmark_points(face.shape), pseudo_camera)[..., :2]
            annotated = np.asarray(split.annotated[index], dtype=bool)
            if annotated.any():
                truth = np.asarray(split.landmarks[index], dtype=np.float64)
                nmes.append(nme(predicted[annotated], truth[annotated]))
                through_pseudo_np = through_pseudo.cpu().double().numpy()
                nmes_pseudo_camera.append(nme(through_pseudo_np[annotated], truth[annotated]))
            if fit_steps == 0:
                fitted_errors.append(encoder_errors[-1])
            else:
                fitted_errors.append(fit_photos(model, renderer, images, output, fit_steps, fit_lr).cpu())
            bar.update(len(index))
            bar.set_postfix(l21=f"{float(torch.cat(fitted_errors).mean()):.4f}")
    per_photo_nme = np.concatenate(nmes) if nmes else np.zeros(0)
    pseudo_camera_nme = np.concatenate(nmes_pseudo_camera) if nmes_pseudo_camera else np.zeros(0)
    return EvaluationReport(
        photos=count,
        annotated_photos=len(per_photo_nme),
        nme_mean=float(per_photo_nme.mean()) if len(per_photo_nme) else None,
        nme_median=float(np.median(per_photo_nme)) if len(per_photo_nme) else None,
        nme_pseudo_camera_mean=float(pseudo_camera_nme.mean()) if len(pseudo_camera_nme) else None,
        l21_encoder=float(torch.cat(encoder_errors).mean()),
        l21_fitted=float(torch.cat(fitted_errors).mean()),
        visible_fraction=float(torch.cat(visible_fractions).mean()),
        shape_correlation=shape_deviation_correlation(
            torch.cat(predicted_meshes), torch.cat(target_meshes), reference.mean_mesh.cpu()
        ),
        fit_steps=fit_steps,
        seconds=time.perf_counter() - start,
    )


class _PseudoShapes:
    """The template's mean shape and Face Mesh sampling, for the shape metrics."""

    def __init__(self, template: FaceTemplate, device: torch.device | str) -> None:
        self.device = torch.device(device)
        mean = torch.as_tensor(template.mean_shape_uv, dtype=torch.float32, device=self.device)
        self.mean_shape = mean.permute(2, 0, 1)[None]
        self.mesh_uv = torch.as_tensor(
            template.cylinder.to_uv(template.mesh_vertices), dtype=torch.float32, device=self.device
        )
        self.mesh_to_uv = MeshToUV(template)
        self.face = torch.as_tensor(template.mask, device=self.device).bool()
        self.mean_mesh = self.mesh(self.mean_shape)

    def mesh(self, shape: Tensor) -> Tensor:
        """``(B, 3, 192, 224)`` position maps -> ``(B, 468, 3)`` Face Mesh points."""
        return mesh_points(shape, self.mesh_uv)

    def target_mesh(self, offsets: np.ndarray) -> Tensor:
        """``(B, 468, 3)`` pseudo-ground-truth offsets -> the pseudo shape's Face Mesh points."""
        offsets_t = torch.as_tensor(offsets, dtype=torch.float32, device=self.device)
        return self.mesh(pseudo_shape(offsets_t, self.mean_shape, self.mesh_to_uv))

    def visible_fraction(self, visibility: Tensor) -> Tensor:
        """``(B, 1, 192, 224)`` texel visibility -> ``(B,)`` share of the face texels seen."""
        seen = (visibility[:, 0] > 0.5) & self.face
        return seen.sum((1, 2)).float() / self.face.sum().float()


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m facecraft.training.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, required=True, help="model file (.pt) written by training")
    parser.add_argument("--split", type=Path, default=DEFAULT_SPLIT, help="prepared split (default: val)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON and the figure")
    parser.add_argument("--fit-steps", type=int, default=FIT_STEPS, help="Adam steps of the per-photo fit")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N photos")
    parser.add_argument("--figure-photos", type=int, default=6, help="rows of the figure (0: no figure)")
    parser.add_argument("--batch-size", type=int, default=16, help="photos per batch")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (1 with a one-line message on a missing or bad input)."""
    args = build_parser().parse_args(argv)
    if (
        args.fit_steps < 0
        or args.batch_size < 1
        or (args.limit is not None and args.limit < 1)
        or args.figure_photos < 0
    ):
        print(
            "evaluate: --fit-steps and --figure-photos must be >= 0, --batch-size and --limit >= 1",
            file=sys.stderr,
        )
        return 1
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        if not args.model.is_file():
            raise FileNotFoundError(f"{args.model}: model file not found")
        if not args.split.is_file():
            raise FileNotFoundError(
                f"{args.split}: prepared split not found; run `python -m facecraft.training.prepare_data`"
            )
        template = load_template()
        loaded = load_model(args.model, template, device)
        split = load_split(args.split)
        report = evaluate(
            loaded.model,
            split,
            template,
            fit_steps=args.fit_steps,
            batch_size=args.batch_size,
            limit=args.limit,
            device=device,
            progress=not args.quiet,
        )
        stem = args.model.stem
        figure_path = args.out / f"{stem}_fig5.png"
        indices = figure_indices(report.photos, args.figure_photos)
        if indices:
            save_figure(loaded.model, split, template, indices, figure_path)
        summary = {
            "model": str(args.model),
            "split": str(args.split),
            "variant": loaded.config.variant.value,
            **report.to_dict(),
            "figure": str(figure_path) if indices else None,
        }
        text = json.dumps(summary, indent=2) + "\n"
        write_bytes_atomically(args.out / f"{stem}_eval.json", text.encode())
    except (FaceCraftError, OSError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
