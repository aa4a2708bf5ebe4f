/**
 * A one-line progress bar on a TTY (stderr): bytes read, records/s and ETA. Redrawn at most ten
 * times a second; nothing is drawn when stderr is not a terminal.
 */
import type { Progress } from './runner.ts';

export function progressBar(stream: NodeJS.WriteStream, label: string): { update: (p: Progress) => void; done: () => void } {
  if (!stream.isTTY) return { update: () => {}, done: () => {} };
  const started = performance.now();
  let last = 0;
  let drawn = false;
  const update = (p: Progress): void => {
    const now = performance.now();
    if (now - last < 100 && p.bytes < p.totalBytes) return;
    last = now;
    const seconds = (now - started) / 1000;
    const fraction = p.totalBytes > 0 ? Math.min(1, p.bytes / p.totalBytes) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const rate = seconds > 0 ? p.records / seconds : 0;
    const eta = fraction > 0 && fraction < 1 ? (seconds / fraction) * (1 - fraction) : 0;
    const text =
      `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
      `${mb(p.bytes)}/${mb(p.totalBytes)} MB  ${grouped(Math.round(rate))} records/s  ` +
      `${grouped(p.events)} events  ETA ${eta.toFixed(0)} s`;
    stream.write(`\r${text.slice(0, (stream.columns || 120) - 1)}\u001b[K`);
    drawn = true;
  };
  return {
    update,
    done: () => {
      if (drawn) stream.write('\r\u001b[K');
    },
  };
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** 1234567 -> '1,234,567'. (toLocaleString loads ICU data first: ~15 ms, a tenth of a small publish.) */
export function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
