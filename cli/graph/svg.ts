/**
 * The graph as a self-contained SVG document, laid out by dagre (@dagrejs/dagre, MIT): nodes sized to their
 * labels, transitions as paths along dagre's routes, Parallel/Map states as boxes (dagre clusters) around their
 * inner states, the execution's path coloured (`class="… visited"` on the states entered and the edges walked).
 *
 * A container is drawn as a box holding a header node (the Parallel/Map state itself, where transitions into it
 * arrive and its branches start) and a join node (where its branches end and its own Next/Catch leave from):
 * dagre does not route edges to cluster nodes.
 */
import dagre from '@dagrejs/dagre';
import { displayWidth, truncate } from '../ui/format.ts';
import { PATH_COLOURS } from './mermaid.ts';
import { type GraphEdge, type GraphModel, type GraphNode, nodeLabelLines, nodeOutcome } from './model.ts';

/** Monospace metrics the sizes are computed with (the font the SVG asks for). */
const FONT = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace';
const CHAR_WIDTH = 7.3; // 12 px monospace
const TITLE_CHAR_WIDTH = 8.1; // 13 px bold monospace
const LABEL_CHAR_WIDTH = 6.7; // 11 px monospace
const LINE_HEIGHT = 16;
const PAD_X = 12;
const PAD_Y = 8;

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function nodeLines(node: GraphNode): string[] {
  const [name = node.name, ...rest] = nodeLabelLines(node);
  return [name, ...rest.map((line) => truncate(line, 48))];
}

interface Box {
  readonly width: number;
  readonly height: number;
  readonly lines: readonly string[];
}

function box(lines: readonly string[]): Box {
  const [title = '', ...rest] = lines;
  const width =
    Math.max(displayWidth(title) * TITLE_CHAR_WIDTH, ...rest.map((l) => displayWidth(l) * CHAR_WIDTH)) +
    2 * PAD_X;
  return { width: Math.ceil(Math.max(width, 80)), height: lines.length * LINE_HEIGHT + 2 * PAD_Y, lines };
}

type LayoutNode = {
  width: number;
  height: number;
  x?: number;
  y?: number;
  box?: Box;
  kind: 'state' | 'join' | 'cluster';
};
type LayoutEdge = {
  width: number;
  height: number;
  labelpos: 'c';
  points?: { x: number; y: number }[];
  x?: number;
  y?: number;
  edge?: GraphEdge;
  label?: string;
  visited: boolean;
};

/** A path through dagre's points, corners rounded with quadratic curves. */
function pathData(points: readonly { x: number; y: number }[]): string {
  const f = (n: number) => Math.round(n * 10) / 10;
  const [first, ...rest] = points;
  if (!first) return '';
  let d = `M${f(first.x)},${f(first.y)}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const p = rest[i];
    const q = rest[i + 1];
    if (!p || !q) continue;
    d += ` Q${f(p.x)},${f(p.y)} ${f((p.x + q.x) / 2)},${f((p.y + q.y) / 2)}`;
  }
  const last = rest.at(-1);
  if (last) d += ` L${f(last.x)},${f(last.y)}`;
  return d;
}

const isContainer = (n: GraphNode) => n.type === 'Parallel' || n.type === 'Map';
const clusterId = (id: string) => `${id}::box`;
const joinId = (id: string) => `${id}::join`;

/** The graph as SVG text (a complete document). */
export function renderSvg(model: GraphModel): string {
  const g = new dagre.graphlib.Graph<{ rankdir: string }, LayoutNode, LayoutEdge>({
    compound: true,
    multigraph: true,
  });
  g.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 44, edgesep: 12, marginx: 16, marginy: 16 } as never);
  g.setDefaultEdgeLabel(() => ({ width: 0, height: 0, labelpos: 'c', visited: false }));
  const byId = new Map(model.nodes.map((n) => [n.id, n]));
  for (const node of model.nodes) {
    const lines = isContainer(node)
      ? [
          node.name,
          `${node.type}${
            node.visited
              ? nodeLines(node)
                  .slice(2)
                  .map((l) => ` · ${l}`)
                  .join('')
              : ''
          }`,
        ]
      : nodeLines(node);
    const b = box(lines);
    g.setNode(node.id, { width: b.width, height: b.height, box: b, kind: 'state' });
    if (isContainer(node)) {
      g.setNode(clusterId(node.id), { width: 0, height: 0, kind: 'cluster' });
      g.setParent(node.id, clusterId(node.id));
      const join = box([`end of ${node.name}`]);
      g.setNode(joinId(node.id), { width: join.width, height: 28, box: join, kind: 'join' });
      g.setParent(joinId(node.id), clusterId(node.id));
    }
  }
  for (const node of model.nodes) {
    if (node.parent === undefined) continue;
    const parent = clusterId(node.parent);
    g.setParent(isContainer(node) ? clusterId(node.id) : node.id, parent);
  }
  const addEdge = (from: string, to: string, name: string, label: LayoutEdge): void => {
    g.setEdge(from, to, label, name);
  };
  for (const edge of model.edges) {
    const from =
      edge.kind !== 'branch' && isContainer(byId.get(edge.from) ?? ({} as GraphNode))
        ? joinId(edge.from)
        : edge.from;
    const text = edge.label
      ? truncate(edge.label + (edge.traversals > 1 ? ` ×${edge.traversals}` : ''), 40)
      : edge.traversals > 1
        ? `×${edge.traversals}`
        : undefined;
    addEdge(from, edge.to, edge.id, {
      width: text ? Math.ceil(displayWidth(text) * LABEL_CHAR_WIDTH + 8) : 0,
      height: text ? 18 : 0,
      labelpos: 'c',
      edge,
      label: text,
      visited: edge.visited,
    });
  }
  // Branch ends -> the container's join.
  for (const node of model.nodes) {
    if (node.parent === undefined || !node.end || node.type === 'Fail') continue;
    addEdge(isContainer(node) ? joinId(node.id) : node.id, joinId(node.parent), `join:${node.id}`, {
      width: 0,
      height: 0,
      labelpos: 'c',
      visited: node.ended,
    });
  }
  dagre.layout(g as never);

  const graphSize = g.graph() as unknown as { width?: number; height?: number };
  const header: string[] = [];
  const { execution } = model;
  if (execution) {
    const where = execution.failState ?? model.nodes.find((n) => n.failed && n.parent === undefined)?.name;
    header.push(
      `Execution ${execution.status}${where ? ` at ${where}` : ''}${execution.error && execution.error !== where ? ` (${execution.error})` : ''}`,
    );
  }
  if (model.source === 'history')
    header.push('Drawn from the states seen in the history (no definition given).');
  const top = header.length * 18 + (header.length > 0 ? 8 : 0);
  const width = Math.ceil(
    Math.max(graphSize.width ?? 0, ...header.map((h) => displayWidth(h) * CHAR_WIDTH + 32)),
  );
  const height = Math.ceil((graphSize.height ?? 0) + top);
  const f = (n: number | undefined) => Math.round((n ?? 0) * 10) / 10;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family='${FONT}' font-size="12">`,
  );
  parts.push(`<title>${escapeXml(model.comment ?? 'State machine')}</title>`);
  const css = [
    'svg{background:#fff}',
    '.node rect{fill:#fff;stroke:#455a64;stroke-width:1.5}',
    '.node text{fill:#263238}',
    '.node .title{font-weight:bold;font-size:13px}',
    '.node .sub{fill:#546e7a}',
    '.join rect{fill:#eceff1;stroke:#90a4ae}',
    '.join text{fill:#607d8b;font-size:11px}',
    '.cluster{fill:#f5f7f8;stroke:#90a4ae;stroke-dasharray:5 3}',
    '.cluster.visited{stroke:#2e7d32}',
    '.edge path{fill:none;stroke:#90a4ae;stroke-width:1.5}',
    '.edge.catch path{stroke-dasharray:5 4}',
    '.edge.visited path{stroke:#2e7d32;stroke-width:3}',
    '.edge text{fill:#546e7a;font-size:11px}',
    '.edge.visited text{fill:#1b5e20;font-weight:bold}',
    '.edge-label{fill:#fff;fill-opacity:.9}',
    '.header{font-size:13px;font-weight:bold;fill:#263238}',
    ...Object.entries(PATH_COLOURS).map(
      ([name, c]) =>
        `.node.${name} rect{fill:${c.fill};stroke:${c.stroke};stroke-width:${name === 'unvisited' ? 1 : 2.5}}` +
        (name === 'unvisited' ? '.node.unvisited text{fill:#90a4ae}' : ''),
    ),
  ];
  parts.push(`<style>${css.join('')}</style>`);
  parts.push(
    '<defs>' +
      '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#90a4ae"/></marker>' +
      '<marker id="arrow-visited" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2e7d32"/></marker>' +
      '</defs>',
  );
  header.forEach((h, i) => {
    parts.push(`<text class="header" x="16" y="${20 + i * 18}">${escapeXml(h)}</text>`);
  });
  parts.push(`<g transform="translate(0,${top})">`);
  // Clusters, outermost first (a nested box is drawn over its parent).
  const clusters = model.nodes.filter(isContainer).map((n) => {
    let depth = 0;
    for (let p = n.parent; p !== undefined; p = byId.get(p)?.parent) depth++;
    return { n, depth };
  });
  clusters.sort((a, b) => a.depth - b.depth);
  parts.push('<g class="clusters">');
  for (const { n } of clusters) {
    const c = g.node(clusterId(n.id));
    if (!c) continue;
    const x = f((c.x ?? 0) - c.width / 2);
    const y = f((c.y ?? 0) - c.height / 2);
    parts.push(
      `<rect class="cluster${n.visited ? ' visited' : ''}" data-id="${escapeXml(n.id)}" x="${x}" y="${y}" width="${f(c.width)}" height="${f(c.height)}" rx="8"/>`,
    );
  }
  parts.push('</g>');
  const marked = execution !== undefined;
  parts.push('<g class="edges">');
  for (const e of g.edges()) {
    const label = g.edge(e);
    if (!label?.points) continue;
    const kind = label.edge?.kind ?? 'join';
    const classes = ['edge', `kind-${kind}`];
    if (kind === 'catch' || (kind === 'observed' && label.edge?.label?.startsWith('caught')))
      classes.push('catch');
    if (label.visited) classes.push('visited');
    const attrs = label.edge
      ? ` data-edge="${label.edge.id}" data-from="${escapeXml(label.edge.from)}" data-to="${escapeXml(label.edge.to)}"`
      : '';
    let text = '';
    if (label.label && label.x !== undefined && label.y !== undefined) {
      text =
        `<rect class="edge-label" x="${f(label.x - label.width / 2)}" y="${f(label.y - label.height / 2)}" width="${f(label.width)}" height="${f(label.height)}" rx="3"/>` +
        `<text x="${f(label.x)}" y="${f(label.y + 4)}" text-anchor="middle">${escapeXml(label.label)}</text>`;
    }
    parts.push(
      `<g class="${classes.join(' ')}"${attrs}><path d="${pathData(label.points)}" marker-end="url(#${label.visited ? 'arrow-visited' : 'arrow'})"/>${text}</g>`,
    );
  }
  parts.push('</g>');
  parts.push('<g class="nodes">');
  for (const v of g.nodes()) {
    const n = g.node(v);
    if (!n || n.kind === 'cluster' || !n.box) continue;
    const x = (n.x ?? 0) - n.width / 2;
    const y = (n.y ?? 0) - n.height / 2;
    const node = byId.get(v);
    if (n.kind === 'join') {
      parts.push(
        `<g class="join" data-id="${escapeXml(v)}"><rect x="${f(x)}" y="${f(y)}" width="${f(n.width)}" height="${f(n.height)}" rx="${f(n.height / 2)}"/>` +
          `<text x="${f(n.x)}" y="${f((n.y ?? 0) + 4)}" text-anchor="middle">${escapeXml(n.box.lines[0] ?? '')}</text></g>`,
      );
      continue;
    }
    if (!node) continue;
    const outcome = marked ? nodeOutcome(node) : 'plain';
    const classes = ['node', `type-${node.type.toLowerCase()}`, outcome];
    if (node.visited) classes.push('visited');
    if (node.start && node.parent === undefined) classes.push('start');
    const rx =
      node.type === 'Succeed' || node.type === 'Fail' ? n.height / 2 : node.type === 'Choice' ? 14 : 4;
    const tspans = n.box.lines
      .map(
        (line: string, i: number) =>
          `<tspan x="${f(n.x)}" y="${f(y + PAD_Y + 12 + i * LINE_HEIGHT)}"${i === 0 ? ' class="title"' : ' class="sub"'}>${escapeXml(line)}</tspan>`,
      )
      .join('');
    parts.push(
      `<g class="${classes.join(' ')}" data-id="${escapeXml(node.id)}"><rect x="${f(x)}" y="${f(y)}" width="${f(n.width)}" height="${f(n.height)}" rx="${f(rx)}"/>` +
        `<text text-anchor="middle">${tspans}</text></g>`,
    );
  }
  parts.push('</g></g></svg>');
  return parts.join('\n');
}
