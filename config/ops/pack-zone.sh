#!/bin/sh
# pack-zone ROOT XFER ZONE: tar zone directory ROOT/sZONE into
# XFER/zone-ZONE.tar.gz (XFER is the node's transfer_dir), for a runbook to
# copy to another node. The zone directory is left as it is.
set -eu
root=$1 xfer=$2 zone=$3
dir="$root/s$zone"
out="$xfer/zone-$zone.tar.gz"
if [ ! -d "$dir" ] || [ ! -r "$dir" ] || [ ! -x "$dir" ]; then
    echo "zone directory $dir is missing or unreadable" >&2
    exit 2
fi
if [ -e "$out" ]; then
    echo "$out exists already (a move or merge of zone $zone left it?)" >&2
    exit 3
fi
mkdir -p "$xfer"
# Written under another name, renamed when whole.
tar -czf "$out.part" -C "$root" "s$zone"
mv "$out.part" "$out"
echo "packed zone $zone into $out ($(wc -c < "$out") bytes)"
