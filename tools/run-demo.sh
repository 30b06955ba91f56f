#!/bin/sh
# make run: start signetd on the embedded demo configuration.
set -eu
if [ ! -x build/bin/signetd ]; then
	echo "signetd arrives with the proxy; for now try build/bin/signetctl"
	exit 0
fi
