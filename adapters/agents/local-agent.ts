import { v5 as uuidv5 } from 'uuid';
import type { Caller, CommandPorts } from '../../commands/context.ts';
import { deployKnight } from '../../commands/knights/deploy-knight.ts';
import { terminateKnight } from '../../commands/knights/terminate-knight.ts';
import type { AgentReplyOptions, AgentRequest, AgentRuntime } from '../../domain/ports/agent-runtime.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import type { KnightView, ReadSide } from '../../projections/read-side.ts';
import { chatOrigin } from './knight-origin.ts';

const KNIGHT_NAMESPACE = '5d1e8c3a-7b2f-5a4e-8c6d-1f9e0a3b7c52';
const INTRO = "I'm the built-in agent of OpenClaw Service — a small rule-based helper, not a language model.";
const HELP =
  'I can tell you your plan, today\'s usage and your knights ("what do I have?"), ' +
  'deploy a knight ("deploy a knight to build a website") or terminate one ("terminate knight <id>").';
const ACTIVE = new Set(['requested', 'provisioning', 'provisioned', 'working']);

const DEPLOY = /\b(deploy|launch|start|spin up|create|send)\b.*\bknights?\b/i;
const TERMINATE = /\b(terminate|stop|kill|shut ?down|destroy|cancel)\b.*\bknights?\b/i;
const STATUS = /\b(tier|plan|usage|status|knights?|what do i have|account|quota)\b/i;
/** "deploy a knight to build a website" → "build a website". */
const TASK = /\bknights?\b\s*(?:to|for|that will|which will|:)\s*(.+)$/is;

/**
 * The embedded default's agent: deterministic, no model, and honest about it. It answers what the
 * tenant has by reading the read models, and deploys or terminates a knight through the same
 * commands as the API. A deploy's knight id derives from the user message's event id, so a
 * redelivered message deploys nothing twice; the knight's first event names the conversation that
 * asked (see knight-origin.ts), so its progress is reported back there.
 */
export const createLocalAgent = (deps: { ports: CommandPorts; reads: ReadSide }): AgentRuntime => {
  const { ports, reads } = deps;
  const caller = (request: AgentRequest, purpose: string): Caller => ({
    tenantId: request.tenantId,
    actor: 'agent',
    correlationId: chatOrigin(request.conversationId, request.messageId),
    causationId: request.eventId,
    idempotency: { key: `${purpose}|${request.eventId}`, fingerprint: purpose },
  });

  const knightsOf = (request: AgentRequest) =>
    reads.forTenant(request.tenantId, async (r) => (await r.knights({ limit: 50 })).items.filter((k) => ACTIVE.has(k.status)));

  const status = async (request: AgentRequest): Promise<string[]> => {
    const day = ports.clock().toISOString().slice(0, 10);
    const { tier, usage, knights } = await reads.forTenant(request.tenantId, (r) => r.overview(day, 50));
    const active = knights.filter((k) => ACTIVE.has(k.status));
    const lines = [
      `You are on the ${tier ?? 'unknown'} tier.`,
      `Today: ${usage.messagesToday} user message${usage.messagesToday === 1 ? '' : 's'}, ${usage.knightMinutes} knight minute${usage.knightMinutes === 1 ? '' : 's'}.`,
    ];
    if (active.length === 0) lines.push('No knights are running.');
    else lines.push(`${active.length} knight${active.length === 1 ? '' : 's'} active:`, ...active.map(describe));
    return lines;
  };

  const deploy = async (request: AgentRequest): Promise<string[]> => {
    const task = TASK.exec(request.text)?.[1]?.trim().replace(/[.!?]+$/, '');
    if (!task) return ['What should the knight do? Say for example "deploy a knight to build a website".'];
    const knightId = `k-${uuidv5(request.eventId, KNIGHT_NAMESPACE)}`;
    try {
      await deployKnight(ports, caller(request, 'agent-deploy'), { task: task.slice(0, 2000), cpu: 2, ramGb: 4 }, { knightId });
    } catch (error) {
      if (!isAppError(error) || error.kind === 'internal' || error.kind === 'unavailable') throw error;
      return [`I could not deploy a knight: ${error.message}.`];
    }
    return [`Deploying knight ${knightId} to "${task}".`, "I'll report its progress here."];
  };

  const terminate = async (request: AgentRequest): Promise<string[]> => {
    const active = await knightsOf(request);
    const named = active.find((k) => request.text.includes(k.knightId));
    const target = named ?? (active.length === 1 ? active[0] : undefined);
    if (!target) {
      if (active.length === 0) return ['No knights are running, so there is nothing to terminate.'];
      return ['Which knight? Say "terminate knight <id>" with one of:', ...active.map(describe)];
    }
    await terminateKnight(ports, caller(request, 'agent-terminate'), target.knightId, { reason: 'asked in chat' });
    return [`Terminating knight ${target.knightId} ("${target.task}").`];
  };

  const answer = async (request: AgentRequest): Promise<string[]> => {
    if (TERMINATE.test(request.text)) return terminate(request);
    if (DEPLOY.test(request.text)) return deploy(request);
    if (STATUS.test(request.text)) return status(request);
    return [INTRO, HELP];
  };

  return {
    kind: 'local',
    async reply(request: AgentRequest, options: AgentReplyOptions): Promise<string> {
      const lines = await answer(request);
      let text = '';
      for (const line of lines) {
        if (options.signal.aborted) throw options.signal.reason;
        text = text ? `${text}\n${line}` : line;
        options.onPartial(text);
      }
      return text;
    },
  };
};

const describe = (k: KnightView): string =>
  `• ${k.knightId}: ${k.status}${k.progress === null ? '' : ` (${k.progress}%)`} — ${k.task}`;
