/**
 * `backbone serve` (read API, CDS Hooks service, webhooks and the page) and `backbone views-sink`
 * (PGx profiles and alerts into the ClickHouse views): composition roots for the command line.
 * The same functions start them in-process for the demo.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../platform/config.ts';
import { createLocalIssuer, type LocalIssuer } from '../platform/auth/jwt.ts';
import { InvalidInputError } from '../platform/errors.ts';
import { Lifecycle } from '../platform/lifecycle.ts';
import { createLogger, type Logger } from '../platform/log.ts';
import { startTelemetry } from '../platform/telemetry.ts';
import { cdsAudiences, startPointOfCare, type PointOfCareHandle, type PointOfCareOptions } from '../services/point-of-care/runner.ts';

export { startViewsSink } from '../services/views-sink/runner.ts';
export { cdsOrderSign, cdsRequest } from '../services/point-of-care/client.ts';

export interface ServeHandle extends PointOfCareHandle {
  /** Present with a dev issuer: signs user tokens (roles) and CDS client tokens it trusts. */
  devIssuer?: LocalIssuer;
  /** A fresh CDS client token for this server (dev issuer only). */
  cdsToken?: () => Promise<string>;
  userToken?: (roles: ('clinician' | 'analyst' | 'admin' | 'publisher')[]) => Promise<string>;
}

/**
 * Starts the serve composition in-process. With `devIssuer`, an in-process issuer is trusted for
 * user and CDS client tokens and its JWKS is served at /.well-known/jwks.json (never for production).
 */
export async function startServe(config: Config, log: Logger, options: PointOfCareOptions & { devIssuer?: boolean } = {}): Promise<ServeHandle> {
  const { devIssuer: withDev, ...rest } = options;
  if (withDev !== true) return startPointOfCare(config, log, rest);
  const issuer = await createLocalIssuer(`${config.publicUrl}/dev-issuer`);
  const handle = await startPointOfCare(config, log, { ...rest, userIssuers: [issuer.trust(), ...(rest.userIssuers ?? [])], cdsIssuers: [issuer.trust(), ...(rest.cdsIssuers ?? [])], devJwks: issuer.jwks });
  const [audience] = cdsAudiences(config.publicUrl);
  return {
    ...handle,
    devIssuer: issuer,
    cdsToken: () => issuer.sign({ sub: 'dev-ehr', aud: audience ?? '', ttlSeconds: 300 }),
    userToken: (roles) => issuer.sign({ sub: `dev-${roles.join('-')}`, aud: config.authAudience, roles, ttlSeconds: 12 * 3600 }),
  };
}

export async function serveCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, 'dev-issuer': { type: 'boolean', default: false } } });
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInputError(`--port must be a TCP port, got '${values.port}'`);
  }
  const log = createLogger({ level: config.logLevel, name: 'point-of-care' });
  const life = new Lifecycle(log);
  life.add('telemetry', await startTelemetry(config, 'point-of-care'), (stop) => stop());
  const handle = life.add('point of care', await startServe(config, log, { ...(port === undefined ? {} : { port }), devIssuer: values['dev-issuer'] }), (h) => h.stop());
  console.log(`serving on ${handle.url}: page /, read API /api/patients/{id}/profile, CDS Hooks ${handle.url}/cds-services`);
  if (handle.userToken !== undefined && handle.cdsToken !== undefined) {
    console.log('dev issuer (not for production); tokens valid 12 h:');
    for (const role of ['clinician', 'analyst', 'admin'] as const) console.log(`  ${role.padEnd(9)} ${await handle.userToken([role])}`);
    console.log(`  cds client (single use, 5 min): ${await handle.cdsToken()}`);
  }
  life.stopOnSignals(() => process.exit(0));
  try {
    await handle.failed;
  } catch (error) {
    log.fatal({ err: String(error) }, 'consumer failed for good');
    await life.stop();
    return 1;
  }
  return 0;
}
