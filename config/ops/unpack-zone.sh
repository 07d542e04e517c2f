#!/bin/sh
# unpack-zone ROOT XFER ZONE: unpack XFER/zone-ZONE.tar.gz (copied here by
# a runbook) into ROOT/sZONE, then delete the tarball.
set -eu
root=$1 xfer=$2 zone=$3
in="$xfer/zone-$zone.tar.gz"
dir="$root/s$zone"
if [ ! -f "$in" ]; then
    echo "no $in to unpack" >&2
    exit 2
fi
if [ -e "$dir" ]; then
    echo "zone directory $dir exists already" >&2
    exit 3
fi
tmp="$root/.unpack-$zone"
rm -rf "$tmp"
mkdir -p "$tmp"
tar -xzf "$in" -C "$tmp"
mv "$tmp/s$zone" "$dir"
rmdir "$tmp"
rm -f "$in"
echo "unpacked zone $zone into $dir"
