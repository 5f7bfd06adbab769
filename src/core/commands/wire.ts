/**
 * How a command's replay counter travels (issue 5, point 5; format in device-kit/wire.ts): an
 * MQTT 5 user property `palisade-ctr` beside the untouched payload, or for MQTT 3.1.1 the
 * envelope `{"palisade":{"ctr":N},"payloadB64":"..."}` (base64: a command payload is opaque
 * bytes). A command without a counter goes as it is.
 */
import { CTR_PROPERTY, encodeEnvelope } from '../../device-kit/wire.ts';
import type { CommandRequest } from './service.ts';

export function commandOnWire(cmd: CommandRequest, v5: boolean): { payload: Buffer; userProperties: Array<[string, string]> } {
  if (cmd.counter === null) return { payload: cmd.payload, userProperties: [] };
  if (v5) return { payload: cmd.payload, userProperties: [[CTR_PROPERTY, String(cmd.counter)]] };
  return { payload: encodeEnvelope({ kind: 'ctr', ctr: cmd.counter }, cmd.payload), userProperties: [] };
}
