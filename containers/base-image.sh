#!/usr/bin/env bash
# The local stand-in for python:3.11-slim: Debian bookworm's minimal root file system with
# Python 3.11 and its venv module, made by debootstrap from the mirror apt already uses and
# imported into podman's storage. Nothing is pulled from a registry.
#
#   containers/base-image.sh localhost/python-base:3.11
#
# Cached: it does nothing when the image exists (`podman rmi` it to rebuild).
# Needs root, debootstrap and podman, and CONTAINERS_CONF/CONTAINERS_STORAGE_CONF (images.mk).
set -o errexit -o nounset -o pipefail

image=${1:?usage: $0 IMAGE}
suite=bookworm

if podman image exists "$image"; then
    echo "base image $image: cached"
    exit 0
fi

# The first mirror apt uses for $suite/main (e.g. http://deb.debian.org/debian).
mirror=$(apt-cache policy | awk -v want="$suite/main" '$3 == want && $2 ~ /^https?:/ { print $2; exit }')
if [[ -z "$mirror" ]]; then
    echo "no $suite/main mirror in apt's sources (apt-cache policy)" >&2
    exit 1
fi

rootfs=$(mktemp -d /var/tmp/python-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

echo "base image $image: debootstrap $suite from $mirror"
# python3-venv brings ensurepip and its pip wheel, all the Dockerfile needs; python3-pip (pip
# for the system Python) is left out: PEP 668 forbids using it, and the images never do.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2
    exit 1
}
rm -f "$rootfs.log"

# What a slim image leaves out: downloaded .debs, apt lists, docs, man pages, logs, and
# files podman provides at run time.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/var/log/* "$rootfs"/etc/hostname "$rootfs"/etc/resolv.conf

python=$(chroot "$rootfs" python3 --version)
tar --numeric-owner --xattrs -C "$rootfs" -c . |
    podman import --quiet \
        --message "debootstrap --variant=minbase $suite from $mirror" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        - "$image" >/dev/null
echo "base image $image: $python, $(podman image inspect --format '{{.Size}}' "$image") bytes"
