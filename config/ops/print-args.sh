#!/bin/sh
# print-args ARG...: prints the number of arguments, then each one in hex
# on its own line, so a test can see exactly what reached the program.
printf 'argc=%s\n' "$#"
for a in "$@"; do
    printf '%s' "$a" | od -An -v -tx1 | tr -d ' \n'
    echo
done
