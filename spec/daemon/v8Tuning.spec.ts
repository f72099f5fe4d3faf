// The daemon's V8 tuning (src/daemon/v8Tuning.ts), observed in child processes: V8's flags are
// per process, and the young generation only shows what it did under an allocating load.
import { execFileSync, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { sizedByOperator, wasmTieringByOperator } from '../../src/daemon/v8Tuning';

const TUNING = resolve(__dirname, '../../dist/daemon/v8Tuning.js'); // built by `npm test` before jest

// Allocates with a ring of survivors (what makes V8 double its semi-spaces), yielding to the event
// loop between rounds as the daemon does, and prints the largest young generation it saw.
const CHURN = `
const v8 = require('node:v8');
if (process.argv[1] === 'cap') require(${JSON.stringify(TUNING)}).capYoungGeneration(2 * 1024 * 1024);
const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const ring = new Array(20000);
let i = 0, max = 0;
(async () => {
  for (let round = 0; round < 200; round++) {
    for (let k = 0; k < 5000; k++) ring[i++ % ring.length] = { a: 'x'.repeat(20) + k, b: [k, k + 1] };
    max = Math.max(max, young());
    await new Promise((r) => setImmediate(r));
  }
  process.stdout.write(String(max));
})();
`;

const largestYoungGeneration = (mode: 'cap' | 'none'): number => Number(execFileSync(process.execPath, ['-e', CHURN, mode], { encoding: 'utf8' }));

describe('V8 tuning for the daemon', () => {
  it('keeps the young generation near the cap it is given (2 MiB semi-spaces here), where V8 alone grows it to its maximum', () => {
    // GC observers run after the GC, so under a busy machine one more doubling may slip through
    // before growth is turned off (4 MiB each then): still a quarter of what V8 does alone.
    expect(largestYoungGeneration('cap')).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(largestYoungGeneration('none')).toBeGreaterThanOrEqual(32 * 1024 * 1024); // the load does make V8 grow it, to its maximum
  });

  it('turns WebAssembly tier-up off with flags this node knows (V8 names an unknown one on stderr)', () => {
    const run = (script: string): string => spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }).stderr;
    expect(run(`require(${JSON.stringify(TUNING)}).keepWasmOnBaseline();`)).toBe('');
    expect(run(`require('node:v8').setFlagsFromString('--no-wasm-tier-up-typo');`)).toMatch(/unrecognized flag/); // the check can fail
  });

  it('leaves node flags an operator set alone', () => {
    expect(sizedByOperator(['--max-semi-space-size=8'], undefined)).toBe(true);
    expect(sizedByOperator([], '--max_semi_space_size=8 --trace-gc')).toBe(true);
    expect(sizedByOperator(['--cpu-prof'], '--max-old-space-size=200')).toBe(false);
    expect(wasmTieringByOperator([], '--liftoff-only')).toBe(true);
    expect(wasmTieringByOperator(['--wasm-dynamic-tiering'], undefined)).toBe(true);
    expect(wasmTieringByOperator([], undefined)).toBe(false);
  });
});
