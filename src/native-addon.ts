/**
 * The optional native addons under native/ (built by scripts/build-native.sh at install):
 * udp-batch (CoAP and DNS listeners), sock-filter (kernel-side bans), modsecurity (WAF engine).
 * Each is loaded at most once per path; a missing or unloadable build is null, and the caller
 * falls back (node:dgram, bans at accept) or refuses to start with one clear line (ModSecurity).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const loaded = new Map<string, unknown>();

/** Where scripts/build-native.sh writes `native/<dir>/build/<file>.node`. */
export function nativeAddonPath(dir: string, file: string): string {
  return fileURLToPath(new URL(`../native/${dir}/build/${file}.node`, import.meta.url));
}

/** The addon at `path`, or null when it is not built here. */
export function loadNativeAddon<T>(path: string): T | null {
  if (!loaded.has(path)) {
    let addon: unknown;
    try {
      addon = createRequire(import.meta.url)(path);
    } catch {
      addon = null;
    }
    loaded.set(path, addon);
  }
  return loaded.get(path) as T | null;
}
