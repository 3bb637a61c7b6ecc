// node-redis (5.x) with clientSideCache against relcache: a cached GET is
// served from the client's memory until another client writes the key,
// then shows the write. Run by TestNodeRedisClientSideCache:
//   node client_side_cache.js HOST:PORT
const { createClient, BasicClientSideCache } = require('redis');

async function main() {
  const url = 'redis://' + process.argv[2];
  const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0 });
  const reader = createClient({ url, RESP: 3, clientSideCache: cache });
  const writer = createClient({ url });
  reader.on('error', (e) => { throw e; });
  writer.on('error', (e) => { throw e; });
  await reader.connect();
  await writer.connect();

  await writer.set('k', 'v1');
  const first = await reader.get('k');
  const second = await reader.get('k');
  if (first !== 'v1' || second !== 'v1') throw new Error(`GET k: ${first}, ${second}, want v1 twice`);
  if (cache.stats().hitCount < 1) throw new Error(`the second GET was not served from the cache: ${JSON.stringify(cache.stats())}`);

  await writer.set('k', 'v2');
  const deadline = Date.now() + 10000;
  for (;;) {
    const v = await reader.get('k');
    if (v === 'v2') break;
    if (v !== 'v1') throw new Error(`GET k after SET v2: ${v}`);
    if (Date.now() > deadline) throw new Error('GET k still v1 10s after another client set v2');
    await new Promise((r) => setTimeout(r, 5));
  }
  await writer.flushAll();
  for (;;) {
    const v = await reader.get('k');
    if (v === null) break;
    if (Date.now() > deadline + 10000) throw new Error('GET k still cached 10s after FLUSHALL');
    await new Promise((r) => setTimeout(r, 5));
  }
  await reader.quit();
  await writer.quit();
  console.log('ok', JSON.stringify(cache.stats()));
}

main().catch((e) => { console.error(e); process.exit(1); });
