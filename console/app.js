/*
 * The console's pages, routed by the URL's fragment:
 *
 *   #/                       state machines
 *   #/machine/ARN?status=S   its executions, filtered and paged by the API
 *   #/execution/ARN          the graph coloured from the history, the
 *                            states' input and output, the events, live
 *                            progress, stop and start
 *   #/job/ARN                a video job: player, thumbnails, QC, probe
 *
 * Everything is built with DOM calls, never from HTML text, so no value
 * from the server is ever read as markup.
 */

import { Api, ApiError, loadConfig } from './api.js';
import { drawGraph, stateOutcomes, STATUSES } from './graph.js';

const PAGE = 50;
const POLL_MS = 1000;
const FILTERS = ['', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

let api;
let current = null;     /* the page shown: { stop() } */

/* h('tag.class', { attr }, children...) */
function h(spec, attrs, ...children) {
    const [tag, ...classes] = spec.split('.');
    const e = document.createElement(tag);
    if (classes.length) {
        e.className = classes.join(' ');
    }
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v == null || v === false) {
            continue;
        }
        if (k.startsWith('on')) {
            e.addEventListener(k.slice(2), v);
        } else if (k === 'dataset') {
            Object.assign(e.dataset, v);
        } else {
            e.setAttribute(k, v === true ? '' : v);
        }
    }
    for (const c of children.flat(Infinity)) {
        if (c != null && c !== false) {
            e.append(c instanceof Node ? c : String(c));
        }
    }
    return e;
}

function date(epoch) {
    if (epoch == null) {
        return '';
    }
    const d = new Date(typeof epoch === 'number' ? epoch * 1000 : epoch);
    return d.toLocaleString(undefined, { hour12: false });
}

function seconds(a, b) {
    if (a == null) {
        return '';
    }
    const ms = ((b == null ? Date.now() / 1000 : b) - a) * 1000;
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function badge(status) {
    return h('span.badge.' + status, { 'data-status': status }, status);
}

function pretty(text) {
    if (text == null) {
        return h('span.muted', {}, '—');
    }
    let s = text;
    try {
        s = JSON.stringify(typeof text === 'string' ? JSON.parse(text) : text,
                           null, 2);
    } catch (e) {
        /* not JSON: shown as it is */
    }
    return h('pre.json', {}, s);
}

function parse(text) {
    try {
        return JSON.parse(text);
    } catch (e) {
        return null;
    }
}

function short(arn) {
    return String(arn).split(':').pop();
}

function link(route, text) {
    return h('a', { href: '#/' + route }, text);
}

function setLive(on) {
    document.getElementById('live').hidden = !on;
}

function show(...children) {
    document.getElementById('main').replaceChildren(...children);
}

function fail(e) {
    show(h('div.panel', {}, h('h2.error', {}, 'Error'),
           h('p', {}, e instanceof ApiError ? `${e.type}: ${e.message}`
                                            : String(e && e.message || e))));
}

/* a timer that runs fn every ms until the page changes or fn says stop */
function poller(fn, ms) {
    let timer = null;
    let stopped = false;
    const tick = async () => {
        if (stopped) {
            return;
        }
        let again = true;
        try {
            again = await fn();
        } catch (e) {
            console.warn(e);
        }
        if (!stopped && again !== false) {
            timer = setTimeout(tick, ms);
        }
    };
    timer = setTimeout(tick, ms);
    return () => {
        stopped = true;
        clearTimeout(timer);
    };
}

/* ---- state machines ---- */

async function machinesPage() {
    const list = h('tbody');
    const pager = h('div.pager');
    const tokens = [undefined];
    let page = 0;

    const load = async () => {
        const r = await api.aws('ListStateMachines', {
            maxResults: PAGE, nextToken: tokens[page],
        });
        tokens[page + 1] = r.nextToken;
        list.replaceChildren(...(r.stateMachines || []).map((m) =>
            h('tr', {}, h('td', {}, link('machine/' + m.stateMachineArn,
                                         m.name)),
              h('td', {}, m.type),
              h('td', {}, date(m.creationDate)),
              h('td.mono', {}, m.stateMachineArn))));
        if (!list.children.length) {
            list.append(h('tr', {}, h('td', { colspan: 4 },
                                      'No state machines.')));
        }
        pager.replaceChildren(
            h('button', { disabled: page === 0,
                          onclick: () => { page--; load(); } }, 'Previous'),
            h('span.muted', {}, `page ${page + 1}`),
            h('button', { disabled: !r.nextToken,
                          onclick: () => { page++; load(); } }, 'Next'));
    };

    await load();

    show(h('h1', {}, 'State machines'),
         h('div.panel', {}, h('table', {},
           h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Type'),
                                      h('th', {}, 'Created'),
                                      h('th', {}, 'ARN'))),
           list), pager));
}

/* ---- executions of a state machine ---- */

async function machinePage(arn, query) {
    const status = FILTERS.includes(query.get('status'))
                   ? query.get('status') : '';
    const sm = await api.aws('DescribeStateMachine', { stateMachineArn: arn });
    const rows = h('tbody', { id: 'executions' });
    const pager = h('div.pager');
    const tokens = [undefined];
    let page = 0;

    const load = async () => {
        const r = await api.aws('ListExecutions', {
            stateMachineArn: arn, maxResults: PAGE, nextToken: tokens[page],
            statusFilter: status || undefined,
        });
        tokens[page + 1] = r.nextToken;
        rows.replaceChildren(...(r.executions || []).map((e) =>
            h('tr', { dataset: { arn: e.executionArn } },
              h('td', {}, link('execution/' + e.executionArn, e.name)),
              h('td', {}, badge(e.status)),
              h('td', {}, date(e.startDate)),
              h('td', {}, date(e.stopDate)),
              h('td.num', {}, seconds(e.startDate, e.stopDate)))));
        if (!rows.children.length) {
            rows.append(h('tr', {}, h('td', { colspan: 5 },
                                      'No executions.')));
        }
        pager.replaceChildren(
            h('button', { disabled: page === 0,
                          onclick: () => { page--; load(); } }, 'Previous'),
            h('span.muted', {}, `page ${page + 1}, ${PAGE} a page`),
            h('button', { id: 'next-page', disabled: !r.nextToken,
                          onclick: () => { page++; load(); } }, 'Next'));
        return true;
    };

    await load();

    const filters = h('div.filters', {}, FILTERS.map((f) =>
        h('button', { 'aria-pressed': String(f === status),
                      onclick: () => {
                          location.hash = '#/machine/' + arn
                                          + (f ? '?status=' + f : '');
                      } },
          f ? f.replace('_', ' ').toLowerCase() : 'all')));

    const input = h('textarea', { id: 'start-input' }, '{}');
    const name = h('input', { type: 'text', id: 'start-name',
                              placeholder: 'name (optional)' });
    const error = h('p.error', { hidden: true });
    const start = h('details.panel', {}, h('summary', {}, 'Start an execution'),
        h('p', {}, name), h('p', {}, input), error,
        h('button.primary', { onclick: async () => {
            try {
                JSON.parse(input.value);
                const r = await api.aws('StartExecution', {
                    stateMachineArn: arn, input: input.value,
                    name: name.value || undefined,
                });
                location.hash = '#/execution/' + r.executionArn;
            } catch (e) {
                error.hidden = false;
                error.textContent = e.message;
            }
        } }, 'Start'));

    show(h('h1', {}, sm.name),
         h('div.meta', {}, h('span', {}, 'type ', h('b', {}, sm.type)),
           h('span', {}, 'created ', h('b', {}, date(sm.creationDate))),
           h('span.mono', {}, arn)),
         start,
         h('div.panel', {}, filters, h('table', {},
           h('thead', {}, h('tr', {}, h('th', {}, 'Name'),
                            h('th', {}, 'Status'), h('th', {}, 'Started'),
                            h('th', {}, 'Stopped'), h('th.num', {}, 'Duration'))),
           rows), pager));

    /* the first page follows new executions; later pages stay put */
    const stop = poller(() => page === 0 ? load() : true, 5000);
    return { stop };
}

/* ---- an execution ---- */

function progressOf(outcome, rec, definitionTypes) {
    const progress = {};
    const p = rec && rec.progress;
    if (!p || p.percent == null) {
        return progress;
    }
    const running = Object.keys(outcome.status).filter((n) =>
        outcome.status[n] === 'running' && definitionTypes[n] === 'Task');
    const target = running.includes(rec.currentState)
                   ? [rec.currentState] : running;
    for (const n of target) {
        progress[n] = p.percent;
    }
    return progress;
}

function types(definition) {
    const t = {};
    const walk = (m) => {
        for (const [n, st] of Object.entries((m && m.States) || {})) {
            t[n] = st.Type;
            for (const b of st.Branches || []) {
                walk(b);
            }
            if (st.ItemProcessor || st.Iterator) {
                walk(st.ItemProcessor || st.Iterator);
            }
        }
    };
    walk(definition);
    return t;
}

function eventRow(ev, start, nameOf) {
    const key = Object.keys(ev).find((k) => k.endsWith('EventDetails'));
    const d = key ? ev[key] : null;
    const name = (d && d.name) || nameOf.get(ev.id);
    const t = Date.parse(ev.timestamp) || ev.timestamp * 1000;
    return h('tr', { dataset: { id: ev.id, type: ev.type } },
             h('td.num', {}, ev.id),
             h('td.type', {}, ev.type),
             h('td', {}, name || ''),
             h('td.num', {}, start && t ? `${((t - start) / 1000).toFixed(3)} s`
                                        : ''),
             h('td', {}, d && Object.keys(d).length
                         ? h('details', {}, h('summary', {}, 'details'),
                             pretty(d)) : ''));
}

async function executionPage(arn) {
    const [ex0, smd] = await Promise.all([
        api.aws('DescribeExecution', { executionArn: arn }),
        api.aws('DescribeStateMachineForExecution', { executionArn: arn }),
    ]);
    let ex = ex0;
    const definition = parse(smd.definition) || {};
    const stateTypes = types(definition);
    const events = await api.history(arn);

    let selected = null;
    let outcome = stateOutcomes(events, ex.status, definition);
    let rec = null;

    const head = h('div');
    const actions = h('div.actions');
    const graphBox = h('div.graph', { id: 'graph' });
    const side = h('div.panel.grow', { id: 'state-panel' });
    const progressBox = h('div', { id: 'progress' });
    const tbody = h('tbody');
    const firstTime = events.length ? Date.parse(events[0].timestamp)
                                      || events[0].timestamp * 1000 : 0;

    const showState = () => {
        if (!selected) {
            side.replaceChildren(h('p.muted', {},
                'Select a state in the graph to see its input and output.'));
            return;
        }
        const i = outcome.info[selected] || {};
        const st = outcome.status[selected] || 'not-started';
        side.replaceChildren(
            h('h2', {}, selected, ' ',
              h('span.muted', {}, stateTypes[selected] || '')),
            h('p', {}, h('span.badge', { 'data-status': st }, st),
              i.entered > 1 ? h('span.muted', {}, ` entered ${i.entered} times`)
                            : ''),
            i.error ? h('div', {}, h('h2.error', {}, i.error.error),
                        h('pre.json', {}, i.error.cause)) : '',
            h('h2', {}, 'Input'), pretty(i.input),
            h('h2', {}, 'Output'), pretty(i.output));
    };

    const graph = drawGraph(graphBox, definition, (name) => {
        selected = name;
        graph.select(name);
        showState();
    });

    const render = () => {
        const job = parse(ex.input) || {};
        head.replaceChildren(
            h('h1', {}, ex.name, ' ', badge(ex.status)),
            h('div.meta', {},
              h('span', {}, 'state machine ',
                link('machine/' + ex.stateMachineArn, short(ex.stateMachineArn))),
              h('span', {}, 'started ', h('b', {}, date(ex.startDate))),
              ex.stopDate ? h('span', {}, 'stopped ', h('b', {},
                                                         date(ex.stopDate)))
                          : '',
              h('span', {}, 'duration ', h('b', {}, seconds(ex.startDate,
                                                            ex.stopDate)))),
            ex.error ? h('p.error', {}, h('b', {}, ex.error), ': ',
                         ex.cause || '') : '');

        actions.replaceChildren(
            h('button.danger', { id: 'stop', disabled: ex.status !== 'RUNNING',
                                 onclick: async (e) => {
                e.target.disabled = true;
                await api.aws('StopExecution', {
                    executionArn: arn, error: 'Console.Stopped',
                    cause: 'stopped from the console',
                });
                refresh();
            } }, 'Stop'),
            h('button', { id: 'start-again', onclick: async () => {
                const r = await api.aws('StartExecution', {
                    stateMachineArn: ex.stateMachineArn, input: ex.input,
                });
                location.hash = '#/execution/' + r.executionArn;
            } }, 'Start again with this input'),
            job.jobId || job.key ? link('job/' + arn, 'Job: player and QC')
                                 : '');

        const progress = progressOf(outcome, rec, stateTypes);
        graph.update(outcome.status, progress);
        progressBox.replaceChildren(...Object.entries(progress).map(([n, p]) =>
            h('div.progress-row', { dataset: { state: n } },
              h('b', {}, n),
              h('div.bar', {}, (() => {
                  const d = h('div');
                  d.style.width = `${p}%`;
                  return d;
              })()),
              h('span', {}, `${p.toFixed(1)} %`),
              rec.progress.framesPerSecond
                ? h('span.muted', {}, `${rec.progress.framesPerSecond} frames/s`)
                : '')));
        if (selected) {
            showState();
        }
        setLive(ex.status === 'RUNNING');
    };

    /* the table keeps the newest rows: a history may hold 25,000 */
    const MAX_ROWS = 1000;
    const note = h('p.muted', { hidden: true });
    const addEvents = (evs) => {
        tbody.append(...evs.slice(-MAX_ROWS).map((ev) =>
            eventRow(ev, firstTime, outcome.nameOf)));
        while (tbody.children.length > MAX_ROWS) {
            tbody.firstElementChild.remove();
        }
        note.hidden = events.length <= MAX_ROWS;
        note.textContent = `The ${MAX_ROWS} newest of ${events.length} events.`;
    };

    /*
     * One refresh at a time (the poller's and the stop button's), the
     * status read before the history: an execution seen ended has its
     * last event in the history read after it.
     */
    const update = async () => {
        const e2 = await api.aws('DescribeExecution', { executionArn: arn });
        const last = events.length ? events[events.length - 1].id : 0;
        const [fresh, r2] = await Promise.all([
            api.historySince(arn, last),
            api.describe(arn).catch(() => null),
        ]);
        ex = e2;
        rec = r2;
        events.push(...fresh);
        outcome = stateOutcomes(events, ex.status, definition);
        addEvents(fresh);
        render();
        return ex.status === 'RUNNING';
    };
    let updating = Promise.resolve(true);
    const refresh = () => (updating = updating.then(update, update));

    addEvents(events);
    showState();

    const legend = h('div.legend', {}, STATUSES.map((s) =>
        h('span.' + s, {}, s.replace('-', ' '))));

    show(head, actions,
         h('div.row', {},
           h('div.panel.grow', {}, legend, progressBox, graphBox), side),
         h('h2', {}, 'Events'),
         h('div.panel', {}, note, h('table.events', {},
           h('thead', {}, h('tr', {}, h('th.num', {}, 'ID'),
                            h('th', {}, 'Type'), h('th', {}, 'State'),
                            h('th.num', {}, 'Elapsed'), h('th', {}, ''))),
           tbody)));

    if (ex.status === 'RUNNING') {
        rec = await api.describe(arn).catch(() => null);
    }
    render();

    const stop = ex.status === 'RUNNING' ? poller(refresh, POLL_MS) : null;
    return { stop: () => { stop && stop(); setLive(false); } };
}

/* ---- a video job ---- */

/* the outputs of the tasks whose resource holds word */
function taskOutputs(events, word) {
    return events.filter((ev) => {
        const d = ev.taskSucceededEventDetails;
        return d && ((d.resource || '') + ':' + (d.resourceType || ''))
                    .includes(word);
    }).map((ev) => parse(ev.taskSucceededEventDetails.output))
      .filter((o) => o && typeof o === 'object');
}

/* BANDWIDTH of each variant of a master playlist, by its URI */
async function variantRates(url) {
    const rates = {};
    try {
        const r = await fetch(url, { credentials: 'same-origin' });
        if (!r.ok) {
            return rates;
        }
        const lines = (await r.text()).split(/\r?\n/);
        for (let i = 0; i < lines.length; i++) {
            const m = /^#EXT-X-STREAM-INF:(.*)$/.exec(lines[i]);
            if (m) {
                const avg = /AVERAGE-BANDWIDTH=(\d+)/.exec(m[1]);
                const peak = /(?:^|,)BANDWIDTH=(\d+)/.exec(m[1]);
                const uri = (lines[i + 1] || '').trim();
                rates[uri.split('/').pop()] = Number((avg || peak || [])[1]);
            }
        }
    } catch (e) {
        /* no playlist: no figures */
    }
    return rates;
}

/* an MP4's mean bitrate: its size over its duration */
async function fileRate(url, duration) {
    try {
        const r = await fetch(url, { method: 'HEAD',
                                     credentials: 'same-origin' });
        const len = Number(r.headers.get('Content-Length'));
        return r.ok && len && duration ? len * 8 / duration : null;
    } catch (e) {
        return null;
    }
}

function num(v, digits, unit) {
    return typeof v === 'number' ? v.toFixed(digits) + (unit || '') : '—';
}

function kv(obj, keys) {
    return h('dl.kv', {}, keys.filter(([k]) => obj[k] != null).map(([k, label,
                                                                     f]) =>
        [h('dt', {}, label), h('dd', { dataset: { key: k } },
                                f ? f(obj[k]) : String(obj[k]))]));
}

function attachPlayer(video, url) {
    if (window.Hls && window.Hls.isSupported()) {
        const hls = new window.Hls({ enableWorker: true });
        hls.loadSource(url);
        hls.attachMedia(video);
        hls.on(window.Hls.Events.ERROR, (ev, data) => {
            if (data.fatal) {
                video.dataset.error = data.details;
            }
        });
        return () => hls.destroy();
    }
    video.src = url;
    return () => video.removeAttribute('src');
}

async function jobPage(arn) {
    const [ex, events] = await Promise.all([
        api.aws('DescribeExecution', { executionArn: arn }),
        api.history(arn),
    ]);
    const input = parse(ex.input) || {};
    const probe = taskOutputs(events, 'probe').pop();
    const qc = taskOutputs(events, 'qc').pop();
    const pub = taskOutputs(events, 'publish').filter((p) => p.published).pop();
    const transcode = taskOutputs(events, 'transcode').concat(
        taskOutputs(events, 'createJob')).pop();

    /* where to watch: publish's playback, or its keys by kind (older runs) */
    const urls = (pub && pub.urls) || {};
    const isImage = (k) => /\.(jpe?g|png|webp)$/i.test(k);
    const play = (pub && pub.playback) || {
        hls: pub && pub.playlist || (urls.hls || [])[0],
        thumbnails: (urls.thumbnails || []).filter(isImage),
    };
    const master = play.hls;

    /* the sprite sheet: named by publish, or the image of the WebVTT track */
    const vttImage = play.thumbnailsVtt
        && play.thumbnailsVtt.replace(/\.vtt$/i, '.jpg');
    const sprite = play.sprite
        || (play.thumbnails || []).find((k) => k === vttImage);
    let detach = null;

    const player = h('div.panel', { id: 'player' });
    if (master) {
        const video = h('video', { id: 'video', controls: true, muted: true,
                                   playsinline: true, preload: 'auto' });
        video.muted = true;
        const url = api.origin(master);
        if (play.poster) {
            video.poster = api.origin(play.poster);
        }
        player.append(video, h('p.mono', {}, h('a', { href: url }, url)));
        detach = attachPlayer(video, url);
    } else {
        player.append(h('p.muted', {}, ex.status === 'RUNNING'
            ? 'Not published yet: the player appears once the job is published.'
            : 'This job was not published: nothing to play.'));
    }

    const thumbs = h('div.thumbs', { id: 'thumbnails' },
        (play.thumbnails || []).filter((k) => isImage(k) && k !== sprite)
        .map((k) =>
            h('a', { href: api.origin(k) },
              h('img', { src: api.origin(k), alt: k.split('/').pop(),
                         loading: 'lazy' }))));

    /* QC: one row per rendition, bitrate from the playlist or the file */
    const qcBody = h('tbody');
    const rates = master ? await variantRates(api.origin(master)) : {};
    const rows = [];
    for (const out of (qc && qc.qualityResults) || []) {
        for (const r of out.renditions && out.renditions.length
                        ? out.renditions : [out]) {
            rows.push([out, r]);
        }
    }
    for (const [out, r] of rows) {
        if (out.format === 'thumbnails' || (r.psnr == null && !r.hasVideo)) {
            continue;
        }
        const name = r.playlist || (r.key || out.key || '').split('/').pop();
        let rate = r.bitrate != null ? r.bitrate : rates[r.playlist];
        if (rate == null && r.key) {
            rate = await fileRate(api.origin(r.key), r.duration);
        }
        qcBody.append(h('tr', { dataset: { rendition: name } },
            h('td', {}, out.format || r.format || ''),
            h('td.mono', {}, name),
            h('td.num', {}, r.width ? `${r.width}×${r.height}` : ''),
            h('td.num', { dataset: { metric: 'psnr' } }, num(r.psnr, 2, ' dB')),
            h('td.num', {}, num(r.psnrMin, 2)),
            h('td.num', { dataset: { metric: 'ssim' } }, num(r.ssim, 4)),
            h('td.num', {}, num(r.ssimMin, 4)),
            h('td.num', { dataset: { metric: 'bitrate' } },
              typeof rate === 'number' && rate > 0
                ? `${(rate / 1e6).toFixed(2)} Mb/s` : '—'),
            h('td', {}, r.decodes === false || (r.errors || []).length
                        ? h('span.error', {}, (r.errors || []).join('; ')
                                              || 'does not decode')
                        : 'ok')));
    }

    const summary = (probe && (probe.summary || probe.metadata)) || null;

    show(h('h1', {}, 'Job ', input.jobId || ex.name, ' ', badge(ex.status)),
         h('div.meta', {}, link('execution/' + arn, 'the execution'),
           h('span', {}, 'source ', h('b', {}, `${input.bucket || ''}/`
                                               + `${input.key || ''}`)),
           pub ? h('span', {}, 'published ', h('b', {}, pub.publishedAt))
               : ''),
         h('div.row', {},
           h('div.grow', {}, player,
             h('h2', {}, 'Thumbnails'),
             thumbs.children.length ? thumbs : h('p.muted', {}, 'None.'),
             sprite || play.thumbnailsVtt
               ? h('p.mono', { id: 'trickplay' },
                   sprite ? h('a', { href: api.origin(sprite) },
                              'sprite sheet') : '',
                   sprite && play.thumbnailsVtt ? ', ' : '',
                   play.thumbnailsVtt
                     ? h('a', { href: api.origin(play.thumbnailsVtt) },
                         'WebVTT track') : '')
               : ''),
           h('div.panel.grow', { id: 'probe' }, h('h2', {}, 'Source'),
             summary ? kv(summary, [
                 ['duration', 'duration', (v) => `${v} s`],
                 ['size', 'size', (v) => `${(v / 1e6).toFixed(2)} MB`],
                 ['format', 'container'],
                 ['videoCodec', 'video codec'],
                 ['width', 'resolution', () => `${summary.width}×`
                                               + `${summary.height}`],
                 ['fps', 'frame rate', (v) => `${v} fps`],
                 ['bitrate', 'bitrate', (v) => `${(v / 1e6).toFixed(2)} Mb/s`],
                 ['pixFmt', 'pixel format'],
                 ['bitDepth', 'bit depth'],
                 ['rotation', 'rotation'],
                 ['audioCodec', 'audio codec'],
                 ['sampleRate', 'sample rate', (v) => `${v} Hz`],
                 ['channels', 'channels'],
             ]) : h('p.muted', {}, 'No probe result.'),
             probe && probe.streams
               ? h('details', {}, h('summary', {}, 'streams'),
                   pretty(probe.streams)) : '')),
         h('h2', {}, 'Quality control'),
         h('div.panel', {}, qc
           ? [h('p', { id: 'qc-score' }, 'score ',
                h('b', {}, num(qc.qualityScore, 3)), ', ',
                qc.passed ? 'passed' : h('span.error', {}, 'not passed')),
              h('table', { id: 'qc' }, h('thead', {}, h('tr', {},
                h('th', {}, 'Format'), h('th', {}, 'Rendition'),
                h('th.num', {}, 'Resolution'), h('th.num', {}, 'PSNR'),
                h('th.num', {}, 'min'), h('th.num', {}, 'SSIM'),
                h('th.num', {}, 'min'), h('th.num', {}, 'Bitrate'),
                h('th', {}, 'Checks'))), qcBody)]
           : h('p.muted', {}, 'No QC result yet.')),
         transcode && transcode.Job
           ? h('details.panel', {}, h('summary', {}, 'transcode job'),
               pretty(transcode.Job)) : '');

    /* a running job: the page reloads itself once the execution ends */
    const stop = ex.status === 'RUNNING' ? poller(async () => {
        const e = await api.aws('DescribeExecution', { executionArn: arn });
        if (e.status !== 'RUNNING') {
            route();
            return false;
        }
        return true;
    }, 2000) : null;

    return { stop: () => { stop && stop(); detach && detach(); } };
}

/* ---- the API key and the router ---- */

function askKey(refused) {
    const dialog = document.getElementById('key-dialog');
    const input = document.getElementById('key-input');
    document.getElementById('key-error').hidden = !refused;
    input.value = '';
    return new Promise((resolve) => {
        dialog.addEventListener('close', () => {
            api.key = input.value.trim();
            resolve();
        }, { once: true });
        if (!dialog.open) {
            dialog.showModal();
        }
    });
}

async function route() {
    if (current && current.stop) {
        current.stop();
    }
    current = null;
    setLive(false);

    const hash = location.hash.replace(/^#\/?/, '');
    const [path, q] = hash.split('?');
    const query = new URLSearchParams(q || '');
    const slash = path.indexOf('/');
    const page = slash < 0 ? path : path.slice(0, slash);
    const arg = slash < 0 ? '' : decodeURIComponent(path.slice(slash + 1));
    const pages = {
        '': machinesPage,
        machine: machinePage,
        execution: executionPage,
        job: jobPage,
    };

    const fn = pages[page];
    if (!fn) {
        fail(new Error('no such page: ' + page));
        return;
    }

    const me = {};
    current = me;
    try {
        const r = await fn(arg, query);
        if (current === me) {
            current = r || null;
        } else if (r && r.stop) {
            r.stop();
        }
    } catch (e) {
        if (current === me) {
            fail(e);
        }
    }
    document.body.dataset.page = page || 'machines';
    document.body.dataset.ready = String(Date.now());
}

loadConfig().then((config) => {
    api = new Api(config, askKey);
    window.addEventListener('hashchange', route);
    route();
}).catch(fail);
