"""Benchmark: the nonlinear 3DMM (not a test; run it by hand).

    python tests/benchmarks/bench_model.py [--repeats N] [--device cpu|cuda]

For every variant: parameter counts of E, D_S and D_A, and the forward time of
E + D_S + D_A on one 224x224 crop (inference mode; issue 4's target is <= 60 ms
on the 2-core CPU), median and fastest of ``--repeats`` runs. Also the time of
one training step of the full model (forward, paired objective with the
perceptual loss, backward) at batch 1 and 8.
"""

from __future__ import annotations

import argparse
import json
import os
import platform

import torch
from timing import wall_ms

from facecraft.core.face.template import load_template
from facecraft.core.model.config import ModelConfig, ObjectiveConfig, Variant
from facecraft.core.model.model import FaceModel
from facecraft.core.model.objective import Objective, ObjectiveTargets
from facecraft.core.model.perceptual import PerceptualNetwork


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--skip-training-step", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    template = load_template()
    report: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
    }
    crop = torch.rand(1, 3, 224, 224, device=device)
    for variant in Variant:
        model = FaceModel(ModelConfig(variant=variant), template).to(device).eval()

        def forward(model: FaceModel = model) -> None:
            with torch.inference_mode():
                model(crop)

        report[variant.value] = {"parameters": model.parameter_counts(),
                                 "forward_b1": wall_ms(forward, args.repeats, sync=sync)}
    if not args.skip_training_step:
        model = FaceModel(ModelConfig(), template).to(device).train()
        objective = Objective(template, ObjectiveConfig(), Variant.GLOBAL_LOCAL_PROXY,
                              PerceptualNetwork()).to(device)
        for batch in (1, 8):
            targets = ObjectiveTargets(torch.rand(batch, 3, 224, 224, device=device),
                                       torch.rand(batch, 68, 2, device=device) * 224)

            def step(targets: ObjectiveTargets = targets) -> None:
                model.zero_grad()
                objective(model(targets.images), targets).terms.total.backward()

            report[f"training_step_b{batch}"] = wall_ms(step, max(3, args.repeats // 6), sync=sync)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
