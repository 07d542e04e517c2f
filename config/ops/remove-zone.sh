#!/bin/sh
# remove-zone ROOT ZONE: delete zone directory ROOT/sZONE (after a move or
# a merge put its data elsewhere).
set -eu
root=$1 zone=$2
dir="$root/s$zone"
if [ ! -d "$dir" ]; then
    echo "no zone directory $dir" >&2
    exit 2
fi
rm -rf "$dir"
echo "removed $dir"
