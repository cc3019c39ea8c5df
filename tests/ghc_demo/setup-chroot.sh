#!/usr/bin/env bash
# Sets up (idempotently) the outside world of the GHC demo (tests/ghc_demo.rs, bench/ghc-demo.sh):
# a Debian trixie chroot with GHC 9.6.6, the libghc-*-dev packages turtle 1.6.2 needs (with its
# new-deps flag), Nix 2.26.3 configured with `sandbox = false` (so a builder can run the chroot's
# ghc) and non-root build users, and git. Needs root and Debian's registry.
#
#   tests/ghc_demo/setup-chroot.sh [DIR]     DIR defaults to $FGD_GHC_CHROOT or /var/tmp/fgd-ghc-trixie
#
# Kept between runs where the machine keeps /var/tmp: a second run checks a stamp and only
# remounts /proc and /dev/pts. To delete the chroot, unmount DIR/dev/pts and DIR/proc first
# (then rm -rf --one-file-system DIR). Prints the elapsed seconds of each step, for docs/incremental.md's CI cost.
set -euo pipefail
dir=${1:-${FGD_GHC_CHROOT:-/var/tmp/fgd-ghc-trixie}}
suite=trixie
# Everything turtle's library needs that GHC does not ship (turtle.cabal, flag new-deps).
packages=(nix-bin git ca-certificates ghc
  libghc-async-dev libghc-clock-dev libghc-foldl-dev libghc-hostname-dev libghc-managed-dev
  libghc-optional-args-dev libghc-streaming-commons-dev libghc-temporary-dev
  libghc-unix-compat-dev libghc-ansi-wl-pprint-dev libghc-optparse-applicative-dev)
stamp="$dir/.fgd-ghc-demo-ready"
want_stamp="v3 ${packages[*]}"

step_start=$(date +%s)
step() { local now; now=$(date +%s); echo "setup-chroot: $1 ($((now - step_start)) s)"; step_start=$now; }

# /proc for GHC and Nix, /dev/pts for Nix's build logs (a pseudoterminal per build); a devpts
# instance of its own, so nothing of the host's terminals is visible inside.
mount_fs() {
  mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
  mkdir -p "$dir/dev/pts"
  mountpoint -q "$dir/dev/pts" || mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$dir/dev/pts"
}

if [ "$(cat "$stamp" 2>/dev/null)" = "$want_stamp" ]; then
  mount_fs
  exit 0
fi

command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
if [ ! -x "$dir/usr/bin/apt-get" ]; then
  rm -rf "$dir"   # a half-done debootstrap cannot be resumed
  nice -n 10 debootstrap --variant=minbase "$suite" "$dir" http://deb.debian.org/debian >/dev/null
  step debootstrap
fi
echo "deb http://deb.debian.org/debian $suite main" > "$dir/etc/apt/sources.list"
cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
mount_fs
# The downloaded .debs (~200 MB) are not kept.
chroot "$dir" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive nice -n 10 apt-get install -y -qq --no-install-recommends "$@" >/dev/null && apt-get clean' sh "${packages[@]}"
step "apt-get install ghc, libghc-*-dev, nix-bin"

# Nix: no sandbox (the builder runs /usr/bin/ghc of the chroot), builds as the nixbld users,
# never as root: a root builder hides permission errors of restored read-only store files.
# One job on one core: the machines this runs on are shared (and timings comparable).
mkdir -p "$dir/etc/nix"
cat > "$dir/etc/nix/nix.conf" <<'CONF'
sandbox = false
build-users-group = nixbld
substituters =
experimental-features = nix-command
max-jobs = 1
cores = 1
CONF
chroot "$dir" sh -c 'getent group nixbld >/dev/null || groupadd -r nixbld
  for i in 1 2; do
    id nixbld$i >/dev/null 2>&1 || useradd -r -g nixbld -G nixbld -d /var/empty -s /usr/sbin/nologin nixbld$i
  done'
chroot "$dir" sh -c 'nix --version && ghc --numeric-version && git --version'
echo "$want_stamp" > "$stamp"
step configured
