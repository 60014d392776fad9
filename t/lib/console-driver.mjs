/*
 * Drives the console in headless Chromium for t/711-console.t.
 *
 *   node t/lib/console-driver.mjs PLAN.json
 *
 * PLAN names the playwright-core module, the browser, the base URL, the
 * cookie of the auth_request gate, the API key, the executions to look at
 * and where screenshots go.  Prints one JSON object of observations; the
 * .t file judges them.
 */

import { readFileSync } from 'node:fs';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { chromium } = await import(plan.playwright);

const out = { errors: [], requests: [], external: [] };
const t0 = Date.now();
const step = (name) => { out.steps = out.steps || []; out.steps.push([name, Date.now() - t0]); };

const browser = await chromium.launch({
    executablePath: plan.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});

try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const base = new URL(plan.base);
    await context.addCookies([{ name: plan.cookie[0], value: plan.cookie[1],
                                domain: base.hostname, path: '/' }]);
    const page = await context.newPage();

    page.on('pageerror', (e) => out.errors.push('pageerror: ' + e.message));
    page.on('console', (m) => {
        /* the browser's own line for each reply refused before a key */
        if (m.type() === 'error' && !/status of 401/.test(m.text())) {
            out.errors.push('console: ' + m.text());
        }
    });
    page.on('request', (r) => {
        const u = new URL(r.url());
        if (u.host !== base.host && u.protocol !== 'blob:' && u.protocol !== 'data:') {
            out.external.push(r.url());
        }
        const target = r.headers()['x-amz-target'];
        if (target) {
            out.requests.push({ target, body: r.postData(),
                                key: r.headers()['x-api-key'] || null });
        }
    });

    const shot = (name) => page.screenshot({ path: `${plan.artifacts}/console-${name}.png`,
                                             fullPage: true });
    const ready = async (hash) => {
        const before = await page.evaluate(() => document.body.dataset.ready || '');
        await page.evaluate((h) => { location.hash = h; }, hash);
        await page.waitForFunction((b) => (document.body.dataset.ready || '') !== b,
                                   before, { timeout: 20000 });
    };
    const statuses = () => page.$$eval('#graph [data-state]', (els) =>
        Object.fromEntries(els.map((e) => [e.dataset.state, e.dataset.status])));

    /* the key: asked for once, then sent with every API call */

    await page.goto(plan.base + '/console/');
    await page.waitForSelector('#key-dialog[open]', { timeout: 15000 });
    out.keyAsked = true;
    await page.fill('#key-input', 'wrong-key');
    await page.click('#key-dialog button[type=submit]');
    await page.waitForSelector('#key-error:not([hidden])', { timeout: 10000 });
    out.wrongKeyRefused = true;
    await page.fill('#key-input', plan.key);
    await page.click('#key-dialog button[type=submit]');
    await page.waitForFunction(() => document.body.dataset.page === 'machines',
                               null, { timeout: 15000 });
    out.machines = await page.$$eval('main tbody tr td:first-child a',
                                     (as) => as.map((a) => a.textContent));
    await shot('machines');
    step('machines');

    /* thousands of executions: a page of 50 at a time, filters */

    const rowsOf = () => page.$$eval('#executions tr[data-arn]', (trs) =>
        trs.map((tr) => [tr.dataset.arn, tr.querySelector('.badge').dataset.status]));
    let t = Date.now();
    await ready('#/machine/' + plan.bulk);
    out.bulkFirstMs = Date.now() - t;
    out.bulkPage1 = await rowsOf();
    t = Date.now();
    await page.click('#next-page');
    await page.waitForFunction((first) =>
        document.querySelector('#executions tr[data-arn]')?.dataset.arn !== first,
        out.bulkPage1[0][0], { timeout: 10000 });
    out.bulkNextMs = Date.now() - t;
    out.bulkPage2 = await rowsOf();
    t = Date.now();
    await ready('#/machine/' + plan.bulk + '?status=FAILED');
    out.bulkFailedMs = Date.now() - t;
    out.bulkFailed = await rowsOf();
    await shot('executions');
    step('executions');

    /* a failed execution: its states coloured from the history */

    await ready('#/execution/' + plan.failed);
    out.failedStatuses = await statuses();
    out.failColour = await page.$eval(`#graph [data-state="${plan.failState}"] > rect.box`,
                                      (r) => getComputedStyle(r).fill);
    out.failCss = await page.evaluate(() =>
        getComputedStyle(document.documentElement).getPropertyValue('--failed').trim());
    await page.click(`#graph [data-state="${plan.caughtState}"]`);
    out.statePanel = await page.$eval('#state-panel', (e) => e.textContent);
    await shot('execution-failed');
    step('failed');

    /* a running execution: it moves on without a reload, and stops */

    await ready('#/machine/' + plan.waiter);
    await page.click('details.panel summary');
    await page.fill('#start-input', '{"from": "the console"}');
    await page.click('details.panel button.primary');
    await page.waitForFunction(() => document.body.dataset.page === 'execution'
                                     && document.querySelector('#graph'),
                               null, { timeout: 15000 });
    out.running = decodeURIComponent(await page.evaluate(() =>
        location.hash.replace(/^#\/execution\//, '')));
    await page.evaluate(() => { window.__sameDocument = 'yes'; });
    out.runningFirst = await statuses();
    await page.waitForFunction((s) =>
        document.querySelector(`#graph [data-state="${s}"]`)?.dataset.status === 'running',
        plan.runningLater, { timeout: 20000 });
    out.runningLater = await statuses();
    out.liveShown = await page.$eval('#live', (e) => !e.hidden);
    await shot('execution-running');
    await page.click('#stop');
    await page.waitForSelector('h1 .badge[data-status="ABORTED"]', { timeout: 15000 });
    out.afterStop = await statuses();
    out.sameDocument = await page.evaluate(() => window.__sameDocument);
    out.eventTypes = await page.$$eval('tr[data-type]', (trs) => trs.map((tr) => tr.dataset.type));
    step('running');

    /* the seed workflow: every state drawn, each coloured from the run */

    await ready('#/execution/' + plan.seed);
    await page.waitForSelector('h1 .badge[data-status="SUCCEEDED"]', { timeout: plan.seedTimeout });
    await page.waitForFunction(() =>
        document.querySelector('#graph [data-state="WorkflowSuccess"]')?.dataset.status === 'succeeded',
        null, { timeout: 20000 });
    out.seedStatuses = await statuses();
    await shot('execution-seed');
    step('seed');

    /* the job page: the player plays, thumbnails, QC, probe */

    await ready('#/job/' + plan.seed);
    await page.waitForFunction(() => {
        const v = document.querySelector('#video');
        return v && v.readyState >= 2;
    }, null, { timeout: 20000 });
    await page.evaluate(() => document.querySelector('#video').play());
    await page.waitForFunction(() => document.querySelector('#video').currentTime > 0.5,
                               null, { timeout: 20000 });
    out.video = await page.$eval('#video', (v) => ({
        currentTime: v.currentTime, width: v.videoWidth, height: v.videoHeight,
        error: v.dataset.error || null }));
    out.poster = await page.$eval('#video', (v) => v.getAttribute('poster'));
    out.thumbnails = await page.$$eval('#thumbnails img', (imgs) =>
        Promise.all(imgs.map((i) => i.decode().then(() => i.naturalWidth, () => 0))));
    out.qc = await page.$$eval('#qc tbody tr', (trs) => trs.map((tr) => ({
        rendition: tr.dataset.rendition,
        psnr: tr.querySelector('[data-metric=psnr]').textContent,
        ssim: tr.querySelector('[data-metric=ssim]').textContent,
        bitrate: tr.querySelector('[data-metric=bitrate]').textContent })));
    out.probe = await page.$$eval('#probe dd', (dds) =>
        Object.fromEntries(dds.map((d) => [d.dataset.key, d.textContent])));
    await page.evaluate(() => document.querySelector('#video').pause());
    await shot('job');
    step('job');

    /* the history reader on made-up histories, in the page itself */

    out.outcomes = await page.evaluate(async (rows) => {
        const g = await import('./graph.js');
        return rows.map((r) => g.stateOutcomes(r.events, r.status, r.definition).status);
    }, plan.outcomeRows);
    step('outcomes');
} catch (e) {
    out.errors.push('driver: ' + (e && e.stack || e));
} finally {
    await browser.close();
}

console.log(JSON.stringify(out));
