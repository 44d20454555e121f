/**
 * The graph of a state machine: definition (and optionally one execution's history) -> nodes and edges. Pure.
 *
 * Nodes are the states (Parallel and Map states are containers: their inner states carry `parent`); edges are the
 * transitions the definition allows (Next, each Choice rule, Default, each Catch, and a container's entry into
 * each branch). With a history, the path the execution took is marked on them: states visited (how often, with how
 * many attempts), edges walked, where it failed, which states ran on the compensation path. Without a definition,
 * the graph is what the history saw: its states and the transitions it walked.
 */

import type { HistoryEventLike } from '../timeline/history.ts';
import {
  type BuildTimelineOptions,
  buildTimeline,
  type ExecutionStatus,
  type TimelineEntry,
} from '../timeline/model.ts';
import {
  type AslState,
  type AslStates,
  describeRetry,
  describeRule,
  type RetrySummary,
  shortResource,
  stateDetail,
  summarizeRetrier,
} from './asl.ts';

/** How an edge leaves its state. `observed`: walked by the execution but not in the definition (or no definition). */
export type EdgeKind = 'next' | 'choice' | 'default' | 'catch' | 'branch' | 'observed';

/** One state. */
export interface GraphNode {
  /** Unique id: the state name, or `<container>/<branch>/<name>` when the name is used in several scopes. */
  readonly id: string;
  readonly name: string;
  /** Task, Choice, Pass, Wait, Succeed, Fail, Parallel or Map. */
  readonly type: string;
  /** The Parallel/Map state this state is inside. */
  readonly parent?: string | undefined;
  /** Parallel branch index (0-based) of an inner state; 0 in a Map's processor. */
  readonly branch?: number | undefined;
  /** The StartAt of its scope. */
  readonly start: boolean;
  /** Ends its scope: `End: true`, Succeed or Fail. */
  readonly end: boolean;
  /** Resource, wait or error, in brief (`lambda:invoke`, `wait 10s`, `error OrderCancelled`). */
  readonly detail?: string | undefined;
  /** Its retriers: the errors each matches and its MaxAttempts (0: those errors are not retried). */
  readonly retry: readonly RetrySummary[];
  /** False for a state the history entered that the definition does not have (or when there is no definition). */
  readonly inDefinition: boolean;
  /** Entered at least once by the execution. */
  readonly visited: boolean;
  /** Times entered (Map iterations count one each). */
  readonly visits: number;
  /** Most attempts of one visit (Tasks: scheduled attempts; 1 for other states; 0 when not visited). */
  readonly attempts: number;
  /** Retries over all visits (attempts beyond the first). */
  readonly retries: number;
  /** A visit failed and ended the execution (or the branch), or a Fail state was entered. */
  readonly failed: boolean;
  /** A visit of this End/Succeed state ended its scope (the execution, or a branch or iteration) successfully. */
  readonly ended: boolean;
  /** A visit failed and a Catch moved the execution on. */
  readonly caught: boolean;
  /** Ran on the compensation path (after a caught error: error handlers, the undoing of earlier steps). */
  readonly compensation: boolean;
  /** The last error of a failed or caught visit. */
  readonly error?: string | undefined;
}

/** One transition. */
export interface GraphEdge {
  /** `e<index>`, in definition order. */
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  /** What the renderers write on it: the Choice condition, `default`, `catch: <errors>`. */
  readonly label?: string | undefined;
  /** For a catch edge: the errors it catches. */
  readonly errorEquals?: readonly string[] | undefined;
  readonly inDefinition: boolean;
  /** Walked by the execution at least once. */
  readonly visited: boolean;
  /** Times walked. */
  readonly traversals: number;
}

/** What the history says about the execution as a whole. */
export interface GraphExecution {
  readonly status: ExecutionStatus;
  readonly error?: string | undefined;
  readonly cause?: string | undefined;
  /** The Fail state it ended in. */
  readonly failState?: string | undefined;
  /** Top-level node ids in the order visited. */
  readonly path: readonly string[];
}

/** The graph. */
export interface GraphModel {
  /** `definition`: every state of the definition; `history`: only the states and transitions the history saw. */
  readonly source: 'definition' | 'history';
  readonly comment?: string | undefined;
  /** The id of the machine's StartAt. */
  readonly startAt: string;
  /** Containers before their inner states, each scope in definition order. */
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly execution?: GraphExecution | undefined;
  /** Where history and definition disagree, said in words. */
  readonly warnings: readonly string[];
}

/** Options of {@link buildGraph}. */
export interface BuildGraphOptions {
  /**
   * Passed to the timeline that reads the history (compensation pairs, checkpoints). @default the definition
   * graphed, when there is one, is the one the timeline reads the states' meaning from
   */
  readonly timeline?: BuildTimelineOptions;
}

type MutableNode = { -readonly [K in keyof GraphNode]: GraphNode[K] };
type MutableEdge = { -readonly [K in keyof GraphEdge]: GraphEdge[K] };

/** What a node says about an execution before the history is read: nothing visited yet. */
const NOT_VISITED_YET = {
  visited: false,
  visits: 0,
  attempts: 0,
  retries: 0,
  failed: false,
  ended: false,
  caught: false,
  compensation: false,
  error: undefined,
} as const satisfies Partial<MutableNode>;

/** Collects every state of every scope, naming each (scope, name) with a unique id. */
function collectNodes(definition: AslStates): { nodes: MutableNode[]; edges: MutableEdge[] } {
  type Scoped = {
    name: string;
    state: AslState;
    scope: AslStates;
    parent?: string;
    branch?: number;
    path: string;
  };
  const scoped: Scoped[] = [];
  const walk = (
    scope: AslStates,
    parent: string | undefined,
    branch: number | undefined,
    path: string,
  ): void => {
    for (const [name, state] of Object.entries(scope.States)) {
      const entry: Scoped = { name, state, scope, path };
      if (parent !== undefined) entry.parent = parent;
      if (branch !== undefined) entry.branch = branch;
      scoped.push(entry);
      const here = `${path}${name}`;
      if (state.Type === 'Parallel') {
        (state.Branches ?? []).forEach((b, i) => {
          walk(b, here, i, `${here}/${i}/`);
        });
      }
      if (state.Type === 'Map') {
        const processor = state.ItemProcessor ?? state.Iterator;
        if (processor) walk(processor, here, 0, `${here}/0/`);
      }
    }
  };
  walk(definition, undefined, undefined, '');
  const counts = new Map<string, number>();
  for (const s of scoped) counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
  // Path -> id: a name used once is its own id.
  const idOf = new Map<string, string>();
  for (const s of scoped)
    idOf.set(`${s.path}${s.name}`, counts.get(s.name) === 1 ? s.name : `${s.path}${s.name}`);
  const id = (path: string, name: string): string => idOf.get(`${path}${name}`) ?? `${path}${name}`;

  const nodes: MutableNode[] = [];
  const edges: MutableEdge[] = [];
  const edge = (
    from: string,
    to: string,
    kind: EdgeKind,
    label?: string,
    errorEquals?: readonly string[],
  ) => {
    edges.push({
      id: `e${edges.length}`,
      from,
      to,
      kind,
      label,
      errorEquals,
      inDefinition: true,
      visited: false,
      traversals: 0,
    });
  };
  for (const s of scoped) {
    const { state } = s;
    const self = id(s.path, s.name);
    nodes.push({
      id: self,
      name: s.name,
      type: state.Type,
      parent: s.parent === undefined ? undefined : idOf.get(s.parent),
      branch: s.branch,
      start: s.scope.StartAt === s.name,
      end: state.End === true || state.Type === 'Succeed' || state.Type === 'Fail',
      detail: stateDetail(state),
      retry: (state.Retry ?? []).map(summarizeRetrier),
      inDefinition: true,
      ...NOT_VISITED_YET,
    });
  }
  for (const s of scoped) {
    const { state } = s;
    const self = id(s.path, s.name);
    const here = `${s.path}${s.name}`;
    if (state.Type === 'Parallel') {
      (state.Branches ?? []).forEach((b, i) => {
        edge(self, id(`${here}/${i}/`, b.StartAt), 'branch', `branch ${i + 1}`);
      });
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor) edge(self, id(`${here}/0/`, processor.StartAt), 'branch', 'each item');
    }
    if (state.Type === 'Choice') {
      for (const rule of state.Choices ?? []) {
        if (typeof rule.Next === 'string') edge(self, id(s.path, rule.Next), 'choice', describeRule(rule));
      }
      if (state.Default !== undefined) edge(self, id(s.path, state.Default), 'default', 'default');
    } else if (typeof state.Next === 'string') {
      edge(self, id(s.path, state.Next), 'next');
    }
    for (const catcher of state.Catch ?? []) {
      const errors = catcher.ErrorEquals ?? [];
      edge(self, id(s.path, catcher.Next), 'catch', `catch ${errors.join(', ')}`, errors);
    }
  }
  return { nodes, edges };
}

/** Visits grouped into sequences: the top level, then each Map iteration / Parallel branch, in event order. */
function sequences(
  entries: readonly TimelineEntry[],
): { container?: TimelineEntry; visits: TimelineEntry[] }[] {
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const groups = new Map<string, { container?: TimelineEntry; visits: TimelineEntry[] }>();
  for (const entry of entries) {
    const group = entry.parent ? `${entry.parent.key}#${entry.iteration ?? entry.branch ?? 0}` : '';
    let g = groups.get(group);
    if (!g) {
      const container = entry.parent ? byKey.get(entry.parent.key) : undefined;
      g = container ? { container, visits: [] } : { visits: [] };
      groups.set(group, g);
    }
    g.visits.push(entry);
  }
  for (const g of groups.values()) g.visits.sort((a, b) => Number(a.key) - Number(b.key));
  return [...groups.values()];
}

/** Does a catcher's ErrorEquals match this error? */
function catches(errorEquals: readonly string[] | undefined, error: string | undefined): boolean {
  if (!errorEquals) return false;
  if (errorEquals.includes('States.ALL')) return true;
  if (error === undefined) return false;
  if (errorEquals.includes(error)) return true;
  return (
    errorEquals.includes('States.TaskFailed') && error !== 'States.Timeout' && !error.startsWith('States.')
  );
}

/**
 * The graph of a definition, with the path of an execution when its history is given; with a history and no
 * definition, the graph of what the history saw.
 */
export function buildGraph(
  definition: AslStates | undefined,
  history?: readonly HistoryEventLike[],
  options: BuildGraphOptions = {},
): GraphModel {
  if (definition === undefined && history === undefined) {
    throw new TypeError('buildGraph needs a definition, a history, or both');
  }
  const { nodes, edges } = definition ? collectNodes(definition) : { nodes: [], edges: [] };
  const warnings: string[] = [];
  let execution: GraphExecution | undefined;
  if (history !== undefined) {
    const timeline = buildTimeline(history, { definition, ...options.timeline });
    const nodeFor = (entry: TimelineEntry): MutableNode => {
      const container = entry.parent ? timeline.entries.find((e) => e.key === entry.parent?.key) : undefined;
      const parent = container ? nodeFor(container) : undefined;
      const found = nodes.find((n) => n.name === entry.state && n.parent === parent?.id);
      if (found) return found;
      const made: MutableNode = {
        id: nodes.some((n) => n.id === entry.state) ? `${parent?.id ?? ''}/${entry.state}` : entry.state,
        name: entry.state,
        type: entry.stateType,
        parent: parent?.id,
        branch: parent ? (entry.iteration !== undefined ? 0 : entry.branch) : undefined,
        start: false,
        end: false,
        detail: shortResource(entry.resource),
        retry: [],
        inDefinition: false,
        ...NOT_VISITED_YET,
      };
      if (definition)
        warnings.push(
          `The history entered state ${JSON.stringify(entry.state)}, which the definition does not have.`,
        );
      nodes.push(made);
      return made;
    };
    const walk = (
      from: MutableNode,
      to: MutableNode,
      via: TimelineEntry | undefined,
      kind: EdgeKind,
    ): void => {
      const candidates = edges.filter((e) => e.from === from.id && e.to === to.id);
      let chosen: MutableEdge | undefined;
      if (kind === 'branch') chosen = candidates.find((e) => e.kind === 'branch');
      else if (via?.status === 'caught') {
        chosen =
          candidates.find((e) => e.kind === 'catch' && catches(e.errorEquals, via.error)) ??
          candidates.find((e) => e.kind === 'catch');
      } else chosen = candidates.find((e) => e.kind !== 'catch' && e.kind !== 'branch');
      chosen ??= candidates.find((e) => e.kind === 'observed');
      if (!chosen) {
        if (definition) {
          warnings.push(
            `The history went from ${JSON.stringify(from.name)} to ${JSON.stringify(to.name)}, a transition the definition does not have.`,
          );
        }
        chosen = {
          id: `e${edges.length}`,
          from: from.id,
          to: to.id,
          kind: kind === 'branch' ? 'branch' : 'observed',
          label: via?.status === 'caught' ? `caught ${via.error ?? ''}`.trim() : undefined,
          errorEquals: undefined,
          inDefinition: false,
          visited: false,
          traversals: 0,
        };
        edges.push(chosen);
      }
      chosen.visited = true;
      chosen.traversals += 1;
    };
    for (const entry of timeline.entries) {
      const node = nodeFor(entry);
      node.visited = true;
      node.visits += 1;
      node.attempts = Math.max(node.attempts, entry.attempts);
      node.retries += Math.max(0, entry.attempts - 1);
      if (entry.status === 'failed') node.failed = true;
      if (entry.status === 'caught') node.caught = true;
      if (entry.phase === 'compensation') node.compensation = true;
      if (entry.error !== undefined) node.error = entry.error;
    }
    for (const { container, visits } of sequences(timeline.entries)) {
      let previous: TimelineEntry | undefined;
      for (const visit of visits) {
        // A visit that failed ended the execution: the next one is a redrive restarting there, not a transition.
        if (previous && previous.status !== 'failed')
          walk(nodeFor(previous), nodeFor(visit), previous, 'next');
        else if (container) walk(nodeFor(container), nodeFor(visit), undefined, 'branch');
        previous = visit;
      }
      if (previous?.status === 'succeeded') {
        const last = nodeFor(previous);
        if (!definition) last.end = true;
        if (last.end) last.ended = true;
      }
    }
    if (!definition) {
      // What the history saw: the first visit of each scope is its start.
      for (const { visits } of sequences(timeline.entries)) {
        const first = visits[0];
        if (first) {
          const n = nodeFor(first);
          n.start = true;
        }
      }
    }
    const { summary } = timeline;
    execution = {
      status: summary.status,
      error: summary.error,
      cause: summary.cause,
      failState: summary.failState,
      path: timeline.entries.filter((e) => e.depth === 0).map((e) => nodeFor(e).id),
    };
    if (summary.failState !== undefined) {
      const fail = nodes.find((n) => n.name === summary.failState && n.parent === undefined);
      if (fail) fail.failed = true;
    }
  }
  const startAt = definition
    ? (nodes.find((n) => n.parent === undefined && n.name === definition.StartAt)?.id ?? definition.StartAt)
    : (nodes.find((n) => n.parent === undefined)?.id ?? '');
  return {
    source: definition ? 'definition' : 'history',
    comment: definition?.Comment,
    startAt,
    nodes,
    edges,
    execution,
    warnings: [...new Set(warnings)],
  };
}

/** The inner states of a container, per branch, in definition order. */
export function childrenOf(model: GraphModel, container: string): GraphNode[][] {
  const branches: GraphNode[][] = [];
  for (const node of model.nodes) {
    if (node.parent !== container) continue;
    const b = node.branch ?? 0;
    branches[b] ??= [];
    branches[b].push(node);
  }
  return branches.filter((b) => b !== undefined);
}

/** The glyph-worthy outcome of a node: what renderers colour it by. */
export type NodeOutcome = 'failed' | 'caught' | 'retried' | 'compensated' | 'succeeded' | 'unvisited';

export function nodeOutcome(node: GraphNode): NodeOutcome {
  if (!node.visited) return 'unvisited';
  if (node.failed) return 'failed';
  if (node.caught) return 'caught';
  if (node.compensation) return 'compensated';
  if (node.retries > 0) return 'retried';
  return 'succeeded';
}

/** What a visit did, in brief (`2 visits, 3 attempts, TransientError`); empty for a state not visited. */
export function visitFacts(node: GraphNode): string {
  if (!node.visited) return '';
  const facts: string[] = [];
  if (node.visits > 1) facts.push(`${node.visits} visits`);
  if (node.attempts > 1) facts.push(`${node.attempts} attempts`);
  if (node.error !== undefined && (node.failed || node.caught) && node.type !== 'Fail')
    facts.push(node.error);
  return facts.join(', ');
}

/** A node's label as lines: its name, type and detail, its retriers, what its visits did (the last two if any). */
export function nodeLabelLines(node: GraphNode): string[] {
  const lines = [node.name, `${node.type}${node.detail ? ` · ${node.detail}` : ''}`];
  const retry = describeRetry(node.retry);
  if (retry) lines.push(retry);
  const facts = visitFacts(node);
  if (facts) lines.push(facts);
  return lines;
}
