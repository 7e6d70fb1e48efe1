"""Offline build steps: the face template, the 68-point landmark map, data, training, evaluation.

Training photos are read from ``../shared/data/faces`` by path and never copied
into the repository.
"""
