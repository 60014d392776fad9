// Plays an HLS master playlist with hls.js in headless Chromium and prints
// what the player saw, as JSON: the rungs, the first media playlist (live
// while a preview is written), playback start and progress, a switch of
// rung on demand, errors.  No assertion here: the .t file decides.
//
//   node t/lib/hls-play.mjs URL
//   SFN_NODE_DIR: where npm put hls.js and puppeteer-core
//   SFN_CHROMIUM: the browser (default /usr/bin/chromium)

import { createRequire } from 'node:module';

const require = createRequire(process.env.SFN_NODE_DIR + '/');
const puppeteer = require('puppeteer-core');
const hlsjs = require.resolve('hls.js/dist/hls.min.js');

const url = process.argv[2];

const browser = await puppeteer.launch({
    executablePath: process.env.SFN_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--mute-audio',
           '--autoplay-policy=no-user-gesture-required'],
});

let out;

try {
    const page = await browser.newPage();
    await page.setContent('<video id="v" muted playsinline></video>');
    await page.addScriptTag({ path: hlsjs });

    out = await page.evaluate(async (url) => {
        const o = { errors: [], fatal: null, levels: [], switches: [] };
        const v = document.getElementById('v');
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const until = async (f, ms) => {
            for (const end = Date.now() + ms; Date.now() < end; ) {
                if (f()) return true;
                await sleep(50);
            }
            return f();
        };

        const hls = new Hls({ startPosition: 0, enableWorker: false });

        hls.on(Hls.Events.ERROR, (e, d) => {
            o.errors.push(d.details);
            if (d.fatal) o.fatal = d.type + ': ' + d.details;
        });
        hls.on(Hls.Events.MANIFEST_PARSED, (e, d) => {
            o.levels = d.levels.map((l) => ({ height: l.height,
                                             bitrate: l.bitrate }));
            o.firstLevel = d.firstLevel;
        });
        hls.on(Hls.Events.LEVEL_LOADED, (e, d) => {
            if (o.live === undefined) o.live = d.details.live;
            o.lastLive = d.details.live;
        });
        hls.on(Hls.Events.LEVEL_SWITCHED, (e, d) => o.switches.push(d.level));

        hls.loadSource(url);
        hls.attachMedia(v);

        o.parsed = await until(() => o.levels.length > 0 || o.fatal, 30000)
                   && o.levels.length > 0;
        if (!o.parsed) return o;

        v.play().catch((e) => o.errors.push('play: ' + e.message));

        o.started = await until(() => v.currentTime > 0.2 || o.fatal, 60000)
                    && v.currentTime > 0.2;
        if (!o.started) return o;

        // progress over 2 s of wall clock
        const t0 = v.currentTime;
        await sleep(2000);
        o.advanced = v.currentTime - t0;

        // ask for another rung, as a user or an ABR rule would
        const from = hls.currentLevel;
        const to = from === 0 ? 1 : 0;
        o.from = from;
        o.to = to;
        hls.currentLevel = to;
        o.switched = await until(() => o.switches.includes(to) || o.fatal,
                                 30000) && o.switches.includes(to);

        const t1 = v.currentTime;
        await until(() => v.currentTime > t1 + 0.5 || o.fatal, 30000);
        o.advancedAfterSwitch = v.currentTime - t1;
        o.currentTime = v.currentTime;

        hls.destroy();
        return o;
    }, url);
} finally {
    await browser.close();
}

console.log(JSON.stringify(out));
