#!/bin/sh
# make run: signetd in the foreground on the embedded demo configuration
# (signetd --demo: listen 127.0.0.1:2525, tenant "local" = 127.0.0.0/8
# owning example.com, keys in ./var/keys, signed mail written to
# ./var/outbox as one .eml file per message).
#
# First run: generate example.com's s1/s2 keys with signetctl and print
# the DNS records to publish.  Later runs reuse the keys.
set -eu

BUILD=${BUILD:-build}
SIGNETD=$BUILD/bin/signetd
SIGNETCTL=$BUILD/bin/signetctl
VAR=./var

if [ ! -x "$SIGNETD" ]; then
	echo "run-demo: $SIGNETD is missing; run make first" >&2
	exit 1
fi

# signetd refuses a spool or key store readable by others (RS-02, KY-02).
umask 077
mkdir -p "$VAR/outbox" "$VAR/spool" "$VAR/keys"
chmod 0700 "$VAR/spool" "$VAR/keys"

if [ ! -f "$VAR/keys/example.com/state.yaml" ]; then
	echo "run-demo: first run, generating keys for example.com (s1, s2)"
	if ! "$SIGNETCTL" keys init example.com --keystore "$VAR/keys"; then
		echo "run-demo: signetctl keys init failed" >&2
		exit 1
	fi
	echo
	echo "run-demo: publish the records above to sign for real;"
	echo "run-demo: for local tests they are not needed."
fi

cat <<EOF

signetd demo: SMTP on 127.0.0.1:2525, signed mail in $VAR/outbox
  try:  swaks --server 127.0.0.1:2525 --from you@example.com \\
              --to someone@example.net --header 'From: you@example.com'
  stop: Ctrl-C (SIGINT drains open transactions, then exits)

EOF
exec "$SIGNETD" --demo -f
