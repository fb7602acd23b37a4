import type { Request, Response } from 'express';

export type Readiness = () => { ready: boolean; detail?: Record<string, unknown> };

/** 200 once every role is up; 503 before that (`starting`) and while the roles drain (`stopping`). */
export const healthRoute = (readiness: Readiness) => (_req: Request, res: Response) => {
  const { ready, detail } = readiness();
  res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : detail?.phase === 'stopping' ? 'stopping' : 'starting', ...detail });
};
