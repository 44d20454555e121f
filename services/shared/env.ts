/** A function started without an environment variable it needs: a deployment bug, reported at cold start. */
export class MissingEnvironmentError extends Error {
  /** The variables that were missing or empty. */
  readonly missing: readonly string[];

  constructor(missing: readonly string[]) {
    super(
      `Missing environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: ` +
        'set them on the function (the CDK stack does) before it is invoked',
    );
    this.name = 'MissingEnvironmentError';
    this.missing = missing;
  }
}

/**
 * Reads the named environment variables, all at once, and fails fast naming every missing or empty one.
 * Call it at module scope so a misconfigured function fails at cold start, not mid-saga.
 */
export function requireEnv<const K extends string>(...names: K[]): Readonly<Record<K, string>> {
  const values = {} as Record<K, string>;
  const missing: string[] = [];
  for (const name of names) {
    const value = process.env[name];
    if (value === undefined || value.trim() === '') missing.push(name);
    else values[name] = value;
  }
  if (missing.length > 0) throw new MissingEnvironmentError(missing);
  return values;
}
