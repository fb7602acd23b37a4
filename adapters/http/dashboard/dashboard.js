// The dashboard: sign in with an API key, then a tenant's conversations, messages, knights and raw
// events, live over /ws/tenant/{id} (docs/live.md). No framework; text goes in with textContent only.
const $ = (id) => document.getElementById(id);
const API = '/api/v1';
const FEED_LIMIT = 500;
/** A conversation opens with its newest messages, this many; "Load older messages" brings the page before. */
const HISTORY_PAGE = 50;
/**
 * Messages kept of the open conversation (what the live feed appends and "Load older messages" brings) and
 * of another one read before: the newest; older ones come again with "Load older messages". Past the bound
 * after "Load older messages", the newest go instead (the page asked for stays) and "Jump to latest" reads
 * the newest page again.
 */
const OPEN_HISTORY_LIMIT = 2_000;
const HISTORY_LIMIT = 200;
/** Conversations whose messages stay cached besides the open one: those opened last. */
const HISTORIES_KEPT = 5;
/**
 * Knights kept at most: past it, finished ones go (terminated, then failed; the longest finished first); a
 * knight still alive and not failed stays, and so does the page "Load more knights" read last (the user asked for it).
 */
const KNIGHTS_KEPT = 1_000;
/**
 * Conversations kept at most: past it, the least recently active go, never the open one nor the page
 * "Load more conversations" read last (the user asked for it).
 */
const CONVERSATIONS_KEPT = 1_000;
/** A page of conversations or knights: the API's most. Older ones come with "Load more" (docs/live.md). */
const LIST_PAGE = 100;
/** An agent's partial reply with no newer frame for this long is dropped: its reply may never come (docs/live.md). */
const PARTIAL_SHOWN_MS = 60_000;
/** Partial replies kept at most (one per conversation; each also goes after PARTIAL_SHOWN_MS): the oldest goes first. */
const PARTIALS_KEPT = 20;
/** Replies (and failures) remembered by the message they answer, so a partial frame arriving after its reply is dropped. */
const ANSWERED_KEPT = 500;
/** An API call with no answer for this long fails (docs/live.md). */
const REQUEST_TIMEOUT_MS = 15_000;
/**
 * A knight's status and progress after an event, as the knights read model sets them
 * (projections/knights/projection.ts), so a knight shows the same from events as from the API: a
 * completed task leaves it provisioned at 100 %, a new task starts at 0 %, progress leaves the status.
 */
const KNIGHT_CHANGE = {
  KnightRequested: (d) => ({ status: 'requested', task: d.task, progress: null }),
  KnightProvisioningStarted: () => ({ status: 'provisioning' }),
  KnightProvisioned: () => ({ status: 'provisioned' }),
  KnightTaskStarted: () => ({ status: 'working', progress: 0 }),
  KnightTaskProgressed: (d) => ({ progress: d.percent }),
  KnightTaskCompleted: () => ({ status: 'provisioned', progress: 100 }),
  KnightFailed: () => ({ status: 'failed' }),
  KnightTerminationRequested: () => ({ status: 'terminating' }),
  KnightTerminated: () => ({ status: 'terminated' }),
};

let session = null; // { key, token, expiresAt, tenantId }
let socket = null;
let position = null; // last event position received: where a reconnect resumes
let backoff = 500;
let reconnectTimer = null;
let snapshotLoaded = false;
let snapshotLoading = false;
let snapshotRetry = null;
let pending = []; // events that arrived before the first snapshot was in
const conversations = new Map();
/**
 * The messages of conversations opened: conversationId -> { messages: Map(messageId -> message), loaded
 * (its newest page is in), older (the API has older ones), oldest (the place to load older ones before),
 * loadingOlder }. The live feed appends to it, so a conversation opened again is shown without a read.
 */
const histories = new Map();
const knights = new Map();
/**
 * The API's cursor to the next page of each list (`null`: all loaded), whether that page is on its way, and
 * the ids of the page "Load more" read last (kept past the list's bound until the next one comes).
 */
const more = { conversations: { next: null, loading: false, asked: new Set() }, knights: { next: null, loading: false, asked: new Set() } };
let selected = null;
const partials = new Map(); // conversationId -> { frame, timer }: the agent's partial reply, one per conversation
const answered = new Set(); // `${conversationId} ${inReplyTo}` of the newest replies and failures

/**
 * Shows (or with `null` drops) the agent's partial reply in one conversation; it expires PARTIAL_SHOWN_MS
 * after its last frame. Each conversation has its own: one frame does not replace another's.
 */
const setPartial = (conversationId, frame) => {
  clearTimeout(partials.get(conversationId)?.timer);
  partials.delete(conversationId);
  if (!frame) return;
  const timer = setTimeout(() => {
    if (partials.get(conversationId)?.frame !== frame) return;
    partials.delete(conversationId);
    render();
  }, PARTIAL_SHOWN_MS);
  partials.set(conversationId, { frame, timer });
  while (partials.size > PARTIALS_KEPT) setPartial(partials.keys().next().value, null);
};
const partialOf = (conversationId) => partials.get(conversationId)?.frame ?? null;
/** Remembers that the message `inReplyTo` was answered (or its answer failed): its late partial frames are dropped. */
const markAnswered = (conversationId, inReplyTo) => {
  answered.delete(`${conversationId} ${inReplyTo}`);
  answered.add(`${conversationId} ${inReplyTo}`);
  while (answered.size > ANSWERED_KEPT) answered.delete(answered.values().next().value);
};

const el = (tag, text, attrs = {}) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
};

/** A panel's failure, shown in the panel itself (role=alert) with a Retry button; `null` clears it. */
const panelError = (id, message, retry = null) => {
  const box = $(id);
  box.hidden = message === null;
  box.querySelector('[role=alert]').textContent = message ?? '';
  box.querySelector('button').onclick = retry;
};

const setState = (state, label = state) => {
  const badge = $('connection');
  badge.dataset.state = state;
  badge.textContent = label;
};

/**
 * One API call. One with no whole answer in REQUEST_TIMEOUT_MS is aborted and fails like any other
 * (no status): a hung call would otherwise leave its panel, the snapshot or a reconnect waiting forever.
 */
const request = async (path, method, credential, { level = false } = {}) => {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(API + path, { method, headers: { authorization: `Bearer ${credential}`, accept: 'application/json' }, signal: abort.signal });
    const body = await res.json().catch((error) => {
      if (abort.signal.aborted) throw error;
      return {};
    });
    if (!res.ok) throw Object.assign(new Error(body.detail || body.title || `HTTP ${res.status}`), { status: res.status });
    // the read models were still behind the asked minPosition when the API stopped waiting (README.md):
    // an answer that misses events the page will not be sent again
    const lag = res.headers.get('X-Read-Model-Lag');
    if (level && lag !== null) throw Object.assign(new Error(`the read models are ${lag} events behind`), { lagging: true });
    return body;
  } catch (error) {
    if (abort.signal.aborted) throw new Error(`no answer from the API in ${REQUEST_TIMEOUT_MS / 1000} s`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
};

const exchange = async () => {
  const mine = session; // a token for this session's key, whatever session is current when it comes
  const issued = await request('/auth/token', 'POST', mine.key);
  Object.assign(mine, { token: issued.access_token, expiresAt: Date.now() + issued.expires_in * 1000 });
};

/** A token with 30 s left at least: an expired one would count as a failed authentication of this address. */
const fresh = async () => {
  if (Date.now() > session.expiresAt - 30_000) await exchange();
};

/**
 * A read with the session's token; one that expired (401) is exchanged again once, a refused key signs out.
 * With `level`, an answer from read models behind its `minPosition` fails too.
 */
const api = async (path, options = {}) => {
  try {
    await fresh();
    return await request(path, 'GET', session.token, options);
  } catch (error) {
    if (error.status !== 401) throw error;
    try {
      await exchange();
    } catch (failure) {
      if (failure.status === 401) signOut(`signed out: ${failure.message}`);
      throw failure;
    }
    return request(path, 'GET', session.token, options);
  }
};

// ---- state from events -----------------------------------------------------------------------
const entityOf = (streamId) => streamId.slice(streamId.indexOf('.') + 1);
const messagesOf = (conversationId) => histories.get(conversationId)?.messages ?? new Map();
/**
 * Two places in a chat (decimals without trailing zeros, `"12"`, `"11.5"`), compared as numbers: the
 * whole parts by length then digits, the fractions digit by digit.
 */
const comparePlaces = (a, b) => {
  const [aWhole, aFraction = ''] = a.split('.');
  const [bWhole, bFraction = ''] = b.split('.');
  if (aWhole.length !== bWhole.length) return aWhole.length - bWhole.length;
  if (aWhole !== bWhole) return aWhole < bWhole ? -1 : 1;
  return aFraction < bFraction ? -1 : aFraction > bFraction ? 1 : 0;
};
/**
 * The history's order, as the API has it: a message's place in the chat, then its revision (`seq`). A
 * bot user's message that arrived late has a place between its neighbours (docs/channels.md): its
 * revision would put it after messages it came before (and times come from different clocks).
 */
const inHistoryOrder = (a, b) => comparePlaces(a.place, b.place) || a.seq - b.seq;
/** A message's place: the API says it; an event has it in `external.seq`, else its revision. */
const placeOf = (m) => m.place ?? String(m.seq);
/**
 * Drops a conversation's oldest messages past its bound (OPEN_HISTORY_LIMIT while it is open, else
 * HISTORY_LIMIT); "Load older messages" brings them back (it reads before the oldest place kept). While
 * the open one's older page is on its way, none go: that page is read before the oldest kept, and one
 * dropped meanwhile would be a hole no later page fills (loadOlder cuts the history when the page is in).
 */
const keepNewest = (history, limit = history === histories.get(selected) ? OPEN_HISTORY_LIMIT : HISTORY_LIMIT) => {
  const list = history.messages;
  if (list.size <= limit) return;
  if (history.loadingOlder && history === histories.get(selected)) return;
  const sorted = [...list.values()].sort(inHistoryOrder);
  const dropped = list.size - limit;
  for (const m of sorted.slice(0, dropped)) list.delete(m.messageId);
  Object.assign(history, { older: true, oldest: sorted[dropped].place });
};
/**
 * After "Load older messages" past OPEN_HISTORY_LIMIT: the newest messages go instead, so the page the
 * user asked for shows. The history then ends before the chat does (`newer`): the live feed no longer
 * appends to it (that would leave a gap) and "Jump to latest" reads the newest page again.
 */
const keepOldest = (history) => {
  const list = history.messages;
  if (list.size <= OPEN_HISTORY_LIMIT) return;
  const sorted = [...list.values()].sort(inHistoryOrder);
  for (const m of sorted.slice(OPEN_HISTORY_LIMIT)) list.delete(m.messageId);
  Object.assign(history, { newer: true, newest: sorted[OPEN_HISTORY_LIMIT - 1].place });
};
/**
 * After another conversation was opened: the open one becomes the most recent, the others are cut to
 * HISTORY_LIMIT, and only the HISTORIES_KEPT opened last stay cached (one dropped is read again when opened).
 */
const keepRecentHistories = (conversationId) => {
  const history = histories.get(conversationId);
  if (history) {
    histories.delete(conversationId);
    histories.set(conversationId, history); // a Map keeps insertion order: least recently opened first
  }
  for (const [id, other] of histories) {
    if (id === conversationId) continue;
    // one scrolled back from its newest messages is read again, from the newest, when it is opened
    if (other.newer) histories.delete(id);
    else keepNewest(other, HISTORY_LIMIT);
  }
  for (const id of [...histories.keys()]) if (histories.size > HISTORIES_KEPT + 1 && id !== conversationId) histories.delete(id);
};
let endings = 0; // knights seen terminating or failing on this page, in order
/**
 * Past KNIGHTS_KEPT knights, finished ones go: terminated ones first, then failed ones (a failure may
 * still want a look); of each, those the API listed so first (in list order, the oldest last), then those
 * seen ending here, the earliest first. Knights at work (or on their way to it) stay, and so do those of
 * the page "Load more knights" read last: the user asked to see them.
 */
const keepKnights = () => {
  if (knights.size <= KNIGHTS_KEPT) return;
  const asked = more.knights.asked;
  const goingFirst = (status) => {
    const ended = [...knights.values()].filter((k) => k.status === status && !asked.has(k.knightId));
    const listed = ended.filter((k) => !k.ended).reverse(); // the API lists newest first: its oldest go first
    const seen = ended.filter((k) => k.ended).sort((a, b) => a.ended - b.ended);
    return [...listed, ...seen];
  };
  for (const k of [...goingFirst('terminated'), ...goingFirst('failed')]) {
    if (knights.size <= KNIGHTS_KEPT) return;
    knights.delete(k.knightId);
  }
};
/**
 * The conversations' order in the list, and which go first past CONVERSATIONS_KEPT: the least recently
 * active, by their last message (else their start). One brought back by an event (it had gone past the
 * bound, or was never listed) was active then too (`returnedAt`): it shows on top, not below the rest, where
 * the next bound would drop it again.
 */
const activeAt = (c) => {
  const last = String(c.lastMessageAt ?? c.createdAt ?? '');
  return c.returnedAt && c.returnedAt > last ? c.returnedAt : last;
};
const byActivity = (a, b) => activeAt(b).localeCompare(activeAt(a));
/**
 * Past CONVERSATIONS_KEPT conversations, the least recently active go, never the open one nor those of the
 * page "Load more conversations" read last (the user asked to see them). One that goes comes back when
 * it is active again (an event for it), and its title is read then.
 */
const keepConversations = () => {
  if (conversations.size <= CONVERSATIONS_KEPT) return;
  const asked = more.conversations.asked;
  const candidates = [...conversations.values()].filter((c) => c.conversationId !== selected && !asked.has(c.conversationId)).sort(byActivity);
  while (conversations.size > CONVERSATIONS_KEPT && candidates.length > 0) conversations.delete(candidates.pop().conversationId);
};
/**
 * A page of the history from the API, newest first: what the live feed brought already stays. The newest
 * page (opening) drops the oldest past the bound; an older page ("Load older messages") the newest.
 */
const addHistoryPage = (history, page, { older = false } = {}) => {
  for (const m of page.items) if (!history.messages.has(m.messageId)) history.messages.set(m.messageId, { ...m, place: placeOf(m) });
  const last = page.items.at(-1);
  history.older = page.next !== null;
  if (last) history.oldest = placeOf(last);
  if (older && history === histories.get(selected)) keepOldest(history);
  else keepNewest(history);
};

const apply = (event) => {
  const d = event.data;
  if (event.streamId.startsWith('conversation-')) {
    const id = entityOf(event.streamId);
    if (!conversations.has(id) && event.type !== 'ConversationStarted') void describeConversation(id, event.position);
    const c = conversations.get(id) ?? { conversationId: id, title: null, status: 'open', channel: 'api', createdAt: d.at, returnedAt: d.at };
    if (event.type === 'ConversationStarted') Object.assign(c, { title: d.title, channel: d.channel, externalChatId: d.externalChatId ?? null });
    if (event.type === 'ConversationClosed') c.status = 'closed';
    if (event.type === 'AgentReplyFailed') {
      markAnswered(id, d.inReplyTo);
      if (partialOf(id)?.inReplyTo === d.inReplyTo) setPartial(id, null);
    }
    if (event.type === 'MessagePosted') {
      // a conversation not opened yet has no history here: it is read when it is opened
      const history = histories.get(id);
      const place = d.external?.seq ?? String(event.revision);
      // a history scrolled back from its newest messages gets none past them: "Jump to latest" reads them
      if (history && !(history.newer && comparePlaces(place, history.newest) > 0)) {
        history.messages.set(d.messageId, { messageId: d.messageId, seq: event.revision, place, role: d.role, text: d.text, inReplyTo: d.inReplyTo ?? null, createdAt: d.at, position: event.position });
        keepNewest(history);
      }
      c.lastMessageAt = d.at; // the read models' clock (the command's), as the API's conversations carry
      if (d.role === 'agent' && d.inReplyTo) markAnswered(id, d.inReplyTo);
      if (d.role === 'agent') setPartial(id, null);
      if (!selected) selected = id;
    }
    conversations.set(id, c);
    keepConversations();
  } else if (event.streamId.startsWith('knight-')) {
    const id = entityOf(event.streamId);
    const k = knights.get(id) ?? { knightId: id, task: '', status: 'requested', progress: null };
    if (KNIGHT_CHANGE[event.type]) Object.assign(k, KNIGHT_CHANGE[event.type](d));
    if (event.type === 'KnightTerminated' || event.type === 'KnightFailed') k.ended = ++endings; // the first to go past KNIGHTS_KEPT are the oldest
    knights.set(id, k);
    keepKnights();
  }
};

const TITLE_FAILED = 'could not load the title of a conversation';
/** A conversation the snapshot did not list (older than its first page): its title and status from the API. */
const describeConversation = async (conversationId, at) => {
  const mine = session;
  try {
    const found = await api(`/conversations/${encodeURIComponent(conversationId)}?minPosition=${at}`);
    const c = conversations.get(conversationId);
    if (session !== mine || !c) return;
    const lastMessageAt = c.lastMessageAt ?? found.lastMessageAt ?? null; // one the feed brought meanwhile is newer
    Object.assign(c, { title: found.title, channel: found.channel, externalChatId: found.externalChatId ?? null, createdAt: found.createdAt, lastMessageAt }, found.status === 'closed' ? { status: 'closed' } : {});
    if ($('conversations-error').textContent.includes(TITLE_FAILED)) panelError('conversations-error', null);
    render();
  } catch (error) {
    console.warn('conversation', error);
    if (session !== mine) return; // signed out meanwhile
    // the conversation is listed by its id meanwhile; Retry asks again
    panelError('conversations-error', `${TITLE_FAILED}: ${error.message}`, () => void describeConversation(conversationId, at));
  }
};

const feed = (event) => {
  const list = $('events');
  const item = el('li', `${event.position}  ${event.type}  ${event.streamId}`, { 'data-position': event.position, 'data-type': event.type });
  list.prepend(item);
  while (list.childElementCount > FEED_LIMIT) list.lastElementChild.remove();
};

// ---- rendering -------------------------------------------------------------------------------
/** Sets a node's text or attribute only when it differs, so a redraw leaves what is unchanged alone. */
const setText = (node, text) => {
  if (node.textContent !== text) node.textContent = text;
};
const setAttr = (node, name, value) => {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
};

/**
 * Brings a list in line with `items`, in order, keyed by `data-id`: an item already shown keeps its node
 * (`update` refreshes it), only new items get one (`create`), and a node moves only when out of place, so
 * one new message adds one node instead of redrawing the whole list.
 */
const reconcile = (list, items, keyOf, create, update) => {
  const wanted = new Set(items.map(keyOf));
  for (const node of [...list.children]) if (!wanted.has(node.dataset.id)) node.remove();
  const shown = new Map([...list.children].map((node) => [node.dataset.id, node]));
  items.forEach((item, i) => {
    let node = shown.get(keyOf(item));
    if (node) update?.(node, item);
    else node = create(item);
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
  });
};

/** A conversation's name, in the list and the Messages header alike: a bot chat has no title, it is named
 * by its channel and chat (its id is a pseudonym, docs/channels.md). */
const conversationName = (c) => c.title ?? (c.externalChatId ? `${c.channel} ${c.externalChatId}` : c.conversationId);

const render = () => {
  setText($('position'), position ?? '—');
  const convList = $('conversations');
  const focused = convList.contains(document.activeElement) ? document.activeElement.parentElement.dataset.id : undefined;
  const conversationLabel = (c) => `${conversationName(c)} · ${c.status}`;
  reconcile(
    convList,
    [...conversations.values()].sort(byActivity),
    (c) => c.conversationId,
    (c) => {
      const button = el('button', conversationLabel(c), { type: 'button', 'aria-current': String(c.conversationId === selected) });
      button.addEventListener('click', () => select(c.conversationId));
      const li = el('li', undefined, { 'data-id': c.conversationId });
      li.append(button);
      return li;
    },
    (li, c) => {
      setText(li.firstElementChild, conversationLabel(c));
      setAttr(li.firstElementChild, 'aria-current', String(c.conversationId === selected));
    },
  );
  // a focused item that moved lost the keyboard: give it back
  const refocus = focused && [...convList.children].find((li) => li.dataset.id === focused)?.firstElementChild;
  if (refocus && document.activeElement !== refocus) refocus.focus();
  const current = selected ? conversations.get(selected) : null;
  setText($('conversation-title'), current ? `— ${conversationName(current)}` : '');
  reconcile(
    $('messages'),
    [...(selected ? messagesOf(selected).values() : [])].sort(inHistoryOrder),
    (m) => m.messageId,
    (m) => el('li', `${m.role}: ${m.text}`, { 'data-id': m.messageId, 'data-role': m.role }),
  );
  const history = selected ? histories.get(selected) : undefined;
  $('messages-older').hidden = !history?.loaded || !history.older;
  $('messages-older').disabled = Boolean(history?.loadingOlder);
  $('messages-latest').hidden = !history?.newer;
  const partial = selected ? partialOf(selected) : null;
  $('partial').hidden = !partial;
  setText($('partial'), partial ? `agent is writing: ${partial.text}` : '');
  for (const kind of ['conversations', 'knights']) {
    $(`${kind}-more`).hidden = !snapshotLoaded || !more[kind].next;
    $(`${kind}-more`).disabled = more[kind].loading;
  }
  const knightLabel = (k) => `${k.task || k.knightId} · ${k.status}${k.progress === null ? '' : ` ${k.progress}%`}`;
  reconcile(
    $('knights'),
    [...knights.values()],
    (k) => k.knightId,
    (k) => el('li', knightLabel(k), { 'data-id': k.knightId, 'data-status': k.status }),
    (li, k) => {
      setText(li, knightLabel(k));
      setAttr(li, 'data-status', k.status);
    },
  );
};

/**
 * Opens a conversation: one already read is shown as it is (the live feed kept it up to date); another
 * is read from its newest message back, one page (as of the socket's position: the events before it
 * are in the read models, those after it come by the feed and land in the history as it is read).
 */
const select = async (conversationId) => {
  const mine = session;
  selected = conversationId;
  panelError('messages-error', null);
  keepRecentHistories(conversationId);
  render();
  if (histories.has(conversationId)) return;
  const history = { messages: new Map(), loaded: false, older: false, oldest: null, newer: false, newest: null, loadingOlder: false };
  histories.set(conversationId, history);
  keepRecentHistories(conversationId);
  try {
    const at = position ? `&minPosition=${position}` : '';
    const page = await api(`/conversations/${encodeURIComponent(conversationId)}/messages?order=newest&limit=${HISTORY_PAGE}${at}`, { level: true });
    if (histories.get(conversationId) !== history) return; // signed out, or started afresh, meanwhile
    addHistoryPage(history, page);
    history.loaded = true;
    render();
  } catch (error) {
    console.warn('messages', error);
    // not read: the next opening (or Retry) reads it again
    if (histories.get(conversationId) === history) histories.delete(conversationId);
    // signed out meanwhile (a refused key says so on the sign-in form), or another conversation chosen
    if (session !== mine || selected !== conversationId) return;
    panelError('messages-error', `could not load the messages: ${error.message}`, () => void select(conversationId));
    render();
  }
};

/**
 * "Load older messages": the page before the oldest message read of the open conversation. A page that no
 * longer ends where the history begins is dropped (the conversation was left meanwhile and cut to its
 * newest HISTORY_LIMIT): added, it would leave a hole that no later page fills; the button reads again.
 */
const loadOlder = async () => {
  const mine = session;
  const conversationId = selected;
  const history = conversationId && histories.get(conversationId);
  if (!history?.loaded || !history.older || history.loadingOlder) return;
  history.loadingOlder = true;
  render();
  try {
    const before = history.oldest;
    const page = await api(`/conversations/${encodeURIComponent(conversationId)}/messages?order=newest&limit=${HISTORY_PAGE}&before=${encodeURIComponent(before)}`);
    if (histories.get(conversationId) !== history || history.oldest !== before) return;
    addHistoryPage(history, page, { older: true });
    panelError('messages-error', null);
  } catch (error) {
    console.warn('messages', error);
    if (session !== mine || selected !== conversationId) return;
    panelError('messages-error', `could not load older messages: ${error.message}`, () => void loadOlder());
  } finally {
    history.loadingOlder = false;
    keepNewest(history); // what the live feed brought meanwhile, when the page did not come
    render();
  }
};
$('messages-older').addEventListener('click', () => void loadOlder());

/** "Jump to latest": the open conversation, scrolled back past its bound, is read again from its newest page. */
const jumpToLatest = () => {
  if (!selected || !histories.get(selected)?.newer) return;
  histories.delete(selected);
  void select(selected);
};
$('messages-latest').addEventListener('click', jumpToLatest);

/**
 * The read models as of `at` (the socket's live position), then the events that came meanwhile. An answer
 * from read models still behind `at` (X-Read-Model-Lag) fails: the events between their position and `at`
 * would be in neither the snapshot nor `pending`; it is tried again until they are level.
 */
const loadSnapshot = async (at) => {
  const mine = session;
  const q = at ? `&minPosition=${at}` : '';
  const [convs, ks] = await Promise.all([api(`/conversations?limit=${LIST_PAGE}${q}`, { level: true }), api(`/knights?limit=${LIST_PAGE}${q}`, { level: true })]);
  if (session !== mine) return; // signed out meanwhile
  addListPage('conversations', convs);
  addListPage('knights', ks);
  snapshotLoaded = true;
  for (const event of pending) apply(event);
  pending = [];
  if (!selected && convs.items[0]) selected = convs.items[0].conversationId;
  if (selected) await select(selected);
  render();
};

/**
 * A page of conversations or knights from the API. What events already brought stays (it is as new or
 * newer); a knight first seen by an event (listed by its id) gets its task.
 */
const addListPage = (kind, page, { asked = false } = {}) => {
  if (asked) more[kind].asked = new Set(page.items.map((item) => (kind === 'conversations' ? item.conversationId : item.knightId)));
  if (kind === 'conversations') for (const c of page.items) conversations.set(c.conversationId, { ...c, ...conversations.get(c.conversationId) });
  else
    for (const k of page.items) {
      const known = knights.get(k.knightId);
      if (!known) knights.set(k.knightId, { knightId: k.knightId, task: k.task, status: k.status, progress: k.progress });
      else if (!known.task) known.task = k.task;
    }
  if (kind === 'knights') keepKnights();
  else keepConversations();
  more[kind].next = page.next;
};

/** "Load more": the list's next page, older than what is shown; newer ones came by events meanwhile. */
const loadMore = async (kind) => {
  const mine = session;
  const list = more[kind];
  if (!list.next || list.loading) return;
  list.loading = true;
  render();
  try {
    const page = await api(`/${kind}?limit=${LIST_PAGE}&cursor=${encodeURIComponent(list.next)}${position ? `&minPosition=${position}` : ''}`);
    if (session !== mine) return; // signed out, or started afresh, meanwhile
    addListPage(kind, page, { asked: true });
    panelError(`${kind}-error`, null);
  } catch (error) {
    console.warn(kind, error);
    if (session !== mine) return;
    panelError(`${kind}-error`, `could not load more: ${error.message}`, () => void loadMore(kind));
  } finally {
    if (session === mine) list.loading = false;
    render();
  }
};
for (const kind of ['conversations', 'knights']) $(`${kind}-more`).addEventListener('click', () => void loadMore(kind));

/** Loads the snapshot once; a failure shows in the header and is tried again (1 s doubling to 10 s). */
const loadSnapshotOnce = (at, wait = 1_000) => {
  if (snapshotLoaded || snapshotLoading) return;
  const mine = session;
  snapshotLoading = true;
  loadSnapshot(at).then(
    () => {
      if (session !== mine) return;
      for (const id of ['conversations-error', 'knights-error']) panelError(id, null);
      if ($('connection').dataset.state === 'incomplete') setState('live');
    },
    (error) => {
      if (session !== mine) return;
      snapshotLoading = false;
      setState('incomplete', `live, but the data could not be loaded: ${error.message}; trying again in ${wait / 1000} s`);
      const next = Math.min(wait * 2, 10_000);
      snapshotRetry = setTimeout(() => loadSnapshotOnce(position, next), wait);
      const now = () => {
        clearTimeout(snapshotRetry);
        loadSnapshotOnce(position, next);
      };
      for (const id of ['conversations-error', 'knights-error']) panelError(id, `could not load: ${error.message}; trying again in ${wait / 1000} s`, now);
    },
  );
};

// ---- the socket ------------------------------------------------------------------------------
const connect = () => {
  clearTimeout(reconnectTimer);
  // at most one socket: one left open would go on receiving (and count against the tenant's sockets)
  const previous = socket;
  socket = null; // its close event is not ours to handle any more
  previous?.close(1000, 'replaced');
  const origin = location.origin.replace(/^http/, 'ws');
  const url = `${origin}/ws/tenant/${encodeURIComponent(session.tenantId)}${position ? `?after=${position}` : ''}`;
  setState('connecting');
  const ws = new WebSocket(url, ['openclaw.v1', `bearer.${session.token}`]);
  socket = ws;
  ws.addEventListener('message', (message) => {
    if (socket !== ws) return;
    const frame = JSON.parse(message.data);
    if (frame.kind === 'hello') setState('catching-up', 'catching up');
    else if (frame.kind === 'live') {
      backoff = 500;
      setState('live');
      if (!position && frame.position) position = frame.position;
      loadSnapshotOnce(frame.position);
    } else if (frame.kind === 'event') {
      if (position && BigInt(frame.position) <= BigInt(position)) return; // already shown
      position = frame.position;
      feed(frame);
      if (snapshotLoaded) {
        const was = selected;
        apply(frame);
        if (!was && selected) void select(selected); // the tenant's first message: its conversation opens
      } else pending.push(frame);
    } else if (frame.kind === 'agent.partial') {
      // live frames travel apart from events: one may come after the finished reply it was part of
      const shown = partialOf(frame.conversationId);
      const replied =
        answered.has(`${frame.conversationId} ${frame.inReplyTo}`) ||
        [...messagesOf(frame.conversationId).values()].some((m) => m.role === 'agent' && m.inReplyTo === frame.inReplyTo);
      if (!replied && (!shown || shown.inReplyTo !== frame.inReplyTo || frame.seq > shown.seq)) setPartial(frame.conversationId, frame);
    }
    render();
  });
  ws.addEventListener('close', (event) => {
    if (socket !== ws || !session) return;
    socket = null;
    // the log ends before our position (a database restored while the page was open): what the page
    // shows is of a history that is gone; it starts afresh, without `after`
    const restart = event.code === 4400 && event.reason.startsWith('after_beyond_log');
    if (!restart && (event.code === 4403 || event.code === 4404 || event.code === 4400)) return setState('refused', `refused: ${event.reason}`);
    const wait = backoff;
    backoff = Math.min(backoff * 2, 10_000);
    if (restart) {
      const was = position;
      startAfresh();
      feedNote(`started afresh: the log ends before position ${was} (restored?); all shown again from the read models`);
      setState('reconnecting', `starting afresh in ${(wait / 1000).toFixed(1)} s: the log ends before position ${was}`);
    } else setState('reconnecting', `reconnecting in ${(wait / 1000).toFixed(1)} s (${event.code})`);
    reconnectTimer = setTimeout(() => reconnect(event.code), wait);
  });
};

const reconnect = async (code) => {
  const mine = session;
  try {
    if (code === 4401) await exchange(); // key revoked, or a token refused: a fresh token, or sign in again
    else await fresh();
    if (session === mine) connect();
  } catch (error) {
    if (session !== mine) return; // signed out meanwhile
    if (error.status === 401) return signOut(`signed out: ${error.message}`);
    setState('reconnecting', `reconnecting (${error.message})`);
    reconnectTimer = setTimeout(() => reconnect(code), backoff);
  }
};

/** Forgets everything shown and where it resumes: the next socket opens without `after`, then a new snapshot. */
const forget = () => {
  position = null;
  snapshotLoaded = false;
  snapshotLoading = false;
  clearTimeout(snapshotRetry);
  pending = [];
  for (const map of [conversations, histories, knights]) map.clear();
  endings = 0;
  for (const list of Object.values(more)) Object.assign(list, { next: null, loading: false, asked: new Set() });
  selected = null;
  for (const id of [...partials.keys()]) setPartial(id, null);
  answered.clear();
  $('events').replaceChildren();
  for (const id of ['conversations-error', 'messages-error', 'knights-error']) panelError(id, null);
};

/**
 * The same key, a fresh start: a new session object, so what is still under way for the old one (a
 * snapshot, a conversation's messages, a title) sees `session !== mine` and drops its answer.
 */
const startAfresh = () => {
  session = { ...session };
  forget();
  render();
};

/** A line in the event feed that is not an event (it has no position). */
const feedNote = (text) => $('events').prepend(el('li', text, { 'data-type': 'note' }));

const signOut = (why = '') => {
  session = null;
  socket?.close(1000, 'signed out');
  socket = null;
  clearTimeout(reconnectTimer);
  forget();
  $('panels').hidden = true;
  $('sign-in').hidden = false;
  $('sign-out').hidden = true;
  $('tenant').textContent = '';
  $('sign-in-error').textContent = why;
  setState('signed-out', 'signed out');
  render();
};

let signingIn = false;
$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  // a second submit (double click, Enter twice on a slow API) would open a second socket
  if (signingIn || session) return;
  signingIn = true;
  const submit = $('sign-in').querySelector('button[type=submit]');
  submit.disabled = true;
  const key = $('key').value.trim();
  $('sign-in-error').textContent = '';
  try {
    session = { key, token: null, expiresAt: 0, tenantId: null };
    await exchange();
    const me = await api('/tenants/me');
    session.tenantId = me.tenantId;
    $('key').value = '';
    $('tenant').textContent = `${me.name} (${me.tenantId})`;
    $('sign-in').hidden = true;
    $('panels').hidden = false;
    $('sign-out').hidden = false;
    connect();
  } catch (error) {
    session = null;
    $('sign-in-error').textContent = `could not sign in: ${error.message}`;
  } finally {
    signingIn = false;
    submit.disabled = false;
  }
});
$('sign-out').addEventListener('click', () => signOut());
