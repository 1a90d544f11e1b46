#!/usr/bin/env node
// nervkit is written in TypeScript and runs through tsx's loader, with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
