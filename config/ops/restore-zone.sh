#!/bin/sh
# restore-zone ROOT ZONE: unpack ROOT/archive/sZONE.tar.gz back into ROOT.
set -eu
root=$1 zone=$2
archive="$root/archive/s$zone.tar.gz"
if [ ! -f "$archive" ]; then
    echo "no archive $archive" >&2
    exit 2
fi
if [ -e "$root/s$zone" ]; then
    echo "zone directory $root/s$zone exists already" >&2
    exit 3
fi
tar -xzf "$archive" -C "$root"
rm -f "$archive"
echo "restored zone $zone"
