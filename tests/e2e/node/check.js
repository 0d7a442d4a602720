// The real npm client (akismet-api 6.0.0) against a SpamGuard server, key in the Host subdomain (spec §6.2 recipe 1).
// Usage: node check.js <port> <key>; prints one JSON object of results for tests/e2e/api/test_node_client.py.
'use strict';
const dns = require('dns');

// Resolve akismet.local and <key>.akismet.local to this machine without touching /etc/hosts.
const realLookup = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === 'function') { callback = options; options = {}; }
  if (hostname === 'akismet.local' || hostname.endsWith('.akismet.local')) {
    if (options && options.all) return process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
    return process.nextTick(callback, null, '127.0.0.1', 4);
  }
  return realLookup.call(dns, hostname, options, callback);
};

const { AkismetClient } = require('akismet-api');

async function outcome(promise) {
  try { return { value: await promise }; } catch (err) { return { error: String(err && err.message) }; }
}

async function main() {
  const [port, key] = process.argv.slice(2);
  const options = { blog: 'https://blog.example', host: `akismet.local:${port}`, protocol: 'http' };
  const client = new AkismetClient({ key, ...options });
  const shouting = new AkismetClient({ key: key.toUpperCase(), ...options });
  const bad = new AkismetClient({ key: '0badbadbad00', ...options });
  const ip = '203.0.113.5';
  const results = {
    verify: await outcome(client.verifyKey()),
    spam: await outcome(client.checkSpam({ ip, name: 'akismet-guaranteed-spam' })),
    admin: await outcome(client.checkSpam({ ip, name: 'akismet-guaranteed-spam', role: 'administrator' })),
    ham: await outcome(client.checkSpam({ ip, name: 'Maria', content: 'Thanks, the second example fixed my setup.', isTest: true })),
    honeypot: await outcome(client.checkSpam({ ip, content: 'hello', honeypot: 'filled by a bot' })),
    upperKey: await outcome(shouting.checkSpam({ ip, name: 'akismet-guaranteed-spam' })),
    submitSpam: await outcome(client.submitSpam({ ip, name: 'Maria', content: 'npm feedback 6060' }).then((r) => r.text)),
    submitHam: await outcome(client.submitHam({ ip, name: 'Maria', content: 'npm feedback 6060' }).then((r) => r.text)),
    badVerify: await outcome(bad.verifyKey()),
    badCheck: await outcome(bad.checkSpam({ ip, name: 'x' })),
  };
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => { console.error(err); process.exit(1); });
