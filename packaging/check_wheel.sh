#!/usr/bin/env bash
# Build FaceCraft's wheel and check it in a brand-new virtual environment, run from a folder
# outside the checkout (so nothing of the source tree is used):
#
#   bash packaging/check_wheel.sh [WORK_DIR]
#
# 1. `pip wheel . --no-deps` -> facecraft-<version>-py3-none-any.whl (code + resources);
# 2. a fresh venv: torch==2.13.0 first (the CPU build), then the wheel with the pinned
#    packaging/requirements.txt, then mediapipe==0.10.14 without its declared dependencies;
# 3. offline (a private network namespace where `unshare -n` works): `facecraft --version`,
#    `facecraft decompose <the shipped sample> --out DIR` (the JSON, maps and mesh written), and the
#    GUI's window with its icon under Xvfb (packaging/gui_came_up.sh).
# Needs python3.11, xvfb-run, xwininfo and xprop (packaging/bootstrap.sh installs them).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${1:-$(mktemp -d)}
python=${PYTHON:-python3.11}
mkdir -p "$work"
work=$(cd "$work" && pwd)
venv="$work/venv"
start=$SECONDS

echo "check_wheel: building the wheel"
rm -rf "$work/wheel"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" wheel --quiet --no-deps -w "$work/wheel" "$root"
wheels=("$work"/wheel/facecraft-*-py3-none-any.whl)
[ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ] || { echo "check_wheel: expected one facecraft-*-py3-none-any.whl in $work/wheel" >&2; exit 1; }
wheel=${wheels[0]}
echo "check_wheel: $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"
"$venv/bin/python" - "$wheel" <<'PY'
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
needed = [
    "facecraft/launcher.py", "facecraft/core/cli.py", "facecraft/app/main.py",
    "facecraft/resources/template.npz", "facecraft/resources/landmark68_map.npz",
    "facecraft/resources/weights/facecraft.pt", "facecraft/resources/weights/facecraft.json",
    "facecraft/resources/samples/astronaut.jpg", "facecraft/resources/stickers/star.png",
    "facecraft/resources/icons/facecraft.svg", "facecraft/resources/icons/facecraft_256.png",
]
missing = [name for name in needed if name not in names]
if missing:
    sys.exit(f"check_wheel: the wheel lacks {missing}")
if any(name.startswith(("tests/", "facecraft/tests/")) for name in names):
    sys.exit("check_wheel: the wheel holds the tests")
PY

echo "check_wheel: installing into a fresh venv"
"${pip[@]}" install --quiet torch==2.13.0
"${pip[@]}" install --quiet "$wheel" -r "$root/packaging/requirements.txt"
"${pip[@]}" install --quiet --no-deps mediapipe==0.10.14

# From a folder with nothing of the checkout in it, offline where a network namespace can be made.
elsewhere="$work/elsewhere"
rm -rf "$elsewhere" && mkdir -p "$elsewhere"
cd "$elsewhere"
offline=()
if unshare -n true 2>/dev/null; then offline=(unshare -n); else echo "check_wheel: unshare -n not permitted; running with the network"; fi
facecraft="$venv/bin/facecraft"

version=$("${offline[@]}" "$facecraft" --version)
echo "check_wheel: facecraft --version -> $version"
[[ $version == *"$(basename "$wheel" | cut -d- -f2)"* ]] || { echo "check_wheel: --version does not name the wheel's version" >&2; exit 1; }

sample=$("$venv/bin/python" -c "from facecraft.core.resources import resource_path; print(resource_path('samples/astronaut.jpg'))")
[[ $sample == "$venv"/* ]] || { echo "check_wheel: the sample photo resolves outside the venv: $sample" >&2; exit 1; }
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "${offline[@]}" "$facecraft" decompose "$sample" --out out
for name in astronaut.json astronaut.obj astronaut_render.png astronaut_uv_albedo.png; do
  [ -s "out/$name" ] || { echo "check_wheel: decompose did not write out/$name" >&2; exit 1; }
done
echo "check_wheel: decompose wrote $(ls out | wc -l) files"

FACECRAFT_GUI_TIMEOUT=${FACECRAFT_GUI_TIMEOUT:-120} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
  "${offline[@]}" xvfb-run -a bash "$root/packaging/gui_came_up.sh" "$facecraft"
echo "check_wheel: passed in $((SECONDS - start)) s"
