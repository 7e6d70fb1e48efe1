"""Data shipped with FaceCraft: face template, 68-point landmark map, weights, samples.

Look files up with :func:`facecraft.core.resources.resource_path`.
"""
