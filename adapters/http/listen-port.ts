import { decimalInt } from '../config/decimal.ts';

/**
 * A port to listen on, from the environment: decimal digits only. `1e3`, `0x50`, `80.0` or ` 80`
 * are refused rather than read as numbers. 0 asks the system for any free port (tests, `npm start`
 * beside another copy).
 */
export const listenPort = (what: string) => decimalInt(0, 65_535, what);
