#!/bin/sh
# open-zone ROOT ZONE DATE: create zone directory ROOT/sZONE from
# ROOT/template and set its opening time (YYYYMMDD). Run by monit-noded
# with arguments already checked; never through a shell string.
set -eu
root=$1 zone=$2 date=$3
dir="$root/s$zone"
if [ ! -d "$root/template" ]; then
    echo "no template directory at $root/template" >&2
    exit 2
fi
if [ -e "$dir" ]; then
    echo "zone directory $dir exists already" >&2
    exit 3
fi
echo "creating $dir from $root/template"
cp -R "$root/template" "$dir"
printf '%s\n' "$date" > "$dir/open_time"
echo "opened zone $zone, opening time $date"
