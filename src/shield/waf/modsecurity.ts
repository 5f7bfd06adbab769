/**
 * ModSecurity v3 with the OWASP Core Rule Set as an optional WAF engine (issue 5, point 3),
 * for operators who want the full CRS (`shield.waf.engine: modsecurity | both`). The engine is
 * the native addon native/modsecurity/modsec.c over Debian's libmodsecurity3, with CRS 3.3 from
 * Debian's modsecurity-crs; both are optional: without them only the `palisade` engine exists,
 * and asking for ModSecurity fails the start with one CONFIG_INVALID line (checkModSecurity).
 *
 * HTTP request heads go through as they are (phases 1 and 2, no body: bodies become device
 * messages and are inspected there). A device payload goes through as a POST to /mqtt/<topic>:
 * JSON (when it parses) with Content-Type application/json, so ModSecurity's JSON body processor
 * turns each value into an ARGS entry CRS inspects; anything else as a form field `payload`
 * (application/x-www-form-urlencoded), because CRS 3.3 reads ARGS, not REQUEST_BODY, so a
 * text/plain body would pass unread.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import { nativeAddonPath, loadNativeAddon } from '../../native-addon.ts';
import type { ParanoiaLevel } from './types.ts';

export interface ModSecRequest {
  clientIp: string;
  clientPort: number;
  method: string;
  uri: string;
  /** Flat name, value, name, value, ... */
  headers: string[];
  body: Buffer | null;
}

export interface ModSecResult {
  status: number;
  disrupted: boolean;
  ruleIds: number[];
}

export interface ModSecAddon {
  create(directives: string): unknown;
  inspect(handle: unknown, request: ModSecRequest): ModSecResult;
}

export interface ModSecurityPaths {
  addon: string;
  /** CRS setup file (SecDefaultAction, crs_setup_version). */
  crsSetup: string;
  /** Directory of the CRS rule files (REQUEST-9xx-*.conf and their .data files). */
  crsRules: string;
}

export const DEFAULT_MODSECURITY_PATHS: ModSecurityPaths = {
  addon: nativeAddonPath('modsecurity', 'modsec'),
  crsSetup: '/etc/modsecurity/crs/crs-setup.conf',
  crsRules: '/usr/share/modsecurity-crs/rules',
};

/** Bytes of a payload handed to ModSecurity (SecRequestBodyLimit; the rest is not inspected). */
export const MODSEC_BODY_LIMIT = 1 << 20;

/** The addon at `path`, or null when it is not built (or libmodsecurity3 is not installed). */
export function loadModSecAddon(path = DEFAULT_MODSECURITY_PATHS.addon): ModSecAddon | null {
  return loadNativeAddon<ModSecAddon>(path);
}

function hasRequestRules(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => f.startsWith('REQUEST-') && f.endsWith('.conf'));
  } catch {
    return false;
  }
}

/**
 * Throws PalisadeError(CONFIG_INVALID) when `engine` needs ModSecurity and the addon or the CRS
 * files are missing; returns the addon (null for the palisade engine).
 */
export function checkModSecurity(engine: 'palisade' | 'modsecurity' | 'both', paths: ModSecurityPaths = DEFAULT_MODSECURITY_PATHS): ModSecAddon | null {
  if (engine === 'palisade') return null;
  const addon = loadModSecAddon(paths.addon);
  if (addon === null) {
    throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `shield.waf.engine '${engine}' needs the ModSecurity addon (${paths.addon}): install libmodsecurity-dev and run scripts/build-native.sh`);
  }
  if (!existsSync(paths.crsSetup) || !hasRequestRules(paths.crsRules)) {
    throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `shield.waf.engine '${engine}' needs the OWASP Core Rule Set (${paths.crsSetup}, ${paths.crsRules}/REQUEST-*.conf): install modsecurity-crs`);
  }
  return addon;
}

/**
 * The SecLang directives: engine on, request bodies read up to the limit, the JSON body
 * processor for JSON, CRS setup, the paranoia level and inbound threshold (the ids crs-setup.conf
 * reserves for them, 900000 and 900110; REQUEST-901 keeps values set before it), then the
 * REQUEST-9xx rules only (RESPONSE-9xx inspect responses, which never pass through here).
 * libmodsecurity v3's Include takes a glob.
 */
export function modSecurityDirectives(opts: { paranoia: ParanoiaLevel; threshold: number; paths?: ModSecurityPaths }): string {
  const paths = opts.paths ?? DEFAULT_MODSECURITY_PATHS;
  return [
    'SecRuleEngine On',
    'SecRequestBodyAccess On',
    `SecRequestBodyLimit ${MODSEC_BODY_LIMIT}`,
    `SecRequestBodyNoFilesLimit ${MODSEC_BODY_LIMIT}`,
    'SecRequestBodyLimitAction ProcessPartial',
    'SecResponseBodyAccess Off',
    'SecAuditEngine Off',
    // modsecurity.conf-recommended's rule 200001: JSON bodies through the JSON processor.
    'SecRule REQUEST_HEADERS:Content-Type "@rx ^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"',
    `Include ${paths.crsSetup}`,
    `SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level=${opts.paranoia},setvar:tx.executing_paranoia_level=${opts.paranoia}"`,
    `SecAction "id:900110,phase:1,nolog,pass,t:none,setvar:tx.inbound_anomaly_score_threshold=${Math.trunc(opts.threshold)},setvar:tx.outbound_anomaly_score_threshold=4"`,
    `Include ${join(paths.crsRules, 'REQUEST-*.conf')}`,
    '',
  ].join('\n');
}

export interface ModSecVerdict {
  blocked: boolean;
  /** CRS rule ids that matched and logged (the deciding 949110 is not among them: it only disrupts). */
  ruleIds: string[];
}

/** `1.2.3.4:5` or `[::1]:5` (sourceOf, the edges' source strings) into address and port. */
function splitSource(source: string): { ip: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(source);
  if (m === null) return { ip: source.length > 0 ? source : '0.0.0.0', port: 0 };
  return { ip: m[1] ?? '0.0.0.0', port: Number(m[2]) };
}

/** RFC 3986 §3.3: each topic level percent-encoded as one path segment. */
function topicPath(topic: string): string {
  return '/mqtt/' + topic.split('/').map((level) => encodeURIComponent(level)).join('/');
}

function isJson(payload: Buffer): boolean {
  try {
    JSON.parse(payload.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

const DEVICE_HEADERS = ['host', 'localhost', 'user-agent', 'palisade-device', 'accept', '*/*'];

/** One rule set at one paranoia level; inspections are synchronous. */
export class ModSecurityWaf {
  readonly #addon: ModSecAddon;
  readonly #handle: unknown;

  constructor(opts: { paranoia: ParanoiaLevel; threshold: number; paths?: ModSecurityPaths; addon?: ModSecAddon }) {
    const addon = opts.addon ?? checkModSecurity('modsecurity', opts.paths);
    if (addon === null) throw new PalisadeError(ErrorCodes.CONFIG_INVALID, 'the ModSecurity addon is not built');
    this.#addon = addon;
    try {
      this.#handle = addon.create(modSecurityDirectives(opts));
    } catch (err) {
      throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `ModSecurity refused the CRS directives: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** An HTTP request head: method, path and query as received, headers, the peer `addr:port`. */
  inspectHttp(head: { method: string; url: string; headers: Record<string, string | string[] | undefined>; source: string }): ModSecVerdict {
    const flat: string[] = [];
    for (const [name, value] of Object.entries(head.headers)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) flat.push(name, v);
      else flat.push(name, value);
    }
    const { ip, port } = splitSource(head.source);
    return this.#run({ clientIp: ip, clientPort: port, method: head.method, uri: head.url, headers: flat, body: null });
  }

  /** A device message, as a POST of its payload to /mqtt/<topic>. */
  inspectPayload(topic: string, payload: Buffer, source = '0.0.0.0:0'): ModSecVerdict {
    const json = isJson(payload);
    const body = json ? payload : Buffer.from('payload=' + encodeURIComponent(payload.toString('utf8')));
    const headers = [...DEVICE_HEADERS, 'content-type', json ? 'application/json' : 'application/x-www-form-urlencoded', 'content-length', String(body.length)];
    const { ip, port } = splitSource(source);
    return this.#run({ clientIp: ip, clientPort: port, method: 'POST', uri: topicPath(topic), headers, body });
  }

  #run(req: ModSecRequest): ModSecVerdict {
    const r = this.#addon.inspect(this.#handle, req);
    return { blocked: r.disrupted, ruleIds: r.ruleIds.map(String) };
  }
}
