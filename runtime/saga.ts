import { hostname } from 'node:os';
import { orgoConfigSchema } from '../adapters/orgo/config.ts';
import { policyOf, provisioningConfigSchema } from '../adapters/provisioning/config.ts';
import type { ProvisioningConfig } from '../adapters/provisioning/config.ts';
import { createWarmPool } from '../adapters/provisioning/pool.ts';
import type { WarmPool } from '../adapters/provisioning/pool.ts';
import { projectionStatus } from '../adapters/projections/status.ts';
import { createReconciler } from '../adapters/provisioning/reconciler.ts';
import { createProvisioningSaga } from '../adapters/provisioning/saga.ts';
import type { BridgeSettings } from '../adapters/provisioning/scripts.ts';
import type { ProvisioningSaga } from '../adapters/provisioning/saga.ts';
import type { CommandShell } from '../commands/shell/handle-command.ts';
import type { VmProvider } from '../domain/ports/vm-provider.ts';
import { parseEnv } from './config.ts';
import type { Logger } from './logger.ts';
import { publicUrlOf } from './channels.ts';
import { PROJECTIONS } from '../projections/index.ts';
import type { Storage } from './stores.ts';

/**
 * What an agent VM's bridge installs and dials: AGENT_BRIDGE_PUBLIC_URL, else PUBLIC_URL turned into
 * ws(s)://…/bridge, else the agents role on this host (a simulated Orgo's VMs are this host).
 */
export const bridgeSettingsOf = (config: ProvisioningConfig, env: Record<string, string | undefined>): BridgeSettings => {
  const publicUrl = publicUrlOf(env);
  const platformUrl =
    config.AGENT_BRIDGE_PUBLIC_URL ?? (publicUrl ? `${publicUrl.replace(/^http/, 'ws')}/bridge` : `ws://127.0.0.1:${env.AGENTS_PORT ?? '8090'}/bridge`);
  return { package: config.AGENT_BRIDGE_PACKAGE, platformUrl };
};

/** The Orgo client's and the saga's variables, checked before anything starts. */
export const checkSagaConfig = (env: Record<string, string | undefined>): void => {
  parseEnv(orgoConfigSchema.extend(provisioningConfigSchema.shape), env);
};

export interface RunningSaga {
  readonly saga: ProvisioningSaga;
  readonly pool: WarmPool | undefined;
  readonly reconciler: ReturnType<typeof createReconciler>;
  stop(): Promise<void>;
}

/**
 * The provisioning saga on a storage: its Bus consumer and scheduler, the warm pool when
 * ORGO_WARM_POOL asks for one, and the periodic reconciliation. Timers and pool rows live beside
 * the bus checkpoints (the event store's schema); the read models are read for who owns what.
 */
export const startSaga = async (options: {
  storage: Storage;
  shell: CommandShell;
  vms: VmProvider;
  eventSchema: string;
  readModelSchema: string;
  env: Record<string, string | undefined>;
  log: Logger;
}): Promise<RunningSaga> => {
  const { storage, vms, log } = options;
  const config = parseEnv(provisioningConfigSchema, options.env);
  const policy = policyOf(config);
  const bridge = bridgeSettingsOf(config, options.env);
  const pool =
    config.ORGO_WARM_POOL > 0
      ? await createWarmPool({
          db: storage.db,
          schema: options.eventSchema,
          instanceId: config.SAGA_INSTANCE_ID ?? hostname(),
          vms,
          size: config.ORGO_WARM_POOL,
          computerSize: policy.agentVmSize,
          namePrefix: policy.namePrefix,
          log,
          bridge,
        })
      : undefined;
  const saga = await createProvisioningSaga({
    store: storage.store,
    codec: storage.codec,
    bus: storage.bus,
    db: storage.db,
    schema: options.eventSchema,
    shell: options.shell,
    vms,
    policy,
    log,
    pool,
    bridge,
    concurrency: config.SAGA_CONCURRENCY,
    ...(config.SAGA_INSTANCE_ID ? { instanceId: config.SAGA_INSTANCE_ID } : {}),
  });
  const reconciler = createReconciler({
    db: storage.db,
    schema: options.readModelSchema,
    vms,
    shell: options.shell,
    namePrefix: policy.namePrefix,
    log,
    pool,
    graceMs: config.RECONCILE_GRACE_SECONDS * 1_000,
    readModelsLagSeconds: ownersLag(storage, options.readModelSchema),
  });
  await saga.start();
  if (config.RECONCILE_INTERVAL_SECONDS > 0) reconciler.start(config.RECONCILE_INTERVAL_SECONDS * 1_000);
  log.info({ warmPool: config.ORGO_WARM_POOL, prefix: policy.namePrefix }, 'provisioning saga running');
  return {
    saga,
    pool,
    reconciler,
    async stop() {
      await reconciler.stop();
      await saga.stop();
    },
  };
};

/** The reconciler reads computers' owners from these read models: how far behind the log they are. */
const OWNER_PROJECTIONS = PROJECTIONS.filter((p) => p.name === 'knights' || p.name === 'tenants');
export const ownersLag = (storage: Storage, schema: string) => async (): Promise<number> =>
  Math.max(0, ...(await projectionStatus(storage.db, storage.store, { schema, projections: OWNER_PROJECTIONS })).map((p) => p.lagSeconds));
