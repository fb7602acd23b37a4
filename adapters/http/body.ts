import express from 'express';
import type { Request, RequestHandler } from 'express';
import { HttpError } from './http-error.ts';

/** 1 MiB: the largest request the API accepts (the longest field, a knight task, is 2,000 chars). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

const rawBodies = new WeakMap<Request, Buffer>();

/** The exact bytes of a parsed body (empty when there was none): idempotency fingerprints hash them. */
export const rawBodyOf = (req: Request): Buffer => rawBodies.get(req) ?? Buffer.alloc(0);

const hasBody = (req: Request): boolean => {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
};

const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * JSON bodies only. A body of another type is 415 (express.json alone would silently skip it and
 * the route would see no body); a request without a body is treated as `{}` so optional fields
 * default. Over `limitBytes` is 413, before the body is read when Content-Length says so.
 */
export const jsonBody = (limitBytes: number = BODY_LIMIT_BYTES): RequestHandler[] => {
  const parse = express.json({
    limit: limitBytes,
    strict: true,
    type: JSON_TYPES,
    verify: (req, _res, buf) => {
      rawBodies.set(req as Request, buf); // raw-body hands over a buffer of its own: no copy needed
    },
  });
  const requireJson: RequestHandler = (req, _res, next) => {
    if (!hasBody(req)) {
      req.body = {};
      return next();
    }
    if (!req.is(JSON_TYPES))
      return next(new HttpError(415, 'unsupported_media_type', 'the request body must be application/json'));
    next();
  };
  return [requireJson, parse];
};
