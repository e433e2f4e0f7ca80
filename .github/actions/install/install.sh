#!/usr/bin/env bash
# Installs gpt-oss-scenarios $VERSION from its GitHub release: the archive for this
# machine, checked against the release's SHA256SUMS. A release without an archive for
# this machine falls back to `cargo install --locked` (from $SOURCE when set, else from
# the release tag); an archive whose checksum does not match fails the step.
#   VERSION=0.1.0 [SOURCE=.] [INSTALL_DIR=~/.local/bin] [RELEASES_URL=...] install.sh
set -euo pipefail

repo=https://github.com/gpt-oss-scenarios/gpt-oss-scenarios
: "${VERSION:?set VERSION, for example 0.1.0}"
releases=${RELEASES_URL:-$repo/releases/download}/v$VERSION
bin_dir=${INSTALL_DIR:-$HOME/.local/bin}

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-gnu ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  MINGW*-x86_64 | MSYS*-x86_64 | CYGWIN*-x86_64) target=x86_64-pc-windows-msvc ;;
  *) target= ;;
esac
ext=.tar.gz exe=
if [ "$target" = x86_64-pc-windows-msvc ]; then ext=.zip exe=.exe; fi
name=gpt-oss-scenarios-$target

from_source() {
  echo "no release binary of gpt-oss-scenarios $VERSION for $(uname -s)-$(uname -m): building it" >&2
  if [ -n "${SOURCE:-}" ]; then
    cargo install --locked --path "$SOURCE"
  else
    cargo install --locked --git "$repo" --tag "v$VERSION" gpt-oss-scenarios
  fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$target" ] \
  || ! curl -fsSL --retry 3 -o "$work/$name$ext" "$releases/$name$ext" \
  || ! curl -fsSL --retry 3 -o "$work/SHA256SUMS" "$releases/SHA256SUMS"; then
  from_source
  exit 0
fi

expected=$(awk -v f="$name$ext" '$2 == f || $2 == "*" f { print $1 }' "$work/SHA256SUMS")
if command -v sha256sum >/dev/null; then
  actual=$(sha256sum "$work/$name$ext" | cut -d' ' -f1)
else
  actual=$(shasum -a 256 "$work/$name$ext" | cut -d' ' -f1)
fi
if [ -z "$expected" ] || [ "$expected" != "$actual" ]; then
  echo "error: $name$ext does not match its SHA256SUMS entry (expected '${expected:-none}', got $actual): not installed" >&2
  exit 1
fi

if [ "$ext" = .zip ]; then
  (cd "$work" && unzip -q "$name$ext")
else
  tar -xzf "$work/$name$ext" -C "$work"
fi
mkdir -p "$bin_dir"
install -m 755 "$work/$name/gpt-oss-scenarios$exe" "$bin_dir/"
if [ -n "${GITHUB_PATH:-}" ]; then echo "$bin_dir" >> "$GITHUB_PATH"; fi
echo "installed gpt-oss-scenarios $VERSION ($target, sha256 $actual) in $bin_dir"
