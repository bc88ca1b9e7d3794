#!/usr/bin/env bash
# One-step set-up on a fresh machine: a .venv with the CPU build of torch and reportgen.
#   bash scripts/setup.sh          -> the tool itself (non-editable install, as a user gets it)
#                                     and a Japanese font (for --png/--svg pictures)
#   bash scripts/setup.sh --test   -> editable install + test tools, Chromium and a Japanese font
# torch==2.13.0 is installed first on purpose: an unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
packages=()
# A font with Japanese glyphs: vl-convert draws the --png/--svg pictures with it (reportgen.images).
if ! ls /usr/share/fonts/opentype/ipafont-gothic/ipag*.ttf >/dev/null 2>&1 \
    && ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=ja 2>/dev/null)" ]; }; then
    packages+=(fonts-ipafont-gothic)
fi
if [ "$mode" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
    packages+=(chromium)
fi
if [ "${#packages[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    if ! command -v apt-get >/dev/null 2>&1 \
        || ! { $sudo apt-get update -q && $sudo apt-get install -y -q "${packages[@]}"; }; then
        echo "setup.sh: could not install ${packages[*]} with apt-get; install them (or another Japanese font) yourself" >&2
        # The tool runs without them (only --png/--svg need the font); the test suite does not.
        if [ "$mode" = "--test" ]; then exit 1; fi
    fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
if [ "$mode" = "--test" ]; then
    .venv/bin/python -m pip install -q -e ".[test]"
else
    .venv/bin/python -m pip install -q .
fi
