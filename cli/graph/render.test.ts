import { readFileSync } from 'node:fs';
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import { describe, expect, test } from 'vitest';
import { parseHistoryFile } from '../timeline/history.ts';
import { displayWidth } from '../ui/format.ts';
import { parseDefinitionText } from './asl.ts';
import { renderMermaid } from './mermaid.ts';
import { buildGraph, type GraphModel } from './model.ts';
import { renderSvg } from './svg.ts';
import { renderGraphText } from './text.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const SAGA = parseDefinitionText(read('state-machines/order-saga.asl.json'));
const MAP_PARALLEL = parseDefinitionText(read('cli/graph/fixtures/map-parallel.asl.json'));
const shippingFails = () =>
  buildGraph(SAGA, parseHistoryFile(read('cli/timeline/fixtures/saga-v2-shipping-fails.json')));
const nested = () =>
  buildGraph(MAP_PARALLEL, parseHistoryFile(read('cli/timeline/fixtures/nested-map-parallel.json')));

function elements(parent: Element | Document, tag: string): Element[] {
  return Array.from(parent.getElementsByTagName(tag) as unknown as ArrayLike<Element>);
}
const classes = (e: Element) => (e.getAttribute('class') ?? '').split(/\s+/);
const num = (e: Element | undefined, attr: string) => Number(e?.getAttribute(attr));

function parseSvg(text: string): Document {
  const errors: string[] = [];
  const doc = new DOMParser({
    onError: (level, message) => {
      if (level !== 'warning') errors.push(message);
    },
  }).parseFromString(text, 'image/svg+xml');
  expect(errors).toEqual([]);
  return doc;
}

function checkSvg(model: GraphModel): Document {
  const doc = parseSvg(renderSvg(model));
  const svg = doc.documentElement as Element;
  expect(svg.tagName).toBe('svg');
  expect(svg.getAttribute('xmlns')).toBe('http://www.w3.org/2000/svg');
  expect(num(svg, 'width')).toBeGreaterThan(0);
  expect(num(svg, 'height')).toBeGreaterThan(0);
  const groups = elements(doc, 'g');
  const nodeGroups = groups.filter((g) => classes(g).includes('node'));
  const drawn = new Map(nodeGroups.map((g) => [g.getAttribute('data-id'), g]));
  // Every state but a container (drawn as a box with a header node) is a node; containers have both.
  for (const node of model.nodes) {
    const g = drawn.get(node.id);
    expect(g, node.id).toBeDefined();
    const rect = elements(g as Element, 'rect')[0];
    expect(num(rect, 'width'), node.id).toBeGreaterThan(0);
    expect(num(rect, 'height'), node.id).toBeGreaterThan(0);
    for (const a of ['x', 'y']) expect(Number.isFinite(num(rect, a)), `${node.id} ${a}`).toBe(true);
    const text = elements(g as Element, 'tspan').map((t) => t.textContent);
    expect(text[0]).toBe(node.name);
    // Sized to its label: wide enough for the name at 13 px monospace.
    expect(num(rect, 'width')).toBeGreaterThanOrEqual(node.name.length * 7.5);
    expect(classes(g as Element).includes('visited')).toBe(node.visited);
  }
  // Every edge of the model is a path; the walked ones carry the highlight class, the others not.
  const edgeGroups = groups.filter((g) => g.getAttribute('data-edge'));
  expect(edgeGroups.map((g) => g.getAttribute('data-edge')).sort()).toEqual(
    model.edges.map((e) => e.id).sort(),
  );
  for (const edge of model.edges) {
    const g = edgeGroups.find((x) => x.getAttribute('data-edge') === edge.id) as Element;
    expect(classes(g).includes('visited'), edge.id).toBe(edge.visited);
    const d = elements(g, 'path')[0]?.getAttribute('d') ?? '';
    expect(d).toMatch(/^M[\d.-]+,[\d.-]+( [QL][\d., -]+)+$/);
  }
  // Nodes do not overlap (dagre laid them out).
  const rects = nodeGroups.map((g) => elements(g, 'rect')[0] as Element);
  for (let i = 0; i < rects.length; i++) {
    for (let j = i + 1; j < rects.length; j++) {
      const [a, b] = [rects[i] as Element, rects[j] as Element];
      const apart =
        num(a, 'x') + num(a, 'width') <= num(b, 'x') ||
        num(b, 'x') + num(b, 'width') <= num(a, 'x') ||
        num(a, 'y') + num(a, 'height') <= num(b, 'y') ||
        num(b, 'y') + num(b, 'height') <= num(a, 'y');
      expect(
        apart,
        `${nodeGroups[i]?.getAttribute('data-id')} / ${nodeGroups[j]?.getAttribute('data-id')}`,
      ).toBe(true);
    }
  }
  return doc;
}

describe('svg', () => {
  test('the saga definition alone: every state drawn, nothing highlighted', () => {
    const doc = checkSvg(buildGraph(SAGA));
    expect(elements(doc, 'g').filter((g) => classes(g).includes('visited'))).toEqual([]);
  });

  test('the saga with the path of a cancelled order', () => {
    const model = shippingFails();
    const doc = checkSvg(model);
    const failed = elements(doc, 'g').filter((g) => classes(g).includes('failed'));
    expect(failed.map((g) => g.getAttribute('data-id'))).toEqual(['OrderCancelled']);
    const compensated = elements(doc, 'g').filter((g) => classes(g).includes('compensated'));
    expect(compensated.map((g) => g.getAttribute('data-id'))).toContain('RefundPayment');
    expect(elements(doc, 'text').some((t) => t.textContent === 'Execution FAILED at OrderCancelled')).toBe(
      true,
    );
  });

  test('Map and Parallel: boxes around their inner states', () => {
    const model = nested();
    const doc = checkSvg(model);
    const boxes = elements(doc, 'rect').filter((r) => classes(r).includes('cluster'));
    expect(boxes.map((b) => b.getAttribute('data-id'))).toEqual(['ProcessItems', 'FanOut']);
    const inside = (box: Element, id: string) => {
      const g = elements(doc, 'g').find((x) => x.getAttribute('data-id') === id) as Element;
      const r = elements(g, 'rect')[0] as Element;
      return (
        num(r, 'x') >= num(box, 'x') &&
        num(r, 'x') + num(r, 'width') <= num(box, 'x') + num(box, 'width') &&
        num(r, 'y') >= num(box, 'y') &&
        num(r, 'y') + num(r, 'height') <= num(box, 'y') + num(box, 'height')
      );
    };
    const [map, parallel] = boxes as [Element, Element];
    for (const id of ['Normalize', 'Throttle']) expect(inside(map, id), id).toBe(true);
    for (const id of ['NotifyWarehouse', 'LogNotifyFailure', 'Audit', 'AuditDone'])
      expect(inside(parallel, id), id).toBe(true);
    expect(inside(parallel, 'FanOutFailed')).toBe(false);
  });

  test('labels are escaped', () => {
    const model = buildGraph(
      parseDefinitionText(
        JSON.stringify({
          StartAt: 'A<&>"',
          States: {
            'A<&>"': {
              Type: 'Choice',
              Choices: [{ Variable: '$.x', NumericLessThan: 3, Next: 'B' }],
              Default: 'B',
            },
            B: { Type: 'Succeed' },
          },
        }),
      ),
    );
    checkSvg(model);
  });
});

describe('mermaid', () => {
  test('the saga with a path: the expected lines', () => {
    const model = shippingFails();
    const lines = renderMermaid(model).split('\n');
    expect(lines[0]).toBe('flowchart TD');
    const ids = new Map(model.nodes.map((n, i) => [n.id, `s${i}`]));
    // One node line per state, its shape by type.
    for (const node of model.nodes) {
      const line = lines.find(
        (l) =>
          l.trimStart().startsWith(`${ids.get(node.id)}[`) ||
          l.trimStart().startsWith(`${ids.get(node.id)}{`) ||
          l.trimStart().startsWith(`${ids.get(node.id)}(`),
      );
      expect(line, node.id).toBeDefined();
      expect(line).toContain(`"${node.name}<br/>${node.type}`);
      if (node.type === 'Choice') expect(line).toMatch(/^ {2}s\d+\{".*"\}$/);
      else if (node.type === 'Fail' || node.type === 'Succeed')
        expect(line).toMatch(/^ {2}s\d+\(\[".*"\]\)$/);
    }
    // One link per edge, in model order; catches dotted and labelled.
    const links = lines.filter((l) => /^ {2}s\d+ -(\.)?->/.test(l));
    expect(links).toHaveLength(model.edges.length);
    model.edges.forEach((edge, i) => {
      const m = /^ {2}(s\d+) (-->|-\.->)(?:\|"([^"]*)"\|)? (s\d+)$/.exec(links[i] ?? '');
      expect(m, links[i]).not.toBeNull();
      expect(m?.[1]).toBe(ids.get(edge.from));
      expect(m?.[4]).toBe(ids.get(edge.to));
      expect(m?.[2]).toBe(edge.kind === 'catch' ? '-.->' : '-->');
      if (edge.label)
        expect(m?.[3]).toBe(edge.label.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;'));
    });
    // The walked links are the linkStyle's, by index.
    const linkStyle = lines.find((l) => l.startsWith('  linkStyle '));
    const walked = model.edges.flatMap((e, i) => (e.visited ? [i] : []));
    expect(linkStyle).toBe(`  linkStyle ${walked.join(',')} stroke:#2e7d32,stroke-width:3px`);
    // Each state in one class, by its outcome.
    const classLines = lines.filter((l) => /^ {2}class /.test(l));
    const classOf = new Map<string, string>();
    for (const l of classLines) {
      const [, members = '', name = ''] = /^ {2}class (\S+) (\w+)$/.exec(l) ?? [];
      for (const m of members.split(',')) classOf.set(m, name);
    }
    expect(classOf.get(ids.get('OrderCancelled') ?? '')).toBe('failed');
    expect(classOf.get(ids.get('ShipOrder') ?? '')).toBe('caught');
    expect(classOf.get(ids.get('ChargePayment') ?? '')).toBe('succeeded');
    expect(classOf.get(ids.get('RefundPayment') ?? '')).toBe('compensated');
    expect(classOf.get(ids.get('MarkOrderCompleted') ?? '')).toBe('unvisited');
    for (const name of new Set(classOf.values()))
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^ {2}classDef ${name} `)));
  });

  test('Map and Parallel are subgraphs; a definition alone has no classes', () => {
    const lines = renderMermaid(buildGraph(MAP_PARALLEL)).split('\n');
    expect(lines).toContain('  subgraph s0 ["Map ProcessItems"]');
    expect(lines).toContain('  subgraph s3 ["Parallel FanOut"]');
    expect(lines).toContain('    subgraph s3_b0 ["branch 1"]');
    expect(lines).toContain('    subgraph s3_b1 ["branch 2"]');
    expect(lines.filter((l) => l.trim() === 'end')).toHaveLength(4);
    expect(lines).toContain('  s0 --> s3');
    expect(lines).toContain('  s3 -.->|"catch States.ALL"| s8');
    expect(lines.some((l) => /classDef|linkStyle|^ {2}class /.test(l))).toBe(false);
  });
});

describe('text', () => {
  test('the path marked with the timeline glyphs', () => {
    const lines = renderGraphText(shippingFails());
    expect(lines).toContain('Execution FAILED at OrderCancelled');
    expect(lines).toContainEqual(
      expect.stringMatching(/^↷ ShipOrder {2}Task · lambda:invoke {2}ShippingUnavailable$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^↩ RefundPayment /));
    expect(lines).toContainEqual(expect.stringMatching(/^✗ OrderCancelled /));
    expect(lines).toContainEqual(expect.stringMatching(/^· MarkOrderCompleted /));
    expect(lines).toContain('    ⇒ CancelOrder  catch States.ALL');
    expect(lines).toContain('    → MarkOrderCompleted');
    expect(lines.join('\n')).toMatch(
      /Path: CheckOrder ⇒ RouteOrder ⇒ ChargePayment ⇒ ReserveInventory ⇒ ShipOrder ↷ ⇒/,
    );
  });

  test('inner states indented under their container, a history-only graph says so', () => {
    const lines = renderGraphText(nested());
    expect(lines).toContain('    branch 2:');
    expect(lines).toContainEqual(expect.stringMatching(/^ {4}↷ NotifyWarehouse /));
    const historyOnly = renderGraphText(
      buildGraph(
        undefined,
        parseHistoryFile(read('test/fixtures/aws-history/02-lambda-invoke-retry-then-catch.json')),
      ),
    );
    expect(historyOnly[0]).toMatch(/^Drawn from the states seen in the history/);
    expect(historyOnly).toContainEqual(
      expect.stringMatching(/^↷ InvokeLambdaWithRetry .*4 attempts, Exception$/),
    );
  });
});

describe('wide characters (CJK state names) take two columns', () => {
  const wide = parseDefinitionText(
    JSON.stringify({
      StartAt: '注文を確定する注文を確定する',
      States: {
        注文を確定する注文を確定する: { Type: 'Pass', Next: 'AsciiOfTheSameLen' },
        AsciiOfTheSameLen: { Type: 'Pass', End: true },
      },
    }),
  );
  const events = (names: readonly string[]) => [
    { id: 1, previousEventId: 0, type: 'ExecutionStarted', timestamp: 0 },
    ...names.flatMap((name, i) => [
      {
        id: 2 + 2 * i,
        previousEventId: 1 + 2 * i,
        type: 'PassStateEntered',
        timestamp: 1,
        stateEnteredEventDetails: { name },
      },
      {
        id: 3 + 2 * i,
        previousEventId: 2 + 2 * i,
        type: 'PassStateExited',
        timestamp: 2,
        stateExitedEventDetails: { name },
      },
    ]),
    {
      id: 2 + 2 * names.length,
      previousEventId: 1 + 2 * names.length,
      type: 'ExecutionSucceeded',
      timestamp: 3,
    },
  ];

  test('an SVG box is sized to the columns of its name, not its characters', () => {
    const doc = parseSvg(renderSvg(buildGraph(wide)));
    const widthOf = (name: string) => {
      const group = elements(doc, 'g').find(
        (g) => classes(g).includes('node') && g.getAttribute('data-id') === name,
      );
      return num(group ? elements(group, 'rect')[0] : undefined, 'width');
    };
    // 14 wide characters (28 columns) against 17 narrow ones.
    expect(widthOf('注文を確定する注文を確定する')).toBeGreaterThan(widthOf('AsciiOfTheSameLen'));
  });

  test('the text path wraps at the terminal width in columns', () => {
    const names = ['注文を確定する注文を確定する', 'AsciiOfTheSameLen'];
    const model = buildGraph(wide, events([names[0] ?? '', names[1] ?? '']));
    const lines = renderGraphText(model, { width: 30 });
    const path = lines.slice(lines.findIndex((l) => l.startsWith('Path:')));
    expect(path.length).toBeGreaterThan(1);
    // A line wider than the terminal is one word that does not fit on any line.
    for (const line of path)
      if (displayWidth(line) > 30) expect(line.trim().split(' '), line).toHaveLength(1);
  });
});
