#!/usr/bin/env bash
# The process diagrams (the claim page's, and the README's from scripts/diagrams.py) are laid
# out by Graphviz's `dot` (housing/web/diagrams.py), from Debian's package. Install it when
# it is missing and this machine can (apt-get, as root); fail loudly when it cannot be had.
set -euo pipefail

if ! command -v dot >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Graphviz (dot) is missing; installing Debian's package."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz
  fi
fi

command -v dot >/dev/null || {
  echo "FATAL: Graphviz's dot is missing and could not be installed (needs apt-get as root:" \
    "apt-get install graphviz). The claim page and the README's diagrams need it." >&2
  exit 1
}
echo "Graphviz for the process diagrams: $(dot -V 2>&1)"
