/** Registers devices in a running test gateway, the way `palisade device add` does. */
import { chainPem } from '../../../src/core/pki/index.ts';
import { registerDevice } from '../../../src/core/fleet/register-device.ts';
import { setGeneratedDeviceCredential } from '../../../src/core/identity/credential-set.ts';
import { loadFingerprintKey } from '../../../src/store/credential-fingerprint-key.ts';
import { shippedCredentialChecker } from '../../../src/store/credential-lists.ts';
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
  const { certificate } = await registerDevice(t.gateway.store, ca, { id, segment });
  // The way `palisade device add --password` does it: checked, fingerprinted, shown once.
  const password = withPassword
    ? await setGeneratedDeviceCredential(t.gateway.store, { checker: shippedCredentialChecker(), fingerprintKey: loadFingerprintKey(t.dataDir, openSecretBox(t.dataDir, t.config.secrets)), events: t.gateway.events }, { deviceId: id, actor: 'test' })
    : null;
  return { id, cert: certificate.certPem, key: certificate.keyPem, ca: chainPem(ca), password };
}
