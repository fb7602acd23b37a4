import type { Request, Response } from 'express';

export type Readiness = () => { ready: boolean; detail?: Record<string, unknown> };

/** 200 once every role is up; 503 with what is still starting (or stopping) before that. */
export const healthRoute = (readiness: Readiness) => (_req: Request, res: Response) => {
  const { ready, detail } = readiness();
  res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'starting', ...detail });
};
