#!/usr/bin/env bash
# What the tests need beyond Python packages, installed when this machine allows it (CI runs
# as root with Debian's packages reachable). Without them the tests that need them are
# skipped, and say why.
set -u
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # The languages of lesson 07 and tests/test_runtimes.py (Node.js comes from PyPI).
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v ruby >/dev/null 2>&1 || missing+=(ruby)
  command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
  command -v go >/dev/null 2>&1 || missing+=(golang-go)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing for the tests: ${missing[*]}"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
      || echo "Could not install ${missing[*]}: the tests that need them will be skipped."
  fi
fi
# A user who is not root, for the sandbox's unprivileged path (tests/test_sandbox_unprivileged.py,
# tests/test_cross_user.py): root may unshare namespaces where a learner's uid may not.
if [ "$(id -u)" = "0" ] && ! id lambdalab-tester >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    useradd --create-home --shell /bin/sh lambdalab-tester >/dev/null 2>&1 \
      || echo "Could not create the user lambdalab-tester: the unprivileged sandbox test will be skipped."
  else
    echo "No useradd here: the unprivileged sandbox test will be skipped."
  fi
fi
exit 0
