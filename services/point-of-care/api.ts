/**
 * Handlers of the read API and the CDS Hooks service, transport-free: each takes who is asking
 * (the token verification result) and the request's data, authorises it, writes the audit entry,
 * and returns `{ status, body }`. http.ts maps them to routes.
 */
import type { AuditEntry, AuditTrail } from '../../platform/auth/audit.ts';
import type { Principal, VerifyResult } from '../../platform/auth/jwt.ts';
import { authorize, type Action } from '../../platform/auth/policy.ts';
import { backbonePatientId, cardsFor, parseCdsRequest, parseFeedback, type CatalogueDrug, type Card, type CdsRequest, type FhirPatient } from './cds.ts';
import type { PatientState, ProfileEntry, AlertEntry } from './state.ts';

export interface Result<T = unknown> {
  status: number;
  body: T | { error: string };
  headers?: Record<string, string>;
}

export interface Caller {
  auth: VerifyResult;
  requestId: string;
  purpose: string | null;
}

export interface ApiDeps {
  state: PatientState;
  audit: AuditTrail;
  catalogue: readonly CatalogueDrug[];
  patientIdSystem: string;
  /** Reads the Patient from the EHR's FHIR server when prefetch did not bring it. */
  fetchPatient(fhirServer: string, accessToken: string | null, patientId: string): Promise<FhirPatient | null>;
  /** Whether the state has caught up with Kafka since start. */
  ready(): boolean;
}

const problem = (status: number, error: string, headers?: Record<string, string>): Result => ({ status, body: { error }, ...(headers === undefined ? {} : { headers }) });

function lineage(position: ProfileEntry['position']) {
  return { partition: position.partition, offset: position.offset.toString(), publishedAt: new Date(position.publishedAt).toISOString() };
}

export function profileView(e: ProfileEntry) {
  const p = e.profile;
  return {
    gene: p.gene,
    status: p.status,
    diplotypes: p.diplotypes,
    phenotype: p.phenotype,
    activityScore: p.activityScore,
    source: p.source,
    warnings: p.warnings,
    missingPositions: p.missingPositions,
    evidence: p.evidence,
    lineage: {
      sourceIds: p.sourceIds,
      labs: p.labs,
      kbVersion: p.kbVersion,
      pipelineVersion: p.pipelineVersion,
      computedAt: new Date(p.computedAt).toISOString(),
      profileId: p.profileId,
      kafka: lineage(e.position),
    },
  };
}

export function alertView(e: AlertEntry) {
  const a = e.alert;
  return {
    alertId: a.alertId,
    drug: a.drug,
    rxnorm: a.rxnorm,
    status: a.status,
    supersedesAlertId: a.supersedesAlertId,
    genes: a.genes,
    phenotypes: a.phenotypes,
    population: a.population,
    implication: a.implication,
    recommendation: a.recommendation,
    classification: a.classification,
    alternatives: a.alternatives,
    guideline: { name: a.guidelineName, url: a.guidelineUrl },
    lineage: {
      evidence: a.evidence,
      kbVersion: a.kbVersion,
      pipelineVersion: a.pipelineVersion,
      createdAt: new Date(a.createdAt).toISOString(),
      kafka: lineage(e.position),
    },
  };
}

export function createApi(deps: ApiDeps) {
  const { state, audit } = deps;

  function record(caller: Caller, principal: Principal | null, entry: Pick<AuditEntry, 'action' | 'resource' | 'patientId' | 'outcome' | 'reason'>): void {
    audit.record({
      actor: principal === null ? 'anonymous' : `${principal.subject}@${principal.issuer}`,
      roles: principal?.roles ?? [],
      purpose: caller.purpose,
      requestId: caller.requestId,
      ...entry,
    });
  }

  /** Authenticates, authorises and audits a read of one patient's data; undefined means go on. */
  function gate(caller: Caller, action: Action, resource: string, patientId: string | null): Result | Principal {
    if (!audit.writable) {
      record(caller, caller.auth.ok ? caller.auth.principal : null, { action, resource, patientId, outcome: 'ERROR', reason: 'audit trail unavailable' });
      return problem(503, 'audit trail unavailable; patient data is not served without it', { 'retry-after': '5' });
    }
    if (!caller.auth.ok) {
      record(caller, null, { action, resource, patientId, outcome: 'DENIED', reason: caller.auth.reason });
      return problem(401, caller.auth.reason, { 'www-authenticate': `Bearer error="invalid_token", error_description="${caller.auth.reason.replace(/"/g, "'")}"` });
    }
    const decision = authorize(caller.auth.principal, action);
    if (!decision.allowed) {
      record(caller, caller.auth.principal, { action, resource, patientId, outcome: 'DENIED', reason: decision.reason });
      return problem(403, decision.reason);
    }
    return caller.auth.principal;
  }

  const isResult = (v: Result | Principal): v is Result => 'status' in v;

  return {
    readProfile(caller: Caller, patientId: string): Result {
      const g = gate(caller, 'read-profile', '/api/patients/{id}/profile', patientId);
      if (isResult(g)) return g;
      if (!deps.ready()) {
        record(caller, g, { action: 'read-profile', resource: '/api/patients/{id}/profile', patientId, outcome: 'ERROR', reason: 'state still loading' });
        return problem(503, 'point-of-care state is still loading from Kafka', { 'retry-after': '1' });
      }
      const genes = state.profile(patientId);
      const known = genes.length > 0 || state.knows(patientId);
      record(caller, g, { action: 'read-profile', resource: '/api/patients/{id}/profile', patientId, outcome: 'ALLOWED', reason: known ? null : 'no PGx results for this patient' });
      if (!known) return problem(404, 'no PGx results for this patient');
      return {
        status: 200,
        body: { patientId, genes: genes.map(profileView), activeAlerts: state.activeAlerts(patientId).map(alertView), asOf: new Date().toISOString() },
      };
    },

    readAlerts(caller: Caller, patientId: string): Result {
      const g = gate(caller, 'read-alerts', '/api/patients/{id}/alerts', patientId);
      if (isResult(g)) return g;
      if (!deps.ready()) return problem(503, 'point-of-care state is still loading from Kafka', { 'retry-after': '1' });
      record(caller, g, { action: 'read-alerts', resource: '/api/patients/{id}/alerts', patientId, outcome: 'ALLOWED', reason: null });
      return { status: 200, body: { patientId, alerts: state.activeAlerts(patientId).map(alertView), asOf: new Date().toISOString() } };
    },

    /** Authorises a non-patient action (health, webhooks); no patient data, still audited when denied. */
    gateAction(caller: Caller, action: Action, resource: string): Result | Principal {
      return gate(caller, action, resource, null);
    },

    /** CDS Hooks service call (order-select / order-sign). */
    async cdsCall(caller: Caller, serviceId: string, body: unknown): Promise<Result<{ cards: Card[] }>> {
      const action = `cds-${serviceId}`;
      const resource = `/cds-services/${serviceId}`;
      if (!caller.auth.ok) {
        record(caller, null, { action, resource, patientId: null, outcome: 'DENIED', reason: caller.auth.reason });
        return problem(401, caller.auth.reason) as Result<{ cards: Card[] }>;
      }
      const principal = caller.auth.principal;
      const parsed = parseCdsRequest(serviceId, body);
      if (!parsed.ok) {
        record(caller, principal, { action, resource, patientId: null, outcome: 'ERROR', reason: `bad request: ${parsed.reason}` });
        return problem(parsed.reason.startsWith('unknown CDS service') ? 404 : 400, parsed.reason) as Result<{ cards: Card[] }>;
      }
      const request: CdsRequest = parsed.value;
      let patient = request.prefetchPatient;
      if (deps.patientIdSystem !== '' && patient == null && request.fhirServer !== null) {
        try {
          patient = await deps.fetchPatient(request.fhirServer, request.fhirAccessToken, request.patientId);
        } catch (error) {
          record(caller, principal, { action, resource, patientId: null, outcome: 'ERROR', reason: `FHIR server: ${String(error)}` });
          return problem(412, 'prefetch missing and the Patient could not be read from the FHIR server') as Result<{ cards: Card[] }>;
        }
      }
      const patientId = backbonePatientId(request, patient, deps.patientIdSystem);
      if (!audit.writable) return problem(503, 'audit trail unavailable') as Result<{ cards: Card[] }>;
      const cards = patientId === null ? [] : cardsFor(patientId, request.orders, state, deps.catalogue);
      record(caller, principal, {
        action,
        resource,
        patientId,
        outcome: 'ALLOWED',
        reason: patientId === null ? 'patient has no backbone identifier' : `${cards.length} card(s) for ${request.orders.length} order(s)`,
      });
      return { status: 200, body: { cards } };
    },

    cdsFeedback(caller: Caller, serviceId: string, body: unknown): Result {
      const resource = `/cds-services/${serviceId}/feedback`;
      if (!caller.auth.ok) {
        record(caller, null, { action: 'cds-feedback', resource, patientId: null, outcome: 'DENIED', reason: caller.auth.reason });
        return problem(401, caller.auth.reason);
      }
      const parsed = parseFeedback(body);
      if (!parsed.ok) return problem(400, parsed.reason);
      for (const f of parsed.value) {
        record(caller, caller.auth.principal, {
          action: 'cds-feedback',
          resource,
          patientId: null,
          outcome: 'ALLOWED',
          reason: `card ${f.card} ${f.outcome}${f.overrideReason === null ? '' : ` (${f.overrideReason})`}${f.acceptedSuggestions.length === 0 ? '' : `; accepted ${f.acceptedSuggestions.join(', ')}`}`,
        });
      }
      return { status: 200, body: {} };
    },
  };
}

export type Api = ReturnType<typeof createApi>;
