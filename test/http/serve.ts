import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

/** Serves an express app on a free port for fetch-based specs. */
export const serve = async (app: Express): Promise<{ url: string; close(): Promise<void> }> => {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
