#!/usr/bin/env node
// The logplex stand-in as a command (src/tools/standInMain.ts); dist/ is built by `npm run build`.
'use strict';
require('../dist/tools/standInMain.js').main(process.argv.slice(2));
