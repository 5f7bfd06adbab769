/**
 * Seeded generators for the benign sets (data/waf/README.md): device telemetry as IoT fleets
 * send it (environment sensors, cameras, gateways, meters, locks, trackers, thermostats, alerts)
 * with free-text fields, API traffic (query strings and form bodies), and ordinary text. Free
 * text mixes hand-written operator notes that use the punctuation real people use (`;`, `&`,
 * `|`, quotes, `<`, `--`, `#`, `%`, parentheses, paths and URLs), sentences from licence texts
 * in /usr/share/common-licenses, and word sequences from Debian's dictionaries in five languages.
 */
import { mulberry32, picker } from './prng.ts';

export interface Words {
  en: string[];
  fr: string[];
  de: string[];
  it: string[];
  es: string[];
}

/** Hand-written notes of the kind operators and devices put in free-text fields. */
export const NOTES = [
  'Filter needs replacement soon; pressure drop > 15 % since last week',
  "Tom & Jerry's café - fridge #2 door left open (again)",
  'Battery low: replace with 2x AA (1.5 V) -- ordered 2026-11-30',
  "Sensor moved to /floor-2/room-204 by J. O'Neil",
  'Temp < 5 °C for 10 min | alarm raised',
  'Check cable on port 3/4; link flaps every ~30 s',
  'Firmware update 2.3.1 -> 2.4.0 scheduled (window: 02:00-04:00 UTC)',
  '"Door ajar" reported by user; closed remotely',
  'Ping to gateway ok (12 ms avg); uplink via LTE',
  'Run "diagnostics" from the app if the LED blinks red',
  'Set mode=eco & setpoint=19 for the weekend',
  'Motion detected near the loading dock; 2 persons, 1 vehicle',
  "Select the zone 'Parking' and press OK",
  'Rain expected tonight (80 %); closing skylights at 18:00',
  'Error 0x1F: I2C timeout on bus 1 -- retrying',
  'Water leak? No -- false alarm from condensation',
  'Cleaned lens; image sharper now :)',
  'Drop in signal strength (-87 dBm) after the new shelf was installed',
  'Reset counter || restart service if the queue stays > 1000',
  'Update from or to the new firmware requires a reboot',
  'R&D lab, bench #4: prototype rev. C (do not unplug!)',
  "Delivery for O'Reilly & Sons at gate 3 -- signed by driver",
  'Humidity 65-70 % is normal for this room; ignore warnings < 72 %',
  'See https://docs.example.com/devices/th-200#calibration for calibration steps',
  'Logs uploaded to s3://fleet-logs/2026/12/01/gw-03.tar.gz',
  'Config path: /opt/sensor/config.yaml (read-only)',
  'Wiring: A -> B -> C; C returns to ground',
  'Door 4 (east) & door 5 (west) share one controller',
  'Q&A session with the installer on Thursday; bring the spare antenna',
  'Alarm armed at 22:00; disarmed at 06:30 by code holder #3',
  'Set the threshold to 1/2 of the rated load (max 16 A)',
  '50% off the next maintenance visit -- promo code WINTER',
  'Counter wrapped around (2^32); values before 03:12 are not comparable',
  'Operator note: drop the old readings from Monday, they were wrong',
  'Please select a union representative for the safety walk',
  'The printer in room 2.14 jams; use the one at the entrance',
  'Kitchen sensor: CO2 1200 ppm -> open a window',
  'Camera 7 sees glare between 16:00 and 17:00 (sun angle)',
  'Lat/long updated after the pole was moved 20 m north',
  'Test message, please ignore :-)',
  '#maintenance #hvac filter swapped, next check in 90 days',
  "It's fine; the spike at 03:00 was the defrost cycle",
  'Load shedding: circuits 3 & 4 off between 17:00-19:00',
  'Door was propped open with a chair -- talked to the team',
  'Vibration > 4.5 mm/s on pump P-101; schedule bearing check',
  'Tank level 73 %, refill ordered (PO #88213)',
  'Gateway rebooted after power cut; all 14 sensors back online',
  'Wi-Fi SSID "Warehouse-IoT" moved to channel 11',
  'Heater on for 3 h 20 min; energy used 4.2 kWh',
  'Smoke test OK; sirens audible in all rooms except 1.07',
  'Capteur déplacé dans la salle 3 ; vérifier l’alimentation (12 V)',
  'Porte arrière laissée ouverte -- prévenir le gardien',
  'Tür 2 war offen – bitte prüfen! (Meldung von Hr. Müller)',
  'Wartung am Freitag; Zugang über Tor B & Rampe 2',
  'Sensore di umidità guasto; sostituire entro venerdì',
  "L'allarme è scattato alle 03:14, nessuna intrusione",
  'Batería baja: reemplazar pronto (nivel < 10 %)',
  'Puerta del almacén abierta; cerrada a las 19:05',
  'Датчик температуры перезапущен; связь восстановлена',
  '温度センサーを再起動しました（通信は正常です）',
  '传感器电量低，请更换电池；下次巡检时处理',
  'تم إعادة تشغيل المستشعر بعد انقطاع التيار',
  'Ο αισθητήρας μετακινήθηκε στο δωμάτιο 4 – έλεγχος αύριο',
  'Czujnik w magazynie nr 2 zgłasza niską temperaturę',
  'Sensor på lager 3 rapporterer høj fugtighed (78 %)',
];

function sentenceFromWords(rnd: () => number, ws: string[]): string {
  const pick = picker(rnd);
  const n = 4 + Math.floor(rnd() * 10);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(pick(ws));
  const s = parts.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + pick(['.', '.', '.', '!', '?', ';', ':', ',']);
}

function licenceSentences(licences: string[]): string[] {
  const out: string[] = [];
  for (const t of licences) {
    for (const s of t.replace(/\s+/g, ' ').split(/(?<=[.;:])\s+/)) {
      const x = s.trim();
      if (x.length >= 20 && x.length <= 300) out.push(x);
    }
  }
  return out;
}

function freeText(rnd: () => number, words: Words, lic: string[]): string {
  const pick = picker(rnd);
  const r = rnd();
  if (r < 0.45) return pick(NOTES);
  if (r < 0.7) return pick(lic);
  const lang = pick(['en', 'fr', 'de', 'it', 'es'] as const);
  return sentenceFromWords(rnd, words[lang]);
}

const SITES = ['Warehouse B', 'HQ Lyon', 'Plant 3 (Nord)', 'Store #112', "St. Mary's Clinic", 'Depot Süd', 'Lab 2.14'];

export function generateTelemetry(seed: number, n: number, words: Words, licences: string[]): object[] {
  const rnd = mulberry32(seed);
  const pick = picker(rnd);
  const lic = licenceSentences(licences);
  const num = (a: number, b: number, d = 1): number => Number((a + rnd() * (b - a)).toFixed(d));
  const id = (p: string): string => `${p}-${String(Math.floor(rnd() * 9999)).padStart(4, '0')}`;
  const ts = (): string => new Date(Date.UTC(2026, 10, 1) + Math.floor(rnd() * 30 * 86400e3)).toISOString();
  const ip = (): string => `192.168.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 254) + 1}`;
  const out: object[] = [];
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(rnd() * 8);
    const withNote = rnd() < 0.35;
    let m: Record<string, unknown>;
    switch (kind) {
      case 0:
        m = { deviceId: id('env'), ts: ts(), temperature: num(-10, 35), humidity: num(10, 95), pressure: num(980, 1040), co2: Math.floor(num(400, 2000, 0)), battery: { level: Math.floor(num(0, 100, 0)), charging: rnd() < 0.2 }, fw: `2.${Math.floor(rnd() * 9)}.${Math.floor(rnd() * 20)}`, location: { site: pick(SITES), zone: `Aisle ${Math.floor(rnd() * 40)}` } };
        break;
      case 1: {
        const cam = id('cam');
        m = { deviceId: cam, ts: ts(), event: pick(['motion', 'line_crossing', 'tamper', 'person', 'vehicle']), confidence: num(0.3, 1, 2), objects: [{ label: pick(['person', 'car', 'truck', 'dog', 'bicycle']), bbox: [num(0, 1, 3), num(0, 1, 3), num(0, 1, 3), num(0, 1, 3)] }], snapshot: `https://media.example.net/${cam}/2026/12/01/${Math.floor(rnd() * 1e6)}.jpg`, clip: `/media/${cam}/clips/20261201-${Math.floor(rnd() * 1e6)}.mp4`, resolution: '1920x1080', codec: 'H.264' };
        break;
      }
      case 2:
        m = { gw: id('gw'), ts: ts(), uptime: Math.floor(rnd() * 1e7), load: [num(0, 2, 2), num(0, 2, 2), num(0, 2, 2)], ifaces: [{ name: 'eth0', ip: ip(), mac: 'b8:27:eb:4c:1a:0f', rx: Math.floor(rnd() * 1e9), tx: Math.floor(rnd() * 1e9) }, { name: 'wwan0', ip: `10.${Math.floor(rnd() * 255)}.0.7`, rssi: -Math.floor(num(50, 110, 0)) }], peers: Array.from({ length: 3 }, () => ({ id: id('node'), addr: ip(), lastSeen: ts() })), log: ['link up on eth0 (1000 Mb/s, full duplex)', `dhcp: lease renewed for ${ip()}`, 'mqtt: reconnected to broker after 3 s', `ntp: clock adjusted by ${num(-0.5, 0.5, 3)} s`], rtsp: `rtsp://${ip()}:554/stream1` };
        break;
      case 3:
        m = { meter: id('SM'), ts: ts(), kwh: num(0, 99999, 2), voltage: num(225, 240), current: num(0, 32, 2), tariff: pick(['T1 (day)', 'T2 (night)', 'flat']), customer: pick(['Dupont & Fils', "O'Hara Ltd.", 'Müller GmbH', 'García y Asociados', 'ACME Corp.']) };
        break;
      case 4:
        m = { lock: id('door'), ts: ts(), event: pick(['unlock', 'lock', 'denied', 'ajar']), user: pick(["O'Brien, Siobhán", 'Zoë Martin-Laurent', 'José Álvarez', 'Jean-Luc Picard', 'Anna-Lena Groß']), method: pick(['pin', 'nfc', 'app', 'key']), msg: pick(['Unlocked by keypad; door closed after 4 s', 'Denied: badge expired (2026-10-31)', 'Auto-lock after 30 s', 'Ajar > 60 s -- alert sent']) };
        break;
      case 5:
        m = { imei: String(350000000000000 + Math.floor(rnd() * 1e13)), ts: ts(), lat: num(-60, 70, 6), lon: num(-180, 180, 6), speed: num(0, 130), heading: Math.floor(num(0, 359, 0)), addr: pick(["Rue de l'Église 12, 75001 Paris", 'Königstraße 5, 70173 Stuttgart', 'Via Roma 1/A, 10121 Torino', '221B Baker St, London NW1 6XE', 'Calle Mayor 7, 28013 Madrid']) };
        break;
      case 6:
        m = { thermostat: id('th'), ts: ts(), mode: pick(['eco', 'comfort', 'away', 'off']), setpoint: num(16, 24), schedule: [{ days: 'Mon-Fri', from: '06:30', to: '22:00', setpoint: 21 }, { days: 'Sat,Sun', from: '08:00', to: '23:30', setpoint: 20.5 }] };
        break;
      default:
        m = { deviceId: id('dev'), ts: ts(), severity: pick(['info', 'warn', 'error']), code: `E${Math.floor(rnd() * 999)}`, message: freeText(rnd, words, lic) };
    }
    if (withNote) m.note = freeText(rnd, words, lic);
    out.push(m);
  }
  return out;
}

export interface ApiEntry {
  method: 'GET' | 'POST';
  path: string;
  query: string;
  body?: string;
  contentType?: string;
}

export function generateApi(seed: number, n: number, words: Words): ApiEntry[] {
  const rnd = mulberry32(seed);
  const pick = picker(rnd);
  const e = encodeURIComponent;
  const form = (o: Record<string, string>): string => Object.entries(o).map(([k, v]) => `${k}=${e(v).replace(/%20/g, '+')}`).join('&');
  const out: ApiEntry[] = [];
  for (let i = 0; i < n; i++) {
    const w = (): string => pick(pick([words.en, words.fr, words.de, words.it, words.es]));
    const k = Math.floor(rnd() * 10);
    const dev = `dev-${Math.floor(rnd() * 9999)}`;
    switch (k) {
      case 0: out.push({ method: 'GET', path: '/api/v1/devices', query: `page=${Math.floor(rnd() * 50)}&per_page=50&sort=${pick(['-created_at', 'name', '-last_seen'])}` }); break;
      case 1: out.push({ method: 'GET', path: '/api/v1/search', query: `q=${e(`${w()} ${w()}`)}&lang=${pick(['en', 'fr', 'de'])}` }); break;
      case 2: out.push({ method: 'GET', path: `/api/v1/devices/${dev}/metrics`, query: `from=2026-11-01T00:00:00Z&to=2026-11-30T23:59:59Z&metric=${pick(['temperature', 'humidity', 'kwh'])}&agg=avg&step=1h` }); break;
      case 3: out.push({ method: 'GET', path: '/login', query: `redirect=${e(`/dashboard?tab=${pick(['devices', 'alerts', 'sites'])}`)}` }); break;
      case 4: out.push({ method: 'GET', path: '/oauth/authorize', query: `client_id=fleet-ui&response_type=code&redirect_uri=${e('https://app.example.com/oauth/cb')}&state=${Math.floor(rnd() * 1e9).toString(36)}&scope=${e('devices:read alerts:write')}` }); break;
      case 5: out.push({ method: 'GET', path: '/api/v1/devices', query: `filter[status]=${pick(['active', 'quarantined'])}&filter[site]=${e(pick(SITES))}&fields=id,name,last_seen&include=site` }); break;
      case 6: out.push({ method: 'POST', path: '/api/v1/users', query: '', contentType: 'application/x-www-form-urlencoded', body: form({ email: `${w().toLowerCase()}.${w().toLowerCase()}@example.fr`, name: `${w()} ${w()}`, role: pick(['viewer', 'operator']) }) }); break;
      case 7: out.push({ method: 'POST', path: `/api/v1/devices/${dev}/notes`, query: '', contentType: 'application/x-www-form-urlencoded', body: form({ comment: pick(NOTES), visibility: 'team' }) }); break;
      case 8: out.push({ method: 'POST', path: '/api/v1/sites', query: '', contentType: 'application/json', body: JSON.stringify({ name: pick(SITES), address: pick(["Rue de l'Église 12, 75001 Paris", 'Königstraße 5, 70173 Stuttgart']), contact: { name: `${w()} ${w()}`, phone: '+33 1 23 45 67 89' }, tags: [w(), w()] }) }); break;
      default: out.push({ method: 'GET', path: `/static/img/${w().toLowerCase()}-${Math.floor(rnd() * 99)}.png`, query: `v=${Math.floor(rnd() * 1e6)}` });
    }
  }
  return out;
}

export function generateText(seed: number, n: number, words: Words, licences: string[]): string[] {
  const rnd = mulberry32(seed);
  const lic = licenceSentences(licences);
  const out: string[] = [...NOTES];
  for (let i = 0; out.length < n && i < n * 3; i++) out.push(freeText(rnd, words, lic));
  return out;
}
