import { readFileSync } from 'node:fs';
const buf = readFileSync('/tmp/vcfb/b100.vcf');
function countLoop(b) { let n = 0; const e = b.length; for (let i = 0; i < e; i++) if (b[i] === 9) n++; return n; }
function countIndexOf(b) { let n = 0; let i = -1; while ((i = b.indexOf(9, i + 1)) >= 0) n++; return n; }
const u8 = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
function skipTabs(b) { // emulate: per column, skip to next tab with while loop
  let n = 0; let p = 0; const e = b.length;
  while (p < e) { while (p < e && b[p] !== 9 && b[p] !== 10) p++; p++; n++; }
  return n;
}
for (const [name, f, arg] of [['loop', countLoop, buf], ['loopU8', countLoop, u8], ['indexOf', countIndexOf, buf], ['skip', skipTabs, buf], ['skipU8', skipTabs, u8]]) {
  for (let r = 0; r < 2; r++) { const t = performance.now(); const n = f(arg); console.log(name, n, (performance.now() - t).toFixed(0), 'ms'); }
}
