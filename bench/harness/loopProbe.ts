// Preloaded into the daemon by bench/serveSet.ts (`node --require …/loopProbe.js`): how long the
// daemon's event loop was held, seen from inside, since that is what every tenant's socket waits
// on. A 5 ms timer notes how late it fires; every 250 ms the worst lateness since the last report
// goes to stderr as one logfmt line (`event=loop_probe max_block_ms=…`), which the harness parses
// like the daemon's own. Not shipped: the daemon runs unchanged without it.
const TICK_MS = 5;
const REPORT_MS = 250;
let last = performance.now();
let worst = 0;
setInterval(() => {
  const now = performance.now();
  worst = Math.max(worst, now - last - TICK_MS);
  last = now;
}, TICK_MS).unref();
setInterval(() => {
  process.stderr.write(`event=loop_probe level=debug max_block_ms=${worst.toFixed(1)}\n`);
  worst = 0;
}, REPORT_MS).unref();
