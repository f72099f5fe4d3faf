// undici's Pool is loaded by deep path to save memory (src/sink/undiciPool.ts); this notices an
// undici upgrade that silently sends it back to the package root, and checks that the command's
// load without node:http2 leaves http2 out and still posts.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { Pool as RootPool } from 'undici';
import { undiciPool } from '../../src/sink/undiciPool';

const ROOT = resolve(__dirname, '../..');

/** In a fresh node (built dist/): load the Pool, POST to a local server, say whether http2 was loaded. */
function postFromFreshNode(skipHttp2: boolean): { status: number; http2Loaded: boolean } {
  const script = `
    const http = require('node:http');
    const m = require('./dist/sink/undiciPool.js');
    if (${skipHttp2}) m.skipHttp2ForUndici();
    const server = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
    server.listen(0, '127.0.0.1', async () => {
      const { Pool } = m.undiciPool();
      const pool = new Pool('http://127.0.0.1:' + server.address().port, { allowH2: false });
      const r = await pool.request({ method: 'POST', path: '/logs', body: 'x' });
      await r.body.text();
      await pool.close();
      server.close();
      const http2Loaded = process.moduleLoadList.some((m) => m === 'NativeModule http2');
      process.stdout.write(JSON.stringify({ status: r.statusCode, http2Loaded }));
    });`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as { status: number; http2Loaded: boolean };
}

describe('undiciPool', () => {
  it('loads Pool by deep path, with the request API mixed in', () => {
    const { Pool, source } = undiciPool();
    expect(source).toBe('deep');
    expect(typeof Pool.prototype.request).toBe('function');
    expect(Pool).toBe(RootPool); // the same class as the package root's, not a copy
  });

  it('for the command, loads it without node:http2, and it still posts', () => {
    expect(postFromFreshNode(false)).toEqual({ status: 200, http2Loaded: true }); // what undici does by itself
    expect(postFromFreshNode(true)).toEqual({ status: 200, http2Loaded: false });
  });
});
