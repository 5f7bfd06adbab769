/**
 * `palisade device psk <id>`: generates a new DTLS pre-shared key for a device (CoAP over DTLS,
 * PSK identity = device id), stores it sealed, and prints it once in the two forms clients take:
 * the key text for `coap-client -u <id> -k <key>` (32 hex characters, 128 bits; libcoap reads -k
 * as text) and its bytes in hex for `openssl s_client -dtls1_2 -psk_identity <id> -psk <hex>`.
 * Running it again replaces the key.
 */
import type { Command } from 'commander';
import { EventLog } from '../core/events/event-log.ts';
import { rotateDevicePsk } from '../core/psk/device-psk.ts';
import { openSecretBox } from '../store/master-key.ts';
import { addCommonOptions, withStore, type CommonOptions } from './common.ts';

export function registerDevicePskCommand(device: Command): void {
  addCommonOptions(device.command('psk <id>').description('generate a new 128-bit DTLS pre-shared key for a device (PSK identity = device id), print it once'))
    .action(async (id: string, opts: CommonOptions) => {
      await withStore(opts, async (store, { config, dataDir }) => {
        const psk = await rotateDevicePsk({ devices: store.devices, psks: store.devicePsks, secrets: openSecretBox(dataDir, config.secrets) }, id);
        const events = new EventLog(store.events);
        events.record('device.psk_set', 'info', { principal: 'cli', detail: { deviceId: id } });
        await events.flush();
        console.log(`DTLS PSK for device ${id} set (PSK identity ${id}); shown once:`);
        console.log(`  key:          ${psk.toString('ascii')}`);
        console.log(`  libcoap:      coap-client -u ${id} -k ${psk.toString('ascii')} coaps://<gateway>/...`);
        console.log(`  openssl hex:  ${psk.toString('hex')}`);
      });
    });
}
