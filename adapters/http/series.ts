import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Several middlewares as one router layer: each runs when the one before calls `next()`; an error
 * (passed to `next`, thrown, or a rejected promise, as express 5 treats them) goes to the
 * router's error handling. A route's chain (authenticate → limit → scope → body → handler) then
 * costs the router one layer instead of six on every request.
 */
export const series = (handlers: readonly RequestHandler[]): RequestHandler => {
  if (handlers.length === 1) return handlers[0]!;
  return (req: Request, res: Response, done: NextFunction) => {
    let index = 0;
    const step = (error?: unknown): void => {
      if (error !== undefined && error !== null) return done(error);
      const handler = handlers[index++];
      if (!handler) return done();
      try {
        const result: unknown = handler(req, res, step);
        if (result instanceof Promise) result.catch((e: unknown) => step(e ?? new Error('a handler rejected without a reason')));
      } catch (thrown) {
        step(thrown ?? new Error('a handler threw without a reason'));
      }
    };
    step();
  };
};
