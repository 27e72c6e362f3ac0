/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl keygen: the 32-byte secret that seals the approval cache.
 *
 * The key appears under its name complete or not at all: it is written to a
 * temporary file in the same directory, synced, then linked to its name,
 * which fails rather than replace a key that is there (replacing it would
 * make every cache entry unreadable, and could race with another keygen).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cache.h"
#include "common/lineio.h"
#include "ctl/ctl.h"

static const char keygen_help[] =
	"Usage: " NP_CTL_PROGRAM " keygen [--key PATH] [--config PATH]\n"
	"\n"
	"Creates the approval cache key: 32 random bytes in a new file of mode 0600,\n"
	"owned by the user running the command (root, for the PAM module to use it).\n"
	"An existing key is never overwritten: remove it first to replace it, which\n"
	"makes every cache entry unreadable.\n"
	"\n"
	"  --key PATH      where to create it (default: cache_key from the configuration,\n"
	"                  " NP_DEFAULT_CACHE_KEY " unless set otherwise)\n"
	"  --config PATH   the configuration to read cache_key from (default "
	NP_DEFAULT_CONFIG ")\n"
	"\n"
	"Exit status: 0 created, 1 not created (it exists, or an error), 2 usage error.\n";

/* Where the key goes: a directory to hold open, and the name inside it. */
struct key_place {
	char path[NP_CONFIG_PATH_MAX];
	char dir[NP_CONFIG_PATH_MAX];
	const char *name;
	char temp_name[NP_CONFIG_PATH_MAX];
	int dir_fd;
	bool temp_created;
};

static int split_path(struct key_place *p, char *err, size_t err_size)
{
	char *slash = strrchr(p->path, '/');

	/* np_ctl_absolute_path() made it absolute, so there is a slash. */
	p->name = slash + 1;
	if (*p->name == '\0' || strcmp(p->name, ".") == 0 || strcmp(p->name, "..") == 0) {
		snprintf(err, err_size, "%s: names a directory, not a file", p->path);
		return -1;
	}
	snprintf(p->dir, sizeof p->dir, "%.*s", slash == p->path ? 1 : (int)(slash - p->path),
	         p->path);
	if ((size_t)snprintf(p->temp_name, sizeof p->temp_name, ".%s.new-XXXXXXXX", p->name) >=
	    sizeof p->temp_name) {
		snprintf(err, err_size, "%s: name too long", p->path);
		return -1;
	}
	return 0;
}

/* A random suffix: O_EXCL then refuses any file already there, planted or left over. */
static void randomise_temp_name(struct key_place *p)
{
	static const char hex[] = "0123456789abcdef";
	char *x = strrchr(p->temp_name, '-') + 1;
	unsigned char random[4];

	randombytes_buf(random, sizeof random);
	for (size_t i = 0; i < sizeof random; i++) {
		x[2 * i] = hex[random[i] >> 4];
		x[2 * i + 1] = hex[random[i] & 0x0F];
	}
}

static int refuse_existing(const struct key_place *p, char *err, size_t err_size)
{
	struct stat st;

	if (fstatat(p->dir_fd, p->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(err, err_size,
		         "%s already exists; not overwriting it. To replace the key, remove the "
		         "file first (every cache entry becomes unreadable).",
		         p->path);
		return -1;
	}
	if (errno != ENOENT) {
		snprintf(err, err_size, "%s: %s", p->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Writes a fresh key into a new temporary file and syncs it. */
static int write_temp_key(struct key_place *p, char *err, size_t err_size)
{
	unsigned char key[NP_CACHE_KEY_BYTES];
	int fd;
	int rc = -1;

	randomise_temp_name(p);
	fd = openat(p->dir_fd, p->temp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	            0600);
	if (fd < 0) {
		snprintf(err, err_size, "cannot create a file in %s: %s", p->dir, strerror(errno));
		return -1;
	}
	p->temp_created = true;
	randombytes_buf(key, sizeof key);
	/* The umask may have taken bits away; 0600 is what the module expects, exactly. */
	if (fchmod(fd, 0600) != 0 || np_write_all(fd, (const char *)key, sizeof key) != 0 ||
	    fsync(fd) != 0)
		snprintf(err, err_size, "cannot write the key in %s: %s", p->dir, strerror(errno));
	else
		rc = 0;
	sodium_memzero(key, sizeof key);
	if (close(fd) != 0 && rc == 0) {
		snprintf(err, err_size, "cannot write the key in %s: %s", p->dir, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Gives the temporary file its name, failing if the name is taken meanwhile. */
static int publish_key(struct key_place *p, char *err, size_t err_size)
{
	int rc = linkat(p->dir_fd, p->temp_name, p->dir_fd, p->name, 0);

	/* Some file systems have no hard links; rename can still refuse to replace. */
	if (rc != 0 && (errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK))
		rc = renameat2(p->dir_fd, p->temp_name, p->dir_fd, p->name, RENAME_NOREPLACE);
	if (rc != 0) {
		if (errno == EEXIST)
			snprintf(err, err_size, "%s appeared while the key was being made; not "
			         "overwriting it", p->path);
		else
			snprintf(err, err_size, "cannot create %s: %s", p->path, strerror(errno));
		return -1;
	}
	if (fsync(p->dir_fd) != 0) {
		snprintf(err, err_size, "%s: cannot sync the directory %s: %s", p->path, p->dir,
		         strerror(errno));
		return -1;
	}
	return 0;
}

static int create_key(struct key_place *p, char *err, size_t err_size)
{
	int rc = -1;

	p->dir_fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dir_fd < 0) {
		snprintf(err, err_size, "directory %s: %s", p->dir, strerror(errno));
		return -1;
	}
	if (refuse_existing(p, err, err_size) == 0 && write_temp_key(p, err, err_size) == 0 &&
	    publish_key(p, err, err_size) == 0)
		rc = 0;
	/* After a link the temporary name is a second name of the key; after a rename, gone. */
	if (p->temp_created && unlinkat(p->dir_fd, p->temp_name, 0) == 0 && rc == 0)
		(void)fsync(p->dir_fd);
	close(p->dir_fd);
	return rc;
}

static const char *owner_name(char *buf, size_t buf_size)
{
	struct passwd pw;
	struct passwd *found = NULL;
	char pw_buf[4096];

	if (getpwuid_r(geteuid(), &pw, pw_buf, sizeof pw_buf, &found) == 0 && found != NULL)
		snprintf(buf, buf_size, "%s", pw.pw_name);
	else
		snprintf(buf, buf_size, "uid %lu", (unsigned long)geteuid());
	return buf;
}

/* The key's path: --key as given, else cache_key from the settings. */
static int key_path(const char *key_opt, const char *config_opt, char *out, size_t out_size)
{
	struct np_config cfg;
	char err[1024];

	if (key_opt != NULL) {
		if (np_ctl_absolute_path(key_opt, out, out_size) != 0)
			return np_ctl_fail("%s: path too long, or the current directory is unknown",
			                   key_opt);
		return NP_CTL_EXIT_OK;
	}
	if (np_ctl_load_config(&cfg, config_opt, err, sizeof err) != 0)
		return np_ctl_fail("cannot read the settings: %s (or give the key's path with --key)",
		                   err);
	snprintf(out, out_size, "%s", cfg.cache_key);
	return NP_CTL_EXIT_OK;
}

int np_ctl_keygen(int argc, char **argv)
{
	const char *key_opt = NULL;
	const char *config_opt = NULL;
	const struct np_ctl_option opts[] = { { "--key", &key_opt }, { "--config", &config_opt } };
	struct key_place place;
	/* Room for two paths and a sentence. */
	char err[3 * NP_CONFIG_PATH_MAX];
	char owner[64];
	size_t n_operands = 0;
	const struct np_ctl_syntax syntax = { keygen_help, opts, 2, NULL, 0 };
	int parsed;
	int rc;

	parsed = np_ctl_parse_args(argc, argv, &syntax, &n_operands);
	if (parsed >= 0)
		return parsed;
	memset(&place, 0, sizeof place);
	place.dir_fd = -1;
	rc = key_path(key_opt, config_opt, place.path, sizeof place.path);
	if (rc != NP_CTL_EXIT_OK)
		return rc;
	if (split_path(&place, err, sizeof err) != 0 || create_key(&place, err, sizeof err) != 0)
		return np_ctl_fail("%s", err);
	printf("Created the cache key %s (32 random bytes, mode 0600, owner %s).\n", place.path,
	       owner_name(owner, sizeof owner));
	return NP_CTL_EXIT_OK;
}
