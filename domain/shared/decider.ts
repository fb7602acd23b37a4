/**
 * The shape every aggregate exports. `decide` is pure: time, ids and looked-up facts arrive on
 * the command. It returns the events to append ([] when the command is already satisfied) or
 * throws an AppError. `category` names the streams it owns (`tenant-…`, `conversation-…`), which
 * is how the event codec knows which events a stream may hold.
 */
export interface Decider<Command, Event, State, Category extends string = string> {
  readonly category: Category;
  readonly initialState: () => State;
  readonly evolve: (state: State, event: Event) => State;
  readonly decide: (command: Command, state: State) => readonly Event[];
}

/** A domain event as the domain sees it: a stable type name and plain JSON data. */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

export const fold = <Event, State>(
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  events: Iterable<Event>,
  from: State = decider.initialState(),
): State => {
  let state = from;
  for (const event of events) state = decider.evolve(state, event);
  return state;
};

/** Compile-time exhaustiveness: a `switch` default that assigns to `never`. */
export const unreachable = (value: never): never => {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
};
