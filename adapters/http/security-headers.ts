import type { RequestHandler } from 'express';

/**
 * Headers on every answer (errors and health included). The API serves JSON only, so the content
 * security policy allows nothing to load or frame it; that, with nosniff, is the XSS protection
 * (X-XSS-Protection is off: the old browser filter it enabled caused leaks of its own). HSTS
 * matters behind TLS (nginx in infra/); browsers ignore it over plain HTTP.
 */
const HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains',
  'X-XSS-Protection': '0',
};

export const securityHeaders = (): RequestHandler => (_req, res, next) => {
  for (const [name, value] of Object.entries(HEADERS)) res.setHeader(name, value);
  next();
};

export const SECURITY_HEADERS: Readonly<Record<string, string>> = HEADERS;
