#!/usr/bin/env bash
# Installs the Debian packages PainFace needs, if any is missing (apt-get update first,
# one retry: a first install has been seen to fail halfway on a fresh machine).
set -euo pipefail
pkgs=(libopenblas-dev liblapacke-dev libjpeg-dev libpng-dev pkg-config ffmpeg)   # ffmpeg: video files (run, not linked)
for a in "$@"; do
  case "$a" in
    --qemu) pkgs+=(qemu-user libc6-dev-arm64-cross gcc-aarch64-linux-gnu) ;;   # cross libc, binutils and libgcc for clang --target=aarch64
    --browser) pkgs+=(chromium) ;;   # the report pages rendered headless (tools/browser_check.py)
  esac
done
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
for attempt in 1 2; do
  if $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "apt-get failed (attempt $attempt)" >&2
  sleep 3
done
exit 1
