#!/bin/sh
# Install the Debian packages signet builds and tests with, when missing.
# Run as root on Debian 12; otherwise it only reports what is missing.
set -eu
here=$(dirname "$0")
pkgs=$(grep -v '^#' "$here/../contrib/debian-packages.txt" | tr -s ' \n' ' ')
missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "signet: missing Debian packages:$missing" >&2
	echo "signet: run 'make deps' as root, or apt-get install them" >&2
	exit 1
fi
echo "signet: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Daemons from these packages (postfix, knot, opendkim) must not start
# system-wide instances: the tests start their own on loopback ports.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	made_policy=1
fi
echo "postfix postfix/main_mailer_type select No configuration" |
	debconf-set-selections 2>/dev/null || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
[ "$made_policy" = 1 ] && rm -f "$policy"
exit 0
