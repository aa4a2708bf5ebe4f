/**
 * The HTTP layer (fastify): routes map to the transport-free handlers in api.ts. Request logging
 * is off on purpose: URLs carry patient ids.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { bearer, type TokenVerifier } from '../../platform/auth/jwt.ts';
import { InvalidInputError } from '../../platform/errors.ts';
import type { Api, Caller, Result } from './api.ts';
import { discovery } from './cds.ts';
import type { Health } from './health.ts';
import { PAGE_HTML } from './page.ts';
import { validateRegistration, type SubscriptionStore } from './webhooks.ts';

export interface HttpDeps {
  api: Api;
  users: TokenVerifier;
  cdsClients: TokenVerifier;
  health(): Health;
  webhooks: SubscriptionStore;
  /** Served at /.well-known/jwks.json when `serve --dev-issuer` runs its own issuer. */
  devJwks?: object;
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
};

function send(reply: FastifyReply, result: Result): FastifyReply {
  if (result.headers !== undefined) void reply.headers(result.headers);
  return reply.code(result.status).send(result.body);
}

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'].slice(0, 64) : randomUUID()) });
  const { api } = deps;

  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    void reply.code(status).send({ error: status === 500 ? 'internal error' : error.message });
  });

  async function caller(request: FastifyRequest, verifier: TokenVerifier): Promise<Caller> {
    const purpose = request.headers['x-purpose-of-use'];
    return {
      auth: await verifier.verify(bearer(request.headers.authorization)),
      requestId: String(request.id),
      purpose: typeof purpose === 'string' ? purpose.slice(0, 200) : null,
    };
  }

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(PAGE_HTML));
  app.get('/health/live', async () => ({ ok: true }));

  app.get('/api/health', async (request, reply) => {
    const gate = api.gateAction(await caller(request, deps.users), 'read-health', '/api/health');
    if ('status' in gate) return send(reply, gate);
    return reply.send(deps.health());
  });

  app.get<{ Params: { patientId: string } }>('/api/patients/:patientId/profile', async (request, reply) =>
    send(reply, api.readProfile(await caller(request, deps.users), request.params.patientId)),
  );
  app.get<{ Params: { patientId: string } }>('/api/patients/:patientId/alerts', async (request, reply) =>
    send(reply, api.readAlerts(await caller(request, deps.users), request.params.patientId)),
  );

  // CDS Hooks 2.0
  app.get('/cds-services', async (_request, reply) => reply.headers(CORS).send(discovery()));
  app.options('/cds-services', async (_request, reply) => reply.headers(CORS).code(204).send());
  app.options('/cds-services/*', async (_request, reply) => reply.headers(CORS).code(204).send());
  app.post<{ Params: { id: string } }>('/cds-services/:id', async (request, reply) => {
    void reply.headers(CORS);
    return send(reply, await api.cdsCall(await caller(request, deps.cdsClients), request.params.id, request.body));
  });
  app.post<{ Params: { id: string } }>('/cds-services/:id/feedback', async (request, reply) => {
    void reply.headers(CORS);
    return send(reply, api.cdsFeedback(await caller(request, deps.cdsClients), request.params.id, request.body));
  });

  // Webhook subscriptions (admin)
  app.post('/api/webhooks', async (request, reply) => {
    const gate = api.gateAction(await caller(request, deps.users), 'manage-webhooks', '/api/webhooks');
    if ('status' in gate) return send(reply, gate);
    let registration: { url: string; drugs: string[] };
    try {
      registration = validateRegistration(request.body);
    } catch (error) {
      if (error instanceof InvalidInputError) return reply.code(400).send({ error: error.message });
      throw error;
    }
    const sub = await deps.webhooks.register(registration.url, registration.drugs, `${gate.subject}@${gate.issuer}`);
    // The secret is shown once, here; deliveries are signed with it.
    return reply.code(201).send({ id: sub.id, url: sub.url, drugs: sub.drugs, secret: sub.secret, signature: 'X-Backbone-Signature: sha256=HMAC_SHA256(secret, timestamp + "." + body)' });
  });
  app.get('/api/webhooks', async (request, reply) => {
    const gate = api.gateAction(await caller(request, deps.users), 'manage-webhooks', '/api/webhooks');
    if ('status' in gate) return send(reply, gate);
    return reply.send({ subscriptions: deps.webhooks.list().map(({ secret: _secret, ...rest }) => rest) });
  });
  app.delete<{ Params: { id: string } }>('/api/webhooks/:id', async (request, reply) => {
    const gate = api.gateAction(await caller(request, deps.users), 'manage-webhooks', '/api/webhooks/{id}');
    if ('status' in gate) return send(reply, gate);
    return (await deps.webhooks.remove(request.params.id)) ? reply.code(204).send() : reply.code(404).send({ error: 'no such subscription' });
  });
  app.get<{ Params: { id: string } }>('/api/webhooks/:id/deliveries', async (request, reply) => {
    const gate = api.gateAction(await caller(request, deps.users), 'manage-webhooks', '/api/webhooks/{id}/deliveries');
    if ('status' in gate) return send(reply, gate);
    return reply.send({ deliveries: await deps.webhooks.deliveries(request.params.id) });
  });

  if (deps.devJwks !== undefined) {
    const jwks = deps.devJwks;
    app.get('/.well-known/jwks.json', async () => jwks);
  }
  return app;
}
