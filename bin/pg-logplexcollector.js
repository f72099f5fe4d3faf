#!/usr/bin/env node
// The installed command. The TypeScript sources are compiled to dist/ by `npm run build`,
// which `npm ci` / `npm install` run through the `prepare` script.
'use strict';
require('../dist/daemon/main.js').main(process.argv.slice(2));
