/** Shared by the policy tests: principals and documents with little ceremony. Not used by production code. */
import type { DevicePrincipal } from '../identity/principal.ts';
import { POLICY_VERSION, type PolicyConfig, type PolicyDocument, type PolicyStatement } from './document.ts';

export function device(overrides: Partial<DevicePrincipal> = {}): DevicePrincipal {
  return { kind: 'device', id: 'cam-1', segment: 'video', authMethod: 'certificate', attrs: {}, certSerial: 'ab', certCommonName: 'cam-1', ...overrides };
}

export function doc(name: string, ...statements: PolicyStatement[]): PolicyDocument {
  return { name, version: POLICY_VERSION, statements };
}

export function allow(actions: string[], resources: string[], extra: Partial<PolicyStatement> = {}): PolicyStatement {
  return { effect: 'allow', actions, resources, ...extra };
}

export function deny(actions: string[], resources: string[], extra: Partial<PolicyStatement> = {}): PolicyStatement {
  return { effect: 'deny', actions, resources, ...extra };
}

export function config(policies: PolicyDocument[], segment: Record<string, string[]> = {}, devices: Record<string, string[]> = {}): PolicyConfig {
  return { policies, attachments: { segment, device: devices } };
}
