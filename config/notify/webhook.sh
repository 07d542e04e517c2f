#!/bin/sh
# monit notifier: POSTs the event as one JSON object to a URL with curl(1).
# In configd.toml:
#   [[notify]]
#   name = "chat"
#   command = ["/etc/monit/notify/webhook.sh", "https://hooks.example.com/T0/B0"]
# Arguments: the URL, then extra curl options if needed (e.g. -H
# "Authorization: Bearer ..."). The body holds every MONIT_* variable,
# names lower-cased without the prefix: {"event": ..., "node": ..., ...}.
set -eu
if [ "$#" -eq 0 ]; then
    echo "usage: $0 URL [CURL-OPTION]..." >&2
    exit 2
fi
url=$1
shift
# A JSON string: backslash, quote, tab, CR and newline escaped, other
# control characters dropped.
json_str() {
    printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037' | awk '
        BEGIN { ORS = ""; printf "\"" }
        {
            gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, "\\r")
            if (NR > 1) printf "\\n"
            print
        }
        END { printf "\"" }'
}
body="{"
sep=""
for name in $(env | sed -n 's/^MONIT_\([A-Z0-9_]*\)=.*/\1/p' | sort -u); do
    eval "value=\${MONIT_$name}"
    key=$(printf '%s' "$name" | tr 'A-Z' 'a-z')
    body="$body$sep\"$key\":$(json_str "$value")"
    sep=","
done
body="$body}"
printf '%s' "$body" | curl --silent --show-error --fail --max-time 20 \
    -X POST -H 'Content-Type: application/json' --data-binary @- "$@" "$url" >/dev/null
