# SPDX-License-Identifier: BSD-2-Clause
"""pam_nextpay's Python test library: what tests/ctl, tests/e2e, tests/man and
tests/package share (results in cmocka's words, time limits, the mock, terminals,
throwaway accounts, root's files)."""
