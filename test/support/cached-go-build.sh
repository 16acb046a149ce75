# Sourced by the scripts that build test infrastructure from Go modules (kube-apiserver and etcd, the
# cluster's binaries, kube-router, versitygw): where the cache is, which go to use, and the build lock. Each
# build lands in ${SHIFU_RTSP_CACHE:-$HOME/.cache/shifu-rtsp}/<name>/<version>/, outside the repository, and
# a later run (or a concurrent one, after the lock) finds it there. Never product code.
# The sourcing script defines log() and die() first.

cache_root="${SHIFU_RTSP_CACHE:-${HOME:?HOME is not set}/.cache/shifu-rtsp}"

# Sets go_cmd: $GO, else go on PATH, else /usr/local/go/bin/go. $1 says what it builds, for the error.
find_go() {
  go_cmd="${GO:-}"
  if [[ -z "$go_cmd" ]]; then
    if command -v go >/dev/null 2>&1; then go_cmd="$(command -v go)"
    elif [[ -x /usr/local/go/bin/go ]]; then go_cmd=/usr/local/go/bin/go
    else die "no Go toolchain found (put go on PATH or set GO=/path/to/go); it is needed to build $1"
    fi
  fi
  [[ -x "$go_cmd" ]] || die "GO=$go_cmd is not an executable go command"
}

# Holds the build lock of $cache_root/$1 on fd 9 until the script exits: one build at a time per name.
take_build_lock() {
  mkdir -p "$cache_root/$1"
  exec 9>"$cache_root/$1/.lock"
  flock 9
}

# go_install_cached NAME VERSION PACKAGE BINARY [CHECK_ARGS...]: `go install PACKAGE@VERSION` (static, stripped)
# into $cache_root/NAME/VERSION/BINARY unless it is there; runs BINARY CHECK_ARGS to see that it works; prints
# the folder as the LAST line of stdout.
go_install_cached() {
  local name="$1" version="$2" package="$3" binary="$4"
  shift 4
  local dest="$cache_root/$name/$version"
  if [[ -x "$dest/$binary" ]]; then printf '%s\n' "$dest"; return 0; fi
  find_go "$name"
  take_build_lock "$name"
  if [[ -x "$dest/$binary" ]]; then printf '%s\n' "$dest"; return 0; fi   # built while we waited
  local tmp start=$SECONDS
  tmp="$(mktemp -d "$cache_root/$name/.build.XXXXXX")"
  # shellcheck disable=SC2064 # the folder is fixed now
  trap "rm -rf '$tmp'" EXIT
  log "building $package@$version (one-off; cached in $dest)"
  (cd "$tmp" && CGO_ENABLED=0 GOBIN="$tmp/bin" GOFLAGS="-trimpath -buildvcs=false" \
    "$go_cmd" install -ldflags='-s -w' "$package@$version" >&2) \
    || die "building $name failed (is the Go module proxy reachable?)"
  "$tmp/bin/$binary" "$@" >&2 || die "the built $binary does not run"
  chmod 755 "$tmp/bin"
  rm -rf "$dest"
  mv "$tmp/bin" "$dest"
  log "built in $((SECONDS - start)) s"
  printf '%s\n' "$dest"
}
