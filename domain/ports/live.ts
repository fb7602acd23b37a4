/**
 * The LiveFeed port: ephemeral frames for a tenant's open dashboards that are not events — nothing
 * stores them, they carry no log position, and a dashboard that is not connected when one is
 * published never sees it (what it must not miss is an event in the log). First use: the text of an
 * agent's reply while the agent is still writing it.
 */
export type LiveFrame = {
  readonly kind: 'agent.partial';
  readonly conversationId: string;
  /** The message the agent is answering. */
  readonly inReplyTo: string;
  /** The reply so far (the whole text, not a delta: a frame lost on the way costs nothing). */
  readonly text: string;
  /** Increases with every frame of one reply, so a client keeps the newest. */
  readonly seq: number;
};

export interface LiveFeed {
  /** Best effort: resolves once handed on, never throws for a tenant nobody watches. */
  publish(tenantId: string, frame: LiveFrame): Promise<void>;
}

export type LiveListener = (tenantId: string, frame: LiveFrame) => void;

/** What the WebSocket pushers read: every frame published from now on, on every instance. */
export interface LiveSource {
  listen(listener: LiveListener): Promise<{ close(): Promise<void> }>;
}
