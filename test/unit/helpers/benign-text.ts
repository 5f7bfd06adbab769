/**
 * Ordinary text no detector may flag: prose with apostrophes and quotes, SQL-like English,
 * product names and telemetry values, JSON-ish snippets, URLs and e-mail addresses, math with
 * < and >, and multilingual text. Shared by the SQLi and XSS detector tests.
 */
export const BENIGN_TEXT: readonly string[] = [
  // prose with apostrophes and quotes
  "don't", "I can't believe it's not butter", "O'Brien's pub is open", "Rock 'n' roll", "It's 5 o'clock somewhere",
  "the students' and teachers' lounge", "James' or John's car", "She said \"hello\" and left", "He's the one who said 'no'",
  "Let's meet at Mary's", "we're out of 'premium' beans", "It's a 'must-see' -- really", "You're right; I'm wrong",
  "\"quoted\" text with \"two\" quotes", "the 'best' option", "l'été à Paris", "Don't forget: 3 > 2",
  // SQL-like English
  "select the best option from the menu", "Please select one and order by phone", "union of workers and employers",
  "Drop me a line; I'll update you", "insert the card, then select PIN", "group by age or by region",
  "delete old files and empty the trash", "Sleep well (8 hours)", "I need sleep (lots of it)", "where is the table?",
  "having fun or not", "like it or not", "1 and 2 are both numbers", "5 or more", "apples and 3 oranges",
  "cats & dogs", "rock & roll", "Tom & Jerry's", "true or false?", "null and void", "order #12345",
  "Case 1: the user logs in", "user_id", "Is it 1-2 or 2-3?", "you and me -- forever", "Chapter 1 -- Introduction",
  "Q&A session", "R&D department", "AT&T", "Johnson & Johnson", "ID: 42 (primary)", "see note (1)",
  // product names, ids, telemetry values
  "Model X-200 (2024)", "SKU-12345-AB", "v2.3.1-beta", "temperature", "ok", "online", "firmware 1.0.4",
  "550e8400-e29b-41d4-a716-446655440000", "2024-05-01T12:30:00Z", "12.5", "-40", "1e-3", "0x1F", "#ff0000",
  "sensor/room-1/temp", "C++ & C#", "50% off!", "$19.99", "A+B=C", "x=1&y=2", "key=value", "a=b; c=d",
  // JSON-ish snippets
  '{"temp": 21.5, "unit": "C"}', '{"status":"ok","code":200}', '["a","b","c"]', '{"name":"O\'Brien"}',
  '{"query":"select a seat"}', '{"msg": "it\'s fine"}', "key: 'value'", "items[0].name", "data.values[3]",
  // URLs and e-mail addresses
  "https://example.com/path?q=1&lang=en", "http://localhost:8080/api/v1/devices", "/api/users/42",
  "mailto:joe@example.org", "joe@example.org", "<joe@example.org>", "ftp://files.example.com/pub/",
  "https://en.wikipedia.org/wiki/O'Reilly_Media", "https://example.com/#section-2",
  // math with < and >
  "a < b", "x<3", "1 < 2 > 0", "if x > 5 then y", "3 <= 4", "a <> b", "2 * (3 + 4) = 14", "f(x) = x^2 + 1",
  "(a + b) * c", "sum(x) / n", "1/2 + 1/3", "5 > 3 and 2 < 4", "x = (y - 1) / 2", "e = mc^2", "-1 * -1 = 1",
  // multilingual
  "Grüße aus München", "Ça va très bien, merci", "¿Dónde está la biblioteca?", "日本語のテキストです", "中文测试：温度传感器",
  "Привет, как дела?", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "안녕하세요", "Ελληνικά κείμενο",
  "🙂 all good 👍", "température élevée (38°C)", "naïve café", "Straße & Weg", "Ølbryggeri A/S", "İstanbul'da hava güzel",
  "c'est l'heure", "dell'Italia", "Wie geht's?", "l'hôtel d'Orsay",
  // misc
  "password123", "P@ssw0rd!", "user@domain", "@mention me", "#hashtag", "-- signature", "/* not a comment */ text",
  "Hello; World", "Hello; select a seat", "1; 2; 3", "a;b;c", "x -- y", "50-50", "one--two",
];
