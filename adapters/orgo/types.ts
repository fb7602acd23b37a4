import { z } from 'zod';

/** Orgo's documented computer states. */
export const COMPUTER_STATUSES = [
  'creating', 'starting', 'running', 'stopping', 'stopped', 'restarting', 'suspended', 'deleting', 'error',
] as const;
export type DocumentedComputerStatus = (typeof COMPUTER_STATUSES)[number];
/**
 * A documented state, or `unknown`: one Orgo added after this client was written. An unknown state
 * is neither running nor gone; the saga waits on it (and its deadlines still run).
 */
export type ComputerStatus = DocumentedComputerStatus | 'unknown';

export const computerStatusOf = (reported: string): ComputerStatus =>
  (COMPUTER_STATUSES as readonly string[]).includes(reported) ? (reported as DocumentedComputerStatus) : 'unknown';

const nullableString = z.string().nullish().transform((v) => v ?? null);

const computerFields = {
  id: z.string().min(1),
  name: z.string(),
  workspace_id: nullableString,
  /** Any text: a state Orgo adds must not make a whole listing unreadable (see computerStatusOf). */
  status: z.string(),
  url: nullableString,
  instance_id: nullableString,
  cpu: z.number().nullish(),
  ram: z.number().nullish(),
  created_at: nullableString,
};

/** A computer as Orgo describes it; unknown fields pass, the ones we use are checked. */
export const computerSchema = z.looseObject(computerFields);
/** A workspace's listing may carry computers without their status. */
export const listedComputerSchema = z.looseObject({ ...computerFields, status: z.string().optional() });
export type ReportedComputer = z.infer<typeof computerSchema>;
/** A computer with its status read: `reported_status` keeps what Orgo said. */
export interface Computer {
  readonly id: string;
  readonly name: string;
  readonly workspace_id: string | null;
  readonly status: ComputerStatus;
  /** The status as Orgo said it (differs from `status` only when that is `unknown`). */
  readonly reported_status: string;
  readonly url: string | null;
  readonly instance_id: string | null;
  readonly cpu?: number | null | undefined;
  readonly ram?: number | null | undefined;
  readonly created_at: string | null;
  readonly [field: string]: unknown;
}

export const workspaceSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  created_at: nullableString,
  computer_count: z.number().nullish(),
  /** Listed as `computers` or, on newer hosts, `desktops`. */
  computers: z.array(listedComputerSchema).optional(),
  desktops: z.array(listedComputerSchema).optional(),
});
export type Workspace = z.infer<typeof workspaceSchema>;

export const workspaceListSchema = z.looseObject({ workspaces: z.array(workspaceSchema) });

export const powerSchema = z.looseObject({ success: z.boolean(), status: z.string().optional() });

export const bashSchema = z.looseObject({
  success: z.boolean(),
  output: z.string().nullish().transform((v) => v ?? ''),
  exit_code: z.number().int().nullish(),
});

/** `{image: "data:image/png;base64,…"}` or `{success, image: "https://…png", metadata}`. */
export const screenshotSchema = z.looseObject({ image: z.string().min(1) });

export const errorBodySchema = z.looseObject({
  error: z.string().optional(),
  code: z.string().optional(),
  request_id: z.string().optional(),
  upstream_status: z.number().optional(),
});

export interface ComputerSpec {
  readonly cpu: number;
  readonly ramGb: number;
  readonly diskGb?: number;
  readonly autoStopMinutes?: number;
}

export interface BashResult {
  readonly output: string;
  /** `success` only says the command ran; this says how it ended. */
  readonly exitCode: number;
}

export type Screenshot = { readonly kind: 'data'; readonly dataUrl: string } | { readonly kind: 'url'; readonly url: string };
