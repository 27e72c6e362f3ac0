/* SPDX-License-Identifier: BSD-2-Clause */
#include "helper/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Capability numbers are below 64 (two 32-bit words); the kernel says where they end. */
#define CAP_NUMBERS 64

typedef struct __user_cap_data_struct cap_words[_LINUX_CAPABILITY_U32S_3];

static int lookup_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t err_size)
{
	struct passwd pw;
	struct passwd *found = NULL;
	char buf[16384];
	int rc = getpwnam_r(user, &pw, buf, sizeof buf, &found);

	if (rc != 0 || found == NULL) {
		snprintf(err, err_size, "helper_user %s: no such user", user);
		return -1;
	}
	if (pw.pw_uid == 0 || pw.pw_gid == 0) {
		snprintf(err, err_size, "helper_user %s: must not be root or in group root", user);
		return -1;
	}
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

static int get_caps(cap_words caps)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };

	memset(caps, 0, sizeof(cap_words));
	return (int)syscall(SYS_capget, &header, caps);
}

static int clear_caps(void)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	cap_words none;

	memset(none, 0, sizeof none);
	return (int)syscall(SYS_capset, &header, none);
}

static bool caps_empty(const cap_words caps)
{
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (caps[i].effective != 0 || caps[i].permitted != 0 || caps[i].inheritable != 0)
			return false;
	return true;
}

/* Whether cap is in the bounding (or ambient) set: 1 or 0; -1 past the last capability. */
static int in_set(bool ambient, int cap)
{
	return ambient ? prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0)
	               : prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
}

/*
 * Asks about every capability the kernel knows, one by one: past the last the
 * answer is EINVAL.  Kernels before 4.3 have no ambient set (EINVAL for the
 * first one): then nothing is in it.
 */
static bool set_empty(bool ambient)
{
	for (int cap = 0; cap < CAP_NUMBERS; cap++) {
		int found = in_set(ambient, cap);

		if (found < 0)
			return errno == EINVAL;
		if (found != 0)
			return false;
	}
	return true;
}

static int drop_bounding_set(void)
{
	for (int cap = 0; cap < CAP_NUMBERS; cap++) {
		int found = in_set(false, cap);

		if (found < 0)
			return errno == EINVAL ? 0 : -1;
		if (found != 0 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
			return -1;
	}
	return 0;
}

/* 0, -1 when a call failed (errno says why), -2 when the new ids did not stick. */
static int become_user(uid_t uid, gid_t gid)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	/* Groups first: once the uid is gone we may no longer change them. */
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0)
		return -1;
	if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 ||
	    ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid ||
	    sgid != gid || setuid(0) == 0 || seteuid(0) == 0)
		return -2;
	return 0;
}

int np_drop_privileges(const char *user, char *err, size_t err_size)
{
	uid_t ruid, euid, suid;
	uid_t uid = 0;
	gid_t gid = 0;
	cap_words caps;
	bool root, may_set_bounding;

	if (getresuid(&ruid, &euid, &suid) != 0 || get_caps(caps) != 0) {
		snprintf(err, err_size, "cannot read the process's ids: %s", strerror(errno));
		return -1;
	}
	root = ruid == 0 || euid == 0 || suid == 0;
	if (root && lookup_user(user, &uid, &gid, err, err_size) != 0)
		return -1;
	/* Only while CAP_SETPCAP is in effect, so before the uid changes. */
	may_set_bounding = (caps[CAP_SETPCAP / 32].effective & (1U << (CAP_SETPCAP % 32))) != 0;
	if (may_set_bounding && drop_bounding_set() != 0) {
		snprintf(err, err_size, "cannot empty the capability bounding set: %s", strerror(errno));
		return -1;
	}
	switch (root ? become_user(uid, gid) : 0) {
	case 0:
		break;
	case -1:
		snprintf(err, err_size, "cannot become %s: %s", user, strerror(errno));
		return -1;
	default:
		snprintf(err, err_size, "dropping privileges to %s did not stick", user);
		return -1;
	}
	if ((prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) ||
	    clear_caps() != 0) {
		snprintf(err, err_size, "cannot drop capabilities: %s", strerror(errno));
		return -1;
	}
	if (get_caps(caps) != 0 || !caps_empty(caps) || !set_empty(true) ||
	    (may_set_bounding && !set_empty(false))) {
		snprintf(err, err_size, "capabilities are left after dropping them");
		return -1;
	}
	return 0;
}
