"""The dense geometric constraint and the closed-form appearance, on synthetic faces and the astronaut."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecraft.core.appearance import alternate, fill_unseen, solve_lighting
from facecraft.core.camera import Camera, CropTransform, project
from facecraft.core.fit_geometry import MeshConstraint, mesh_in_crop, similarity_camera
from facecraft.core.model.model import sample_landmarks
from facecraft.core.render.renderer import Renderer
from facecraft.core.render.shading import directional_light, sh_shading
from facecraft.core.render.unwrap import unwrap_image


def known_camera() -> Camera:
    return Camera.from_vector(torch.tensor([[88.0, 0.12, -0.25, 0.05, 108.0, 116.0]]))


def detected_mesh(template, camera: Camera, offsets: np.ndarray) -> np.ndarray:
    """What the detector would report for the template mesh + ``offsets`` seen by ``camera``: (468, 3)."""
    points = torch.as_tensor(template.mesh_vertices + offsets, dtype=torch.float32)[None]
    projected = project(points, camera)[0].numpy().astype(np.float64)
    return np.column_stack([projected[:, :2], -projected[:, 2]])  # detector depth grows away


def test_the_similarity_camera_of_a_posed_mean_mesh_is_recovered(template):
    camera = known_camera()
    target = similarity_camera(detected_mesh(template, camera, np.zeros((468, 3))), template)
    assert torch.allclose(target.camera.to_vector(), camera.to_vector(), atol=1e-3)
    assert torch.allclose(target.canonical[0], torch.as_tensor(template.mesh_vertices, dtype=torch.float32),
                          atol=1e-4)


def test_mesh_in_crop_scales_points_and_depth():
    crop = CropTransform(scale=2.0, offset=(-10.0, 5.0), size=224)
    points = np.array([[10.0, 20.0, 3.0]] * 478)
    assert np.allclose(mesh_in_crop(points, crop)[0], [10.0, 45.0, 6.0])
    with pytest.raises(ValueError, match="Face Mesh"):
        mesh_in_crop(points[:10], crop)


def test_the_offset_field_carries_the_mean_shape_onto_a_deformed_mesh_and_landmarks(template):
    rng = np.random.default_rng(0)
    offsets = rng.normal(0.0, 0.02, (468, 3))
    offsets = offsets + offsets[template.mesh_mirror] * np.array([-1, 1, 1])  # smooth-ish, symmetric
    camera = known_camera()
    target = similarity_camera(detected_mesh(template, camera, offsets), template)
    constraint = MeshConstraint(template, depth_weight=1.0)
    mean = torch.as_tensor(template.mean_shape_uv, dtype=torch.float32).permute(2, 0, 1)[None]
    before = constraint.loss(mean, target, target.camera)
    landmarks = project(torch.as_tensor(template.landmark_points, dtype=torch.float32)[None], camera)[..., :2]
    landmarks = landmarks + torch.as_tensor(rng.normal(0.0, 1.0, (1, 68, 2)), dtype=torch.float32)
    shape = mean + constraint.offset_field(mean, target, target.camera, landmarks)
    after = constraint.loss(shape, target, target.camera)
    assert float(after) < 0.05 * float(before)
    moved = project(sample_landmarks(shape, torch.as_tensor(template.landmark_uv)), target.camera)[..., :2]
    assert float((moved - landmarks).norm(dim=-1).mean()) < 0.1  # crop pixels


@pytest.fixture(scope="module")
def synthetic_face(template):
    """A face rendered with known shape, albedo, lighting and camera."""
    renderer = Renderer(template)
    shape = torch.as_tensor(template.mean_shape_uv, dtype=torch.float32).permute(2, 0, 1)[None]
    generator = torch.Generator().manual_seed(3)
    coarse = torch.rand(1, 3, 12, 14, generator=generator) * 0.5 + 0.3
    albedo = torch.nn.functional.interpolate(coarse, size=(192, 224), mode="bilinear", align_corners=False)
    lighting = directional_light(torch.tensor([[0.4, 0.3, 1.0]]), torch.tensor([[0.7, 0.65, 0.6]]))
    lighting[:, :, 0] += 0.45
    camera = Camera.from_vector(torch.tensor([[90.0, 0.05, 0.2, 0.0, 111.5, 111.5]]))
    result = renderer(shape, albedo, camera, lighting, (224, 224))
    return renderer, shape, albedo, lighting, camera, result


def test_closed_form_albedo_and_lighting_recover_a_rendered_face(synthetic_face, template):
    _, shape, albedo, lighting, camera, result = synthetic_face

    texture = unwrap_image(result.image, shape, camera)
    mask = torch.as_tensor(template.mask)[None, None].float()
    grey = torch.full_like(albedo, float(albedo[mask.expand_as(albedo) > 0].mean()))
    appearance = alternate(texture, result.normals_uv, result.visibility, grey, mask, iterations=3)
    # Well-seen texels: fully trusted, away from the silhouette (where pixels mix face and background).
    interior = -torch.nn.functional.max_pool2d(-result.visibility, 5, stride=1, padding=2)
    trusted = (appearance.trust > 0.99) & (mask > 0) & (interior > 0.5)
    error = (appearance.albedo - albedo).abs().mean(1, keepdim=True)[trusted].mean()
    assert float(error) <= 0.02, float(error)
    shading_true = sh_shading(result.normals_uv, lighting)
    shading_fit = sh_shading(result.normals_uv, appearance.lighting)
    relative = ((shading_fit - shading_true).abs() / shading_true).mean(1, keepdim=True)
    assert float(relative[trusted].mean()) < 0.05  # the lighting, up to the albedo's brightness anchor


def test_lighting_of_a_known_albedo_reproduces_the_shading(synthetic_face, template):
    # The normals of one face cover a hemisphere, so some SH coefficients are not identifiable;
    # the shading they produce on the face is.
    _, _, albedo, lighting, _, result = synthetic_face
    shading = sh_shading(result.normals_uv, lighting)
    weight = result.visibility * torch.as_tensor(template.mask)[None, None].float()
    solved = solve_lighting(albedo * shading, albedo, result.normals_uv, weight)
    difference = (sh_shading(result.normals_uv, solved) - shading).abs().mean(1, keepdim=True)
    assert float(difference[weight > 0].mean()) < 0.005


def test_fill_unseen_takes_the_mirror_then_the_fallback():
    albedo = torch.zeros(1, 3, 2, 4)
    albedo[..., 0] = 1.0
    trust = torch.zeros(1, 1, 2, 4)
    trust[..., 0] = 1.0
    fallback = torch.full_like(albedo, 0.5)
    filled = fill_unseen(albedo, trust, fallback)
    assert torch.equal(filled[..., 0], albedo[..., 0])  # seen: the photo
    assert torch.equal(filled[..., 3], albedo[..., 0])  # mirror of a seen texel
    assert torch.equal(filled[..., 1], fallback[..., 1])  # neither


def test_the_fitted_face_mesh_lands_on_the_detector_points(decomposer, astronaut_rgb):
    """Issue 13: at fidelity 0.15 the fitted Face Mesh correspondences are within 2 px of the detector's."""
    faces = decomposer.detect(astronaut_rgb)
    decomposition = decomposer.decompose(astronaut_rgb, 0.15, faces=faces)
    constraint = MeshConstraint(decomposer.template)
    shape = torch.as_tensor(decomposition.shape).permute(2, 0, 1)[None]
    projected = project(constraint.points(shape), decomposition.photo_camera())[0, :, :2].numpy()
    error = np.linalg.norm(projected - faces[0].landmarks478[:468, :2], axis=1)
    assert error.mean() < 2.0, error.mean()
    assert decomposition.landmark_error() < 0.5  # the 68 points follow the detector's
