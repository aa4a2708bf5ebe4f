/**
 * Schema registration through the Confluent-compatible REST API. Registration is explicit (the
 * `backbone setup` step), per subject with BACKWARD compatibility set before the first version, so
 * registries whose global default differs (Apicurio: NONE) still refuse incompatible changes.
 */
import { request as httpRequest } from 'node:http';
import { withoutCredentials, type Config } from './config.ts';
import { BackboneError, DependencyError, InvalidInputError, describeError } from './errors.ts';

export class IncompatibleSchemaError extends BackboneError {
  constructor(
    readonly subject: string,
    detail: string,
  ) {
    super(`schema for ${subject} is not BACKWARD compatible with the registered versions: ${detail}`, { retriable: false });
  }
}

export class SubjectNotFoundError extends BackboneError {
  constructor(readonly subject: string) {
    super(`registry subject ${subject} does not exist`, { retriable: false });
  }
}

export interface RegistryClient {
  register(subject: string, schema: object): Promise<number>;
  setCompatibility(subject: string, level: 'BACKWARD' | 'NONE' | 'FULL' | 'FORWARD'): Promise<void>;
  compatibility(subject: string): Promise<string | undefined>;
  isCompatible(subject: string, schema: object): Promise<boolean>;
  subjects(): Promise<string[]>;
  /** The schema with this registry id, as JSON; undefined when the registry does not know it. */
  schemaById(id: number): Promise<object | undefined>;
  /** The registry id of exactly this schema under the subject; undefined when it is not registered there. */
  idOf(subject: string, schema: object): Promise<number | undefined>;
  deleteSubject(subject: string): Promise<void>;
}

const TIMEOUT_MS = 10_000;

/**
 * One HTTP exchange through node:http(s). Not fetch: its first use in a process costs ~80 ms of
 * main-thread start-up, and the VCF CLI looks up its schema ids while it scans.
 */
async function send(url: URL, method: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number; text: string }> {
  const request = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return new Promise((resolve, reject) => {
    const sized = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    // One deadline for the whole exchange, as fetch's AbortSignal.timeout gave (a socket timeout alone
    // would let a server that trickles its answer hold the request).
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
    const fail = (error: Error): void => {
      clearTimeout(deadline);
      reject(error);
    };
    const req = request(url, { method, headers: sized }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(deadline);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

export function createRegistryClient(config: Config): RegistryClient {
  const base = config.registryUrl;
  const headers: Record<string, string> = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
  if (config.registryUsername !== '') {
    headers.authorization = `Basic ${Buffer.from(`${config.registryUsername}:${config.registryPassword}`).toString('base64')}`;
  }

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let response: { status: number; text: string };
    try {
      response = await send(new URL(`${base}${path}`), method, headers, body === undefined ? undefined : JSON.stringify(body));
    } catch (error) {
      throw new DependencyError('schema registry', `${method} ${withoutCredentials(base)}${path} failed: ${describeError(error)}`, { cause: error });
    }
    const textBody = response.text;
    let json: unknown = textBody;
    try {
      json = textBody === '' ? undefined : JSON.parse(textBody);
    } catch {
      // Non-JSON error pages are kept as text for the message.
    }
    if (response.status === 401 || response.status === 403) {
      // Retrying cannot help: the credentials are configuration.
      throw new DependencyError('schema registry', `${method} ${path} answered ${response.status}: check BACKBONE_REGISTRY_USERNAME and BACKBONE_REGISTRY_PASSWORD`, { retriable: false });
    }
    if (response.status >= 500) {
      throw new DependencyError('schema registry', `${method} ${path} answered ${response.status}: ${textBody.slice(0, 300)}`);
    }
    return { status: response.status, json };
  }

  const enc = encodeURIComponent;
  const message = (json: unknown): string =>
    typeof json === 'object' && json !== null && 'message' in json ? String(json.message) : String(json);

  return {
    async register(subject, schema) {
      const { status, json } = await call('POST', `/subjects/${enc(subject)}/versions`, { schema: JSON.stringify(schema) });
      if (status === 409) throw new IncompatibleSchemaError(subject, message(json));
      if (status === 422) throw new InvalidInputError(`registry refused schema for ${subject}: ${message(json)}`);
      if (status !== 200) throw new DependencyError('schema registry', `register ${subject} answered ${status}: ${message(json)}`, { retriable: false });
      const id = (json as { id?: unknown }).id;
      if (typeof id !== 'number') throw new DependencyError('schema registry', `register ${subject}: no id in answer`, { retriable: false });
      return id;
    },
    async setCompatibility(subject, level) {
      const { status, json } = await call('PUT', `/config/${enc(subject)}`, { compatibility: level });
      if (status === 404) throw new SubjectNotFoundError(subject);
      if (status !== 200) throw new DependencyError('schema registry', `set compatibility of ${subject} answered ${status}: ${message(json)}`, { retriable: false });
    },
    async compatibility(subject) {
      const { status, json } = await call('GET', `/config/${enc(subject)}`);
      if (status === 404) return undefined;
      const level = (json as { compatibilityLevel?: unknown; compatibility?: unknown }) ?? {};
      const value = level.compatibilityLevel ?? level.compatibility;
      return typeof value === 'string' ? value.toUpperCase() : undefined;
    },
    async isCompatible(subject, schema) {
      const { status, json } = await call('POST', `/compatibility/subjects/${enc(subject)}/versions/latest`, { schema: JSON.stringify(schema) });
      if (status === 404) return true; // nothing registered yet
      if (status !== 200) throw new DependencyError('schema registry', `compatibility check of ${subject} answered ${status}: ${message(json)}`, { retriable: false });
      return (json as { is_compatible?: unknown }).is_compatible === true;
    },
    async schemaById(id) {
      const { status, json } = await call('GET', `/schemas/ids/${id}`);
      if (status === 404) return undefined;
      const { schema, schemaType } = (json ?? {}) as { schema?: unknown; schemaType?: unknown };
      if (status !== 200 || typeof schema !== 'string') {
        throw new DependencyError('schema registry', `schema ${id} answered ${status}: ${message(json)}`);
      }
      if (schemaType !== undefined && schemaType !== 'AVRO') throw new InvalidInputError(`schema id ${id} is ${typeof schemaType === 'string' ? schemaType : 'of another type'}, not Avro`);
      try {
        return JSON.parse(schema) as object;
      } catch {
        throw new InvalidInputError(`schema id ${id} is not an Avro schema (not JSON)`);
      }
    },
    async idOf(subject, schema) {
      const { status, json } = await call('POST', `/subjects/${enc(subject)}`, { schema: JSON.stringify(schema) });
      if (status === 404) {
        const code = (json as { error_code?: unknown } | undefined)?.error_code;
        if (code === 40401 || code === 40403) return undefined; // no such subject, or not this schema under it
        // A 404 without the registry's error code: the base URL does not point at the registry's API.
        throw new DependencyError('schema registry', `POST ${withoutCredentials(base)}/subjects/… answered 404 without a registry error code: is the registry URL the Confluent-compatible API base? ${message(json).slice(0, 200)}`, { retriable: false });
      }
      const id = (json as { id?: unknown } | undefined)?.id;
      if (status !== 200 || typeof id !== 'number') {
        throw new DependencyError('schema registry', `looking up the schema of ${subject} answered ${status}: ${message(json)}`);
      }
      return id;
    },
    async subjects() {
      const { json } = await call('GET', '/subjects');
      return Array.isArray(json) ? (json as string[]) : [];
    },
    async deleteSubject(subject) {
      await call('DELETE', `/subjects/${enc(subject)}`);
    },
  };
}

/**
 * Registers a subject's schema with BACKWARD compatibility in force before the new version is
 * checked. A registry may refuse to configure a subject that does not exist yet; then the first
 * version goes in (nothing to be compatible with) and the level is set right after.
 */
export async function registerBackward(registry: RegistryClient, subject: string, schema: object): Promise<number> {
  const current = await registry.compatibility(subject);
  if (current !== 'BACKWARD') {
    try {
      await registry.setCompatibility(subject, 'BACKWARD');
    } catch (error) {
      // Only a subject that does not exist yet may take its first version before the level is set;
      // any other failure must not let a version in while the subject is unprotected.
      if (!(error instanceof SubjectNotFoundError)) throw error;
      const id = await registry.register(subject, schema);
      await registry.setCompatibility(subject, 'BACKWARD');
      return id;
    }
  }
  return registry.register(subject, schema);
}
