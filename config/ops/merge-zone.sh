#!/bin/sh
# merge-zone ROOT TARGET SRC: copy zone SRC's data into zone TARGET's
# directory, under ROOT/sTARGET/merged/sSRC. SRC's directory is left as it
# is (the runbook archives it afterwards).
set -eu
root=$1 target=$2 src=$3
into="$root/s$target"
from="$root/s$src"
if [ ! -d "$into" ]; then
    echo "no target zone directory $into" >&2
    exit 2
fi
if [ ! -d "$from" ] || [ ! -r "$from" ] || [ ! -x "$from" ]; then
    echo "zone directory $from is missing or unreadable" >&2
    exit 2
fi
if [ -e "$into/merged/s$src" ]; then
    echo "$into/merged/s$src exists already: zone $src was merged before?" >&2
    exit 3
fi
mkdir -p "$into/merged"
cp -R "$from" "$into/merged/.s$src.part"
mv "$into/merged/.s$src.part" "$into/merged/s$src"
echo "merged zone $src into zone $target"
