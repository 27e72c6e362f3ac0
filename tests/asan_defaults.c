/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Sanitizer options compiled into the sanitizer builds (tests/hardening.mk
 * links this into the module, the helper and nextpayctl of build-asan/ only).
 *
 * The module starts nextpay-helper with an empty environment and its stderr
 * on /dev/null, so ASAN_OPTIONS never reaches it and a report on stderr would
 * be lost.  These defaults make every error fatal and write the report to
 * NP_SANITIZER_LOG_DIR/<program>.<pid>, which tests/run-asan.sh prints and
 * counts as a failure.  The directory is world-writable (sticky) because the
 * helper has dropped to helper_user (nobody) by the time it would report.
 * Options in ASAN_OPTIONS / UBSAN_OPTIONS still override these.
 */
#ifndef NP_SANITIZER_LOG_DIR
#error "build with -DNP_SANITIZER_LOG_DIR='\"/abs/dir\"'"
#endif

#define NP_COMMON_OPTIONS "log_path=" NP_SANITIZER_LOG_DIR "/report:log_exe_name=1"

/* Called by the ASan/UBSan runtimes before main(); they look them up by name. */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);

const char *__asan_default_options(void)
{
	return NP_COMMON_OPTIONS ":detect_leaks=1:abort_on_error=1:halt_on_error=1";
}

const char *__ubsan_default_options(void)
{
	return NP_COMMON_OPTIONS ":print_stacktrace=1:halt_on_error=1";
}

const char *__lsan_default_options(void)
{
	return NP_COMMON_OPTIONS;
}
