/**
 * Aedes 1.x as a benchmark peer: plain TCP and TLS (client certificate required) on loopback.
 * Usage: node bench/peers/aedes-server.ts nodelay|nagle <mqttPort> [<mqttsPort> <ca> <cert> <key>]
 * Prints READY once both listeners accept connections.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Aedes } from 'aedes';

const [delay, mqttPort, mqttsPort, ca, cert, key] = process.argv.slice(2);
if (mqttPort === undefined) throw new Error('usage: aedes-server.ts nodelay|nagle <mqttPort> [<mqttsPort> <ca> <cert> <key>]');
const noDelay = delay === 'nodelay';

const broker = await Aedes.createBroker({ drainTimeout: 10_000 });

function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

const servers: net.Server[] = [net.createServer({ noDelay }, (s) => broker.handle(s))];
await listen(servers[0]!, Number(mqttPort));
if (mqttsPort !== undefined && ca !== undefined && cert !== undefined && key !== undefined) {
  const secure = tls.createServer({
    ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key),
    requestCert: true, rejectUnauthorized: true, noDelay,
  }, (s) => broker.handle(s));
  secure.on('tlsClientError', () => undefined);
  servers.push(secure);
  await listen(secure, Number(mqttsPort));
}
console.log('READY');

function shutdown(): void {
  for (const s of servers) s.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
