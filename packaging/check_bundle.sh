#!/usr/bin/env bash
# Check the PyInstaller bundle as a user without any Python environment would run it:
#
#   bash packaging/check_bundle.sh [BUNDLE_DIR]     # default dist/FaceCraft
#
# Copies the bundle to a scratch folder, then runs it there with a clean environment
# (`env -i`: no venv, no PYTHONPATH, PATH=/usr/bin:/bin, a scratch HOME) from another folder:
# `FaceCraft --version`, `FaceCraft decompose` of the sample photo shipped inside it,
# `FaceCraft edit` with a recipe, and the GUI's window with its icon under Xvfb. Prints the time
# of each. Needs xvfb-run, xwininfo and xprop.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bundle=$(cd "${1:-$root/dist/FaceCraft}" && pwd)
[ -x "$bundle/FaceCraft" ] || { echo "check_bundle: no $bundle/FaceCraft; run packaging/build_bundle.sh" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -a "$bundle" "$scratch/FaceCraft"
app=$scratch/FaceCraft/FaceCraft
mkdir -p "$scratch/home" "$scratch/work"
cd "$scratch/work"
clean=(env -i "HOME=$scratch/home" "PATH=/usr/bin:/bin" "LANG=C.UTF-8" "OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}")
sample=$(find "$scratch/FaceCraft" -path '*facecraft/resources/samples/astronaut.jpg' | head -n 1)
[ -n "$sample" ] || { echo "check_bundle: the sample photo is not in the bundle" >&2; exit 1; }
if find "$scratch/FaceCraft" -name 'libcu*' -o -name 'libcudnn*' -o -name 'libnccl*' | grep -q .; then
  echo "check_bundle: the bundle holds CUDA libraries" >&2; exit 1
fi
# FaceCraft's tests, training code and photos, and torch's C++ test programs stay out.
internal=$scratch/FaceCraft/_internal
if [ -e "$internal/tests" ] || [ -e "$internal/facecraft/training" ] || [ -e "$internal/torch/test" ] \
   || find "$internal" -name '*.pts' -o -name 'manifest.csv' | grep -q .; then
  echo "check_bundle: the bundle holds tests, training code or training data" >&2; exit 1
fi

exec 3>&1  # the timings go to the original stdout whatever a timed command's output is sent to
timed() {  # timed LABEL COMMAND...: run, print the wall time
  local label=$1 start end
  shift
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  printf 'check_bundle: %s: %.1f s\n' "$label" "$(echo "$end - $start" | bc)" >&3
}

version=$("${clean[@]}" "$app" --version)
echo "check_bundle: $version"
timed "--version" "${clean[@]}" "$app" --version >/dev/null
timed "decompose (sample, default fidelity)" "${clean[@]}" "$app" decompose "$sample" --out out 2>/dev/null
[ "$(ls out | wc -l)" -eq 14 ] && [ -s out/astronaut.json ] || { echo "check_bundle: decompose did not write the 14 files" >&2; exit 1; }
cat > recipe.json <<'JSON'
{"fidelity": 0.3,
 "edits": [{"type": "makeup", "region": "lips", "colour": "#b3243c", "strength": 0.6},
           {"type": "sticker", "image": "star.png", "centre": [0.62, 0.35], "width": 0.12, "rotation": 20}]}
JSON
cp "$(dirname "$sample")/../stickers/star.png" star.png
timed "edit (recipe, fidelity 0.3)" "${clean[@]}" "$app" edit "$sample" --recipe recipe.json --out edited.png 2>/dev/null
[ -s edited.png ] || { echo "check_bundle: edit wrote no edited.png" >&2; exit 1; }
timed "GUI window with its icon" "${clean[@]}" xvfb-run -a bash "$root/packaging/gui_came_up.sh" "$app"
echo "check_bundle: $(du -sh "$scratch/FaceCraft" | cut -f1), $(find "$scratch/FaceCraft" -type f | wc -l) files; passed"
