/**
 * In-memory point-of-care state fed by Kafka: each patient's current PGx profile (per gene) and
 * current alert (per drug), with lineage, plus dead-letter counts per stage for the health page.
 * Reads are map lookups, never a database round trip. Pure: `apply*` take decoded events and their
 * Kafka position; an event older than what a key already holds (a replay) changes nothing.
 */
import type { PgxAlert, PgxProfile } from '../../platform/events.ts';

export interface Position {
  partition: number;
  offset: bigint;
  /** Kafka timestamp of the event, epoch ms. */
  publishedAt: number;
}

export interface ProfileEntry {
  profile: PgxProfile;
  position: Position;
}

export interface AlertEntry {
  alert: PgxAlert;
  position: Position;
}

export interface StateStats {
  patients: number;
  profiles: number;
  activeAlerts: number;
  eventsApplied: number;
  /** Kafka timestamp of the newest event applied. */
  newestEventAt: number | null;
  /** Publish → applied delay of the last event, ms. */
  lastApplyDelayMs: number | null;
  deadLetters: Record<string, number>;
}

const newer = (held: Position | undefined, next: Position): boolean =>
  held === undefined || held.partition !== next.partition || next.offset > held.offset;

const alertKey = (a: PgxAlert): string => (a.population === null ? a.drug : `${a.drug}|${a.population}`);

export class PatientState {
  private readonly profiles = new Map<string, Map<string, ProfileEntry>>();
  private readonly alerts = new Map<string, Map<string, AlertEntry>>();
  private readonly deadLetters = new Map<string, number>();
  private eventsApplied = 0;
  private newestEventAt: number | null = null;
  private lastApplyDelayMs: number | null = null;
  private active = 0;
  /** Called after every change of a patient's state (the page and tests may listen). */
  onChange: ((patientId: string) => void) | undefined;

  private seen(position: Position, now: number): void {
    this.eventsApplied++;
    if (this.newestEventAt === null || position.publishedAt > this.newestEventAt) this.newestEventAt = position.publishedAt;
    this.lastApplyDelayMs = Math.max(0, now - position.publishedAt);
  }

  /** A profile, or a tombstone (null) that removes the patient's result for the gene. */
  applyProfile(patientId: string, gene: string, profile: PgxProfile | null, position: Position, now = Date.now()): void {
    this.seen(position, now);
    let genes = this.profiles.get(patientId);
    if (!newer(genes?.get(gene)?.position, position)) return;
    if (profile === null) {
      genes?.delete(gene);
      if (genes?.size === 0) this.profiles.delete(patientId);
    } else {
      if (genes === undefined) this.profiles.set(patientId, (genes = new Map<string, ProfileEntry>()));
      genes.set(gene, { profile, position });
    }
    this.onChange?.(patientId);
  }

  /**
   * The latest alert event per patient, drug and CPIC population wins: ACTIVE opens or supersedes,
   * WITHDRAWN closes. Populations are separate alerts (clopidogrel has several).
   */
  applyAlert(alert: PgxAlert, position: Position, now = Date.now()): void {
    this.seen(position, now);
    let drugs = this.alerts.get(alert.patientId);
    const key = alertKey(alert);
    const held = drugs?.get(key);
    if (!newer(held?.position, position)) return;
    if (drugs === undefined) this.alerts.set(alert.patientId, (drugs = new Map<string, AlertEntry>()));
    if (held?.alert.status === 'ACTIVE') this.active--;
    if (alert.status === 'ACTIVE') this.active++;
    drugs.set(key, { alert, position });
    this.onChange?.(alert.patientId);
  }

  countDeadLetter(stage: string): void {
    this.deadLetters.set(stage, (this.deadLetters.get(stage) ?? 0) + 1);
  }

  profile(patientId: string): ProfileEntry[] {
    return [...(this.profiles.get(patientId)?.values() ?? [])].sort((a, b) => a.profile.gene.localeCompare(b.profile.gene));
  }

  gene(patientId: string, gene: string): ProfileEntry | undefined {
    return this.profiles.get(patientId)?.get(gene);
  }

  activeAlerts(patientId: string): AlertEntry[] {
    return [...(this.alerts.get(patientId)?.values() ?? [])].filter((a) => a.alert.status === 'ACTIVE').sort((a, b) => a.alert.drug.localeCompare(b.alert.drug));
  }

  /** The ACTIVE alerts for one drug, one per CPIC population, strongest recommendation first. */
  activeAlertsFor(patientId: string, drug: string): AlertEntry[] {
    const rank = (c: string): number => ['strong', 'moderate', 'optional'].indexOf(c.toLowerCase()) + 1 || 9;
    return this.activeAlerts(patientId)
      .filter((a) => a.alert.drug === drug)
      .sort((a, b) => rank(a.alert.classification) - rank(b.alert.classification) || (a.alert.population ?? '').localeCompare(b.alert.population ?? ''));
  }

  knows(patientId: string): boolean {
    return this.profiles.has(patientId) || this.alerts.has(patientId);
  }

  stats(): StateStats {
    let profiles = 0;
    for (const genes of this.profiles.values()) profiles += genes.size;
    return {
      patients: new Set([...this.profiles.keys(), ...this.alerts.keys()]).size,
      profiles,
      activeAlerts: this.active,
      eventsApplied: this.eventsApplied,
      newestEventAt: this.newestEventAt,
      lastApplyDelayMs: this.lastApplyDelayMs,
      deadLetters: Object.fromEntries(this.deadLetters),
    };
  }
}
