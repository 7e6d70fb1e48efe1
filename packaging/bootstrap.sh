#!/usr/bin/env bash
# FaceCraft set-up on a fresh Debian machine with Python 3.11, then run the app or the tests.
#
#   bash packaging/bootstrap.sh run [PHOTO...]   # set up, then start FaceCraft
#   bash packaging/bootstrap.sh test [ARGS...]   # set up, then lint and run the test suite
#   bash packaging/bootstrap.sh install          # set up, then add the menu entry, icon and file
#                                                # types for this user (XDG_DATA_HOME)
#   bash packaging/bootstrap.sh uninstall        # remove them again (the venv stays)
#
# Installs the system libraries Qt and Xvfb need (apt, when run as root or with sudo), creates a
# virtual environment (FACECRAFT_VENV, default .venv) and installs the pinned packages into it:
# torch first (the CPU build), MediaPipe without its declared dependencies. A second run reuses
# the environment when the pins have not changed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-run}
[ $# -gt 0 ] && shift
venv=${FACECRAFT_VENV:-$root/.venv}
python=${PYTHON:-python3.11}

system_packages=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
                 libxcb-shape0 libxcb-xkb1 libxcb-cursor0 libxkbcommon-x11-0 libegl1 libgl1
                 libgl1-mesa-dri libfontconfig1 libdbus-1-3 libjemalloc2 x11-utils)

install_system_packages() {
  local missing=()
  for package in "${system_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2; return 1; }
    sudo=sudo
  fi
  echo "bootstrap: installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python_packages() {
  local stamp="$venv/.facecraft-pins"
  local pins
  pins=$(cat "$root/packaging/requirements.txt" "$root/packaging/requirements-dev.txt" "$root/pyproject.toml" | sha1sum)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pins" ] && "$venv/bin/python" -c "import facecraft" 2>/dev/null; then
    return 0
  fi
  command -v "$python" >/dev/null || { echo "bootstrap: $python not found; install Python 3.11" >&2; return 1; }
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  local pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
  echo "bootstrap: installing Python packages into $venv"
  "${pip[@]}" torch==2.13.0
  "${pip[@]}" -r "$root/packaging/requirements.txt" -r "$root/packaging/requirements-dev.txt"
  "${pip[@]}" --no-deps mediapipe==0.10.14
  "${pip[@]}" --no-deps -e "$root"
  echo "$pins" > "$stamp"
}

if [ "$mode" = uninstall ]; then
  exec bash "$root/packaging/desktop_integration.sh" uninstall
fi
install_system_packages
install_python_packages
cd "$root"
case "$mode" in
  run)
    # The desktop application, on the given photo or session (the bundled sample photo when none).
    exec "$venv/bin/facecraft" "$@"
    ;;
  test)
    "$venv/bin/ruff" check .
    exec "$venv/bin/python" -m pytest "$@"
    ;;
  install)
    # Per user: the menu entry runs this venv's facecraft (packaging/desktop_integration.sh).
    exec bash "$root/packaging/desktop_integration.sh" install "$venv/bin/facecraft"
    ;;
  *)
    echo "usage: bash packaging/bootstrap.sh run [PHOTO...] | test [PYTEST ARGS...] | install | uninstall" >&2
    exit 2
    ;;
esac
