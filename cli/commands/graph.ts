import type { CommandContext } from '../command.ts';
import type { ArgsOf, graphCommand, OptionsOf } from '../definitions.ts';
import { buildGraph, type GraphModel, renderGraphText, renderMermaid, renderSvg } from '../graph/index.ts';
import { buildGraphPage } from '../report/index.ts';
import { loadGraphSources } from '../saga/sources.ts';

export const GRAPH_FORMATS = ['text', 'mermaid', 'svg', 'html'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

/** Options of `saga graph`. */
export interface GraphOptions {
  /** @default text on a terminal, mermaid otherwise */
  readonly format?: GraphFormat | undefined;
  /** A saved `get-execution-history` JSON whose path to draw. */
  readonly fromFile?: string | undefined;
  /** The definition to draw (an ASL file, or a `describe-state-machine` response). */
  readonly definition?: string | undefined;
}

/** Builds the graph the arguments name (reads files, or the target's state machine and execution). */
export async function loadGraph(
  ctx: CommandContext,
  execution: string | undefined,
  options: GraphOptions,
): Promise<GraphModel> {
  const { definition, events } = await loadGraphSources(ctx, execution, options);
  return buildGraph(definition, events);
}

/** `saga graph`. */
export async function graph(
  ctx: CommandContext,
  execution: string | undefined,
  options: GraphOptions,
): Promise<GraphModel> {
  const { format } = options;
  const model = await loadGraph(ctx, execution, options);
  const { out } = ctx;
  const chosen = format ?? (out.interactive ? 'text' : 'mermaid');
  if (out.json || chosen === 'text') {
    out.result({ type: 'graph', ...model }, (style) => renderGraphText(model, { style, width: out.width }));
    return model;
  }
  switch (chosen) {
    case 'mermaid':
      out.raw(`${renderMermaid(model)}\n`);
      break;
    case 'svg':
      out.raw(`${renderSvg(model)}\n`);
      break;
    case 'html': {
      const named = execution ?? options.fromFile;
      out.raw(buildGraphPage(model, named === undefined ? undefined : `Graph · ${named}`));
      break;
    }
  }
  return model;
}

export default async function action(
  ctx: CommandContext,
  [execution]: ArgsOf<typeof graphCommand>,
  options: OptionsOf<typeof graphCommand>,
): Promise<number> {
  await graph(ctx, execution, options);
  return 0;
}
