#!/usr/bin/env bash
# Builds the two OCI images orch's runtime tests import into containerd, from scratch and
# without a registry (none is reachable from CI):
#   DIR/pause.tar    localhost/pause:3.6       a static pause binary, entrypoint /pause
#   DIR/busybox.tar  localhost/busybox:latest  Debian's static busybox with applet links,
#                                              entrypoint /bin/sh
# Each tar is an OCI image layout whose only reference is the tag ("3.6", "latest"), so
#   ctr -n k8s.io images import --base-name localhost/pause DIR/pause.tar
# names the image localhost/pause:3.6. (Import under fully-qualified names: CRI turns a
# short name "x" into "docker.io/library/x" and then finds nothing.)
#
# Usage: scripts/build-test-images.sh DIR
# Idempotent: does nothing when both tars exist and are newer than this script. Safe to
# run concurrently for the same DIR (a lock serializes builders; tars appear atomically).
# Needs gcc + libc6-dev, busybox-static and umoci (scripts/install-deps.sh installs them).
# Exits 2 when a tool is missing, 1 on any other failure, with a message on stderr.
set -euo pipefail

die() { echo "build-test-images: $*" >&2; exit 1; }
trap 'echo "build-test-images: failed (line $LINENO: $BASH_COMMAND)" >&2' ERR
(($# == 1)) || { echo "usage: $0 DIR" >&2; exit 1; }
dir=$1
script=$(readlink -f "$0")
# The applets the tests may call; busybox picks the applet from the name it runs as.
applets=(sh sleep httpd cat echo ls wget kill true false nc grep)

up_to_date() { [[ $dir/pause.tar -nt $script && $dir/busybox.tar -nt $script ]]; }
up_to_date && exit 0

missing=()
command -v gcc >/dev/null || missing+=("gcc (package gcc)")
command -v umoci >/dev/null || missing+=("umoci (package umoci)")
[[ -x /bin/busybox ]] && /bin/busybox --list >/dev/null 2>&1 ||
  missing+=("/bin/busybox (package busybox-static)")
if ((${#missing[@]})); then
  echo "build-test-images: missing ${missing[*]}; run scripts/install-deps.sh" >&2
  exit 2
fi
available=$(/bin/busybox --list)
for a in "${applets[@]}"; do
  grep -qx "$a" <<<"$available" || die "/bin/busybox has no applet '$a'"
done

mkdir -p "$dir" || die "cannot create $dir"
exec 9>"$dir/.build.lock" || die "cannot open $dir/.build.lock"
flock 9
up_to_date && exit 0  # another builder finished while this one waited

work=$(mktemp -d "$dir/.build.XXXXXX") || die "cannot create a work directory in $dir"
trap 'rm -rf "$work"' EXIT

# A sandbox's pause container must hold its namespaces open, do nothing else, and exit
# at once (status 0) when the runtime stops it.
mkdir -p "$work/rootfs-pause"
cat >"$work/pause.c" <<'C'
#include <signal.h>
#include <unistd.h>
static void Exit(int signal_number) { (void)signal_number; _exit(0); }
int main(void) {
  signal(SIGTERM, Exit);
  signal(SIGINT, Exit);
  for (;;) pause();
}
C
gcc -static -Os -s -o "$work/rootfs-pause/pause" "$work/pause.c" ||
  die "gcc -static failed (is libc6-dev installed?)"

mkdir -p "$work/rootfs-busybox/bin"
cp /bin/busybox "$work/rootfs-busybox/bin/busybox"
for a in "${applets[@]}"; do ln -s busybox "$work/rootfs-busybox/bin/$a"; done

# make_image NAME TAG ENTRYPOINT...: packs $work/rootfs-NAME as one layer into the OCI
# layout tar $work/NAME.tar.
make_image() {
  local name=$1 tag=$2 layout=$work/layout-$1 bundle=$work/bundle-$1
  shift 2
  local entrypoint=()
  for arg in "$@"; do entrypoint+=(--config.entrypoint "$arg"); done
  {
    umoci init --layout "$layout" &&
      umoci new --image "$layout:$tag" &&
      umoci unpack --rootless --image "$layout:$tag" "$bundle" &&
      cp -a "$work/rootfs-$name/." "$bundle/rootfs/" &&
      umoci repack --image "$layout:$tag" "$bundle" &&
      umoci config --image "$layout:$tag" "${entrypoint[@]}" &&
      umoci gc --layout "$layout" &&
      tar -C "$layout" -cf "$work/$name.tar" .
  } >"$work/umoci-$name.log" 2>&1 ||
    die "packing image $name:$tag failed: $(tail -n 5 "$work/umoci-$name.log")"
}
make_image pause 3.6 /pause
make_image busybox latest /bin/sh

# Same file system, so each rename is atomic: an importer never sees half a tar.
mv -f "$work/pause.tar" "$dir/pause.tar"
mv -f "$work/busybox.tar" "$dir/busybox.tar"
echo "build-test-images: built $dir/pause.tar and $dir/busybox.tar"
