#!/bin/bash
# Mount a journaled ext4 (mkfs.ext4's default) on a loop device, for benchmarks that create many
# files: on an ext4 without a journal each new file costs a scan past every inode deleted in the
# last 12 hours (benchmarks/bench_issue.py's docstring). Needs root and a loop device.
#   bash benchmarks/journaled_ext4.sh [MOUNT_POINT] [SIZE]     (default /mnt/ext4j 4G)
#   python benchmarks/bench_issue.py --compare /tmp/landed-issue --dir /mnt/ext4j/bench
set -euo pipefail
point=${1:-/mnt/ext4j}
size=${2:-4G}
image=${EXT4_IMAGE:-/var/tmp/certgen-bench-ext4.img}
if mountpoint -q "$point"; then
    echo "$point is mounted already"
    exit 0
fi
truncate -s "$size" "$image"
mkfs.ext4 -q -F "$image"
mkdir -p "$point"
mount -o loop "$image" "$point"
echo "journaled ext4 on $point (image $image); undo: umount $point && rm $image"
