/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The module must export pam_sm_authenticate and pam_sm_setcred and nothing
 * else (src/module/pam_nextpay.map): internal names leaking into the host's symbol
 * space could be interposed or could clash with the host's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* run-tests.sh runs from the top of the tree; NP_BUILD names another build directory. */
static const char *module_path(void)
{
	static char path[1024];
	const char *build = getenv("NP_BUILD");

	snprintf(path, sizeof path, "%s/pam_nextpay.so", build != NULL ? build : "./build");
	return path;
}

/* Names of the defined global symbols in the dynamic symbol table, comma-joined. */
static void defined_dynamic_symbols(char *out, size_t out_size)
{
	struct stat st;
	int fd = open(module_path(), O_RDONLY | O_CLOEXEC);
	const unsigned char *image;
	const Elf64_Ehdr *ehdr;
	const Elf64_Shdr *sections;

	out[0] = '\0';
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	image = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(image != MAP_FAILED);
	ehdr = (const Elf64_Ehdr *)image;
	assert_memory_equal(ehdr->e_ident, ELFMAG, SELFMAG);
	assert_int_equal(ehdr->e_ident[EI_CLASS], ELFCLASS64);
	sections = (const Elf64_Shdr *)(image + ehdr->e_shoff);
	for (int i = 0; i < ehdr->e_shnum; i++) {
		const Elf64_Shdr *symtab = &sections[i];
		const Elf64_Sym *syms;
		const char *names;

		if (symtab->sh_type != SHT_DYNSYM)
			continue;
		syms = (const Elf64_Sym *)(image + symtab->sh_offset);
		names = (const char *)(image + sections[symtab->sh_link].sh_offset);
		for (size_t j = 0; j < symtab->sh_size / sizeof *syms; j++) {
			unsigned char bind = ELF64_ST_BIND(syms[j].st_info);

			if (syms[j].st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK))
				continue;
			if (out[0] != '\0')
				strncat(out, ",", out_size - strlen(out) - 1);
			strncat(out, names + syms[j].st_name, out_size - strlen(out) - 1);
		}
	}
	munmap((void *)(uintptr_t)image, (size_t)st.st_size);
	close(fd);
}

static void only_pam_entry_points_are_exported(void **state)
{
	char names[4096];

	(void)state;
	defined_dynamic_symbols(names, sizeof names);
	/* The linker orders .dynsym by hash; accept either order. */
	if (strcmp(names, "pam_sm_authenticate,pam_sm_setcred") != 0)
		assert_string_equal(names, "pam_sm_setcred,pam_sm_authenticate");
}

static void module_loads_and_resolves(void **state)
{
	static const char *const internal[] = { "np_authenticate", "np_config_load",
		                                    "np_sanitize",     "np_msg_decode",
		                                    "np_helper_start", "np_usermap_allows" };
	void *module;

	(void)state;
	module = dlopen(module_path(), RTLD_NOW | RTLD_LOCAL);
	if (module == NULL)
		fail_msg("dlopen: %s", dlerror());
	assert_non_null(dlsym(module, "pam_sm_authenticate"));
	assert_non_null(dlsym(module, "pam_sm_setcred"));
	for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++)
		assert_null(dlsym(module, internal[i]));
	dlclose(module);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(only_pam_entry_points_are_exported),
		cmocka_unit_test(module_loads_and_resolves),
	};

	return cmocka_run_group_tests_name("exports", tests, NULL, NULL);
}
