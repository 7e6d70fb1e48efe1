"""The typed terms of one fitting step (core/fit_terms.py)."""

from __future__ import annotations

import torch

from facecraft.core.fit_terms import DetailTerms, GeometryTerms, PhotometricTerms


def _scalar(value: float) -> torch.Tensor:
    return torch.tensor(value, requires_grad=True) * 1.0  # a scalar with a graph, as in a step


def test_as_floats_lists_the_terms_in_field_order_then_total_and_photometric():
    detail = DetailTerms(
        reconstruction=_scalar(1.0),
        landmark=_scalar(2.0),
        residual=_scalar(3.0),
        shape_smoothness=_scalar(4.0),
        residual_symmetry=_scalar(5.0),
        total=_scalar(6.0),
        photometric=_scalar(7.0),
    )
    assert list(detail.as_floats().items()) == [
        ("reconstruction", 1.0),
        ("landmark", 2.0),
        ("residual", 3.0),
        ("shape_smoothness", 4.0),
        ("residual_symmetry", 5.0),
        ("total", 6.0),
        ("photometric", 7.0),
    ]
    photometric = PhotometricTerms(_scalar(0.5), _scalar(0.25), _scalar(0.75), _scalar(0.5))
    assert photometric.as_floats() == {
        "reconstruction": 0.5,
        "residual": 0.25,
        "total": 0.75,
        "photometric": 0.5,
    }


def test_a_stage_that_does_not_render_reports_no_photometric_error():
    terms = GeometryTerms(
        mesh=_scalar(1.0), landmark=_scalar(2.0), code_prior=_scalar(3.0), total=_scalar(4.0)
    )
    assert terms.photometric is None
    assert list(terms.as_floats()) == ["mesh", "landmark", "code_prior", "total"]
