// gaffer's dashboard. Plain JavaScript, no dependencies.
//
// Data flow: a REST snapshot of the jobs (GET /jobs?info=true, GET /<pid>)
// and, for supervisor programs, their states over XML-RPC; then everything
// live over one websocket, /channel/websocket: EVENTS (a job's events make
// the page fetch that job again), STATS:<pid> (cpu and memory every few
// seconds), STREAM:<pid> (the open log tail) and CMD (every action). No
// timer polls the server: the only timers are the reconnect backoff and
// the coalescing of log redraws.
'use strict';
(() => {
  const KEY = 'gaffer.key';
  const LOG_LINES = 2000; // the log tail keeps this many lines
  const TAIL_BYTES = 256 * 1024; // history fetched when a tail opens
  const STATS_MS = 2000;
  const BACKOFF_MIN = 500, BACKOFF_MAX = 30000;
  const SIGNALS = ['HUP', 'INT', 'QUIT', 'KILL', 'USR1', 'USR2', 'TERM', 'STOP', 'CONT'];
  const STOPPED_STATES = new Set(['STOPPED', 'EXITED', 'FATAL', 'UNKNOWN']);
  // Events after which the page fetches the job again.
  const JOB_EVENTS = new Set(['load', 'start', 'stop', 'update', 'spawn', 'spawn_error', 'exit', 'reap', 'state',
    'flap', 'waiting', 'starting', 'healthy', 'unhealthy']);
  const HEALTH = new Set(['starting', 'healthy', 'unhealthy']);

  const $ = (id) => document.getElementById(id);
  const S = {
    key: sessionStorage.getItem(KEY) || '',
    perms: null, // null: every right (keys not required)
    jobs: new Map(), // full name → job
    ws: null,
    open: false,
    stopped: false, // logged out or key refused: do not reconnect
    backoff: BACKOFF_MIN,
    retry: 0,
    nextId: 1,
    pending: new Map(), // CMD identity → {resolve, reject}
    stats: new Set(), // pids with a STATS subscription
    jobSubs: new Set(), // jobs with a JOB: subscription (keys without manage-all)
    log: null, // the open tail
    restart: new Set(), // jobs to start again once stopped
    refreshing: new Map(), // job → {dirty}
    seq: 0, // orders REST answers: an older one never overwrites a newer
    rpc: true, // XML-RPC answers (supervisor programs)
  };

  // ---- small helpers ------------------------------------------------------

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k);
    return e;
  }

  function split(name) {
    const i = name.indexOf('.');
    return i < 0 ? ['default', name] : [name.slice(0, i), name.slice(i + 1)];
  }

  function jobPath(name) {
    const [s, j] = split(name);
    return '/jobs/' + encodeURIComponent(s) + '/' + encodeURIComponent(j);
  }

  function duration(secs) {
    secs = Math.max(0, Math.floor(secs));
    const d = Math.floor(secs / 86400), h = Math.floor(secs % 86400 / 3600);
    const m = Math.floor(secs % 3600 / 60), s = secs % 60;
    const hms = h + ':' + String(m).padStart(2, '0') + ':' + String(s).padStart(2, '0');
    return d > 0 ? d + 'd ' + hms : hms;
  }

  function notice(text) {
    const n = $('notice');
    n.textContent = text || '';
    n.hidden = !text;
  }

  function setConn(cls, text) {
    $('conn').className = 'conn ' + cls;
    $('conn-text').textContent = text;
  }

  // ---- permissions (gaffer-http-api.md §3) --------------------------------

  const LISTS = { manage: ['manage'], write: ['manage', 'write'], read: ['manage', 'write', 'read'] };

  function can(perm, job) {
    const p = S.perms;
    if (!p || p.admin) return true;
    const session = split(job)[0];
    return LISTS[perm].some((l) => {
      const xs = p[l] || [];
      return xs.includes('*') || xs.includes(job) || xs.includes(session);
    });
  }

  function canManageAll() {
    const p = S.perms;
    return !p || p.admin || (p.manage || []).includes('*');
  }

  // What a key without manage-all can list: the full job names its lists
  // hold, and the sessions it manages (GET /jobs/<session> needs manage on
  // the session; "*" in read or write lists nothing).
  function permitted() {
    const p = S.perms || {};
    const jobs = new Set(), sessions = new Set();
    for (const l of ['manage', 'write', 'read']) {
      for (const t of p[l] || []) if (t.includes('.')) jobs.add(t);
    }
    for (const t of p.manage || []) if (t !== '*' && !t.includes('.')) sessions.add(t);
    return { jobs: [...jobs], sessions: [...sessions] };
  }

  // ---- HTTP ---------------------------------------------------------------

  async function request(path, opts) {
    opts = opts || {};
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    if (S.key) headers['X-Api-Key'] = S.key;
    return fetch(path, Object.assign({}, opts, { headers, cache: 'no-store' }));
  }

  async function getJSON(path) {
    const r = await request(path);
    if (!r.ok) {
      const err = new Error('GET ' + path + ': ' + r.status + ' ' + (await r.text()).slice(0, 200));
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  function xmlEscape(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  // rpc calls supervisor's XML-RPC interface with string parameters.
  async function rpc(method, ...params) {
    const body = '<?xml version="1.0"?><methodCall><methodName>' + method + '</methodName><params>' +
      params.map((p) => '<param><value><string>' + xmlEscape(p) + '</string></value></param>').join('') +
      '</params></methodCall>';
    const r = await request('/RPC2', { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body });
    if (!r.ok) throw new Error(method + ': HTTP ' + r.status);
    const doc = new DOMParser().parseFromString(await r.text(), 'text/xml');
    const fault = doc.querySelector('methodResponse > fault > value');
    if (fault) {
      const f = xmlValue(fault);
      const err = new Error(method + ': ' + f.faultString);
      err.fault = f.faultCode;
      throw err;
    }
    const v = doc.querySelector('methodResponse > params > param > value');
    return v ? xmlValue(v) : null;
  }

  function xmlValue(v) {
    const c = v.firstElementChild;
    if (!c) return v.textContent;
    switch (c.tagName) {
      case 'int': case 'i4': case 'i8': case 'double': return Number(c.textContent);
      case 'boolean': return c.textContent.trim() === '1';
      case 'array': return Array.from(c.querySelectorAll(':scope > data > value')).map(xmlValue);
      case 'struct': {
        const o = {};
        for (const m of c.children) {
          const n = m.querySelector(':scope > name'), val = m.querySelector(':scope > value');
          if (n && val) o[n.textContent] = xmlValue(val);
        }
        return o;
      }
      default: return c.textContent;
    }
  }

  // ---- the channel --------------------------------------------------------

  function send(msg) {
    if (S.ws && S.open) S.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  function sub(topic, extra) { send({ event: 'SUB', data: Object.assign({ topic }, extra || {}) }); }
  function unsub(topic) { send({ event: 'UNSUB', data: { topic } }); }

  function cmd(name, args) {
    return new Promise((resolve, reject) => {
      if (!S.open) {
        reject(new Error('not connected to gafferd'));
        return;
      }
      const id = 'c' + S.nextId++;
      S.pending.set(id, { resolve, reject });
      send({ event: 'CMD', data: { identity: id, name, args: args || [] } });
    });
  }

  function connect() {
    clearTimeout(S.retry);
    if (S.stopped) return;
    setConn('wait', 'connecting…');
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/channel/websocket');
    S.ws = ws;
    ws.onopen = () => {
      if (S.ws !== ws) return;
      S.open = true;
      if (S.key) send('AUTH:' + S.key);
      setConn('up', 'live');
      onConnected();
    };
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch (_) { return; }
      onMessage(m);
    };
    ws.onclose = () => {
      if (S.ws !== ws) return;
      S.ws = null;
      S.open = false;
      for (const p of S.pending.values()) p.reject(new Error('connection to gafferd lost'));
      S.pending.clear();
      S.stats.clear();
      // What the page shows may be outdated until the next snapshot; a new
      // gafferd numbers its processes from 1 again, so none is kept.
      $('rows').classList.add('stale');
      S.reset = true;
      if (S.log && !S.log.lost) {
        S.log.lost = true;
        logNote('(connection to gafferd lost)');
      }
      if (S.stopped) {
        setConn('down', 'disconnected');
        return;
      }
      retryLater();
    };
  }

  // retryLater starts again after an exponential backoff: gafferd may be
  // restarting.
  function retryLater() {
    clearTimeout(S.retry);
    const delay = S.backoff;
    S.backoff = Math.min(S.backoff * 2, BACKOFF_MAX);
    setConn('down', 'disconnected; retrying in ' + (delay / 1000).toFixed(1) + ' s');
    S.retry = setTimeout(start, delay);
  }

  function onConnected() {
    S.jobSubs = new Set();
    if (canManageAll()) sub('EVENTS');
    loadAll().then(() => { S.backoff = BACKOFF_MIN; }, (err) => notice(err.message));
    loadCluster();
  }

  function onMessage(m) {
    const d = m.data || {};
    switch (m.event) {
      case 'gaffer:command_success':
      case 'gaffer:command_error': {
        const p = S.pending.get(d.id);
        if (!p) return;
        S.pending.delete(d.id);
        if (m.event === 'gaffer:command_success') p.resolve(d.result);
        else p.reject(new Error((d.error && d.error.reason) || 'command failed'));
        return;
      }
      case 'gaffer:event':
        onEvent(d);
        return;
      case 'gaffer:subscription_error':
        if (S.log && m.topic === 'STREAM:' + S.log.pid) logNote('(cannot follow: ' + d.reason + ')');
        else if (m.topic === 'EVENTS' || String(m.topic).startsWith('JOB:')) notice('live updates refused: ' + d.reason);
        return;
      case 'gaffer:error':
        if (d.error === 'AUTH_REQUIRED') logout('gafferd refused the key: ' + (d.reason || ''));
        return;
    }
  }

  function onEvent(d) {
    const topic = String(d.topic || '');
    if (topic === 'EVENTS' || topic.startsWith('JOB:')) {
      const ev = d.event;
      const name = topic.startsWith('JOB:') ? topic.slice(4) : d.name;
      if (!name) return;
      if (ev === 'unload') {
        removeJob(name);
        render();
      } else if (JOB_EVENTS.has(ev)) {
        const j = S.jobs.get(name);
        if (ev === 'state' && j && j.program) {
          j.program.statename = d.state;
          renderJob(j);
        }
        const p = HEALTH.has(ev) && d.pid ? findProc(d.pid) : null;
        if (p) {
          p.health = ev;
          p.probe = d.reason || '';
          renderProc(p);
        }
        refreshJob(name);
      }
    } else if (topic.startsWith('STATS:')) {
      const p = findProc(d.pid);
      if (p) {
        p.stat = d;
        renderProc(p);
      }
    } else if (topic.startsWith('STREAM:')) {
      if (S.log && topic === 'STREAM:' + S.log.pid) logData(String(d.data || ''));
    }
  }

  // ---- the model ----------------------------------------------------------

  function findProc(pid) {
    for (const j of S.jobs.values()) {
      const p = j.procs.get(pid);
      if (p) return p;
    }
    return null;
  }

  function getJob(name) {
    let j = S.jobs.get(name);
    if (!j) {
      j = { name, info: null, program: undefined, procs: new Map(), seq: 0 };
      S.jobs.set(name, j);
    }
    return j;
  }

  function removeJob(name) {
    const j = S.jobs.get(name);
    if (!j) return;
    for (const pid of j.procs.keys()) dropProc(j, pid);
    S.jobs.delete(name);
  }

  function dropProc(j, pid) {
    j.procs.delete(pid);
    if (S.stats.delete(pid)) unsub('STATS:' + pid);
    if (S.log && S.log.pid === pid && !S.log.lost) {
      S.log.lost = true;
      logNote('(process ' + pid + ' exited)');
    }
  }

  // loadAll replaces the model with a snapshot.
  async function loadAll() {
    const seq = ++S.seq;
    if (S.reset) {
      S.reset = false;
      for (const j of S.jobs.values()) for (const pid of [...j.procs.keys()]) dropProc(j, pid);
    }
    let infos;
    if (canManageAll()) {
      infos = (await getJSON('/jobs?info=true')).jobs || [];
    } else {
      const { jobs, sessions } = permitted();
      const bySession = await Promise.all(sessions.map((s) =>
        getJSON('/jobs/' + encodeURIComponent(s) + '?info=true').then((r) => r.jobs || [], () => [])));
      infos = bySession.flat();
      const listed = new Set(infos.map((i) => i.name));
      const named = await Promise.all(jobs.filter((n) => !listed.has(n)).map((n) => getJSON(jobPath(n)).catch(() => null)));
      infos = infos.concat(named.filter(Boolean));
      notice(jobs.length || sessions.length ? '' : 'This key may not list jobs.');
      // Without EVENTS, each job it manages has its own topic.
      for (const i of infos) {
        if (can('manage', i.name) && !S.jobSubs.has(i.name)) {
          S.jobSubs.add(i.name);
          sub('JOB:' + i.name);
        }
      }
    }
    let programs = null;
    if (S.rpc) {
      try {
        programs = {};
        for (const p of await rpc('supervisor.getAllProcessInfo')) programs[p.group + '.' + p.name] = p;
      } catch (_) {
        programs = null; // no XML-RPC for this client: programs show gaffer's states
        S.rpc = false;
      }
    }
    const seen = new Set();
    await Promise.all(infos.map(async (info) => {
      seen.add(info.name);
      const j = getJob(info.name);
      if (seq <= j.seq) return;
      j.seq = seq;
      j.info = info;
      j.program = programs ? programs[info.name] || null : null;
      await loadProcs(j);
    }));
    for (const name of [...S.jobs.keys()]) if (!seen.has(name)) removeJob(name);
    render();
    $('rows').classList.remove('stale');
  }

  // loadProcs matches j.procs to j.info.processes, fetching new ones.
  async function loadProcs(j) {
    const live = new Set(j.info.processes || []);
    for (const pid of [...j.procs.keys()]) if (!live.has(pid)) dropProc(j, pid);
    const fresh = [...live].filter((pid) => !j.procs.has(pid));
    const got = await Promise.all(fresh.map((pid) => getJSON('/' + pid).catch(() => null)));
    for (const p of got) {
      if (!p || !live.has(p.pid) || j.procs.has(p.pid) || S.jobs.get(j.name) !== j) continue;
      j.procs.set(p.pid, { pid: p.pid, job: j.name, os_pid: p.os_pid, created: p.create_time,
        label: (p.redirect_output || [])[0] || '', health: p.health || '', probe: p.probe || '', stat: null });
      if (can('read', j.name) && !S.stats.has(p.pid)) {
        S.stats.add(p.pid);
        sub('STATS:' + p.pid, { interval: STATS_MS });
      }
    }
  }

  // refreshJob fetches one job again after an event. Calls while a fetch
  // runs are folded into one more fetch.
  function refreshJob(name) {
    const r = S.refreshing.get(name);
    if (r) {
      r.dirty = true;
      return;
    }
    const entry = { dirty: true };
    S.refreshing.set(name, entry);
    (async () => {
      try {
        while (entry.dirty) {
          entry.dirty = false;
          await refreshOnce(name);
        }
      } catch (err) {
        notice(err.message);
      } finally {
        S.refreshing.delete(name);
      }
    })();
  }

  async function refreshOnce(name) {
    const seq = ++S.seq;
    const r = await request(jobPath(name));
    if (r.status === 404) {
      removeJob(name);
      render();
      return;
    }
    if (!r.ok) throw new Error('GET ' + jobPath(name) + ': ' + r.status);
    const info = await r.json();
    const j = getJob(name);
    if (seq <= j.seq) return;
    j.seq = seq;
    j.info = info;
    if (S.rpc && j.program !== null) {
      const [s, n] = split(name);
      try {
        j.program = await rpc('supervisor.getProcessInfo', s + ':' + n);
      } catch (err) {
        if (err.fault === 10) j.program = null; // BAD_NAME: a gaffer job
      }
    }
    await loadProcs(j);
    render();
    if (S.restart.has(name) && isStopped(j)) {
      S.restart.delete(name);
      act(() => cmd('start_job', [name]));
    }
  }

  function isStopped(j) {
    if (j.program) return STOPPED_STATES.has(j.program.statename);
    return !!j.info && j.info.stopped && (j.info.processes || []).length === 0;
  }

  function jobState(j) {
    if (j.program) return j.program.statename;
    const i = j.info;
    if (i.stopped) return 'stopped';
    if (i.waiting) return 'waiting';
    return 'running';
  }

  function jobInfoText(j) {
    const i = j.info, parts = [];
    if (j.program) {
      const st = j.program.statename;
      if (st !== 'RUNNING' && j.program.description) parts.push(j.program.description);
    } else {
      const want = (i.config && i.config.numprocesses !== undefined) ? i.config.numprocesses : i.max_processes;
      parts.push(i.running + '/' + want + ' processes');
      if (i.waiting) parts.push('waiting: ' + i.waiting);
    }
    if (i.health !== undefined) parts.push('health: ' + (typeof i.health === 'string' ? i.health : JSON.stringify(i.health)));
    if (i.last_error) parts.push('last error: ' + i.last_error);
    return parts.join('; ');
  }

  // ---- actions ------------------------------------------------------------

  async function act(fn) {
    try {
      await fn();
      notice('');
    } catch (err) {
      notice(err.message);
    }
  }

  function onAction(b) {
    const name = b.dataset.job, a = b.dataset.action;
    switch (a) {
      case 'start': act(() => cmd('start_job', [name])); break;
      case 'stop': act(() => cmd('stop_job', [name])); break;
      case 'restart':
        act(async () => {
          await cmd('stop_job', [name]);
          S.restart.add(name);
          refreshJob(name);
        });
        break;
      case 'scale-up': act(() => cmd('scale', [name, '+1'])); break;
      case 'scale-down': act(() => cmd('scale', [name, '-1'])); break;
      case 'signal': {
        const sel = b.parentElement.querySelector('select');
        act(() => cmd('killall', [name, sel.value]));
        break;
      }
      case 'clear-log': {
        const [s, n] = split(name);
        act(async () => {
          await rpc('supervisor.clearProcessLogs', s + ':' + n);
          if (S.log && S.log.name === name) {
            S.log.lines = [];
            S.log.partial = '';
            renderLog();
          }
        });
        break;
      }
      case 'log': openLog(Number(b.dataset.pid), name, b.dataset.label); break;
    }
  }

  // ---- the log tail -------------------------------------------------------

  function openLog(pid, name, label) {
    closeLog();
    S.log = { pid, name, label, lines: [], partial: '', early: [], timer: 0 };
    $('log-title').textContent = name + ' (pid ' + pid + ')';
    $('log').hidden = false;
    renderLog();
    sub('STREAM:' + pid);
    const L = S.log;
    cmd('tail', [pid, label, TAIL_BYTES]).then((res) => {
      if (S.log !== L) return;
      const early = L.early.join('');
      L.early = null;
      logData(String(res.data || '') + early.slice(overlap(String(res.data || ''), early)));
    }, (err) => {
      if (S.log !== L) return;
      const early = L.early.join('');
      L.early = null;
      logData(early);
      logNote('(history unavailable: ' + err.message + ')');
    });
  }

  // overlap is how much of the start of b the end of a already holds:
  // output that arrived on the stream before the history did.
  function overlap(a, b) {
    for (let k = Math.min(a.length, b.length); k > 0; k--) {
      if (a.endsWith(b.slice(0, k))) return k;
    }
    return 0;
  }

  function closeLog() {
    if (!S.log) return;
    unsub('STREAM:' + S.log.pid);
    clearTimeout(S.log.timer);
    S.log = null;
    $('log').hidden = true;
  }

  function logData(text) {
    const L = S.log;
    if (L.early) {
      L.early.push(text);
      return;
    }
    const parts = (L.partial + text).split('\n');
    L.partial = parts.pop();
    for (const line of parts) L.lines.push(line);
    if (L.lines.length > LOG_LINES) L.lines.splice(0, L.lines.length - LOG_LINES);
    if (!L.timer) L.timer = setTimeout(renderLog, 50); // one redraw per burst
  }

  function logNote(text) {
    if (!S.log) return;
    if (S.log.early) S.log.early.push('\n' + text + '\n');
    else logData((S.log.partial ? '\n' : '') + text + '\n');
  }

  function renderLog() {
    const L = S.log;
    if (!L) return;
    L.timer = 0;
    const pre = $('log-text');
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.textContent = L.lines.join('\n') + (L.lines.length && L.partial ? '\n' : '') + L.partial;
    pre.dataset.lines = String(L.lines.length);
    $('log-lines').textContent = L.lines.length + ' lines';
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  // ---- rendering ----------------------------------------------------------

  const COLS = [['session', 'Session'], ['job', 'Job'], ['pid', 'PID'], ['ospid', 'OS PID'], ['state', 'State'],
    ['uptime', 'Uptime'], ['cpu', 'CPU'], ['mem', 'Memory'], ['info', 'Info'], ['actions', 'Actions']];

  function row(cls, dataset) {
    const tr = el('tr', { class: cls });
    Object.assign(tr.dataset, dataset);
    const cells = {};
    for (const [key, label] of COLS) {
      const td = el('td', { 'data-label': label, class: key });
      tr.append(td);
      cells[key] = td;
    }
    return { tr, cells };
  }

  function button(action, text, job, extra) {
    const b = el('button', { type: 'button', text, 'data-action': action, 'data-job': job });
    Object.assign(b.dataset, extra || {});
    return b;
  }

  function setText(td, text) {
    if (td.textContent !== text) td.textContent = text;
  }

  function renderJob(j) {
    if (!j.info) return;
    if (!j.view) {
      j.view = row('job', { job: j.name });
      const [s, n] = split(j.name);
      j.view.cells.session.textContent = s;
      j.view.cells.job.append(el('span', { class: 'name', text: n }));
      const sel = el('select', { 'aria-label': 'signal', 'data-job': j.name });
      for (const sig of SIGNALS) sel.append(el('option', { value: sig, text: sig }));
      j.buttons = {
        start: button('start', 'Start', j.name), stop: button('stop', 'Stop', j.name),
        restart: button('restart', 'Restart', j.name),
        scaleDown: button('scale-down', '−', j.name, { title: 'one process less' }),
        scaleUp: button('scale-up', '+', j.name, { title: 'one process more' }),
        signal: button('signal', 'Signal', j.name), clear: button('clear-log', 'Clear log', j.name),
      };
      j.signal = el('span', { class: 'acts' }, sel, j.buttons.signal);
      const b = j.buttons;
      j.view.cells.actions.append(el('span', { class: 'acts' }, b.start, b.stop, b.restart, b.scaleDown, b.scaleUp, j.signal, b.clear));
    }
    const c = j.view.cells, st = jobState(j);
    if (c.state.dataset.state !== st) {
      c.state.dataset.state = st;
      c.state.replaceChildren(el('span', { class: 'st ' + st, text: st }));
    }
    setText(c.info, jobInfoText(j));
    const manage = can('manage', j.name), b = j.buttons, stopped = isStopped(j);
    const running = j.program ? !STOPPED_STATES.has(j.program.statename) : !j.info.stopped;
    b.start.hidden = b.stop.hidden = b.restart.hidden = j.signal.hidden = !manage;
    b.scaleUp.hidden = b.scaleDown.hidden = !manage || !!j.program;
    b.clear.hidden = !manage || !j.program || !S.rpc;
    b.start.disabled = running;
    b.stop.disabled = stopped && !running;
    b.scaleDown.disabled = ((j.info.config && j.info.config.numprocesses) || j.info.max_processes || 0) <= 0;
    j.signal.querySelector('button').disabled = j.procs.size === 0;
  }

  function renderProc(p) {
    const j = S.jobs.get(p.job);
    if (!p.view) {
      p.view = row('proc', { pid: String(p.pid), job: p.job });
      p.view.cells.job.append(el('span', { class: 'indent', text: '↳ process' }));
      p.view.cells.pid.textContent = String(p.pid);
      p.view.cells.ospid.textContent = String(p.os_pid);
      if (p.label && can('read', p.job)) p.view.cells.actions.append(button('log', 'Log', p.job, { pid: String(p.pid), label: p.label }));
    }
    const c = p.view.cells;
    const st = j && j.program ? j.program.statename : 'running';
    if (c.state.dataset.state !== st) {
      c.state.dataset.state = st;
      c.state.replaceChildren(el('span', { class: 'st ' + st, text: st }));
    }
    setText(c.uptime, p.created ? duration(Date.now() / 1000 - p.created) : '');
    setText(c.info, p.health ? p.health + (p.probe ? ': ' + p.probe : '') : '');
    const s = p.stat;
    if (s) {
      setText(c.cpu, typeof s.cpu === 'number' ? s.cpu.toFixed(1) + '%' : String(s.cpu));
      setText(c.mem, typeof s.mem === 'number' ? s.mem_info1 + ' (' + s.mem.toFixed(1) + '%)' : String(s.mem_info1));
    }
  }

  // render redraws every row and puts them in order: jobs by name, each
  // followed by its processes by pid. Rows are kept, not rebuilt, so a
  // chosen signal or a focused button survives updates.
  function render() {
    const want = [];
    for (const name of [...S.jobs.keys()].sort()) {
      const j = S.jobs.get(name);
      if (!j.info) continue;
      renderJob(j);
      want.push(j.view.tr);
      for (const pid of [...j.procs.keys()].sort((a, b) => a - b)) {
        const p = j.procs.get(pid);
        renderProc(p);
        want.push(p.view.tr);
      }
    }
    const body = $('rows');
    let cur = body.firstChild;
    for (const tr of want) {
      if (tr !== cur) body.insertBefore(tr, cur);
      else cur = cur.nextSibling;
    }
    while (cur) {
      const next = cur.nextSibling;
      cur.remove();
      cur = next;
    }
    $('empty').hidden = want.length > 0 || !!S.node;
  }

  // ---- cluster ------------------------------------------------------------
  //
  // When gafferd is in a cluster (GET /cluster/nodes answers 200), a node
  // selector and an overview of every node sit above the jobs. "This node"
  // is the live view below. Another node's jobs come through
  // /cluster/<node>/… when it is selected, after each action on them and on
  // Refresh: only this node's view is live, and the overview is as of its
  // last fetch (on connect, on Refresh, after a remote action).

  S.node = ''; // '' = this node, else the selected node's name
  S.nodes = [];

  function nodePath(node, path) {
    return '/cluster/' + encodeURIComponent(node) + path;
  }

  // isSelf: the node whose origin is this page's (it is shown live).
  function isSelf(n) {
    return !!n.origin && n.origin.replace(/\/+$/, '') === location.origin;
  }

  async function loadCluster() {
    let r;
    try {
      r = await request('/cluster/nodes');
    } catch (_) {
      return;
    }
    if (r.status !== 200) {
      $('cluster').hidden = true;
      S.nodes = [];
      if (S.node) showNode('');
      return;
    }
    const body = await r.json();
    S.nodes = (body.nodes || []).slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    $('cluster').hidden = false;
    if (S.node && !S.nodes.some((n) => n.name === S.node)) notice('node ' + S.node + ' left the cluster');
    renderNodes();
    showNode(S.nodes.some((n) => n.name === S.node) ? S.node : '');
  }

  function renderNodes() {
    const opts = [el('option', { value: '', text: 'this node (live)' })];
    const rows = [];
    for (const n of S.nodes) {
      const self = isSelf(n);
      if (!self) opts.push(el('option', { value: n.name, text: n.name }));
      let running = 0, target = 0;
      for (const j of n.jobs || []) {
        running += j.running || 0;
        target += j.target || 0;
      }
      const tr = el('tr', { class: 'node' },
        el('td', { 'data-label': 'Node', text: n.name + (self ? ' (this node)' : '') }),
        el('td', { 'data-label': 'Origin', text: n.origin || '' }),
        el('td', { 'data-label': 'Version', text: n.version || '' }),
        el('td', { 'data-label': 'Jobs', class: 'num', text: String((n.jobs || []).length) }),
        el('td', { 'data-label': 'Running/Target', class: 'num', text: running + '/' + target }));
      tr.dataset.node = self ? '' : n.name;
      rows.push(tr);
    }
    $('node').replaceChildren(...opts);
    $('node-rows').replaceChildren(...rows);
    $('cluster-note').textContent = S.nodes.length + (S.nodes.length === 1 ? ' node' : ' nodes');
  }

  function showNode(node) {
    S.node = node;
    $('node').value = node;
    for (const tr of $('node-rows').children) tr.classList.toggle('sel', tr.dataset.node === node);
    $('jobs').hidden = !!node;
    $('remote-jobs').hidden = !node;
    $('remote-empty').hidden = true;
    if (!node) {
      $('remote-rows').replaceChildren();
      render();
      return;
    }
    $('empty').hidden = true;
    closeLog();
    loadRemote();
  }

  async function loadRemote() {
    const node = S.node;
    if (!node) return;
    let jobs;
    try {
      jobs = (await getJSON(nodePath(node, '/jobs?info=true'))).jobs || [];
    } catch (err) {
      if (S.node === node) notice(node + ': ' + err.message);
      return;
    }
    if (S.node !== node) return; // another node was chosen meanwhile
    jobs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    $('remote-rows').replaceChildren(...jobs.map((i) => remoteRow(node, i)));
    $('remote-empty').hidden = jobs.length > 0;
  }

  function remoteRow(node, i) {
    const st = i.stopped ? 'stopped' : i.waiting ? 'waiting' : 'running';
    const b = (action, text, disabled) => {
      const x = el('button', { type: 'button', text, 'data-remote': action, 'data-job': i.name });
      x.disabled = disabled;
      return x;
    };
    const acts = el('span', { class: 'acts' });
    if (can('manage', i.name)) {
      acts.append(b('start', 'Start', !i.stopped), b('stop', 'Stop', !!i.stopped),
        b('scale-down', '−', (i.max_processes || 0) <= 0), b('scale-up', '+', false));
    }
    return el('tr', { class: 'job', 'data-node': node, 'data-job': i.name },
      el('td', { 'data-label': 'Job' }, el('span', { class: 'name', text: i.name })),
      el('td', { 'data-label': 'State' }, el('span', { class: 'st ' + st, text: st })),
      el('td', { 'data-label': 'Running/Target', class: 'num', text: i.running + '/' + i.max_processes }),
      el('td', { 'data-label': 'PIDs', text: (i.processes || []).join(', ') || '-' }),
      el('td', { 'data-label': 'Actions' }, acts));
  }

  // The REST call of each action on another node's job.
  const REMOTE = {
    start: ['/state', 'text/plain', '1'],
    stop: ['/state', 'text/plain', '0'],
    'scale-up': ['/numprocesses', 'application/json', JSON.stringify({ scale: '+1' })],
    'scale-down': ['/numprocesses', 'application/json', JSON.stringify({ scale: '-1' })],
  };

  async function remoteAction(b) {
    const node = S.node, name = b.dataset.job, a = REMOTE[b.dataset.remote];
    if (!node || !a) return;
    await act(async () => {
      const r = await request(nodePath(node, jobPath(name) + a[0]),
        { method: 'POST', headers: { 'Content-Type': a[1] }, body: a[2] });
      if (!r.ok) throw new Error(node + ': ' + b.dataset.remote + ' ' + name + ': ' + r.status + ' ' + (await r.text()).slice(0, 200));
    });
    loadCluster(); // the overview, and the node's jobs again
  }

  $('node').addEventListener('change', (e) => showNode(e.target.value));
  $('cluster-refresh').addEventListener('click', () => loadCluster());
  $('node-rows').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-node]');
    if (tr) showNode(tr.dataset.node);
  });
  $('remote-rows').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-remote]');
    if (b && !b.disabled) remoteAction(b);
  });

  // ---- start, log in, log out ---------------------------------------------

  // start checks whether a key is needed (GET /auth/permissions: 404 means
  // keys are not supported, so every right), then connects.
  async function start() {
    let r, who = '';
    try {
      r = await request('/auth/permissions');
    } catch (_) {
      retryLater();
      return;
    }
    if (r.status === 404) {
      S.perms = null;
    } else if (r.status === 401 || r.status === 403) {
      showLogin(S.key ? 'gafferd refused the key.' : '');
      return;
    } else if (r.ok) {
      const body = await r.json();
      if (body.require_key && !S.key) {
        showLogin('');
        return;
      }
      S.perms = body.require_key ? body.permissions || {} : null;
      // Never the key itself on screen: screens are shared.
      const user = body.username || sessionStorage.getItem(KEY + '.user');
      who = user ? 'user ' + user : 'API key';
    } else {
      retryLater();
      return;
    }
    $('login').hidden = true;
    $('dashboard').hidden = false;
    $('logout').hidden = !S.key;
    $('who').hidden = !S.key;
    $('who').textContent = S.key ? who : '';
    S.stopped = false;
    connect();
  }

  function showLogin(message) {
    S.stopped = true;
    setConn('down', 'not logged in');
    $('dashboard').hidden = true;
    $('log').hidden = true;
    $('login').hidden = false;
    $('logout').hidden = true;
    $('who').hidden = true;
    $('login-error').textContent = message;
  }

  function useKey(key) {
    S.key = key;
    S.rpc = true;
    if (key) sessionStorage.setItem(KEY, key);
    else sessionStorage.removeItem(KEY);
    S.backoff = BACKOFF_MIN;
    start();
  }

  function logout(message) {
    S.stopped = true;
    closeLog();
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(KEY + '.user');
    S.key = '';
    for (const name of [...S.jobs.keys()]) removeJob(name);
    render();
    if (S.ws) S.ws.close();
    showLogin(message || '');
  }

  $('login-key').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.removeItem(KEY + '.user');
    useKey($('key').value.trim());
  });

  $('login-user').addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = $('user').value, pass = $('password').value;
    const basic = btoa(String.fromCharCode(...new TextEncoder().encode(user + ':' + pass)));
    try {
      // credentials 'omit': a refused password must come back as a 401,
      // not open the browser's own password prompt.
      const r = await fetch('/auth', { headers: { Authorization: 'Basic ' + basic, Accept: 'application/json' },
        cache: 'no-store', credentials: 'omit' });
      if (!r.ok) throw new Error(r.status === 401 ? 'wrong user or password' : 'GET /auth: ' + r.status);
      const body = await r.json();
      const key = body.api_key || r.headers.get('X-Api-Key');
      if (!key) throw new Error('this user has no API key');
      $('password').value = '';
      sessionStorage.setItem(KEY + '.user', user);
      useKey(key);
    } catch (err) {
      $('login-error').textContent = err.message;
    }
  });

  $('logout').addEventListener('click', () => logout(''));
  $('log-close').addEventListener('click', closeLog);
  $('rows').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-action]');
    if (b && !b.disabled) onAction(b);
  });

  start();
})();
