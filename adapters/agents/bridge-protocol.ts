import { z } from 'zod';

/**
 * The agent bridge's WebSocket protocol (JSON text frames). The bridge on the tenant's VM dials
 * out to the platform's `/bridge`, says hello with its tenant and token, then answers requests.
 */
export const BRIDGE_PATH = '/bridge';
export const BRIDGE_PROTOCOL_VERSION = 1;

/**
 * Close codes the platform uses (4000 + the HTTP status that means the same); the bridge stops for
 * good on the refusals (4400, 4401, 4403) and reconnects with backoff on anything else.
 */
export const BRIDGE_CLOSE = {
  badHello: 4400,
  /** Unknown tenant, forged token, or another tenant's token: all look alike from outside. */
  refused: 4401,
  revoked: 4403,
  helloTimeout: 4408,
  /** A newer bridge of the same tenant connected. */
  replaced: 4409,
  /**
   * The tenant's agent VM is being provisioned (requested, not yet ready), so there is no token to
   * check against yet: try again. The saga starts the bridge before it records `AgentVmReady`, so a
   * quick bridge says hello in that window.
   */
  notReady: 4503,
  shuttingDown: 1001,
} as const;
export const FATAL_CLOSES: ReadonlySet<number> = new Set([BRIDGE_CLOSE.badHello, BRIDGE_CLOSE.refused, BRIDGE_CLOSE.revoked]);

const id = z.string().min(1).max(128);
const text = z.string().max(1_000_000);

export const bridgeFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), version: z.literal(BRIDGE_PROTOCOL_VERSION), tenantId: z.string().max(64), token: z.string().min(1).max(512) }),
  /** The reply so far (the whole text, not the delta). */
  z.object({ type: z.literal('partial'), id, text }),
  z.object({ type: z.literal('done'), id, text }),
  z.object({ type: z.literal('error'), id, message: z.string().max(2_000) }),
]);
export type BridgeFrame = z.infer<typeof bridgeFrameSchema>;

export const platformFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('welcome'), tenantId: z.string() }),
  z.object({ type: z.literal('request'), id, sessionKey: z.string().max(300), text }),
  z.object({ type: z.literal('cancel'), id }),
]);
export type PlatformFrame = z.infer<typeof platformFrameSchema>;

export const parseFrame = <T>(schema: z.ZodType<T>, raw: unknown): T | undefined => {
  try {
    const parsed = schema.safeParse(JSON.parse(String(raw)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};
