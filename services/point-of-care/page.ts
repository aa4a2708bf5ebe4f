/**
 * The point-of-care page: a patient's PGx profile (genes, diplotypes, phenotypes, evidence), their
 * active alerts, and pipeline health. Static HTML; the data comes from the read API with the
 * bearer token the user pastes (kept in sessionStorage only). Values are inserted as text, never HTML.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PGx point of care</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
  header { background: #1d3557; color: #fff; padding: 12px 20px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0 16px 0 0; }
  header input { padding: 6px 8px; border-radius: 4px; border: 0; }
  #token { width: 280px; }
  button { padding: 6px 14px; border-radius: 4px; border: 0; background: #e63946; color: #fff; cursor: pointer; }
  main { display: grid; grid-template-columns: 2fr 1fr; gap: 16px; padding: 16px 20px; }
  section { background: #fff; border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #e6e8ec; vertical-align: top; }
  th { font-weight: 600; color: #52607a; }
  .alert { border-left: 4px solid #999; padding: 6px 10px; margin: 8px 0; background: #fafbfc; }
  .alert.critical { border-color: #c1121f; } .alert.warning { border-color: #f4a261; } .alert.info { border-color: #457b9d; }
  .muted { color: #6b7280; font-size: 12px; }
  #message { padding: 0 20px; color: #c1121f; min-height: 1.4em; }
  .wide { grid-column: 1 / -1; }
</style>
</head>
<body>
<header>
  <h1>PGx point of care</h1>
  <label>Token <input id="token" type="password" placeholder="Bearer token" autocomplete="off"></label>
  <label>Patient <input id="patient" placeholder="pseudonymous patient id"></label>
  <button id="load">Show</button>
  <span id="asof" class="muted"></span>
</header>
<p id="message" role="status"></p>
<main>
  <section id="profile-section"><h2>PGx profile</h2>
    <table id="profile"><thead><tr><th>Gene</th><th>Diplotype</th><th>Phenotype</th><th>Activity</th><th>Call</th><th>Evidence</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="alerts-section"><h2>Active alerts</h2><div id="alerts"><p class="muted">No patient selected.</p></div></section>
  <section id="health-section" class="wide"><h2>Pipeline health</h2>
    <div id="health-summary" class="muted"></div>
    <table id="lag"><thead><tr><th>Consumer group</th><th>Topic</th><th>Lag</th></tr></thead><tbody></tbody></table>
    <h2 style="margin-top:12px">Dead letters</h2>
    <table id="dead"><thead><tr><th>Stage</th><th>Records</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const INDICATOR = { strong: 'critical', moderate: 'warning', optional: 'info' };
$('token').value = sessionStorage.getItem('backbone-token') || '';
$('patient').value = new URLSearchParams(location.hash.slice(1)).get('patient') || '';
function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) { const td = document.createElement('td'); td.textContent = c == null ? '—' : String(c); tr.appendChild(td); }
  return tr;
}
async function get(path) {
  const res = await fetch(path, { headers: { authorization: 'Bearer ' + $('token').value.trim() } });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, body };
}
async function loadPatient() {
  const id = $('patient').value.trim();
  if (!id) return;
  const { status, body } = await get('/api/patients/' + encodeURIComponent(id) + '/profile');
  const tbody = $('profile').querySelector('tbody');
  tbody.replaceChildren();
  const alerts = $('alerts');
  alerts.replaceChildren();
  if (status !== 200) {
    $('message').textContent = status === 404 ? 'No PGx results for this patient.' : 'Profile: ' + (body.error || ('HTTP ' + status));
    return;
  }
  $('message').textContent = '';
  $('asof').textContent = 'as of ' + new Date(body.asOf).toLocaleTimeString();
  for (const g of body.genes) {
    const evidence = [g.lineage.labs.join(', '), g.lineage.sourceIds.join(', '), 'KB ' + g.lineage.kbVersion].filter(Boolean).join(' · ');
    const tr = row([g.gene, g.diplotypes.join(' or ') || 'not called', g.phenotype || 'not determined', g.activityScore, g.status, evidence]);
    tr.dataset.gene = g.gene;
    tbody.appendChild(tr);
  }
  if (body.activeAlerts.length === 0) { const p = document.createElement('p'); p.className = 'muted'; p.textContent = 'No active alerts.'; alerts.appendChild(p); }
  for (const a of body.activeAlerts) {
    const div = document.createElement('div');
    div.className = 'alert ' + (INDICATOR[a.classification.toLowerCase()] || 'info');
    div.dataset.drug = a.drug;
    const title = document.createElement('strong');
    title.textContent = a.drug + ' — ' + Object.entries(a.phenotypes).map(([g, p]) => g + ' ' + p).join(', ') + ' (CPIC ' + a.classification + ')';
    const text = document.createElement('p'); text.textContent = a.recommendation;
    const link = document.createElement('a'); link.href = a.guideline.url; link.textContent = a.guideline.name; link.target = '_blank'; link.rel = 'noopener';
    div.append(title, text, link);
    alerts.appendChild(div);
  }
}
async function loadHealth() {
  const { status, body } = await get('/api/health');
  if (status !== 200) { $('health-summary').textContent = 'Health: ' + (body.error || ('HTTP ' + status)); return; }
  const f = body.freshness;
  $('health-summary').textContent = (body.ready ? 'State loaded' : 'State loading') + ' · ' + body.state.patients + ' patients, ' + body.state.profiles + ' profiles, ' + body.state.activeAlerts + ' active alerts · newest event ' + (f.newestEventAgeMs == null ? '—' : Math.round(f.newestEventAgeMs / 1000) + ' s ago') + ', applied ' + (f.lastApplyDelayMs == null ? '—' : f.lastApplyDelayMs + ' ms') + ' after publish · dead letters ' + body.deadLetters.total + ' · audit backlog ' + body.audit.pending;
  const lag = $('lag').querySelector('tbody'); lag.replaceChildren();
  for (const l of body.lag) lag.appendChild(row([l.group, l.topic, l.lag == null ? 'not started' : l.lag]));
  const dead = $('dead').querySelector('tbody'); dead.replaceChildren();
  const stages = Object.entries(body.deadLetters.byStage);
  if (stages.length === 0) dead.appendChild(row(['(none)', 0]));
  for (const [stage, n] of stages) dead.appendChild(row([stage, n]));
}
async function refresh() {
  sessionStorage.setItem('backbone-token', $('token').value.trim());
  try { await Promise.all([loadPatient(), loadHealth()]); } catch (e) { $('message').textContent = String(e); }
}
$('load').addEventListener('click', refresh);
$('patient').addEventListener('keydown', (e) => { if (e.key === 'Enter') refresh(); });
setInterval(() => { if ($('token').value) refresh(); }, 2000);
if ($('token').value) refresh();
</script>
</body>
</html>
`;
