#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int np_drop_privileges(const char *user, char *err, size_t err_size)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	uid_t uid = 0;
	gid_t gid = 0;

	if (getresuid(&ruid, &euid, &suid) != 0) {
		snprintf(err, err_size, "getresuid: %s", strerror(errno));
		return -1;
	}
	if (ruid != 0 && euid != 0 && suid != 0)
		return 0;
	if (lookup_user(user, &uid, &gid, err, err_size) != 0)
		return -1;
	/* Groups first: once the uid is gone we may no longer change them. */
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		snprintf(err, err_size, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 ||
	    ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid ||
	    sgid != gid || setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, err_size, "dropping privileges to %s did not stick", user);
		return -1;
	}
	return 0;
}
