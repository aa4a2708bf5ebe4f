/**
 * Bearer-token (JWT) verification for the read API and the CDS Hooks service. Issuers are an
 * allow-list, each with its JWKS (fetched and cached by jose, or given in-process); a token must
 * name an expected audience and carry `exp`; CDS client tokens must also carry a `jti` that has not
 * been seen before (replay refused). Verification never throws: it returns a reason to deny.
 */
import { randomUUID } from 'node:crypto';
import {
  SignJWT,
  createLocalJWKSet,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { ConfigError } from '../errors.ts';

export const ROLES = ['clinician', 'publisher', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who made a request, once their token is verified. */
export interface Principal {
  subject: string;
  issuer: string;
  roles: Role[];
  /** Token expiry, epoch seconds. */
  exp: number;
  jti: string | null;
}

export type VerifyResult = { ok: true; principal: Principal } | { ok: false; reason: string };

export interface IssuerTrust {
  issuer: string;
  keys: JWTVerifyGetKey;
}

/** Parses the `ISSUER=JWKS_URL` entries of BACKBONE_AUTH_ISSUERS / BACKBONE_CDS_CLIENTS. */
export function remoteIssuers(entries: readonly string[], key = 'issuers'): IssuerTrust[] {
  return entries.map((entry) => {
    const at = entry.indexOf('=');
    if (at <= 0) throw new ConfigError(key, `expected ISSUER=JWKS_URL, got '${entry}'`);
    const issuer = entry.slice(0, at);
    const url = new URL(entry.slice(at + 1));
    return { issuer, keys: createRemoteJWKSet(url, { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5_000 }) };
  });
}

export const ALGORITHMS = ['ES256', 'ES384', 'RS256', 'RS384', 'PS256', 'PS384', 'EdDSA'];

/** Remembers the `jti` of accepted tokens until they expire, so a replayed token is refused. */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private sweptAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** True the first time an (issuer, jti) is offered before its expiry; false for a replay. */
  claim(issuer: string, jti: string, expSeconds: number): boolean {
    const nowMs = this.now();
    if (nowMs - this.sweptAt > 10_000) {
      for (const [k, exp] of this.seen) if (exp * 1000 < nowMs) this.seen.delete(k);
      this.sweptAt = nowMs;
    }
    const key = `${issuer}\u0000${jti}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, expSeconds);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface VerifierOptions {
  issuers: readonly IssuerTrust[];
  /** Accepted audiences; the token's aud must name one of them. */
  audience: readonly string[];
  /** CDS Hooks: every token carries a fresh jti; a replay is refused. */
  replay?: ReplayGuard;
  /** Longest lifetime accepted (exp - now), seconds; CDS Hooks tokens are short-lived. */
  maxLifetimeSeconds?: number;
  clockToleranceSeconds?: number;
  /** Tokens already verified are remembered (until exp) so the hot path skips the signature check. */
  cacheSize?: number;
  now?: () => number;
}

function rolesOf(payload: JWTPayload): Role[] {
  const raw = payload['roles'];
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[\s,]+/) : [];
  return list.filter((r): r is Role => typeof r === 'string' && (ROLES as readonly string[]).includes(r));
}

function reasonOf(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'token expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `token claim refused: ${message}`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'token signature does not verify';
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'no key of the issuer matches the token (kid)';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'token algorithm not allowed';
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JOSE_GENERIC':
      return `issuer keys unavailable: ${message}`;
    default:
      return `token invalid: ${message}`;
  }
}

export interface TokenVerifier {
  verify(token: string | undefined): Promise<VerifyResult>;
}

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const now = options.now ?? Date.now;
  const byIssuer = new Map(options.issuers.map((i) => [i.issuer, i.keys]));
  const cacheSize = options.replay === undefined ? (options.cacheSize ?? 10_000) : 0;
  const cache = new Map<string, Principal>();

  return {
    async verify(token) {
      if (token === undefined || token === '') return { ok: false, reason: 'no bearer token' };
      const cached = cache.get(token);
      if (cached !== undefined) {
        if (cached.exp * 1000 > now()) return { ok: true, principal: cached };
        cache.delete(token);
        return { ok: false, reason: 'token expired' };
      }
      const parts = token.split('.');
      if (parts.length !== 3) return { ok: false, reason: 'token is not a JWS compact serialization' };
      let unverified: JWTPayload;
      try {
        unverified = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as JWTPayload;
      } catch {
        return { ok: false, reason: 'token payload is not JSON' };
      }
      const issuer = typeof unverified.iss === 'string' ? unverified.iss : '';
      const keys = byIssuer.get(issuer);
      if (keys === undefined) return { ok: false, reason: issuer === '' ? 'token has no iss' : `issuer '${issuer}' is not trusted` };
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer,
          audience: [...options.audience],
          algorithms: ALGORITHMS,
          requiredClaims: ['exp'],
          clockTolerance: options.clockToleranceSeconds ?? 5,
          currentDate: new Date(now()),
        }));
      } catch (error) {
        return { ok: false, reason: reasonOf(error) };
      }
      const exp = payload.exp ?? 0;
      if (options.maxLifetimeSeconds !== undefined && exp - now() / 1000 > options.maxLifetimeSeconds) {
        return { ok: false, reason: `token lives longer than ${options.maxLifetimeSeconds} s` };
      }
      const jti = typeof payload.jti === 'string' && payload.jti !== '' ? payload.jti : null;
      if (options.replay !== undefined) {
        if (jti === null) return { ok: false, reason: 'token has no jti' };
        if (!options.replay.claim(issuer, jti, exp)) return { ok: false, reason: 'token replayed (jti already used)' };
      }
      const principal: Principal = { subject: typeof payload.sub === 'string' ? payload.sub : issuer, issuer, roles: rolesOf(payload), exp, jti };
      if (cacheSize > 0) {
        if (cache.size >= cacheSize) cache.delete(cache.keys().next().value ?? '');
        cache.set(token, principal);
      }
      return { ok: true, principal };
    },
  };
}

/** The bearer token of an Authorization header, if it has one. */
export function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1];
}

/**
 * An in-process token issuer with its own key pair: tests, benchmarks, the demo and
 * `backbone serve --dev-issuer` use it. Its JWKS can be served over HTTP or trusted in-process.
 */
export interface LocalIssuer {
  issuer: string;
  jwks: { keys: JWK[] };
  trust(): IssuerTrust;
  sign(claims: { sub: string; aud: string | string[]; roles?: Role[]; ttlSeconds?: number; jti?: string; [claim: string]: unknown }): Promise<string>;
}

export async function createLocalIssuer(issuer: string, alg: 'ES256' | 'ES384' | 'RS384' = 'ES384'): Promise<LocalIssuer> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const jwks = { keys: [jwk] };
  const local = createLocalJWKSet(jwks);
  return {
    issuer,
    jwks,
    trust: () => ({ issuer, keys: local }),
    async sign(claims) {
      const { sub, aud, roles, ttlSeconds, jti, ...rest } = claims;
      const jwt = new SignJWT({ ...rest, ...(roles === undefined ? {} : { roles }) })
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject(sub)
        .setAudience(aud)
        .setIssuedAt()
        .setJti(jti ?? randomUUID())
        .setExpirationTime(Math.floor(Date.now() / 1000) + (ttlSeconds ?? 300));
      return jwt.sign(privateKey);
    },
  };
}
