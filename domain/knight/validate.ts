import { domainError } from '../shared/errors.ts';
import { ENTITY_ID_PATTERN, TENANT_ID_PATTERN } from '../shared/ids.ts';
import type { KnightId, TenantId } from '../shared/ids.ts';
import { KNIGHT_CPUS, KNIGHT_FAILURE_STAGES, KNIGHT_RAM_GB } from './events.ts';
import type { KnightFailureStage, KnightSpec } from './events.ts';

const invalid = (code: string, message: string) => domainError('validation', code, message);
const PRINTABLE_TOKEN = /^[\x21-\x7e]{1,128}$/;
const HTTP_URL = /^https?:\/\/[\x21-\x7e]{1,2040}$/;

export const checkKnightId = (value: unknown): KnightId => {
  if (typeof value !== 'string' || !ENTITY_ID_PATTERN.test(value))
    throw invalid('invalid_knight_id', 'knight id must be 1–64 characters of A-Z, a-z, 0-9, _ or -');
  return value as KnightId;
};

export const checkTenantId = (value: unknown): TenantId => {
  if (typeof value !== 'string' || !TENANT_ID_PATTERN.test(value)) throw invalid('invalid_tenant_id', 'invalid tenant id');
  return value as TenantId;
};

export const checkSpec = (value: unknown): KnightSpec => {
  const { cpu, ramGb } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (!(KNIGHT_CPUS as readonly unknown[]).includes(cpu) || !(KNIGHT_RAM_GB as readonly unknown[]).includes(ramGb))
    throw invalid('invalid_knight_spec', `cpu must be one of ${KNIGHT_CPUS.join(', ')}; ramGb one of ${KNIGHT_RAM_GB.join(', ')}`);
  return { cpu, ramGb } as KnightSpec;
};

/** Trimmed text of min..max characters. */
export const checkText = (value: unknown, min: number, max: number, code: string, what: string): string => {
  const text = typeof value === 'string' ? value.trim() : '';
  if (typeof value !== 'string' || text.length < min || text.length > max)
    throw invalid(code, `${what} must be ${min}–${max} characters`);
  return text;
};

export const checkToken = (value: unknown, code: string, what: string): string => {
  if (typeof value !== 'string' || !PRINTABLE_TOKEN.test(value))
    throw invalid(code, `${what} must be 1–128 printable characters without spaces`);
  return value;
};

export const checkUrl = (value: unknown): string | null => {
  if (value === null) return null;
  if (typeof value !== 'string' || !HTTP_URL.test(value)) throw invalid('invalid_knight_url', 'url must be http(s) or null');
  return value;
};

export const checkPercent = (value: unknown): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100)
    throw invalid('invalid_progress_percent', 'percent must be an integer from 0 to 100');
  return value;
};

export const checkCount = (value: unknown, code: string, what: string): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw invalid(code, `${what} must be a non-negative integer`);
  return value;
};

export const checkFailureStage = (value: unknown): KnightFailureStage => {
  if (!(KNIGHT_FAILURE_STAGES as readonly unknown[]).includes(value))
    throw invalid('invalid_failure_stage', `stage must be one of ${KNIGHT_FAILURE_STAGES.join(', ')}`);
  return value as KnightFailureStage;
};
