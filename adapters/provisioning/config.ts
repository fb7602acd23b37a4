import { z } from 'zod';
import { decimalInt } from '../config/decimal.ts';
import { DEFAULT_POLICY } from '../../domain/provisioning/job.ts';
import type { ProvisioningPolicy } from '../../domain/provisioning/job.ts';
import { NAME_PREFIX_PATTERN } from '../../domain/provisioning/names.ts';

const seconds = (fallback: number, max: number) => decimalInt(1, max).default(fallback);

/** Environment variables of the provisioning saga; runtime/config.ts merges `.shape` into its schema. */
export const provisioningConfigSchema = z.object({
  /** Unclaimed, bootstrapped computers kept ready for new tenants (and knights of the agent VM's size). */
  ORGO_WARM_POOL: decimalInt(0, 50).default(0),
  /** Every computer this platform makes is named `<prefix>-…`; reconciliation touches no other. */
  ORGO_NAME_PREFIX: z.string().regex(NAME_PREFIX_PATTERN, '2–12 lower-case letters and digits, starting with a letter').default(DEFAULT_POLICY.namePrefix),
  KNIGHT_PROVISION_TIMEOUT_SECONDS: seconds(DEFAULT_POLICY.knightProvisionMs / 1_000, 86_400),
  KNIGHT_TASK_TIMEOUT_SECONDS: seconds(DEFAULT_POLICY.knightTaskMs / 1_000, 7 * 86_400),
  AGENT_VM_TIMEOUT_SECONDS: seconds(DEFAULT_POLICY.agentVmMs / 1_000, 86_400),
  /** Between looks at a computer that is still booting. */
  ORGO_POLL_MS: decimalInt(10, 60_000).default(DEFAULT_POLICY.pollMs),
  /** Provisioning jobs stepped at once by one saga process. */
  SAGA_CONCURRENCY: decimalInt(1, 1_000).default(64),
  /** Names this saga process's leases: give each saga process on one host its own. */
  SAGA_INSTANCE_ID: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/).optional(),
  /** Seconds between reconciliations (0: never). */
  RECONCILE_INTERVAL_SECONDS: decimalInt(0, 86_400).default(300),
  /** Computers and knights younger than this are left out of a reconciliation. */
  RECONCILE_GRACE_SECONDS: decimalInt(0, 86_400).default(600),
  /**
   * What an agent VM's bridge dials (the agents role's /bridge, as the VMs reach it: ws(s)://…/bridge).
   * Default: PUBLIC_URL with ws(s) and /bridge; without PUBLIC_URL, ws://127.0.0.1:<AGENTS_PORT>/bridge
   * (only a local simulated Orgo can use that).
   */
  AGENT_BRIDGE_PUBLIC_URL: z
    .string()
    .url()
    .regex(/^wss?:\/\/[^\s]+$/, 'must be a ws:// or wss:// URL')
    .optional(),
  /** The npm package a VM installs to get `openclaw-service agent-bridge` (this product, as the operator publishes it). */
  AGENT_BRIDGE_PACKAGE: z
    .string()
    .regex(/^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*(@[A-Za-z0-9._^~<>=-]+)?$/, 'an npm package name, optionally @version')
    .default('openclaw-service'),
  /** The embedded simulated Orgo's timings: `documented` (about 2 s to a running computer) or `none`. */
  ORGO_SIMULATOR_DELAYS: z.enum(['documented', 'none']).default('documented'),
});
export type ProvisioningConfig = z.infer<typeof provisioningConfigSchema>;

export const policyOf = (config: ProvisioningConfig): ProvisioningPolicy => ({
  ...DEFAULT_POLICY,
  namePrefix: config.ORGO_NAME_PREFIX,
  knightProvisionMs: config.KNIGHT_PROVISION_TIMEOUT_SECONDS * 1_000,
  knightTaskMs: config.KNIGHT_TASK_TIMEOUT_SECONDS * 1_000,
  agentVmMs: config.AGENT_VM_TIMEOUT_SECONDS * 1_000,
  pollMs: config.ORGO_POLL_MS,
});
