import type { JobAction, Observation } from '../../domain/provisioning/job.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import type { Vm, VmProvider } from '../../domain/ports/vm-provider.ts';
import { agentSteps, KNIGHT_STEPS, newBridgeToken, taskStep } from './scripts.ts';
import type { BridgeSettings } from './scripts.ts';
import type { ScriptStep } from './scripts.ts';
import type { WarmPool } from './pool.ts';

type Effect = Exclude<JobAction<unknown>, { type: 'Record' | 'Wait' | 'Done' }>;

export interface EffectsDeps {
  readonly vms: VmProvider;
  readonly pool?: WarmPool | undefined;
  /** The bash timeout of a knight's task (Orgo's own limit is 200 s). */
  readonly taskTimeoutSeconds?: number;
  /** The bridge an agent VM gets (scripts.ts). */
  readonly bridge: BridgeSettings;
}

const NAME_CACHE_LIMIT = 10_000;

/**
 * Carries out the saga's effects on the VM provider and reports each outcome as an observation
 * for the next decision. A failed call becomes `ProviderFailed` (classified by the provider),
 * never an exception: what to do about it is the domain's decision.
 */
export const createEffects = (deps: EffectsDeps) => {
  const { vms, pool } = deps;
  // Computer ids by name, so a job polling its computer need not list the workspace each time.
  const ids = new Map<string, string>();
  // Names this process has just given to a job itself (recorded, nothing created yet): the one
  // case where a create needs no look-up first. After a restart, or in another process, the name
  // is looked up before anything is created.
  const fresh = new Set<string>();
  const remember = (name: string, id: string) => {
    if (ids.size >= NAME_CACHE_LIMIT) ids.delete(ids.keys().next().value!);
    ids.set(name, id);
  };
  const seen = (vm: Vm): Observation => ({
    type: 'ComputerSeen',
    vm: { id: vm.id, status: vm.status, url: vm.url },
  });

  /** A warm computer for `name`, only while no computer of that name exists (else the own one would be left running). */
  const fromPool = async (name: string, size: { cpu: number; ramGb: number }): Promise<Observation | undefined> => {
    const claimed = await pool?.claim(name, size);
    return claimed ? seen(await vms.get(claimed.vmId)) : undefined;
  };

  const provide = async (name: string, size: { cpu: number; ramGb: number }): Promise<Observation> => {
    const mine = await pool?.claimOf(name);
    if (mine) return seen(await vms.get(mine.vmId));
    if (fresh.delete(name)) return (await fromPool(name, size)) ?? create(name, size);
    const known = ids.get(name);
    if (known) {
      try {
        return seen(await vms.get(known));
      } catch (error) {
        if (vms.classify(error) !== 'gone') throw error;
        ids.delete(name);
      }
    }
    const found = await vms.findByName(name);
    if (found) {
      remember(name, found.id);
      return seen(found);
    }
    return (await fromPool(name, size)) ?? create(name, size);
  };

  const create = async (name: string, size: { cpu: number; ramGb: number }): Promise<Observation> => {
    try {
      const created = await vms.create(name, size);
      remember(name, created.id);
      return seen(created);
    } catch (error) {
      // The answer was lost (a timeout) or another process created it meanwhile (a name clash):
      // names are unique, so if a computer of this name exists now, it is the one.
      if (vms.classify(error) !== 'transient') throw error;
      const raced = await vms.findByName(name).catch(() => undefined);
      if (!raced) throw error;
      remember(name, raced.id);
      return seen(raced);
    }
  };

  const runSteps = async (vmId: string, steps: readonly ScriptStep[]): Promise<Observation | undefined> => {
    for (const step of steps) {
      const result = await vms.bash(vmId, step.command, step.timeoutSeconds);
      if (result.exitCode !== 0) return { type: 'PrepareFailed', step: step.name, exitCode: result.exitCode, output: result.output };
    }
    return undefined;
  };

  const prepare = async (vmId: string, owner: string, purpose: 'knight' | 'agent', tenantId: string): Promise<Observation> => {
    const warm = (await pool?.claimOf(owner))?.vmId === vmId;
    if (purpose === 'knight') return (await runSteps(vmId, warm ? [] : KNIGHT_STEPS)) ?? { type: 'Prepared', vmId, bridgeTokenHash: null };
    // A fresh token each time: after a crash the bridge simply gets a new one, and only its hash is kept.
    const { token, hash } = newBridgeToken();
    return (await runSteps(vmId, agentSteps(deps.bridge, tenantId, token, warm))) ?? { type: 'Prepared', vmId, bridgeTokenHash: hash };
  };

  const runTask = async (vmId: string, taskId: string, task: string): Promise<Observation> => {
    const step = taskStep(taskId, task, deps.taskTimeoutSeconds ?? 200);
    const result = await vms.bash(vmId, step.command, step.timeoutSeconds);
    let screenshotUrl: string | null = null;
    if (result.exitCode === 0) {
      // best effort: a data-URL screenshot is not kept in an event; the API serves a live one instead
      const shot = await vms.screenshot(vmId).catch(() => undefined);
      if (shot?.kind === 'url' && /^https?:\/\/[\x21-\x7e]{1,2000}$/.test(shot.url)) screenshotUrl = shot.url;
    }
    return { type: 'TaskFinished', exitCode: result.exitCode, output: result.output, screenshotUrl };
  };

  const remove = async (name: string, vmId: string | null): Promise<Observation> => {
    const targets = new Set<string>();
    if (vmId) targets.add(vmId);
    const claim = await pool?.claimOf(name);
    if (claim?.vmId) targets.add(claim.vmId);
    const cached = ids.get(name);
    if (cached) targets.add(cached);
    if (!vmId) {
      const found = await vms.findByName(name);
      if (found) targets.add(found.id);
    }
    for (const id of targets) await vms.remove(id);
    ids.delete(name);
    await pool?.release(name);
    return { type: 'ComputerDeleted' };
  };

  const during: Record<Effect['type'], Extract<Observation, { type: 'ProviderFailed' }>['during']> = {
    ProvideComputer: 'provide',
    StartComputer: 'start',
    Prepare: 'prepare',
    RunTask: 'task',
    DeleteComputer: 'delete',
  };

  return {
    /** The name was just recorded for a job by this process: its first create needs no look-up. */
    named(name: string) {
      if (fresh.size >= NAME_CACHE_LIMIT) fresh.delete(fresh.values().next().value!);
      fresh.add(name);
    },
    /** Runs one effect; `attempt` counts the failures in a row before it. */
    async run(effect: Effect, attempt: number): Promise<Observation> {
      try {
        switch (effect.type) {
          case 'ProvideComputer':
            return await provide(effect.name, effect.size);
          case 'StartComputer':
            await vms.start(effect.vmId);
            return seen(await vms.get(effect.vmId));
          case 'Prepare':
            return await prepare(effect.vmId, effect.owner, effect.purpose, effect.tenantId);
          case 'RunTask':
            return await runTask(effect.vmId, effect.taskId, effect.task);
          case 'DeleteComputer':
            return await remove(effect.name, effect.vmId);
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const status = isAppError(error) && typeof error.details?.status === 'number' ? error.details.status : null;
        return { type: 'ProviderFailed', during: during[effect.type], failure: vms.classify(error), message, status, attempt };
      }
    },
  };
};

export type Effects = ReturnType<typeof createEffects>;
