# SPDX-License-Identifier: BSD-2-Clause
"""Where the tests find the tree and the build they test.

NP_BUILD (or, for the end-to-end tests, E2E_BUILD) names another build directory
than the tree's build/: a sanitizer build, or a deliberately broken one.
"""

from __future__ import annotations

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("NP_BUILD") or os.environ.get("E2E_BUILD")
                        or os.path.join(REPO, "build"))
