#!/usr/bin/env bash
# Print the storage driver for containers/storage.conf: "overlay" when this kernel and file
# system can mount an overlay (as root), "vfs" otherwise.
set -o nounset -o pipefail

probe=$(mktemp -d /var/tmp/overlay-probe.XXXXXX) || { echo vfs; exit 0; }
mkdir -p "$probe"/{lower,upper,work,merged}
if mount -t overlay overlay \
    -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
    "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"
    echo overlay
else
    echo vfs
fi
rm -rf "$probe"
