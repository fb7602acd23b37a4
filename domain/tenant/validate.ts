import { domainError } from '../shared/errors.ts';
import { ENTITY_ID_PATTERN, TENANT_ID_PATTERN } from '../shared/ids.ts';
import type { TenantId } from '../shared/ids.ts';
import { isTier } from '../tiers.ts';
import type { Tier } from '../tiers.ts';
import { AGENT_VM_FAILURE_STAGES, API_KEY_SCOPES } from './events.ts';
import type { AgentVmFailureStage, ApiKeyScope } from './events.ts';

const invalid = (code: string, message: string) => domainError('validation', code, message);

const TOKEN_LIKE = /^[\x21-\x7e]+$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@.]{2,63}$/;

/** Trimmed text of min..max characters. */
export const checkText = (value: unknown, min: number, max: number, code: string, what: string): string => {
  const text = typeof value === 'string' ? value.trim() : '';
  if (typeof value !== 'string' || text.length < min || text.length > max)
    throw invalid(code, `${what} must be ${min}–${max} characters`);
  return text;
};

/** An opaque printable token (ids, hashes) without whitespace. */
export const checkToken = (value: unknown, min: number, max: number, code: string, what: string): string => {
  if (typeof value !== 'string' || value.length < min || value.length > max || !TOKEN_LIKE.test(value))
    throw invalid(code, `${what} must be ${min}–${max} printable characters without spaces`);
  return value;
};

export const checkTenantId = (value: unknown): TenantId => {
  if (typeof value !== 'string' || !TENANT_ID_PATTERN.test(value))
    throw invalid('invalid_tenant_id', 'tenant id must be a slug: a-z first, then 2–39 of a-z, 0-9, -');
  return value as TenantId;
};

export const checkTier = (value: unknown): Tier => {
  if (!isTier(value)) throw invalid('invalid_tier', 'unknown tier');
  return value;
};

export const checkKeyId = (value: unknown): string => {
  if (typeof value !== 'string' || !ENTITY_ID_PATTERN.test(value))
    throw invalid('invalid_api_key_id', 'api key id must be 1–64 characters of A-Z, a-z, 0-9, _ or -');
  return value;
};

export const checkScope = (value: unknown): ApiKeyScope => {
  if (!(API_KEY_SCOPES as readonly unknown[]).includes(value)) throw invalid('invalid_api_key_scope', 'unknown api key scope');
  return value as ApiKeyScope;
};

export const checkHash = (value: unknown, code: string, what: string): string => checkToken(value, 16, 512, code, what);

/** A third party's credential (bot token, access token, app secret): the codec encrypts it when it is recorded. */
export const checkSecret = (value: unknown, code: string, what: string): string => checkToken(value, 1, 4096, code, what);

export const checkEmail = (value: unknown): string => {
  if (typeof value !== 'string' || value.length > 254 || !EMAIL.test(value))
    throw invalid('invalid_email', 'email must look like name@example.com');
  return value;
};

export const checkBotUsername = (value: unknown): string => {
  if (typeof value !== 'string' || !/^[A-Za-z][A-Za-z0-9_]{4,31}$/.test(value) || !/bot$/i.test(value))
    throw invalid('invalid_bot_username', 'bot username must be 5–32 characters of A-Z, a-z, 0-9, _ ending in "bot"');
  return value;
};

export const checkBotId = (value: unknown): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
    throw invalid('invalid_bot_id', 'bot id must be a positive integer');
  return value;
};

export const checkPhoneNumberId = (value: unknown): string => {
  if (typeof value !== 'string' || !/^\d{1,32}$/.test(value))
    throw invalid('invalid_phone_number_id', 'phone number id must be 1–32 digits');
  return value;
};

export const checkDisplayPhoneNumber = (value: unknown): string => {
  if (typeof value !== 'string' || !/^\+?[0-9][0-9 ()-]{2,31}$/.test(value))
    throw invalid('invalid_display_phone_number', 'display phone number must look like a phone number');
  return value;
};

export const checkAgentVmStage = (value: unknown): AgentVmFailureStage => {
  if (!(AGENT_VM_FAILURE_STAGES as readonly unknown[]).includes(value))
    throw invalid('invalid_failure_stage', `stage must be one of ${AGENT_VM_FAILURE_STAGES.join(', ')}`);
  return value as AgentVmFailureStage;
};

/** An OpenClaw gateway's base URL: http(s), no credentials in it, at most 2,000 characters. */
export const checkGatewayUrl = (value: unknown): string => {
  const bad = () => domainError('validation', 'invalid_gateway_url', 'gateway url must be an http(s) URL without credentials');
  if (typeof value !== 'string' || value.length > 2000) throw bad();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad();
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) throw bad();
  return value.replace(/\/+$/, '');
};
