/** DTLS 1.2 server for CoAPS (issue 4 point 3). */
export { DtlsServer } from './server.ts';
export type { DtlsIdentity, DtlsServerOptions, DtlsSession, DtlsStats, DtlsEventSink } from './types.ts';
export { deviceDtlsHooks, dtlsPrincipal } from './device-hooks.ts';
