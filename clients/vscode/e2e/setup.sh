#!/usr/bin/env bash
# Installs the pieces of the in-editor test (e2e/codeserver.test.mjs) from the package registries
# only: code-server (VS Code 1.96 for the browser) and playwright-core from npm, Chromium and the
# native-module toolchain from Debian. No step downloads from elsewhere; the two that would
# (a GitHub-pinned dependency, ripgrep's binary) are redirected, each with a comment.
# Target folder: $CODEFUSION_VSCODE_TEST_DIR, default ~/.cache/codefusion/vscode-test (outside the
# checkout, so fresh clones on this machine find it). Takes a few minutes on 2 cores, mostly downloads and node-gyp.
set -euo pipefail

CODE_SERVER_VERSION=4.96.4
PLAYWRIGHT_VERSION=1.49.1
DIR="${CODEFUSION_VSCODE_TEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/codefusion/vscode-test}"
APT_PACKAGES="build-essential python3 pkg-config libkrb5-dev libsecret-1-dev chromium ripgrep"

step() { echo "== setup-vscode-test: $*"; }

if [ "$(node -p 'process.versions.node.split(".")[0]')" != 20 ]; then
  echo "setup-vscode-test: code-server $CODE_SERVER_VERSION needs Node 20, found $(node --version)" >&2
  exit 1
fi

missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup-vscode-test: missing Debian packages:$missing (run as root, or install them)" >&2
    exit 1
  fi
fi

# Native modules compile against the installed Node's headers (no header download).
NODEDIR="$(dirname "$(dirname "$(command -v node)")")"
[ -f "$NODEDIR/include/node/node.h" ] || NODEDIR=/usr
export npm_config_nodedir="$NODEDIR" npm_config_unsafe_perm=true
export npm_config_audit=false npm_config_fund=false npm_config_loglevel=error

mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || echo '{"name": "codefusion-vscode-test", "private": true}' > package.json
step "npm install code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_VERSION (scripts held back)"
npm install --ignore-scripts "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION"
step "argon2 (code-server's password hashing): its prebuilt binary is on GitHub, so node-gyp builds it"
nice -n 10 npm rebuild argon2

# code-server's own postinstall.sh, step by step, with the two fixes it needs here.
cd node_modules/code-server/lib/vscode
# 1. @vscode/proxy-agent is locked to a GitHub commit; its tarball has the same integrity hash as
#    the registry's 0.27.0, so fetch that one instead: its address is asked of the configured registry
#    now (npm view), so none is written here.
PROXY_AGENT_TARBALL="$(npm view @vscode/proxy-agent@0.27.0 dist.tarball)"
[ -n "$PROXY_AGENT_TARBALL" ] || { echo "setup-vscode-test: npm view found no @vscode/proxy-agent@0.27.0" >&2; exit 1; }
sed -i "s|git+ssh://git@github.com/microsoft/vscode-proxy-agent.git#0803e0a7d1249bcb64ae9d256d0ee732b7246ea5|$PROXY_AGENT_TARBALL|" npm-shrinkwrap.json
step "lib/vscode: npm install --omit=dev"
npm install --omit=dev --ignore-scripts
# 2. @vscode/ripgrep's install downloads rg from GitHub; it skips that when bin/ exists: use Debian's.
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
step "lib/vscode: build native modules (node-gyp)"
nice -n 10 npm rebuild
rm -rf node_modules.asar && ln -s node_modules node_modules.asar
(cd bin/remote-cli && ln -sf code-linux.sh code-server)
(cd bin/helpers && ln -sf browser-linux.sh browser.sh)
step "lib/vscode/extensions: npm install --omit=dev"
(cd extensions && npm install --omit=dev)

cd "$DIR"
step "check"
node_modules/.bin/code-server --version
echo "setup-vscode-test: done ($DIR)"
