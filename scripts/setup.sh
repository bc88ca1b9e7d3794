#!/usr/bin/env bash
# One-step set-up on a fresh machine: a .venv with the CPU build of torch and reportgen.
#   bash scripts/setup.sh          -> the tool itself (non-editable install, as a user gets it)
#   bash scripts/setup.sh --test   -> editable install + test tools, Chromium and a Japanese font
# torch==2.13.0 is installed first on purpose: an unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
if [ "$mode" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q chromium fonts-ipafont-gothic
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
if [ "$mode" = "--test" ]; then
    .venv/bin/python -m pip install -q -e ".[test]"
else
    .venv/bin/python -m pip install -q .
fi
