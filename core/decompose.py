"""Photo → :class:`Decomposition`: detection, the encoder, per-photo fitting, the maps in UV.

:class:`Decomposer` is the engine's entry point for one photo. It owns the
detector, the trained model and a renderer, and turns an RGB photo into a frozen
:class:`Decomposition` holding everything the editor, the exporters and the CLI
need: where the face is (box, crop, 68 landmarks, camera into the photo), what it
is made of (shape ``S`` and proxy ``S̃``, albedo ``A`` and proxy ``Ã``, SH
lighting, shading and normals in UV) and how much of it the camera sees
(per-texel visibility, the photo's own texture unwrapped into UV).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from facecraft.core.camera import Camera, CropTransform, project
from facecraft.core.decomposition import Decomposition
from facecraft.core.errors import NoFaceFound
from facecraft.core.face.crop import crop_image, face_crop
from facecraft.core.face.detection import DetectedFace, FaceDetector
from facecraft.core.face.template import FaceTemplate, load_template
from facecraft.core.fit_geometry import mesh_in_crop
from facecraft.core.fitting import (
    CancelCheck,
    FaceFitter,
    FitResult,
    FitSchedule,
    ProgressCallback,
)
from facecraft.core.model.inference import fold_batch_norms, with_layer_weights_in
from facecraft.core.model.io import load_model
from facecraft.core.model.model import FaceModel
from facecraft.core.model.precision import bf16_is_native
from facecraft.core.render.rasterize import rasterize
from facecraft.core.render.renderer import Renderer, RenderResult, texel_visibility
from facecraft.core.render.shading import sh_shading, uv_normals
from facecraft.core.render.unwrap import sample_photo
from facecraft.core.resources import resource_path

DEFAULT_WEIGHTS = "weights/facecraft.pt"
"""The shipped model, relative to the resources folder."""


class Decomposer:
    """Detector + trained model + renderer: photos in, decompositions out.

    The model runs with its BatchNorms folded into the layers before them (the same function,
    :mod:`facecraft.core.model.inference`); the encoder's pass runs under bf16 autocast, from a
    copy whose layer weights are stored in bf16, where the CPU computes bf16 natively
    (:mod:`facecraft.core.model.precision`; landmarks within 0.05 px of float32 on the sample
    photo); fitting runs in float32.

    Args:
        model: the trained model (not modified: a folded copy is used).
        template: the face template the model was trained with.
        detector: a face detector; created on first use when None.
    """

    def __init__(
        self, model: FaceModel, template: FaceTemplate, detector: FaceDetector | None = None
    ) -> None:
        self.model = fold_batch_norms(model).requires_grad_(False)
        self.device = next(self.model.parameters()).device
        self._bf16 = bf16_is_native(self.device)
        self._encoder_pass = with_layer_weights_in(self.model, torch.bfloat16) if self._bf16 else self.model
        self.template = template
        self.renderer = RememberingRenderer(template)
        self.fitter = FaceFitter(self.model, self.renderer, template)
        self._detector = detector

    @classmethod
    def load(cls, weights: str | Path | None = None, template: FaceTemplate | None = None) -> Decomposer:
        """The shipped model (or ``weights``) with the shipped template.

        Raises:
            ResourceError: the weights or the template are missing or corrupt.
        """
        template = template or load_template()
        path = resource_path(DEFAULT_WEIGHTS) if weights is None else Path(weights)
        return cls(load_model(path, template).model, template)

    @property
    def detector(self) -> FaceDetector:
        """The face detector (created on first use)."""
        if self._detector is None:
            self._detector = FaceDetector()
        return self._detector

    def close(self) -> None:
        """Free the detector."""
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def __enter__(self) -> Decomposer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Every face in ``(H, W, 3)`` uint8 ``rgb``, largest first.

        Raises:
            NoFaceFound: there is none.
        """
        faces = self.detector.detect(rgb)
        if not faces:
            raise NoFaceFound(
                "no face was found in the photo; use one where a face is clearly visible, "
                "roughly frontal and not too small"
            )
        return faces

    def decompose(
        self,
        rgb: np.ndarray,
        fidelity: float = 0.0,
        face: int | DetectedFace = 0,
        faces: list[DetectedFace] | None = None,
        progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
    ) -> Decomposition:
        """Decompose one face of a photo.

        Args:
            rgb: ``(H, W, 3)`` uint8 photo, upright.
            fidelity: in ``[0, 1]``; see :meth:`facecraft.core.fitting.FitSchedule.from_fidelity`.
            face: index into the detected faces (largest first), or a face already detected.
            faces: the detections, when the caller already has them (saves detecting again).
            progress: called after every fitting step.
            cancelled: polled before every fitting step.

        Raises:
            NoFaceFound: no face, or no face of that index.
            FitCancelled: ``cancelled`` returned True.
            ValueError: ``fidelity`` outside ``[0, 1]`` or a malformed image.
        """
        schedule = FitSchedule.from_fidelity(fidelity)
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        if isinstance(face, DetectedFace):
            chosen, index, count = face, 0, 1 if faces is None else len(faces)
            if faces is not None:
                index = next((i for i, other in enumerate(faces) if other is face), 0)
        else:
            if faces is None:
                faces = self.detect(rgb)
            if not 0 <= face < len(faces):
                raise NoFaceFound(f"face {face + 1} was asked for, but the photo has {len(faces)}")
            chosen, index, count = faces[face], face, len(faces)
        clock = _lap(timings, "detection", clock)

        crop = face_crop(chosen.landmarks68)
        image = torch.from_numpy(crop_image(rgb, crop)).permute(2, 0, 1)[None].float().div_(255.0)
        landmarks = torch.as_tensor(
            chosen.landmarks68 * crop.scale + np.asarray(crop.offset), dtype=torch.float32
        )[None]
        clock = _lap(timings, "crop", clock)
        with torch.no_grad(), torch.autocast(self.device.type, torch.bfloat16, enabled=self._bf16):
            start = self._encoder_pass(image)
        clock = _lap(timings, "encoder", clock)

        mesh = torch.as_tensor(mesh_in_crop(chosen.landmarks478, crop), dtype=torch.float32)
        result = self.fitter.fit(image, landmarks, start, schedule, progress, cancelled, mesh=mesh)
        timings.update({f"fit_{name}": ms for name, ms in result.stage_ms.items()})
        clock = _lap(timings, "fit_other", clock)  # outside the stages: the encoder's error, mostly
        timings["fit_other"] -= sum(result.stage_ms.values())
        decomposition = self._finish(rgb, chosen, index, count, crop, image, result, fidelity, timings)
        _lap(timings, "maps", clock)
        return decomposition

    def _finish(
        self,
        rgb: np.ndarray,
        chosen: DetectedFace,
        index: int,
        count: int,
        crop: CropTransform,
        image: Tensor,
        result: FitResult,
        fidelity: float,
        timings: dict[str, float],
    ) -> Decomposition:
        state, face = result.state, result.face
        with torch.no_grad():
            size = (int(image.shape[2]), int(image.shape[3]))
            normals, shading, visibility = self._uv_maps(face.shape, state.camera, state.lighting, size)
            photo_camera = crop.camera_to_photo(state.camera)
            landmarks = project(self.model.landmark_points(face.shape), photo_camera)[0, :, :2]
            texels = project(face.shape.flatten(2).transpose(1, 2), photo_camera)[0, :, :2]

        def hwc(value: Tensor) -> np.ndarray:
            return np.ascontiguousarray(value[0].permute(1, 2, 0).numpy(), dtype=np.float32)

        shape = hwc(face.shape)
        points = texels.numpy().reshape(*shape.shape[:2], 2)
        texture = sample_photo(rgb, points, _texel_footprint(points, self.template.mask))
        return Decomposition(
            photo_size=(int(rgb.shape[0]), int(rgb.shape[1])),
            face_index=index,
            face_count=count,
            face_box=np.asarray(chosen.box, dtype=np.float64),
            detected_landmarks68=np.asarray(chosen.landmarks68, dtype=np.float64),
            landmarks68=landmarks.double().numpy(),
            crop=crop,
            camera=photo_camera.to_vector()[0].double().numpy(),
            lighting=state.lighting[0].numpy().astype(np.float32),
            shape=shape,
            shape_proxy=hwc(face.shape_proxy),
            albedo=hwc(face.albedo),
            albedo_proxy=hwc(face.albedo_proxy),
            shading=hwc(shading),
            normals=hwc(normals),
            visibility=visibility[0].numpy(),
            texture=texture,
            shape_code=state.shape_code[0].numpy().copy(),
            albedo_code=state.albedo_code[0].numpy().copy(),
            fidelity=float(fidelity),
            error=result.error,
            encoder_error=result.encoder_error,
            timings_ms=timings,
        )

    def _uv_maps(
        self, shape: Tensor, camera: Camera, lighting: Tensor, size: tuple[int, int]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Camera-frame normals, shading and visibility of the face in UV, as the renderer makes them.

        The fitter has usually just rendered this very face (always at fidelity 0, where it only
        measures the encoder's error), so its render is reused; otherwise only what the maps need
        is computed (the z-buffer, not the image).

        Args:
            shape: ``(1, 3, 192, 224)`` position map.
            camera: the crop camera.
            lighting: ``(1, 3, 9)`` SH lighting.
            size: ``(H, W)`` of the crop.

        Returns:
            ``(1, 3, 192, 224)`` normals, ``(1, 3, 192, 224)`` shading, ``(1, 192, 224)`` bool visibility.
        """
        renderer = self.renderer
        recalled = renderer.recall(shape, camera, lighting, size)
        if recalled is not None:
            return recalled.normals_uv, recalled.shading_uv, recalled.visibility[:, 0] > 0.5
        normals = torch.bmm(camera.rotation(), uv_normals(shape).flatten(2)).view_as(shape)
        shading = sh_shading(normals, lighting)
        fragments = rasterize(project(renderer.mesh_vertices(shape), camera), renderer.triangles, size)
        visibility = texel_visibility(shape, normals, camera, fragments) & renderer.uv_mask
        return normals, shading, visibility


class RememberingRenderer(Renderer):
    """A :class:`Renderer` that remembers its last render made without gradients.

    :class:`Decomposer` lends it to the fitter, which renders the encoder's estimate to
    measure its error; when the fit keeps that estimate (fidelity 0), the UV maps of the
    decomposition come from that render instead of a second one. The inputs are held (so
    their ids cannot be reused) and must be the very same tensors, unmodified in place.
    """

    def __init__(self, template: FaceTemplate) -> None:
        super().__init__(template)
        self._last: tuple[tuple[object, ...], tuple[int, ...], RenderResult] | None = None

    def forward(
        self,
        shape_uv: Tensor,
        albedo_uv: Tensor,
        camera: Camera,
        lighting: Tensor,
        image_size: tuple[int, int],
        background: Tensor | None = None,
    ) -> RenderResult:
        """Render as :class:`Renderer` does (see there for the shapes); remember a no-grad render."""
        result = super().forward(shape_uv, albedo_uv, camera, lighting, image_size, background)
        inputs = _render_inputs(shape_uv, camera, lighting)
        if torch.is_grad_enabled() or any(value.is_inference() for value in inputs):
            self._last = None  # a graph is not worth keeping alive; inference tensors have no versions
        else:
            size = (int(image_size[0]), int(image_size[1]))
            self._last = (inputs, (*size, *(value._version for value in inputs)), result)
        return result

    def recall(
        self, shape_uv: Tensor, camera: Camera, lighting: Tensor, image_size: tuple[int, int]
    ) -> RenderResult | None:
        """The last no-grad render when it was of exactly these inputs, else None."""
        last = self._last
        if last is None:
            return None
        inputs, versions, result = last
        current = _render_inputs(shape_uv, camera, lighting)
        if any(a is not b for a, b in zip(inputs, current, strict=True)):
            return None
        size = (int(image_size[0]), int(image_size[1]))
        return result if versions == (*size, *(value._version for value in current)) else None


def _render_inputs(shape_uv: Tensor, camera: Camera, lighting: Tensor) -> tuple[Tensor, ...]:
    return (shape_uv, camera.scale, camera.angles, camera.translation, lighting)


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = (now - since) * 1000
    return now


def _texel_footprint(points: np.ndarray, mask: np.ndarray) -> float:
    """Median photo-pixel distance between horizontally neighbouring face texels."""
    step = points[:, 1:] - points[:, :-1]
    steps = np.sqrt(step[..., 0] * step[..., 0] + step[..., 1] * step[..., 1])  # = norm, minus its overhead
    inside = mask[:, 1:] & mask[:, :-1]
    return float(np.median(steps[inside])) if inside.any() else 1.0
