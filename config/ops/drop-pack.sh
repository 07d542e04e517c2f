#!/bin/sh
# drop-pack XFER ZONE: delete XFER/zone-ZONE.tar.gz if it is there (the
# cleanup, and the undo, of pack-zone and of a copy).
set -eu
xfer=$1 zone=$2
rm -f "$xfer/zone-$zone.tar.gz" "$xfer/zone-$zone.tar.gz.part"
echo "dropped zone-$zone.tar.gz"
