#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# make demo: one real sign-in through libpam (pamtester under pam_wrapper)
# against the bundled mock NextPay API.  Nothing is installed into /etc and
# nothing is left running.  DEMO_MANUAL=1 waits for you to click Approve in a
# browser instead of approving by itself.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ACCOUNT=$(id -un)
T=$(mktemp -d /tmp/pam_nextpay-demo.XXXXXX)
chmod 755 "$T"
MOCK_PID=""

cleanup() {
	if [ -n "$MOCK_PID" ]; then
		kill "$MOCK_PID" 2>/dev/null || true
		wait "$MOCK_PID" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

if [ "${DEMO_MANUAL:-0}" = 1 ]; then
	set --
else
	set -- --auto approve --auto-user usr_demo --auto-after 5
fi
/usr/bin/python3 tests/mock/nextpay_mock.py --dir "$T/mock" "$@" &
MOCK_PID=$!
build/tests/mockctl --dir "$T/mock" wait-ready --timeout 30
API_URL=$(build/tests/mockctl --dir "$T/mock" url)

mkdir -p "$T/services"
cat >"$T/pam_nextpay.conf" <<CONF
api_url = $API_URL
ca_file = $T/mock/ca.crt
usermap = $T/pam_nextpay.users
helper  = $ROOT/build/nextpay-helper
poll_interval = 1
# The demo never touches a cache this machine may have.
cache = no
CONF
printf '# the mock API'"'"'s demo person may sign in as the account running the demo\nusr_demo %s\n' \
	"$ACCOUNT" >"$T/pam_nextpay.users"
printf 'auth required %s config=%s wait=poll\naccount required pam_permit.so\n' \
	"$ROOT/build/pam_nextpay.so" "$T/pam_nextpay.conf" >"$T/services/nextpay-demo"
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$T/services/other"

echo "pam_nextpay demo: signing in as '$ACCOUNT' through libpam, against the mock API at $API_URL"
if [ "${DEMO_MANUAL:-0}" = 1 ]; then
	echo "Open the URL below in a browser on this machine (accept the test certificate),"
	echo "pick a person and click Approve. Only 'Demo Person' maps to '$ACCOUNT'."
else
	echo "The mock approves as 'Demo Person' (usr_demo) after 5 seconds by itself."
fi
echo "------------------------------------------------------------------------"
status=0
env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" \
	pamtester nextpay-demo "$ACCOUNT" authenticate || status=$?
echo "------------------------------------------------------------------------"
if [ "$status" -eq 0 ]; then
	who=$(build/tests/mockctl --dir "$T/mock" stats |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["codes"][-1]["user"])')
	echo "signed in as $ACCOUNT: NextPay identity $who approved it, and the identity map allows it for $ACCOUNT"
else
	echo "sign-in FAILED (pamtester exit $status): see the message above" >&2
fi
exit "$status"
