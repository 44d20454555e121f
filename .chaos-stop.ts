import { rm } from 'node:fs/promises';
import { stopLocalCloud } from './infra/local/lifecycle.ts';
await stopLocalCloud({ projectDir: process.argv[2] ?? '', removeData: true });
await rm(process.argv[2] ?? '', { recursive: true, force: true });
