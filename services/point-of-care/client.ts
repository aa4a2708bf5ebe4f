/**
 * A CDS Hooks client call, for the demo, benchmarks and tests: builds an `order-sign` request
 * for MedicationRequest drafts coded in RxNorm and returns the service's cards.
 */
import { randomUUID } from 'node:crypto';
import { RXNORM_SYSTEM, SERVICE_IDS, type Card, type Hook } from './cds.ts';

export interface DraftMedication {
  id?: string;
  rxnorm: string;
  display: string;
}

export function cdsRequest(hook: Hook, patientId: string, medications: readonly DraftMedication[], options: { prefetchPatient?: object | null; fhirServer?: string; userId?: string } = {}): object {
  const entries = medications.map((m, i) => ({
    resource: {
      resourceType: 'MedicationRequest',
      id: m.id ?? `draft-${i + 1}`,
      status: 'draft',
      intent: 'order',
      subject: { reference: `Patient/${patientId}` },
      medicationCodeableConcept: { coding: [{ system: RXNORM_SYSTEM, code: m.rxnorm, display: m.display }], text: m.display },
    },
  }));
  return {
    hook,
    hookInstance: randomUUID(),
    ...(options.fhirServer === undefined ? {} : { fhirServer: options.fhirServer, fhirAuthorization: { access_token: 'ehr-access-token', token_type: 'Bearer', expires_in: 300, scope: 'patient/Patient.read', subject: 'cds-service' } }),
    context: {
      userId: options.userId ?? 'Practitioner/example',
      patientId,
      ...(hook === 'order-select' ? { selections: entries.map((e) => `MedicationRequest/${e.resource.id}`) } : {}),
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: entries },
    },
    ...(options.prefetchPatient === undefined ? {} : { prefetch: { patient: options.prefetchPatient } }),
  };
}

/** POSTs an order-sign request and returns the cards; throws with the service's reason otherwise. */
export async function cdsOrderSign(baseUrl: string, token: string, patientId: string, medications: readonly DraftMedication[]): Promise<Card[]> {
  const response = await fetch(`${baseUrl}/cds-services/${SERVICE_IDS['order-sign']}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(cdsRequest('order-sign', patientId, medications)),
  });
  const body = (await response.json()) as { cards?: Card[]; error?: string };
  if (!response.ok) throw new Error(`order-sign answered HTTP ${response.status}: ${body.error ?? 'no reason given'}`);
  return body.cards ?? [];
}
