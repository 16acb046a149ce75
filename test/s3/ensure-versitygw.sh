#!/usr/bin/env bash
# The object-storage tests' S3 server: versitygw (an S3 gateway over a POSIX folder, used in production;
# nobody here wrote it), built from its Go module, pinned below, into
# ${SHIFU_RTSP_CACHE:-$HOME/.cache/shifu-rtsp}/versitygw/<version>/versitygw, whose folder is printed as the
# LAST line of stdout. About 5 minutes of compiling on 2 cores, once per machine. Test infrastructure only.
set -euo pipefail

version=v1.8.0
log() { printf '[versitygw] %s\n' "$*" >&2; }
die() { printf '[versitygw] ERROR: %s\n' "$*" >&2; exit 1; }
# shellcheck source=../support/cached-go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/cached-go-build.sh"

go_install_cached versitygw "$version" github.com/versity/versitygw/cmd/versitygw versitygw --version
