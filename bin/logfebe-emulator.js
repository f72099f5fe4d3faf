#!/usr/bin/env node
// The pg_logfebe emulator as a command (src/tools/emulatorMain.ts); dist/ is built by `npm run build`.
'use strict';
require('../dist/tools/emulatorMain.js').main(process.argv.slice(2));
