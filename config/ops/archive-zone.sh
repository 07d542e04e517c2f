#!/bin/sh
# archive-zone ROOT ZONE: tar zone ZONE into ROOT/archive/sZONE.tar.gz
# and remove its directory.
set -eu
root=$1 zone=$2
dir="$root/s$zone"
if [ ! -d "$dir" ]; then
    echo "no zone directory $dir" >&2
    exit 2
fi
mkdir -p "$root/archive"
tar -czf "$root/archive/s$zone.tar.gz" -C "$root" "s$zone"
rm -rf "$dir"
echo "archived zone $zone to $root/archive/s$zone.tar.gz"
