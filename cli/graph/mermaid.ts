import { childrenOf, type GraphModel, type GraphNode, nodeLabelLines, nodeOutcome } from './model.ts';

/** Colours of the path, shared with the SVG. */
export const PATH_COLOURS = {
  succeeded: { fill: '#e8f5e9', stroke: '#2e7d32' },
  retried: { fill: '#fff8e1', stroke: '#f9a825' },
  caught: { fill: '#fff3e0', stroke: '#ef6c00' },
  failed: { fill: '#ffebee', stroke: '#c62828' },
  compensated: { fill: '#e3f2fd', stroke: '#1565c0' },
  unvisited: { fill: '#fafafa', stroke: '#b0bec5' },
} as const;

/** A label inside Mermaid quotes: entity codes for the characters Mermaid or its HTML labels would read. */
function escapeLabel(text: string): string {
  return text.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}

/** A label in Mermaid quotes (`raw`: already escaped, may hold `<br/>`). */
function quote(text: string, raw = false): string {
  return `"${raw ? text : escapeLabel(text)}"`;
}

function nodeLabel(node: GraphNode): string {
  return nodeLabelLines(node).map(escapeLabel).join('<br/>');
}

function shape(node: GraphNode, label: string): string {
  const q = quote(label, true);
  switch (node.type) {
    case 'Choice':
      return `{${q}}`;
    case 'Succeed':
    case 'Fail':
      return `([${q}])`;
    case 'Pass':
    case 'Wait':
      return `(${q})`;
    default:
      return `[${q}]`;
  }
}

/** The graph as Mermaid text (no trailing newline). */
export function renderMermaid(model: GraphModel): string {
  const ids = new Map(model.nodes.map((n, i) => [n.id, `s${i}`]));
  const id = (nodeId: string): string => ids.get(nodeId) ?? nodeId;
  const lines: string[] = ['flowchart TD'];
  const marked = model.execution !== undefined;
  const emit = (node: GraphNode, indent: string): void => {
    const branches = childrenOf(model, node.id);
    if (node.type === 'Parallel' || node.type === 'Map') {
      lines.push(`${indent}subgraph ${id(node.id)} [${quote(`${node.type} ${node.name}`)}]`);
      branches.forEach((inner, b) => {
        if (node.type === 'Parallel') {
          lines.push(`${indent}  subgraph ${id(node.id)}_b${b} [${quote(`branch ${b + 1}`)}]`);
          for (const child of inner) emit(child, `${indent}    `);
          lines.push(`${indent}  end`);
        } else for (const child of inner) emit(child, `${indent}  `);
      });
      lines.push(`${indent}end`);
      return;
    }
    lines.push(`${indent}${id(node.id)}${shape(node, nodeLabel(node))}`);
  };
  for (const node of model.nodes) if (node.parent === undefined) emit(node, '  ');

  const walked: number[] = [];
  let index = 0;
  for (const edge of model.edges) {
    // A container's entry into its branches is the subgraph itself.
    if (edge.kind === 'branch') continue;
    const arrow =
      edge.kind === 'catch' || (edge.kind === 'observed' && edge.label?.startsWith('caught'))
        ? '-.->'
        : '-->';
    const label = edge.label
      ? `|${quote(edge.label + (edge.traversals > 1 ? ` ×${edge.traversals}` : ''))}|`
      : edge.traversals > 1
        ? `|${quote(`×${edge.traversals}`)}|`
        : '';
    lines.push(`  ${id(edge.from)} ${arrow}${label} ${id(edge.to)}`);
    if (edge.visited) walked.push(index);
    index += 1;
  }

  if (marked) {
    for (const [name, colour] of Object.entries(PATH_COLOURS)) {
      const extra = name === 'unvisited' ? ',color:#78909c,stroke-dasharray:4 3' : ',stroke-width:2px';
      lines.push(`  classDef ${name} fill:${colour.fill},stroke:${colour.stroke}${extra}`);
    }
    const byOutcome = new Map<string, string[]>();
    for (const node of model.nodes) {
      if (node.type === 'Parallel' || node.type === 'Map') continue;
      const outcome = nodeOutcome(node);
      byOutcome.set(outcome, [...(byOutcome.get(outcome) ?? []), id(node.id)]);
    }
    for (const [outcome, members] of byOutcome) lines.push(`  class ${members.join(',')} ${outcome}`);
    for (const node of model.nodes) {
      if ((node.type === 'Parallel' || node.type === 'Map') && node.visited) {
        const c = PATH_COLOURS[nodeOutcome(node) === 'unvisited' ? 'unvisited' : nodeOutcome(node)];
        lines.push(`  style ${id(node.id)} fill:${c.fill},stroke:${c.stroke},stroke-width:2px`);
      }
    }
    if (walked.length > 0) lines.push(`  linkStyle ${walked.join(',')} stroke:#2e7d32,stroke-width:3px`);
  }
  return lines.join('\n');
}
