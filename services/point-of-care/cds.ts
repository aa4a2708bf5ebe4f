/**
 * CDS Hooks 2.0 service, transport-free: the discovery document, request validation, the
 * medication orders of `order-select` / `order-sign`, patient identity, and PGx cards from the
 * point-of-care state. The HTTP layer (http.ts) only moves JSON in and out.
 *
 * Patient identity: the backbone's pseudonymous patient id is the request's `context.patientId`
 * (the id of the FHIR Patient the EHR sends), unless an identifier system is configured
 * (BACKBONE_CDS_PATIENT_ID_SYSTEM): then it is that identifier's value on the Patient resource,
 * taken from prefetch or, when prefetch is missing, read from the EHR's FHIR server.
 */
import { createHash } from 'node:crypto';
import type { PgxProfile } from '../../platform/events.ts';
import type { AlertEntry, PatientState, ProfileEntry } from './state.ts';

export const RXNORM_SYSTEM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

export const SERVICE_IDS = { 'order-select': 'pgx-order-select', 'order-sign': 'pgx-order-sign' } as const;
export type Hook = keyof typeof SERVICE_IDS;

export const PREFETCH = { patient: 'Patient/{{context.patientId}}' } as const;

export function discovery(): { services: object[] } {
  const description =
    'Pharmacogenomic (CPIC) guidance for medication orders from the patient\'s current PGx profile: clopidogrel, warfarin, simvastatin, fluorouracil, capecitabine, azathioprine, mercaptopurine, thioguanine.';
  return {
    services: (Object.keys(SERVICE_IDS) as Hook[]).map((hook) => ({
      hook,
      id: SERVICE_IDS[hook],
      title: `Pharmacogenomics check (${hook})`,
      description,
      prefetch: PREFETCH,
      usageRequirements: 'MedicationRequest draft orders coded in RxNorm; context.patientId is the pseudonymous patient id (or see the patient identifier system setting).',
    })),
  };
}

/** A drug the service knows: CPIC drug name, RxNorm ingredient codes, genes, guideline. */
export interface CatalogueDrug {
  name: string;
  rxnorm: string[];
  genes: string[];
  guidelineUrl: string;
}

export interface MedicationOrder {
  /** Relative reference, e.g. 'MedicationRequest/123'. */
  ref: string;
  codes: string[];
  text: string;
}

export interface CdsRequest {
  hook: Hook;
  hookInstance: string;
  patientId: string;
  userId: string | null;
  orders: MedicationOrder[];
  prefetchPatient: FhirPatient | null | undefined;
  fhirServer: string | null;
  fhirAccessToken: string | null;
}

export interface FhirPatient {
  resourceType: 'Patient';
  id?: string;
  identifier?: { system?: string; value?: string }[];
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Codes and text of a MedicationRequest's medication (FHIR R4 medicationCodeableConcept or R5 medication.concept). */
function medicationOf(resource: Record<string, unknown>): { codes: string[]; text: string } {
  const concept = isObject(resource['medicationCodeableConcept'])
    ? resource['medicationCodeableConcept']
    : isObject(resource['medication']) && isObject(resource['medication']['concept'])
      ? resource['medication']['concept']
      : {};
  const codings = Array.isArray(concept['coding']) ? concept['coding'].filter(isObject) : [];
  const codes = codings.filter((c) => c['system'] === RXNORM_SYSTEM && typeof c['code'] === 'string').map((c) => String(c['code']));
  const text = [concept['text'], ...codings.map((c) => c['display'])].filter((t): t is string => typeof t === 'string').join(' ');
  return { codes, text };
}

/** Validates a CDS Hooks request for one of our services; the reason names the offending field. */
export function parseCdsRequest(serviceId: string, body: unknown): Parsed<CdsRequest> {
  const hook = (Object.keys(SERVICE_IDS) as Hook[]).find((h) => SERVICE_IDS[h] === serviceId);
  if (hook === undefined) return { ok: false, reason: `unknown CDS service '${serviceId}'` };
  if (!isObject(body)) return { ok: false, reason: 'request body must be a JSON object' };
  if (body['hook'] !== hook) return { ok: false, reason: `hook must be '${hook}' for service ${serviceId}, got ${JSON.stringify(body['hook'] ?? null)}` };
  if (typeof body['hookInstance'] !== 'string' || body['hookInstance'] === '') return { ok: false, reason: 'hookInstance (a UUID) is required' };
  const context = body['context'];
  if (!isObject(context)) return { ok: false, reason: 'context must be an object' };
  const patientId = context['patientId'];
  if (typeof patientId !== 'string' || patientId === '') return { ok: false, reason: 'context.patientId is required' };
  const draftOrders = context['draftOrders'];
  if (!isObject(draftOrders) || draftOrders['resourceType'] !== 'Bundle') return { ok: false, reason: 'context.draftOrders must be a FHIR Bundle' };
  const entries = draftOrders['entry'] ?? [];
  if (!Array.isArray(entries)) return { ok: false, reason: 'context.draftOrders.entry must be an array' };
  let selections: Set<string> | undefined;
  if (hook === 'order-select') {
    const raw = context['selections'];
    if (!Array.isArray(raw) || raw.some((s) => typeof s !== 'string')) return { ok: false, reason: 'context.selections (references to the selected orders) is required for order-select' };
    selections = new Set(raw as string[]);
  }
  const orders: MedicationOrder[] = [];
  for (const [i, entry] of entries.entries()) {
    if (!isObject(entry) || !isObject(entry['resource'])) return { ok: false, reason: `context.draftOrders.entry[${i}].resource must be a FHIR resource` };
    const resource = entry['resource'];
    if (typeof resource['resourceType'] !== 'string') return { ok: false, reason: `context.draftOrders.entry[${i}].resource has no resourceType` };
    if (resource['resourceType'] !== 'MedicationRequest') continue; // other orders are not ours to check
    const ref = `MedicationRequest/${typeof resource['id'] === 'string' ? resource['id'] : `#${i}`}`;
    if (selections !== undefined && !selections.has(ref)) continue;
    orders.push({ ref, ...medicationOf(resource) });
  }
  const prefetch = body['prefetch'];
  let prefetchPatient: FhirPatient | null | undefined;
  if (isObject(prefetch) && 'patient' in prefetch) {
    const p = prefetch['patient'];
    if (p !== null && (!isObject(p) || p['resourceType'] !== 'Patient')) return { ok: false, reason: 'prefetch.patient must be a FHIR Patient or null' };
    prefetchPatient = p as FhirPatient | null;
  }
  const fhirServer = typeof body['fhirServer'] === 'string' ? body['fhirServer'] : null;
  const auth = body['fhirAuthorization'];
  const fhirAccessToken = isObject(auth) && typeof auth['access_token'] === 'string' ? auth['access_token'] : null;
  const userId = typeof context['userId'] === 'string' ? context['userId'] : null;
  return { ok: true, value: { hook, hookInstance: body['hookInstance'], patientId, userId, orders, prefetchPatient, fhirServer, fhirAccessToken } };
}

/** The backbone patient id: context.patientId, or the configured identifier on the Patient. */
export function backbonePatientId(request: CdsRequest, patient: FhirPatient | null | undefined, identifierSystem: string): string | null {
  if (identifierSystem === '') return request.patientId;
  const found = patient?.identifier?.find((i) => i.system === identifierSystem && typeof i.value === 'string');
  return found?.value ?? null;
}

/** Which catalogue drug an order is for: by RxNorm ingredient code, else by name in the order's text. */
export function drugOf(order: MedicationOrder, catalogue: readonly CatalogueDrug[]): CatalogueDrug | undefined {
  const byCode = catalogue.find((d) => d.rxnorm.some((c) => order.codes.includes(c)));
  if (byCode !== undefined) return byCode;
  const text = order.text.toLowerCase();
  return catalogue.find((d) => new RegExp(`\\b${d.name.toLowerCase()}\\b`).test(text));
}

export interface Card {
  uuid: string;
  summary: string;
  detail: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; topic?: { system: string; code: string; display: string } };
  suggestions?: Suggestion[];
  selectionBehavior?: 'at-most-one' | 'any';
  overrideReasons?: { system?: string; code: string; display: string }[];
  links?: { label: string; url: string; type: 'absolute' | 'smart' }[];
}

export interface Suggestion {
  label: string;
  uuid: string;
  isRecommended?: boolean;
  actions: { type: 'create' | 'update' | 'delete'; description: string; resource?: object; resourceId?: string }[];
}

/** The card's indicator follows the CPIC strength of the recommendation. */
export const INDICATOR_BY_CLASSIFICATION: Record<string, Card['indicator']> = {
  strong: 'critical',
  moderate: 'warning',
  optional: 'info',
  'no recommendation': 'info',
};

export const SUMMARY_MAX = 139;

export function clip(text: string, max = SUMMARY_MAX): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`;
}

function firstSentence(text: string): string {
  const match = /^(.+?[.;])(\s|$)/.exec(text.trim());
  return (match?.[1] ?? text).replace(/[.;]$/, '');
}

const OVERRIDE_REASONS = [
  { code: 'patient-tolerated', display: 'Patient has taken this drug before without problems' },
  { code: 'benefit-outweighs-risk', display: 'Benefit outweighs the pharmacogenomic risk' },
  { code: 'result-disputed', display: 'Genotype result disputed; confirmatory test ordered' },
];

const UNDETERMINED_STATUSES: ReadonlySet<PgxProfile['status']> = new Set(['NOT_CALLED', 'AMBIGUOUS', 'CONFLICT']);

export function undetermined(p: PgxProfile): boolean {
  return UNDETERMINED_STATUSES.has(p.status) || p.phenotype === null || /indeterminate/i.test(p.phenotype);
}

function genotypeLine(e: ProfileEntry): string {
  const p = e.profile;
  const dip = p.diplotypes.length === 0 ? 'no diplotype' : p.diplotypes.join(' or ');
  return `${p.gene} ${dip} (${p.phenotype ?? 'phenotype not determined'}${p.activityScore === null ? '' : `, activity score ${p.activityScore}`}); ${p.labs.join(', ') || 'lab not stated'}; knowledge base ${p.kbVersion}`;
}

function stableUuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function actionableCard(entry: AlertEntry, order: MedicationOrder, patientId: string, profiles: ProfileEntry[]): Card {
  const a = entry.alert;
  const phenotypes = Object.entries(a.phenotypes).map(([g, p]) => `${g} ${p}`).join(', ');
  const summary = clip(`${phenotypes || a.genes.join(', ')}: ${firstSentence(a.recommendation)} (CPIC ${a.classification}${a.population === null ? '' : `, ${a.population}`})`);
  const genotype = profiles.filter((p) => a.genes.includes(p.profile.gene)).map(genotypeLine);
  const detail = [
    a.implication === null ? null : `**Implication:** ${a.implication}`,
    `**Recommendation (CPIC, ${a.classification}${a.population === null ? '' : `, ${a.population}`}):** ${a.recommendation}`,
    genotype.length === 0 ? null : `**Genotype:** ${genotype.join('; ')}`,
    `Alert ${a.alertId}, knowledge base ${a.kbVersion}.`,
  ]
    .filter((line): line is string => line !== null)
    .join('\n\n');
  const suggestions: Suggestion[] = a.alternatives.map((alternative) => ({
    label: clip(`Replace ${a.drug} with ${alternative}`, 80),
    uuid: stableUuid(`${a.alertId}|${order.ref}|${alternative}`),
    isRecommended: a.alternatives.length === 1,
    actions: [
      { type: 'delete', description: `Remove the ${a.drug} draft order`, resourceId: order.ref },
      {
        type: 'create',
        description: `Order ${alternative} instead`,
        resource: {
          resourceType: 'MedicationRequest',
          status: 'draft',
          intent: 'order',
          subject: { reference: `Patient/${patientId}` },
          medicationCodeableConcept: { text: alternative },
        },
      },
    ],
  }));
  return {
    uuid: a.alertId,
    summary,
    detail,
    indicator: INDICATOR_BY_CLASSIFICATION[a.classification.toLowerCase()] ?? 'info',
    source: { label: 'CPIC guideline (backbone PGx alerts)', url: a.guidelineUrl, topic: { system: 'https://cpicpgx.org', code: a.drug, display: a.guidelineName } },
    ...(suggestions.length === 0 ? {} : { suggestions, selectionBehavior: 'at-most-one' as const }),
    overrideReasons: OVERRIDE_REASONS,
    links: [{ label: a.guidelineName, url: a.guidelineUrl, type: 'absolute' }],
  };
}

function undeterminedCard(entries: ProfileEntry[], drug: CatalogueDrug): Card {
  const genes = entries.map((e) => e.profile.gene);
  const why = entries.flatMap((e) => {
    const p = e.profile;
    const parts = [`${p.gene}: ${p.status === 'AMBIGUOUS' ? `ambiguous between ${p.diplotypes.join(', ')}` : p.status === 'CONFLICT' ? 'sources disagree' : p.status === 'NOT_CALLED' ? 'not called' : `phenotype ${p.phenotype ?? 'not determined'}`}`];
    if (p.warnings.length > 0) parts.push(p.warnings.join('; '));
    if (p.missingPositions.length > 0) parts.push(`missing positions: ${p.missingPositions.join(', ')}`);
    return [parts.join(' — ')];
  });
  return {
    uuid: stableUuid(`undetermined|${drug.name}|${entries.map((e) => e.profile.profileId).join(',')}`),
    summary: clip(`${genes.join(', ')} result not determined: no genotype-guided ${drug.name} advice can be given`),
    detail: [
      `The patient's ${genes.join(' and ')} result could not be determined, so this service does not guess a phenotype for ${drug.name}.`,
      ...why.map((w) => `- ${w}`),
      'Prescribe as for an untested patient, or consider confirmatory genotyping.',
    ].join('\n\n'),
    indicator: 'info',
    source: { label: 'Backbone PGx profile', url: drug.guidelineUrl },
    links: [{ label: `CPIC guideline for ${drug.name}`, url: drug.guidelineUrl, type: 'absolute' }],
  };
}

/**
 * Cards for the orders: an ACTIVE alert for the drug gives an actionable card (CPIC text,
 * indicator from the strength, guideline link, alternatives as suggestions); a gene of the drug
 * whose result is undetermined gives a plain "not determined" card; otherwise (nothing
 * actionable, unknown patient, drug outside the catalogue) no card.
 */
export function cardsFor(patientId: string, orders: readonly MedicationOrder[], state: PatientState, catalogue: readonly CatalogueDrug[]): Card[] {
  const cards: Card[] = [];
  const done = new Set<string>();
  if (!state.knows(patientId)) return cards;
  const profiles = state.profile(patientId);
  for (const order of orders) {
    const drug = drugOf(order, catalogue);
    if (drug === undefined || done.has(drug.name)) continue;
    done.add(drug.name);
    // One card per CPIC population the recommendation is given for (e.g. clopidogrel in ACS/PCI and
    // in other indications), strongest first, so the prescriber sees the one matching the patient.
    const alerts = state.activeAlertsFor(patientId, drug.name);
    for (const alert of alerts) cards.push(actionableCard(alert, order, patientId, profiles));
    const unclear = drug.genes.map((g) => state.gene(patientId, g)).filter((e): e is ProfileEntry => e !== undefined && undetermined(e.profile));
    const covered = (gene: string): boolean => alerts.some((a) => a.alert.genes.includes(gene) && a.alert.phenotypes[gene] !== undefined);
    const open = unclear.filter((e) => !covered(e.profile.gene));
    if (open.length > 0) cards.push(undeterminedCard(open, drug));
  }
  return cards;
}

/** Feedback (CDS Hooks 2.0 §feedback): validated, then audited by the HTTP layer. */
export interface Feedback {
  card: string;
  outcome: 'accepted' | 'overridden';
  acceptedSuggestions: string[];
  overrideReason: string | null;
  outcomeTimestamp: string;
}

export function parseFeedback(body: unknown): Parsed<Feedback[]> {
  if (!isObject(body) || !Array.isArray(body['feedback'])) return { ok: false, reason: 'body must be { "feedback": [...] }' };
  const out: Feedback[] = [];
  for (const [i, f] of body['feedback'].entries()) {
    if (!isObject(f)) return { ok: false, reason: `feedback[${i}] must be an object` };
    if (typeof f['card'] !== 'string') return { ok: false, reason: `feedback[${i}].card (the card uuid) is required` };
    if (f['outcome'] !== 'accepted' && f['outcome'] !== 'overridden') return { ok: false, reason: `feedback[${i}].outcome must be accepted or overridden` };
    if (typeof f['outcomeTimestamp'] !== 'string') return { ok: false, reason: `feedback[${i}].outcomeTimestamp is required` };
    const text = (v: unknown): string => (typeof v === 'string' ? v : '');
    const accepted = Array.isArray(f['acceptedSuggestions']) ? f['acceptedSuggestions'].filter(isObject).map((s) => text(s['id'])) : [];
    const override = isObject(f['overrideReason']) && isObject(f['overrideReason']['reason']) ? text(f['overrideReason']['reason']['code']) : null;
    out.push({ card: f['card'], outcome: f['outcome'], acceptedSuggestions: accepted, overrideReason: override, outcomeTimestamp: f['outcomeTimestamp'] });
  }
  return { ok: true, value: out };
}
