/**
 * The graph as terminal text: states top-down in definition order, each with its outgoing transitions, the
 * execution's path marked with the timeline's glyphs (⇒ for the transitions it walked). Pure.
 */
import { GLYPHS } from '../timeline/glyphs.ts';
import { displayWidth, PLAIN_STYLE, type Style, truncate } from '../ui/format.ts';
import { describeRetry } from './asl.ts';
import {
  childrenOf,
  type GraphEdge,
  type GraphModel,
  type GraphNode,
  nodeOutcome,
  visitFacts,
} from './model.ts';

/** Colours: the CLI's one style (cli/ui passes chalk's; tests pass identity). */
export type GraphTextStyle = Style;

const PLAIN: GraphTextStyle = PLAIN_STYLE;

export interface RenderGraphTextOptions {
  readonly style?: GraphTextStyle;
  /** Cut long conditions and the path to this width. @default 100 */
  readonly width?: number;
}

/** The mark in front of a state: its outcome's glyph, or · when the execution never entered it. */
export const NOT_VISITED = '·';
/** A walked transition, and one not walked. */
export const WALKED = '⇒';
export const NOT_WALKED = '→';

/** The legend of the text rendering. */
export const GRAPH_LEGEND =
  `${GLYPHS.succeeded} visited  ${GLYPHS.retried} retried  ${GLYPHS.caught} caught  ${GLYPHS.failed} failed  ` +
  `${GLYPHS.compensated} compensation path  ${NOT_VISITED} not visited  ${WALKED} walked  ${NOT_WALKED} not walked`;

function glyph(node: GraphNode, style: GraphTextStyle, marked: boolean): string {
  switch (nodeOutcome(node)) {
    case 'unvisited':
      if (!marked) return node.type === 'Choice' ? '◇' : '•';
      return style.dim(NOT_VISITED);
    case 'failed':
      return style.fail(GLYPHS.failed);
    case 'caught':
      return style.warn(GLYPHS.caught);
    case 'compensated':
      return style.accent(GLYPHS.compensated);
    case 'retried':
      return style.warn(GLYPHS.retried);
    default:
      return style.ok(GLYPHS.succeeded);
  }
}

/** The graph as lines of text. */
export function renderGraphText(model: GraphModel, options: RenderGraphTextOptions = {}): string[] {
  const style = options.style ?? PLAIN;
  const width = options.width ?? 100;
  const marked = model.execution !== undefined;
  const byId = new Map(model.nodes.map((n) => [n.id, n]));
  const out: string[] = [];
  if (model.comment) out.push(style.dim(truncate(model.comment, width)));
  if (model.source === 'history') {
    out.push(
      style.warn(
        'Drawn from the states seen in the history (no definition given): states and transitions it never reached are not shown.',
      ),
    );
  }
  const { execution } = model;
  if (execution) {
    const where = execution.failState ?? model.nodes.find((n) => n.failed && n.parent === undefined)?.name;
    const status =
      execution.status === 'SUCCEEDED'
        ? style.ok(execution.status)
        : execution.status === 'RUNNING'
          ? style.accent(execution.status)
          : style.fail(execution.status);
    out.push(
      `Execution ${status}${where ? ` at ${style.bold(where)}` : ''}${execution.error && execution.error !== where ? ` (${execution.error})` : ''}`,
    );
  }
  if (marked) out.push(style.dim(GRAPH_LEGEND));
  out.push('');

  const edgeLine = (edge: GraphEdge, indent: string): string => {
    const to = byId.get(edge.to);
    const arrow = edge.visited ? style.ok(WALKED) : style.dim(NOT_WALKED);
    const name = edge.visited ? style.bold(to?.name ?? edge.to) : (to?.name ?? edge.to);
    const label = edge.label
      ? `  ${truncate(edge.label, Math.max(20, width - displayWidth(indent) - 30))}`
      : '';
    const times = edge.traversals > 1 ? ` ×${edge.traversals}` : '';
    const kind = edge.kind === 'observed' && model.source === 'definition' ? ' (not in the definition)' : '';
    return `${indent}${arrow} ${name}${style.dim(label + times + kind)}`;
  };
  const nodeLines = (node: GraphNode, depth: number): void => {
    const indent = '  '.repeat(depth * 2);
    const head = [
      `${indent}${glyph(node, style, marked)} ${nodeOutcome(node) === 'unvisited' && marked ? node.name : style.bold(node.name)}`,
      style.dim(
        `${node.type}${node.detail ? ` · ${node.detail}` : ''}${node.start && node.parent === undefined ? ' · start' : ''}`,
      ),
    ];
    const facts = visitFacts(node);
    if (facts)
      head.push(node.failed ? style.fail(facts) : node.caught ? style.warn(facts) : style.dim(facts));
    out.push(head.join('  '));
    const retry = describeRetry(node.retry);
    if (retry) out.push(style.dim(truncate(`${indent}    ${retry}`, width)));
    const branches = childrenOf(model, node.id);
    branches.forEach((inner, b) => {
      if (node.type === 'Parallel') out.push(style.dim(`${indent}    branch ${b + 1}:`));
      else out.push(style.dim(`${indent}    each item:`));
      for (const child of inner) nodeLines(child, depth + 1);
    });
    for (const edge of model.edges) {
      if (edge.from === node.id && edge.kind !== 'branch') out.push(edgeLine(edge, `${indent}    `));
    }
    if (node.end && node.type !== 'Succeed' && node.type !== 'Fail') {
      const walked = node.ended;
      out.push(`${indent}    ${walked ? style.ok(WALKED) : style.dim(NOT_WALKED)} ${style.dim('end')}`);
    }
  };
  for (const node of model.nodes) if (node.parent === undefined) nodeLines(node, 0);

  if (execution) {
    out.push('');
    const steps = execution.path.map((id) => {
      const node = byId.get(id);
      if (!node) return id;
      const g = nodeOutcome(node) === 'succeeded' ? '' : ` ${glyph(node, style, marked)}`;
      return `${node.name}${g}`;
    });
    out.push(...wrap(`Path: ${steps.join(` ${WALKED} `)}`, width));
  }
  for (const warning of model.warnings) out.push(style.warn(`! ${warning}`));
  return out;
}

/** Wraps a line at spaces, continuation lines indented. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && displayWidth(line) + 1 + displayWidth(word) > width) {
      lines.push(line);
      line = `      ${word}`;
    } else line = line.length === 0 ? word : `${line} ${word}`;
  }
  if (line) lines.push(line);
  return lines;
}
