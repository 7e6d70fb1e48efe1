"""How hard each fine-tune loss term pulls on the networks: per-term gradient norms and shares.

    python -m facecraft.training.gradient_shares --model resources/weights/facecraft.pt \
        [--config training/configs/cpu_finetune.json] [--batches 4] [--batch-size 8]

For batches of the prepared train split (augmented as in training), each weighted term
``w_k * L_k`` of the paired objective (:class:`facecraft.core.model.objective.Objective`) is
differentiated alone; the norm of its gradient over each network (encoder, shape decoder,
albedo decoder) and its share of the sum of those norms tell which terms drive training and
which are noise next to the others (issue 12: set the weights from measured shares).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from facecraft.core.face.template import load_template
from facecraft.core.model.io import load_model
from facecraft.core.model.model import FaceModel
from facecraft.core.model.objective import LossTerms, Objective, ObjectiveTargets
from facecraft.training.config import Stage, TrainConfig
from facecraft.training.dataset import FaceBatch, PreparedFaces, collate
from facecraft.training.prepare_data import load_split

NETWORKS = ("encoder", "shape_decoder", "albedo_decoder")
TERMS = tuple(f.name for f in fields(LossTerms) if f.name != "total")


def gradient_norms(model: FaceModel, objective: Objective, batch: FaceBatch) -> dict[str, dict[str, float]]:
    """``{term: {network: |d(w * L_term) / d(network's parameters)|}}`` on one batch.

    Terms with a zero weight (or that do not reach a network) give 0.
    """
    output = model(batch.images)
    terms = objective(output, ObjectiveTargets(batch.images, batch.landmarks, batch.landmark_weights)).terms
    groups = {name: [p for p in getattr(model, name).parameters() if p.requires_grad] for name in NETWORKS}
    flat = [p for name in NETWORKS for p in groups[name]]
    norms: dict[str, dict[str, float]] = {}
    for term in TERMS:
        weight = float(getattr(objective.config, term))
        value: Tensor = getattr(terms, term)
        if weight == 0.0 or not value.requires_grad:
            norms[term] = dict.fromkeys(NETWORKS, 0.0)
            continue
        grads = torch.autograd.grad(weight * value, flat, retain_graph=True, allow_unused=True)
        by_parameter = dict(zip(map(id, flat), grads, strict=True))
        norms[term] = {name: _norm([by_parameter[id(p)] for p in groups[name]]) for name in NETWORKS}
    return norms


def _norm(grads: list[Tensor | None]) -> float:
    """The l2 norm of all the given gradients together (None: no gradient)."""
    total = torch.zeros((), dtype=torch.float64)
    for grad in grads:
        if grad is not None:
            total = total + grad.double().square().sum()
    return float(total.sqrt())


def shares(norms: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each term's fraction of the summed gradient norms, per network (0 where all are 0)."""
    result: dict[str, dict[str, float]] = {term: {} for term in norms}
    for name in NETWORKS:
        total = sum(norms[term][name] for term in norms)
        for term in norms:
            result[term][name] = norms[term][name] / total if total > 0 else 0.0
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=Path("training/configs/cpu_finetune.json"))
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)
    config = TrainConfig.from_dict(json.loads(args.config.read_text()))
    stage = next((s for s in config.stages if s.name is Stage.FINETUNE), None)
    if stage is None:
        print(f"{args.config}: has no fine-tune stage to measure", file=sys.stderr)
        return 2
    template = load_template()
    model = load_model(args.model, template).model.train()
    objective = Objective(template, stage.objective, config.model.variant)
    dataset = PreparedFaces(load_split(Path(config.prepared) / "train.npz"), template, config.augmentation)
    order = np.random.default_rng(0).permutation(len(dataset))
    per_batch = []
    for b in range(args.batches):
        chosen = order[b * args.batch_size : (b + 1) * args.batch_size]
        per_batch.append(gradient_norms(model, objective, collate([dataset[int(i)] for i in chosen])))
    mean = {t: {n: float(np.mean([p[t][n] for p in per_batch])) for n in NETWORKS} for t in TERMS}
    print(json.dumps({"weights": {t: float(getattr(stage.objective, t)) for t in TERMS},
                      "gradient_norms": mean, "shares": shares(mean)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
