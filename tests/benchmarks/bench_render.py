"""Benchmark: the two renderers (not a test; run it by hand).

    python tests/benchmarks/bench_render.py [--repeats N] [--device cpu|cuda] [--profile]

PyTorch renderer: forward + backward of the whole render (template mesh, 224x224,
gradients to shape, albedo, camera and lighting) at batch 1 and 8, median wall
time and peak memory. ModernGL (headless EGL): a 1024x1024 textured frame drawn
(waited for with ``finish``), the same read back to numpy, and a 24-megapixel
frame. Targets (issue 3): <= 30 ms (batch 1), <= 150 ms (batch 8), <= 20 ms (GL 1024).
``--profile`` prints the operators that dominate the PyTorch render.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
from collections.abc import Callable

import numpy as np
import torch
from timing import wall_ms

from facecraft.core.camera import Camera
from facecraft.core.face.template import load_template
from facecraft.core.render import Renderer, ambient_light, directional_light
from facecraft.core.render.gl import DisplayMode, GLCamera, GLFaceRenderer, create_headless_context


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def torch_case(renderer: Renderer, template, batch: int, device: torch.device) -> Callable[[], None]:
    shape0 = torch.as_tensor(template.mean_shape_uv, device=device).permute(2, 0, 1)[None]
    shape0 = shape0.repeat(batch, 1, 1, 1)
    albedo0 = torch.full_like(shape0, 0.6)
    camera0 = torch.tensor([[75.0, 0.1, 0.3, 0.05, 111.5, 111.5]], device=device).repeat(batch, 1)
    key_light = directional_light(torch.tensor([[0.3, 0.4, 1.0]]).repeat(batch, 1), torch.ones(batch, 3))
    lighting0 = (ambient_light(batch, 0.5) + key_light).to(device)

    def step() -> None:
        shape = shape0.clone().requires_grad_(True)
        albedo = albedo0.clone().requires_grad_(True)
        camera = camera0.clone().requires_grad_(True)
        lighting = lighting0.clone().requires_grad_(True)
        result = renderer(shape, albedo, Camera.from_vector(camera), lighting, (224, 224))
        result.image.square().mean().backward()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-gl", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    template = load_template()
    report: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "mesh": {"vertices": template.vertex_count, "triangles": template.triangle_count},
    }
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    renderer = Renderer(template).to(device)
    for batch in (1, 8):
        step = torch_case(renderer, template, batch, device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        rss_before = peak_rss_mb()
        report[f"torch_forward_backward_b{batch}_ms"] = wall_ms(step, args.repeats, sync=sync)
        if device.type == "cuda":
            report[f"torch_b{batch}_peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        else:
            report[f"torch_b{batch}_peak_rss_growth_mb"] = peak_rss_mb() - rss_before
    report["process_peak_rss_mb_after_torch"] = peak_rss_mb()
    if args.profile:
        from torch.profiler import profile

        step = torch_case(renderer, template, 1, device)
        with profile() as prof:
            for _ in range(10):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))

    if not args.skip_gl:
        ctx = create_headless_context()
        report["gl_renderer"] = ctx.info["GL_RENDERER"]
        gl = GLFaceRenderer(ctx, template)
        rows, cols = np.mgrid[0:1024, 0:1024]
        gl.set_albedo(np.stack([rows % 256, cols % 256, (rows + cols) % 256], -1).astype(np.uint8))
        key_light = directional_light(torch.tensor([[0.3, 0.4, 1.0]]), torch.ones(1, 3))
        lighting = (ambient_light(1, 0.5) + key_light)[0]
        camera = GLCamera(330.0, (0.1, 0.3, 0.05), (511.5, 511.5))
        fbo = ctx.simple_framebuffer((1024, 1024))

        def draw() -> None:
            fbo.use()
            fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            gl.draw(camera, lighting.numpy(), (1024, 1024), DisplayMode.TEXTURED)
            ctx.finish()

        report["gl_1024_draw_ms"] = wall_ms(draw, args.repeats)
        report["gl_1024_render_and_read_ms"] = wall_ms(
            lambda: gl.render(camera, lighting.numpy(), (1024, 1024)), args.repeats)
        big = GLCamera(1500.0, (0.0, 0.2, 0.0), (2999.5, 1999.5))
        rss_before = peak_rss_mb()
        report["gl_24mp_render_and_read_ms"] = wall_ms(
            lambda: gl.render(big, lighting.numpy(), (4000, 6000)), 3, warmup=1)
        report["gl_24mp_peak_rss_growth_mb"] = peak_rss_mb() - rss_before
    report["process_peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
