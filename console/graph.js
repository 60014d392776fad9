/*
 * A state machine drawn as a graph, and each state's outcome read from an
 * execution's history.
 *
 * Layout: ASL graphs are mostly linear, so states are put in rows by the
 * longest path from StartAt (edges that go back, loops, are left out of
 * the ranking and drawn on the side); a Parallel state is a frame holding
 * its branches side by side, a Map state a frame holding its processor,
 * each laid out the same way.  No library: plain DOM and SVG.
 */

const SVG = 'http://www.w3.org/2000/svg';

const NODE_H = 34;
const NODE_MIN_W = 130;
const CHAR_W = 7.2;
const GAP_X = 28;
const GAP_Y = 40;
const PAD = 14;
const LABEL_H = 20;
const TERM_R = 16;

export const STATUSES = ['not-started', 'running', 'succeeded', 'failed',
                         'caught', 'retried'];

/* the states a state may go to: [name, kind] */
function successors(st) {
    const out = [];
    if (st.Next) {
        out.push([st.Next, 'next']);
    }
    for (const c of st.Choices || []) {
        if (c.Next) {
            out.push([c.Next, 'next']);
        }
    }
    if (st.Default) {
        out.push([st.Default, 'next']);
    }
    for (const c of st.Catch || []) {
        if (c.Next) {
            out.push([c.Next, 'catch']);
        }
    }
    return out;
}

function ends(st) {
    return st.End === true || st.Type === 'Succeed' || st.Type === 'Fail';
}

function subMachines(st) {
    if (st.Type === 'Parallel') {
        return st.Branches || [];
    }
    if (st.Type === 'Map') {
        const p = st.ItemProcessor || st.Iterator;
        return p ? [p] : [];
    }
    return [];
}

/*
 * Lays out one machine (or branch): returns { w, h, nodes, edges } in its
 * own coordinates; nodes of frames carry their children's layouts.
 */
function layoutMachine(m, top) {
    const states = (m && m.States) || {};
    const names = Object.keys(states);
    const start = m && m.StartAt in states ? m.StartAt : names[0];

    /* depth-first order from StartAt; edges to a state on the stack loop */
    const order = [];
    const onStack = new Set();
    const done = new Set();
    const back = new Set();

    const visit = (n) => {
        onStack.add(n);
        for (const [s] of successors(states[n])) {
            if (!(s in states)) {
                continue;
            }
            if (onStack.has(s)) {
                back.add(n + '\u0000' + s);
            } else if (!done.has(s)) {
                visit(s);
            }
        }
        onStack.delete(n);
        done.add(n);
        order.push(n);
    };

    if (start !== undefined) {
        visit(start);
    }
    for (const n of names) {
        if (!done.has(n)) {
            visit(n);
        }
    }
    order.reverse();

    /* rank: the longest path over forward edges, in topological order */
    const rank = {};
    for (const n of order) {
        rank[n] = rank[n] || 0;
        for (const [s] of successors(states[n])) {
            if (s in states && !back.has(n + '\u0000' + s)) {
                rank[s] = Math.max(rank[s] || 0, rank[n] + 1);
            }
        }
    }

    /* sizes: a leaf fits its name; a frame its children */
    const nodes = {};
    for (const n of order) {
        const st = states[n];
        const subs = subMachines(st);
        const node = { name: n, type: st.Type, w: 0, h: NODE_H, children: [] };
        if (subs.length) {
            node.children = subs.map((b) => layoutMachine(b, false));
            node.w = node.children.reduce((a, c) => a + c.w, 0)
                     + GAP_X * (subs.length - 1) + 2 * PAD;
            node.h = LABEL_H + PAD + Math.max(...node.children.map((c) => c.h))
                     + PAD;
            node.w = Math.max(node.w, n.length * CHAR_W + 2 * PAD);
        } else {
            node.w = Math.max(NODE_MIN_W, n.length * CHAR_W + 28);
        }
        nodes[n] = node;
    }

    /* rows, each centred; a top-level machine gets Start and End */
    const rows = [];
    for (const n of order) {
        (rows[rank[n]] = rows[rank[n]] || []).push(nodes[n]);
    }

    const extra = top ? 2 * TERM_R + GAP_Y : 0;
    let width = 0;
    for (const row of rows) {
        if (row) {
            width = Math.max(width, row.reduce((a, n) => a + n.w, 0)
                             + GAP_X * (row.length - 1));
        }
    }
    width = Math.max(width, 2 * TERM_R);

    /* room on the right for edges that go back up */
    const side = back.size ? 40 : 0;

    let y = extra;
    for (const row of rows) {
        if (!row) {
            continue;
        }
        const rw = row.reduce((a, n) => a + n.w, 0) + GAP_X * (row.length - 1);
        let x = (width - rw) / 2;
        const rh = Math.max(...row.map((n) => n.h));
        for (const n of row) {
            n.x = x;
            n.y = y;
            x += n.w + GAP_X;
        }
        y += rh + GAP_Y;
    }

    const height = y - GAP_Y + extra;
    const edges = [];
    const center = (n) => n.x + n.w / 2;

    for (const n of order) {
        const a = nodes[n];
        for (const [s, kind] of successors(states[n])) {
            const b = nodes[s];
            if (!b) {
                continue;
            }
            if (back.has(n + '\u0000' + s) || b.y <= a.y) {
                const xr = width + side / 2 + (edges.length % 3) * 6;
                edges.push({ kind: kind + ' back', d:
                    `M${a.x + a.w},${a.y + a.h / 2} C${xr},${a.y + a.h / 2} `
                    + `${xr},${b.y + b.h / 2} ${b.x + b.w},${b.y + b.h / 2}` });
            } else {
                const x1 = center(a);
                const y1 = a.y + a.h;
                const x2 = center(b);
                const y2 = b.y;
                const my = (y1 + y2) / 2;
                edges.push({ kind, d: `M${x1},${y1} C${x1},${my} ${x2},${my} `
                                      + `${x2},${y2}` });
            }
        }
    }

    const layout = { w: width + side, h: height, nodes: order.map((n) => nodes[n]),
                     edges };

    if (top) {
        layout.start = { x: width / 2, y: TERM_R };
        layout.end = { x: width / 2, y: height - TERM_R };
        const s = nodes[start];
        if (s) {
            edges.push({ kind: 'next', d: `M${width / 2},${2 * TERM_R} `
                                          + `L${center(s)},${s.y}` });
        }
        for (const n of order) {
            if (ends(states[n])) {
                const a = nodes[n];
                const x1 = center(a);
                const y1 = a.y + a.h;
                const y2 = height - 2 * TERM_R;
                const my = (y1 + y2) / 2;
                edges.push({ kind: 'next', d: `M${x1},${y1} C${x1},${my} `
                             + `${width / 2},${my} ${width / 2},${y2}` });
            }
        }
    }

    return layout;
}

/*
 * Each state's outcome from the history:
 *   not-started  never entered;
 *   running      entered, not left, the execution running;
 *   succeeded    left without an error;
 *   failed       an error that was not handled, or where the execution
 *                ended (a Fail state, a stop, a time-out);
 *   caught       an error caught: the next state entered right after it
 *                (or the state left after it);
 *   retried      an error retried, the state left after all.
 * and the last input, output and error of each.
 */
export function stateOutcomes(events, executionStatus, definition) {
    const byId = new Map();
    const nameOf = new Map();
    const info = {};

    for (const ev of events) {
        byId.set(ev.id, ev);
    }

    /*
     * the Parallel or Map state that an event of its own (started,
     * succeeded, an iteration...) belongs to: back along the chain of
     * previous events to its entry, past the states of the same type
     * nested inside, each closed by one Succeeded, Failed or Aborted
     */
    const owner = (ev, kind) => {
        const close = new RegExp(`^${kind}State(Succeeded|Failed|Aborted)$`);
        let depth = 0;
        let e = byId.get(ev.previousEventId);
        while (e) {
            if (e.type === kind + 'StateEntered') {
                if (depth === 0) {
                    return e.stateEnteredEventDetails.name;
                }
                depth--;
            } else if (close.test(e.type)) {
                depth++;
            }
            e = byId.get(e.previousEventId);
        }
        return undefined;
    };

    const stateName = (ev) => {
        const own = /^(Parallel|Map)(State|Iteration)/.exec(ev.type || '');
        if (own && !ev.stateEnteredEventDetails
            && !ev.stateExitedEventDetails)
        {
            const name = owner(ev, own[1]);
            nameOf.set(ev.id, name);
            return name;
        }
        const seen = [];
        let e = ev;
        let name;
        while (e) {
            if (nameOf.has(e.id)) {
                name = nameOf.get(e.id);
                break;
            }
            seen.push(e.id);
            const d = e.stateEnteredEventDetails || e.stateExitedEventDetails;
            if (d) {
                name = d.name;
                break;
            }
            if (!e.previousEventId) {
                break;
            }
            e = byId.get(e.previousEventId);
        }
        for (const id of seen) {
            nameOf.set(id, name);
        }
        nameOf.set(ev.id, name);
        return name;
    };

    for (const ev of events) {
        const t = ev.type || '';
        if (t.startsWith('Execution')) {
            continue;
        }
        const name = stateName(ev);
        if (!name) {
            continue;
        }
        const s = info[name] = info[name] || {
            entered: 0, exited: 0, active: 0, failing: false, caught: false,
            retried: false, input: undefined, output: undefined, error: null,
            enteredAt: null, exitedAt: null,
        };
        const details = Object.keys(ev).find((k) => k.endsWith('EventDetails'));
        const d = details ? ev[details] : {};

        if (t.endsWith('StateEntered')) {
            /* entered from a state whose error is pending: it was caught */
            const prev = byId.get(ev.previousEventId);
            const from = prev && info[stateName(prev)];
            if (from && from.failing && from.active > 0) {
                from.caught = true;
                from.failing = false;
                from.active--;
            }
            s.entered++;
            s.active++;
            s.input = d.input;
            s.enteredAt = ev.timestamp;
        } else if (t.endsWith('StateExited')) {
            s.exited++;
            s.active = Math.max(0, s.active - 1);
            s.output = d.output;
            s.exitedAt = ev.timestamp;
            if (s.failing) {
                s.caught = true;
                s.failing = false;
            }
        } else if (/(Failed|TimedOut|Aborted)$/.test(t)) {
            s.failing = true;
            s.error = { error: d.error || t, cause: d.cause || '' };
        } else if (s.failing && /(Scheduled|Started)$/.test(t)) {
            s.retried = true;
            s.failing = false;
        }
    }

    const types = {};
    const collect = (m) => {
        for (const [n, st] of Object.entries((m && m.States) || {})) {
            types[n] = st.Type;
            subMachines(st).forEach(collect);
        }
    };
    collect(definition);

    const ended = executionStatus && executionStatus !== 'RUNNING';
    const status = {};
    for (const [n, s] of Object.entries(info)) {
        if (s.entered === 0) {
            status[n] = 'not-started';
        } else if (s.active > 0) {
            status[n] = s.failing || ended || types[n] === 'Fail'
                        ? 'failed' : 'running';
        } else if (s.caught) {
            status[n] = 'caught';
        } else if (s.retried) {
            status[n] = 'retried';
        } else {
            status[n] = types[n] === 'Fail' ? 'failed' : 'succeeded';
        }
    }

    return { status, info, nameOf };
}

function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) {
        e.setAttribute(k, v);
    }
    if (parent) {
        parent.appendChild(e);
    }
    return e;
}

/*
 * Draws the definition into container; returns a handle whose update()
 * recolours the states and shows the running tasks' progress, and whose
 * select(name) marks one state.  onSelect(name) is called on a click.
 */
export function drawGraph(container, definition, onSelect) {
    const layout = layoutMachine(definition, true);
    const margin = 10;
    const svg = el('svg', {
        width: layout.w + 2 * margin, height: layout.h + 2 * margin,
        viewBox: `${-margin} ${-margin} ${layout.w + 2 * margin} `
                 + `${layout.h + 2 * margin}`,
        role: 'img', 'aria-label': 'state machine graph',
    });

    const defs = el('defs', {}, svg);
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9,
                                  refY: 5, markerWidth: 7, markerHeight: 7,
                                  orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#64748b' }, marker);

    const groups = new Map();

    const drawLayout = (lay, ox, oy, parent) => {
        const g = el('g', { transform: `translate(${ox},${oy})` }, parent);
        for (const e of lay.edges) {
            el('path', { class: 'edge ' + e.kind, d: e.d,
                         'marker-end': 'url(#arrow)' }, g);
        }
        for (const n of lay.nodes) {
            const ng = el('g', { 'data-state': n.name,
                                 'data-status': 'not-started',
                                 'data-type': n.type,
                                 transform: `translate(${n.x},${n.y})` }, g);
            const title = el('title', {}, ng);
            title.textContent = `${n.name} (${n.type})`;
            if (n.children.length) {
                ng.setAttribute('class', 'group');
                el('rect', { class: 'frame', width: n.w, height: n.h, rx: 8 },
                   ng);
                const head = el('rect', { class: 'box', width: n.w,
                                          height: LABEL_H, rx: 8 }, ng);
                head.setAttribute('fill-opacity', '0.9');
                const t = el('text', { x: 10, y: 14, class: 'label' }, ng);
                t.textContent = `${n.name} · ${n.type}`;
                let cx = PAD;
                for (const c of n.children) {
                    drawLayout(c, cx, LABEL_H + PAD, ng);
                    cx += c.w + GAP_X;
                }
            } else {
                ng.setAttribute('class', 'node');
                el('rect', { class: 'box', width: n.w, height: n.h, rx: 6 },
                   ng);
                const t = el('text', { x: n.w / 2, y: n.h / 2 + 4,
                                       'text-anchor': 'middle' }, ng);
                t.textContent = n.name;
            }
            ng.addEventListener('click', (ev) => {
                ev.stopPropagation();
                onSelect && onSelect(n.name);
            });
            groups.set(n.name, { g: ng, node: n });
        }
    };

    drawLayout(layout, 0, 0, svg);

    for (const [p, label] of [[layout.start, 'Start'], [layout.end, 'End']]) {
        el('circle', { cx: p.x, cy: p.y, r: TERM_R, class: 'terminal' }, svg);
        const t = el('text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle',
                               class: 'terminal-text' }, svg);
        t.textContent = label;
    }

    container.replaceChildren(svg);

    return {
        svg,
        update(status, progress) {
            for (const [name, { g, node }] of groups) {
                g.setAttribute('data-status', status[name] || 'not-started');
                let bar = g.querySelector(':scope > rect.progress');
                const p = progress && progress[name];
                if (p != null && status[name] === 'running'
                    && !node.children.length)
                {
                    if (!bar) {
                        bar = el('rect', { class: 'progress', x: 4,
                                           y: node.h - 7, height: 4, rx: 2 },
                                 g);
                    }
                    bar.setAttribute('width',
                                     Math.max(1, (node.w - 8) * p / 100));
                } else if (bar) {
                    bar.remove();
                }
            }
        },
        select(name) {
            for (const [n, { g }] of groups) {
                g.classList.toggle('selected', n === name);
            }
        },
        names: () => [...groups.keys()],
    };
}
