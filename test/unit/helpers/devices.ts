/** Registers devices in a running test gateway, the way `palisade device add` does. */
import { chainPem } from '../../../src/core/pki/index.ts';
import { registerDevice } from '../../../src/core/fleet/register-device.ts';
import { openSecretBox } from '../../../src/store/master-key.ts';
import { loadCa } from '../../../src/store/pki-files.ts';
import type { TestGateway } from './gateway.ts';

export interface DeviceCreds {
  id: string;
  cert: string;
  key: string;
  ca: string;
  password: string | null;
}

export async function addDevice(t: TestGateway, id: string, segment: string, withPassword = false): Promise<DeviceCreds> {
  const ca = loadCa(t.dataDir, openSecretBox(t.dataDir, t.config.secrets));
  if (!ca) throw new Error('no CA in data dir');
  const { certificate, password } = await registerDevice(t.gateway.store, ca, { id, segment, withPassword });
  return { id, cert: certificate.certPem, key: certificate.keyPem, ca: chainPem(ca), password };
}
