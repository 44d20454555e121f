/** The timeline's glyphs and their legend: no imports, so `saga --help` can show the legend without loading the renderer. */

/**
 * One glyph per meaning; {@link TIMELINE_LEGEND} explains them. The outcome of the visit decides, except that a
 * compensation that succeeded is always ↩ (retries show in its detail).
 */
export const GLYPHS = {
  succeeded: '✓',
  retried: '↻',
  caught: '↷',
  failed: '✗',
  compensated: '↩',
  running: '…',
} as const;

/** The legend of the timeline's glyphs (for `saga watch --help` and `saga order --help`). */
export const TIMELINE_LEGEND = [
  'Timeline glyphs:',
  `  ${GLYPHS.succeeded}  succeeded at the first attempt`,
  `  ${GLYPHS.retried}  succeeded after retries (the detail shows the attempts and the observed backoff)`,
  `  ${GLYPHS.caught}  failed, and a Catch moved the saga on (the error and its cause follow)`,
  `  ${GLYPHS.failed}  failed and ended the execution (or a Fail state)`,
  `  ${GLYPHS.compensated}  compensation, indented: the decision to compensate, or the undoing of an earlier step`,
  `  ${GLYPHS.running}  running (or waiting for a retry)`,
].join('\n');
