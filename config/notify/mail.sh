#!/bin/sh
# monit notifier: one mail per event, through sendmail(8).
# In configd.toml:
#   [[notify]]
#   name = "mail-oncall"
#   command = ["/etc/monit/notify/mail.sh", "oncall@example.com"]
# Arguments: the recipients. The event comes in MONIT_* variables (see
# monit-configd(8)). $SENDMAIL overrides the sendmail command.
set -eu
if [ "$#" -eq 0 ]; then
    echo "usage: $0 RECIPIENT..." >&2
    exit 2
fi
sendmail=${SENDMAIL:-/usr/sbin/sendmail}
event=${MONIT_EVENT:-event}
what=${MONIT_NODE:-?}
[ -n "${MONIT_CHECK:-}" ] && what="$what/$MONIT_CHECK"
subject="[monit] $event: $what is ${MONIT_STATE:-?}"
[ "${MONIT_RENOTIFY:-0}" = 1 ] && subject="$subject (still)"
# Header values on one line, whatever a plugin printed.
one_line() { printf '%s' "$1" | tr '\r\n' '  '; }
{
    printf 'To: %s\n' "$(one_line "$*" | sed 's/ /, /g')"
    printf 'Subject: %s\n' "$(one_line "$subject")"
    printf 'Content-Type: text/plain; charset=utf-8\n'
    printf 'Auto-Submitted: auto-generated\n'
    printf '\n'
    printf 'Event:    %s\n' "$event"
    printf 'Node:     %s\n' "${MONIT_NODE:-}"
    [ -n "${MONIT_CHECK:-}" ] && printf 'Check:    %s\n' "$MONIT_CHECK"
    printf 'State:    %s (%s, was %s, attempt %s/%s)\n' "${MONIT_STATE:-}" \
        "${MONIT_STATE_TYPE:-}" "${MONIT_PREVIOUS_STATE:-}" "${MONIT_ATTEMPT:-}" \
        "${MONIT_MAX_ATTEMPTS:-}"
    printf 'Time:     %s\n' "${MONIT_TIME:-}"
    [ -n "${MONIT_WHO:-}" ] && printf 'Who:      %s\n' "$MONIT_WHO"
    [ -n "${MONIT_COMMENT:-}" ] && printf 'Comment:  %s\n' "$MONIT_COMMENT"
    printf '\n%s\n' "${MONIT_OUTPUT:-}"
    [ -n "${MONIT_LONG_OUTPUT:-}" ] && printf '%s\n' "$MONIT_LONG_OUTPUT"
    true
} | "$sendmail" -t -oi
