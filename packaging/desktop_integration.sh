#!/usr/bin/env bash
# Per-user desktop integration of FaceCraft (freedesktop.org / XDG): menu entry, icon, and the
# MIME type of .facecraft session files (the entry is also listed for JPEG, PNG, WebP and TIFF).
#
#   bash packaging/desktop_integration.sh install EXECUTABLE   # e.g. .venv/bin/facecraft, dist/FaceCraft/FaceCraft
#   bash packaging/desktop_integration.sh uninstall
#
# Writes only under $XDG_DATA_HOME (default ~/.local/share): applications/facecraft.desktop,
# mime/packages/facecraft-session.xml, icons/hicolor/<size>/{apps,mimetypes}/... Then refreshes
# the desktop, MIME and icon caches where their tools are installed. Uninstall removes exactly
# those files and refreshes the caches again. No root needed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
sizes=(16 24 32 48 64 128 256)
app_icon=facecraft
mime_icon=application-x-facecraft-session
# The icons: resources/icons in a checkout, beside the executable's package in an install.
icons=${FACECRAFT_ICONS:-$root/resources/icons}

installed_files() {
  echo "$data_home/applications/facecraft.desktop"
  echo "$data_home/mime/packages/facecraft-session.xml"
  echo "$data_home/icons/hicolor/scalable/apps/$app_icon.svg"
  echo "$data_home/icons/hicolor/scalable/mimetypes/$mime_icon.svg"
  for size in "${sizes[@]}"; do
    echo "$data_home/icons/hicolor/${size}x${size}/apps/$app_icon.png"
    echo "$data_home/icons/hicolor/${size}x${size}/mimetypes/$mime_icon.png"
  done
}

refresh_caches() {
  if command -v update-desktop-database >/dev/null; then
    update-desktop-database -q "$data_home/applications" 2>/dev/null || true
  fi
  if command -v update-mime-database >/dev/null && [ -d "$data_home/mime" ]; then
    mkdir -p "$data_home/mime/packages"
    update-mime-database "$data_home/mime"
    forget_empty_mime_database
  fi
  if command -v gtk-update-icon-cache >/dev/null && [ -f "$data_home/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -f -t "$data_home/icons/hicolor" 2>/dev/null || true
  fi
}

forget_empty_mime_database() {
  # With no package left (ours was the only one), the per-user database update-mime-database
  # wrote describes nothing: remove its files and its (now empty) media-type folders.
  local mime=$data_home/mime
  [ -z "$(ls -A "$mime/packages")" ] || return 0
  local generated=(XMLnamespaces aliases generic-icons globs globs2 icons magic mime.cache subclasses
                   treemagic types version)
  local name
  for name in "${generated[@]}"; do rm -f "$mime/$name"; done
  find "$mime" -mindepth 1 -type d -empty -delete
  rmdir "$mime" 2>/dev/null || true
}

desktop_exec() {
  # Quote per the Desktop Entry spec: backslash, double quote, backquote and dollar escaped.
  local path=$1
  path=${path//\\/\\\\\\\\}
  path=${path//\"/\\\\\"}
  path=${path//\`/\\\\\`}
  path=${path//\$/\\\\\$}
  printf '"%s"' "$path"
}

install() {
  local executable=$1
  [ -x "$executable" ] || { echo "desktop_integration: $executable is not an executable file" >&2; exit 1; }
  executable=$(cd "$(dirname "$executable")" && pwd)/$(basename "$executable")
  [ -f "$icons/facecraft.svg" ] || { echo "desktop_integration: no icons in $icons" >&2; exit 1; }
  local quoted
  quoted=$(desktop_exec "$executable")
  mkdir -p "$data_home/applications" "$data_home/mime/packages"
  sed -e "s|^Exec=.*|Exec=$quoted %f|" -e "s|^TryExec=.*|TryExec=$executable|" \
    "$root/packaging/facecraft.desktop" > "$data_home/applications/facecraft.desktop.tmp"
  mv "$data_home/applications/facecraft.desktop.tmp" "$data_home/applications/facecraft.desktop"
  cp "$root/packaging/facecraft-session.xml" "$data_home/mime/packages/facecraft-session.xml"
  for kind in apps mimetypes; do
    local name=$app_icon
    [ "$kind" = mimetypes ] && name=$mime_icon
    mkdir -p "$data_home/icons/hicolor/scalable/$kind"
    cp "$icons/facecraft.svg" "$data_home/icons/hicolor/scalable/$kind/$name.svg"
    for size in "${sizes[@]}"; do
      mkdir -p "$data_home/icons/hicolor/${size}x${size}/$kind"
      cp "$icons/facecraft_$size.png" "$data_home/icons/hicolor/${size}x${size}/$kind/$name.png"
    done
  done
  refresh_caches
  echo "desktop_integration: FaceCraft installed for $(id -un) in $data_home (runs $executable)"
}

uninstall() {
  local path
  while read -r path; do
    rm -f "$path"
    rmdir -p --ignore-fail-on-non-empty "$(dirname "$path")" 2>/dev/null || true
  done < <(installed_files)
  refresh_caches
  local applications=$data_home/applications
  if [ -d "$applications" ] && ! compgen -G "$applications/*.desktop" >/dev/null; then
    rm -f "$applications/mimeinfo.cache"  # a cache of no entry at all
    rmdir "$applications" 2>/dev/null || true
  fi
  echo "desktop_integration: FaceCraft's menu entry, icons and file type removed from $data_home"
}

case "${1:-}" in
  install)
    [ $# -eq 2 ] || { echo "usage: desktop_integration.sh install EXECUTABLE" >&2; exit 2; }
    install "$2"
    ;;
  uninstall) uninstall ;;
  files) installed_files ;;
  *)
    echo "usage: desktop_integration.sh install EXECUTABLE | uninstall | files" >&2
    exit 2
    ;;
esac
