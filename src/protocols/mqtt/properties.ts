/** Conversions between mqtt-packet's property objects and core's protocol-neutral ones. */
import type { MessageProperties } from '../../core/ports.ts';
import type { UserProperties } from 'mqtt-packet';

export interface PublishWireProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  topicAlias?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
  subscriptionIdentifier?: number | number[];
  contentType?: string;
}

export function fromWire(p: PublishWireProperties | undefined): MessageProperties {
  const out: MessageProperties = {};
  if (!p) return out;
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData.toString('base64');
  if (p.userProperties) {
    const pairs: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(p.userProperties)) {
      if (Array.isArray(v)) for (const one of v) pairs.push([k, one]);
      else pairs.push([k, v]);
    }
    out.userProperties = pairs;
  }
  return out;
}

export function toWire(p: MessageProperties): PublishWireProperties {
  const out: PublishWireProperties = {};
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = Buffer.from(p.correlationData, 'base64');
  if (p.userProperties && p.userProperties.length > 0) {
    const obj: Record<string, string | string[]> = {};
    for (const [k, v] of p.userProperties) {
      const prev = obj[k];
      if (prev === undefined) obj[k] = v;
      else obj[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    out.userProperties = obj;
  }
  return out;
}

export function hasProperties(p: MessageProperties): boolean {
  return p.payloadFormatIndicator !== undefined || p.contentType !== undefined || p.responseTopic !== undefined || p.correlationData !== undefined || (p.userProperties?.length ?? 0) > 0;
}
