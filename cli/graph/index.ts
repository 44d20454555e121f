/** The state machine graph: definition (+ history) -> model (pure) -> text, Mermaid or SVG (pure). */
export {
  AslError,
  type AslState,
  type AslStates,
  describeRule,
  parseDefinition,
  parseDefinitionText,
  shortResource,
} from './asl.ts';
export { renderMermaid } from './mermaid.ts';
export {
  type BuildGraphOptions,
  buildGraph,
  childrenOf,
  type EdgeKind,
  type GraphEdge,
  type GraphExecution,
  type GraphModel,
  type GraphNode,
  nodeOutcome,
} from './model.ts';
export { renderSvg } from './svg.ts';
export { GRAPH_LEGEND, type GraphTextStyle, renderGraphText } from './text.ts';
