#!/usr/bin/env node
// The installed command. The TypeScript sources are compiled to dist/ by `npm run build`,
// which `npm ci` / `npm install` run through the `prepare` script.
'use strict';
// First, before any module loads: the whole process is ours (unlike the library's), so tune V8
// for the collector's load (see src/daemon/v8Tuning.ts). Start-up runs lean (no JIT tiers, the
// young generation held), where node can from a relaunch of this command with node's flags set;
// `started` ends that at the first backend's connection.
const tuning = require('../dist/daemon/v8Tuning.js').tuneV8ForDaemon();
// The demo (and the test doubles it runs) is loaded from here, only for --demo: it is no part of
// the daemon's own modules.
require('../dist/daemon/main.js').main(process.argv.slice(2), {
  loadDemo: async () => require('../dist/demo/demo.js').runDemo,
  started: tuning.connected,
  startUpQuiet: tuning.startUpQuiet,
});
