#!/usr/bin/env bash
# Start the FaceCraft GUI on an X display and check that its main window comes up with its icon.
#
#   xvfb-run -a bash packaging/gui_came_up.sh COMMAND [ARGS...]   # e.g. .venv/bin/facecraft
#
# Passes (exit 0) when, within FACECRAFT_GUI_TIMEOUT seconds (default 90), a top-level window whose
# title ends in "FaceCraft" exists and carries an icon (_NET_WM_ICON); the application is then closed.
# Needs xwininfo and xprop (Debian: x11-utils).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: gui_came_up.sh COMMAND [ARGS...]" >&2; exit 2; }
[ -n "${DISPLAY:-}" ] || { echo "gui_came_up: no DISPLAY; run it under xvfb-run" >&2; exit 2; }
timeout_s=${FACECRAFT_GUI_TIMEOUT:-90}
log=$(mktemp)
"$@" >"$log" 2>&1 &
app=$!
trap 'kill "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true; rm -f "$log"' EXIT

start=$SECONDS
while [ $((SECONDS - start)) -lt "$timeout_s" ]; do
  if ! kill -0 "$app" 2>/dev/null; then
    echo "gui_came_up: the application exited before its window came up; its output:" >&2
    cat "$log" >&2
    exit 1
  fi
  # Window ids whose title ends in FaceCraft (the title names the open photo first).
  ids=$(xwininfo -root -tree 2>/dev/null | sed -n 's/^ *\(0x[0-9a-f]*\) "\([^"]*FaceCraft\)".*/\1/p' || true)
  for id in $ids; do
    # -len keeps xprop from printing the whole icon (a pipe to grep -q could kill it with SIGPIPE).
    icon=$(xprop -id "$id" -len 16 _NET_WM_ICON 2>/dev/null || true)
    if [[ $icon == *"_NET_WM_ICON(CARDINAL) = "* ]]; then
      echo "gui_came_up: window $id \"FaceCraft\" with its icon after $((SECONDS - start)) s"
      exit 0
    fi
  done
  sleep 1
done
echo "gui_came_up: no FaceCraft window with an icon within $timeout_s s; the application's output:" >&2
cat "$log" >&2
exit 1
