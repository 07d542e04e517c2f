#!/bin/sh
# unmerge-zone ROOT TARGET SRC: the undo of merge-zone: delete
# ROOT/sTARGET/merged/sSRC (and merged/ when it is left empty).
set -eu
root=$1 target=$2 src=$3
rm -rf "$root/s$target/merged/s$src"
rmdir "$root/s$target/merged" 2>/dev/null || true
echo "unmerged zone $src from zone $target"
