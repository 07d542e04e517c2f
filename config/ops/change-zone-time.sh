#!/bin/sh
# change-zone-time ROOT ZONE DATE: set the opening time of zone ZONE.
set -eu
root=$1 zone=$2 date=$3
dir="$root/s$zone"
if [ ! -d "$dir" ]; then
    echo "no zone directory $dir" >&2
    exit 2
fi
old=$(cat "$dir/open_time" 2>/dev/null || echo none)
printf '%s\n' "$date" > "$dir/open_time"
echo "zone $zone opening time $old -> $date"
