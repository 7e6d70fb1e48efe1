"""The FaceCraft engine: no Qt, no GUI, no training code.

Map (folders by domain; ``tests/core`` mirrors it):

* :mod:`~facecraft.core.face` — detection (MediaPipe), the 68-point map and the named iBUG
  index sets, the face template, the encoder's crop;
* :mod:`~facecraft.core.model` — encoder, dual-pathway decoders, losses, objective, config,
  weights I/O;
* :mod:`~facecraft.core.render` — differentiable primitives and :class:`Renderer`, the ModernGL
  renderer, unwrapping, picking, the turntable;
* :mod:`~facecraft.core.editing` — the editor, re-rendering into the photo (composite,
  reconstruction), relighting, recipes, the layer document and its history, layers, regions,
  brush, sticker, rect, the detailed albedo, reference photos and transfer;
* :mod:`~facecraft.core.io` — image reading and writing, meshes, records, sessions,
  the CLI's output set, atomic writes, pixel conversions;
* :mod:`~facecraft.core.decomposition` — the frozen :class:`Decomposition`;
  :mod:`~facecraft.core.decompose` makes it (detector + model + fitting);
* :mod:`~facecraft.core.fitting` — the fidelity schedule, with its parts in ``fit_geometry``,
  ``fit_terms``, ``fit_state`` and ``appearance``; :mod:`~facecraft.core.camera`,
  :mod:`~facecraft.core.conventions` (coordinate conventions, defined once), ``errors``,
  ``resources``, ``cli``.

``tests/test_architecture.py`` checks that nothing here imports Qt or :mod:`facecraft.app`,
lazily or not.
"""
