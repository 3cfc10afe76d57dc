// switchboard dashboard: polls /dashboard/stats every second and draws the
// server's own numbers. Nothing here computes a statistic: the server does.
'use strict';

const $ = (id) => document.getElementById(id);

function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + units[i];
}

function fmtRate(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return n >= 100 ? n.toFixed(0) : n.toFixed(1).replace(/\.0$/, '');
}

function fmtMs(ms) {
  if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
  if (ms >= 10) return ms.toFixed(0) + ' ms';
  return ms.toFixed(ms >= 1 ? 1 : 2) + ' ms';
}

const fmtInt = new Intl.NumberFormat('en-US');

function spark(id, values) {
  const line = $(id);
  if (!values || values.length < 2) {
    line.setAttribute('points', '');
    return;
  }
  const max = Math.max(...values, 1e-9);
  const step = 300 / (values.length - 1); // up to the last minute, across the whole width
  line.setAttribute('points', values.map((v, i) => `${(i * step).toFixed(1)},${(58 - (v / max) * 54).toFixed(1)}`).join(' '));
}

function render(s) {
  $('v-connections').textContent = fmtInt.format(s.connections);
  $('n-connections').textContent = 'open WebSockets' + (s.handshaking ? ` (+${s.handshaking} in handshake)` : '');
  $('v-messages').textContent = fmtRate(s.messages_in_per_s);
  $('v-deliveries').textContent = s.chat ? fmtRate(s.deliveries_per_s) : '–';
  $('n-deliveries').textContent = s.chat ? `${fmtRate(s.published_per_s)} published / s` : 'no chat service';
  $('v-memory').textContent = fmtBytes(s.heap_per_conn_bytes);
  $('n-memory').textContent = s.connections ? `Go heap ${fmtBytes(s.go_heap_bytes)} ÷ ${fmtInt.format(s.connections)}` : 'no connections';
  $('v-p99').textContent = s.acks_in_window ? fmtMs(s.ack_p99_ms) : '–';
  $('n-p99').textContent = s.acks_in_window
    ? `p50 ${fmtMs(s.ack_p50_ms)} · ${fmtInt.format(s.acks_in_window)} acks in ${Math.round(s.latency_window_s)} s`
    : `no publishes in the last ${Math.round(s.latency_window_s || 10)} s`;
  spark('s-connections', s.history.connections);
  spark('s-messages', s.history.messages_in_per_s);
  spark('s-deliveries', s.history.deliveries_per_s);
  spark('s-memory', s.history.heap_per_conn_bytes);
  spark('s-p99', s.history.ack_p99_ms);
  const t = s.totals;
  const rows = [
    ['Resident memory (RSS)', fmtBytes(s.rss_bytes)],
    ['Go heap', fmtBytes(s.go_heap_bytes)],
    ['Goroutines', fmtInt.format(s.goroutines)],
    ['Bytes in / s', fmtBytes(s.bytes_in_per_s)],
    ['Bytes out / s', fmtBytes(s.bytes_out_per_s)],
    ['Connections accepted', fmtInt.format(t.accepted)],
    ['WebSocket upgrades', fmtInt.format(t.upgraded)],
    ['Messages received', fmtInt.format(t.messages_in)],
    ['Chat messages published', fmtInt.format(t.published)],
    ['Fan-out deliveries', fmtInt.format(t.deliveries)],
    ['Deliveries dropped (closing)', fmtInt.format(t.delivery_drops)],
    ['Slow consumers closed', fmtInt.format(t.slow_consumers)],
    ['Refused with 503', fmtInt.format(t.rejected_503)],
    ['Handshake failures', fmtInt.format(t.handshake_failures)],
    ['Protocol errors', fmtInt.format(t.protocol_errors)],
    ['Uptime', uptime(s.uptime_s)],
  ];
  const dl = $('details');
  dl.replaceChildren(...rows.map(([k, v]) => {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    div.append(dt, dd);
    return div;
  }));
}

function uptime(sec) {
  const d = Math.floor(sec / 86400), h = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60, s = Math.floor(sec % 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

let failures = 0;
async function poll() {
  try {
    const res = await fetch('/dashboard/stats', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const s = await res.json();
    render(s);
    failures = 0;
    $('live').dataset.state = 'online';
    $('live-text').textContent = 'live · updated ' + new Date(s.time_ms).toLocaleTimeString();
  } catch (err) {
    failures++;
    $('live').dataset.state = 'offline';
    $('live-text').textContent = `cannot reach the server (${err.message}); retrying`;
  }
  setTimeout(poll, failures ? Math.min(5000, 1000 * failures) : 1000);
}

poll();
