"""Studio relighting: the key light comes from where the settings say, tinted like the photo's light."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecraft.core.relighting import RelightSettings, relit_lighting
from facecraft.core.render.shading import sh_shading


def shade(lighting, normal):
    normals = torch.as_tensor(normal, dtype=torch.float32).reshape(1, 3, 1, 1)
    return sh_shading(normals, torch.as_tensor(lighting)[None])[0, :, 0, 0].numpy()


def test_the_key_light_brightens_the_side_it_comes_from():
    fitted = np.zeros((3, 9), np.float32)
    fitted[:, 0] = (0.9, 0.8, 0.7)
    lighting = relit_lighting(
        fitted, RelightSettings(azimuth=60.0, elevation=0.0, intensity=1.0, ambient=0.2)
    )
    right, left = shade(lighting, (1.0, 0.0, 0.0)), shade(lighting, (-1.0, 0.0, 0.0))
    assert (right > left + 0.3).all()
    above = relit_lighting(fitted, RelightSettings(azimuth=0.0, elevation=60.0, intensity=1.0, ambient=0.2))
    assert (shade(above, (0.0, 1.0, 0.0)) > shade(above, (0.0, -1.0, 0.0)) + 0.3).all()
    # tinted like the photo: red channel strongest
    colour = shade(lighting, (0.0, 0.0, 1.0))
    assert colour[0] > colour[1] > colour[2]


def test_ambient_only_is_flat():
    fitted = np.zeros((3, 9), np.float32)
    fitted[:, 0] = 1.0
    lighting = relit_lighting(fitted, RelightSettings(intensity=0.0, ambient=0.6))
    for normal in ((1, 0, 0), (0, 1, 0), (0, 0, 1), (0, -1, 0)):
        assert np.allclose(shade(lighting, normal), 0.6, atol=1e-5)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        RelightSettings(intensity=-1.0)
    with pytest.raises(ValueError):
        relit_lighting(np.zeros((2, 9)), RelightSettings())
