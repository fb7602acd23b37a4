#!/usr/bin/env -S npx tsx
import './cli.ts';
