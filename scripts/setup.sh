#!/usr/bin/env bash
# Machine set-up for Drover: system packages, node modules, the web app build.
# Run by `npm start` and `npm test` before anything else, so it must be idempotent and fast (well
# under 2 s) when everything is already there: every check below is a file test, no package manager
# is asked anything unless something is missing.
#
#   scripts/setup.sh          install what is missing (system packages only as root on Debian/Ubuntu)
#   scripts/setup.sh --check  report what is present and missing; exit 1 if anything is missing
#   scripts/setup.sh --build  only the builds (web app, compiled CLI) that are missing or stale
set -euo pipefail

cd "$(dirname "$0")/.."

MODE=install
case "${1:-}" in
  --check) MODE=check ;;
  --build) MODE=build ;;
  '') ;;
  *) echo "usage: scripts/setup.sh [--check|--build]" >&2; exit 2 ;;
esac

say() { echo "setup: $*"; }

# Package -> how to tell it is installed. Paths rather than `command -v` where PATH may mislead:
# sbin tools are off a normal user's PATH, and python3 may be a pyenv shim under /root that a
# sandboxed task cannot reach.
has_package() {
  case "$1" in
    blender) command -v blender >/dev/null ;;
    ffmpeg) command -v ffmpeg >/dev/null ;;
    zstd) command -v zstd >/dev/null ;; # reading compressed .blend headers
    chromium) command -v chromium >/dev/null || command -v chromium-browser >/dev/null ;;
    podman) command -v podman >/dev/null ;;
    runc) [ -x /usr/sbin/runc ] || [ -x /usr/bin/runc ] || command -v runc >/dev/null ;;
    catatonit) [ -x /usr/libexec/podman/catatonit ] || [ -x /usr/bin/catatonit ] ;; # podman --init
    bubblewrap) command -v bwrap >/dev/null ;;
    busybox-static) [ -x /bin/busybox ] || [ -x /usr/bin/busybox ] ;; # test container images
    python3) [ -x /usr/bin/python3 ] ;;
    # What a host task's python3 (the system's) can import beyond the standard library: the
    # examples and the scripts people bring (the original tutorial imports requests).
    python3-requests) [ -f /usr/lib/python3/dist-packages/requests/__init__.py ] ;;
    python3-numpy) [ -d /usr/lib/python3/dist-packages/numpy ] ;;
    python-is-python3) [ -e /usr/bin/python ] ;; # `python` for scripts that still call it
    redis-server) command -v redis-server >/dev/null ;;
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null ;;
    debootstrap) [ -x /usr/sbin/debootstrap ] || command -v debootstrap >/dev/null ;; # python test image
    iproute2) [ -x /usr/sbin/ip ] || [ -x /usr/bin/ip ] || [ -x /sbin/ip ] ;;
    xvfb) command -v xvfb-run >/dev/null ;; # Blender with its interface, for the add-on's panel test
    xauth) command -v xauth >/dev/null ;; # xvfb-run needs it
    *) return 1 ;;
  esac
}

PACKAGES=(blender ffmpeg zstd chromium podman runc catatonit bubblewrap busybox-static python3 python3-requests python3-numpy python-is-python3 redis-server postgresql debootstrap iproute2 xvfb xauth)

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do has_package "$p" || echo "$p"; done
}

# node_modules/.package-lock.json is rewritten by every npm install/ci, so it dates the install.
node_modules_stale() {
  [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]
}

# The web app needs a build when there is none or any source is newer than it.
web_build_stale() {
  [ -d web ] || return 1
  [ -d web/dist ] || return 0
  # The app also bundles the pure rules it shares with the coordinator (src/core).
  [ -n "$(find web/src web/index.html web/vite.config.* src/core -newer web/dist -print -quit 2>/dev/null)" ]
}

check() {
  local p status=0
  for p in "${PACKAGES[@]}"; do
    if has_package "$p"; then say "present: $p"; else say "MISSING: $p"; status=1; fi
  done
  if node_modules_stale; then say "MISSING: node_modules (npm ci needed)"; status=1; else say "present: node_modules"; fi
  if [ -d web ]; then
    if web_build_stale; then say "MISSING: web/dist is absent or older than web/src"; status=1; else say "present: web/dist"; fi
  fi
  return $status
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    say "missing system packages: ${missing[*]}"
    say "install them as root, e.g.: apt-get install -y --no-install-recommends ${missing[*]}"
    say "continuing without them (features that need them will be unavailable)"
    return 0
  fi
  say "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/drover-setup-apt.log 2>&1; then
    # One unavailable package (e.g. blender on an architecture without it) must not block the rest.
    say "installing together failed (see /tmp/drover-setup-apt.log); trying one by one"
    local p
    for p in "${missing[@]}"; do
      apt-get install -y -qq --no-install-recommends "$p" >>/tmp/drover-setup-apt.log 2>&1 || say "could not install $p"
    done
  fi
  local still
  still="$(missing_packages | tr '\n' ' ')"
  if [ -n "$still" ]; then say "still missing: $still"; else say "system packages installed"; fi
}

install_node_modules() {
  node_modules_stale || return 0
  say "installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  node scripts/keep-native-build.cjs
}

build_web() {
  web_build_stale || return 0
  say "building the web app (vite build web)"
  npx vite build web --logLevel warn
  touch web/dist # its mtime marks the build as newer than the sources it was made from
}

# The `drover` command compiled once (bin/drover.js runs it only while it is fresh, and tsx
# otherwise): each process it starts then skips about 0.5 s of TypeScript loading.
build_cli() {
  node scripts/build-cli.mjs
}

if [ "$MODE" = check ]; then
  check
  exit $?
fi

if [ "$MODE" = build ]; then
  build_web
  build_cli
  exit 0
fi

install_packages
install_node_modules
build_web
build_cli
say "ready"
