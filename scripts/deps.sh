#!/usr/bin/env bash
# Installs the Debian packages PainFace needs, if any is missing (apt-get update first,
# one retry: a first install has been seen to fail halfway on a fresh machine).
set -euo pipefail
browser=0
pkgs=(libopenblas-dev liblapacke-dev libjpeg-dev libpng-dev pkg-config ffmpeg)   # ffmpeg: video files (run, not linked)
for a in "$@"; do
  case "$a" in
    --qemu) pkgs+=(qemu-user libc6-dev-arm64-cross gcc-aarch64-linux-gnu) ;;   # cross libc, binutils and libgcc for clang --target=aarch64
    --browser) browser=1 ;;   # optional: the report pages rendered headless (tools/browser_check.py)
  esac
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  for attempt in 1 2; do
    if $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
      return 0
    fi
    echo "apt-get failed (attempt $attempt)" >&2
    sleep 3
  done
  return 1
}
install "${pkgs[@]}"
# without a browser the page check skips with a message; the rest does not need it
if [ "$browser" = 1 ] && ! install chromium; then
  echo "chromium could not be installed: the report pages will not be rendered" >&2
fi
exit 0
