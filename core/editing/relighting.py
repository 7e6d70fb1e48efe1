"""Relighting: a new SH lighting from a few numbers a person can set, or from another photo.

:class:`RelightSettings` is a studio light: the face keeps the colour and energy of
the light it was photographed in (the DC term of the fitted SH lighting); the user
chooses how much of it is ambient and where a single key light comes from.
:class:`ReferenceLight` is the light of another photo (both lightings are in their
camera's frame, so "from the left of the camera" stays so), mixed with the photo's own.
Both turn the fitted ``(3, 9)`` lighting into the one to render with through
``lighting(fitted)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from facecraft.core.render.shading import ambient_light, directional_light


@dataclass(frozen=True)
class RelightSettings:
    """Where the key light is and how strong the two parts are.

    Attributes:
        azimuth: degrees; 0 = from the camera, positive = from the image's right.
        elevation: degrees; positive = from above.
        intensity: key light strength, relative to the photo's overall light level.
        ambient: ambient level, relative to the photo's overall light level.
    """

    azimuth: float = 30.0
    elevation: float = 20.0
    intensity: float = 0.8
    ambient: float = 0.5

    def __post_init__(self) -> None:
        values = (self.azimuth, self.elevation, self.intensity, self.ambient)
        if not all(math.isfinite(v) for v in values) or self.intensity < 0 or self.ambient < 0:
            raise ValueError(f"relighting needs finite angles and non-negative levels, got {self}")

    def direction(self) -> np.ndarray:
        """``(3,)`` unit vector towards the key light, camera frame (+x right, +y up, +z to the viewer)."""
        azimuth, elevation = math.radians(self.azimuth), math.radians(self.elevation)
        return np.array(
            [
                math.sin(azimuth) * math.cos(elevation),
                math.sin(elevation),
                math.cos(azimuth) * math.cos(elevation),
            ]
        )


    def lighting(self, fitted: np.ndarray) -> np.ndarray:
        """``(3, 9)`` float32 lighting for a face fitted under ``(3, 9)`` ``fitted``."""
        return relit_lighting(fitted, self)


@dataclass(frozen=True)
class ReferenceLight:
    """Another photo's lighting, mixed with the photo's own.

    Attributes:
        reference: the 27 SH coefficients of the reference's ``(3, 9)`` lighting, row by row.
        mix: ``[0, 1]``; 0 = the photo's own light, 1 = the reference's.
        name: the reference photo's file name (shown).
    """

    reference: tuple[float, ...]
    mix: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.reference) != 27 or not all(math.isfinite(v) for v in self.reference):
            raise ValueError("a reference lighting is 27 finite SH coefficients (3 x 9)")
        if not 0.0 <= self.mix <= 1.0:
            raise ValueError(f"the light mix must be in [0, 1], got {self.mix}")

    @classmethod
    def of(cls, lighting: np.ndarray, mix: float = 1.0, name: str = "") -> ReferenceLight:
        """From a ``(3, 9)`` lighting array."""
        values = np.asarray(lighting, dtype=np.float64)
        if values.shape != (3, 9):
            raise ValueError(f"a reference lighting is (3, 9), got {values.shape}")
        return cls(tuple(float(v) for v in values.ravel()), float(mix), name)

    def lighting(self, fitted: np.ndarray) -> np.ndarray:
        """``(3, 9)`` float32 ``(1 - mix)·fitted + mix·reference``."""
        fitted = np.asarray(fitted, dtype=np.float64)
        if fitted.shape != (3, 9) or not np.isfinite(fitted).all():
            raise ValueError(f"fitted lighting must be finite (3, 9), got {fitted.shape}")
        reference = np.asarray(self.reference, dtype=np.float64).reshape(3, 9)
        return ((1.0 - self.mix) * fitted + self.mix * reference).astype(np.float32)


def relit_lighting(fitted: np.ndarray, settings: RelightSettings) -> np.ndarray:
    """``(3, 9)`` SH lighting: ambient + one key light, both tinted like the fitted ``(3, 9)`` lighting."""
    fitted = np.asarray(fitted, dtype=np.float64)
    if fitted.shape != (3, 9) or not np.isfinite(fitted).all():
        raise ValueError(f"fitted lighting must be finite (3, 9), got {fitted.shape}")
    level = torch.as_tensor(np.clip(fitted[:, 0], 0.05, None), dtype=torch.float64)[None]  # (1, 3)
    direction = torch.as_tensor(settings.direction(), dtype=torch.float64)[None]
    key = directional_light(direction, level * settings.intensity)
    ambient = ambient_light(1, 1.0, dtype=torch.float64) * (level * settings.ambient)[:, :, None]
    return (key + ambient)[0].numpy().astype(np.float32)


def studio_lighting() -> np.ndarray:
    """``(3, 9)`` neutral studio lighting: soft ambient plus a key light above-left of the viewer.

    What the 3D view and the GUI's shaded-geometry pane light an unrelit face with.
    """
    key = directional_light(torch.tensor([[-0.4, 0.5, 1.0]]), torch.full((1, 3), 0.75))
    return (ambient_light(1, 0.4) + key)[0].numpy()
