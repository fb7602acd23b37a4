import { z } from 'zod';

/** Orgo's documented computer states. */
export const COMPUTER_STATUSES = [
  'creating', 'starting', 'running', 'stopping', 'stopped', 'restarting', 'suspended', 'deleting', 'error',
] as const;
export type ComputerStatus = (typeof COMPUTER_STATUSES)[number];

const nullableString = z.string().nullish().transform((v) => v ?? null);

/** A computer as Orgo describes it; unknown fields pass, the ones we use are checked. */
export const computerSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  workspace_id: nullableString,
  status: z.enum(COMPUTER_STATUSES),
  url: nullableString,
  instance_id: nullableString,
  cpu: z.number().nullish(),
  ram: z.number().nullish(),
  created_at: nullableString,
});
export type Computer = z.infer<typeof computerSchema>;

export const workspaceSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  created_at: nullableString,
  computer_count: z.number().nullish(),
  /** Listed as `computers` or, on newer hosts, `desktops`. */
  computers: z.array(computerSchema).optional(),
  desktops: z.array(computerSchema).optional(),
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
