/*
 * The console's one way to the server: the module's AWS JSON 1.0 API
 * (sfn_aws_api) and its REST describe (sfn_api), at the locations
 * config.json names.  An API key (sfn_api_key) is asked for when a reply
 * says one is needed, kept in this tab's sessionStorage and sent as
 * X-Api-Key.  Cookies and basic credentials of an auth_request setup go
 * with every same-origin request as they are.
 */

const KEY = 'sfn-api-key';

export class AuthError extends Error {}

export class ApiError extends Error {
    constructor(type, message, status) {
        super(message || type);
        this.type = type;
        this.status = status;
    }
}

const AUTH_TYPES = new Set([
    'Unauthorized', 'UnrecognizedClientException', 'AccessDeniedException',
    'MissingAuthenticationTokenException', 'InvalidSignatureException',
    'IncompleteSignatureException',
]);

export class Api {
    constructor(config, askKey) {
        this.config = config;
        this.askKey = askKey;
    }

    get key() {
        return sessionStorage.getItem(KEY);
    }

    set key(value) {
        if (value) {
            sessionStorage.setItem(KEY, value);
        } else {
            sessionStorage.removeItem(KEY);
        }
    }

    headers(extra) {
        const h = Object.assign({}, extra);
        if (this.key) {
            h['X-Api-Key'] = this.key;
        }
        return h;
    }

    /* a request; on a refused key, asks for one and tries again */
    async send(url, init, parse) {
        for (let attempt = 0; ; attempt++) {
            const r = await fetch(url, Object.assign({}, init, {
                headers: this.headers(init.headers),
                credentials: 'same-origin',
                cache: 'no-store',
            }));
            const body = await parse(r);
            const type = body && (body.__type || body.error);
            if ((r.status === 401 || r.status === 403 || AUTH_TYPES.has(type))
                && attempt < 3)
            {
                await this.askKey(attempt > 0 || !!this.key);
                continue;
            }
            if (!r.ok) {
                throw new ApiError(type || String(r.status),
                                   (body && body.message) || r.statusText,
                                   r.status);
            }
            return body;
        }
    }

    aws(op, body) {
        return this.send(this.config.awsApi, {
            method: 'POST',
            headers: {
                'Content-Type': 'application/x-amz-json-1.0',
                'X-Amz-Target': 'AWSStepFunctions.' + op,
            },
            body: JSON.stringify(body || {}),
        }, async (r) => {
            const text = await r.text();
            try {
                return JSON.parse(text);
            } catch (e) {
                return { __type: String(r.status), message: text.slice(0, 200) };
            }
        });
    }

    /* the REST describe: current state and the running task's progress */
    describe(arnOrName) {
        return this.send(this.config.api + arnOrName, { method: 'GET' },
                         async (r) => r.json().catch(() => null));
    }

    /*
     * every event of an execution, page by page, through the server's own
     * tokens (never parsed)
     */
    async history(arn) {
        const events = [];
        let token;
        do {
            const page = await this.aws('GetExecutionHistory', {
                executionArn: arn, maxResults: 1000, nextToken: token,
            });
            events.push(...(page.events || []));
            token = page.nextToken;
        } while (token);
        return events;
    }

    /*
     * the events after the last one known: newest first, small pages,
     * until a page reaches a known id; so a refresh costs what is new
     */
    async historySince(arn, lastId) {
        const fresh = [];
        let token;
        for (;;) {
            const page = await this.aws('GetExecutionHistory', {
                executionArn: arn, maxResults: 100, reverseOrder: true,
                nextToken: token,
            });
            const evs = page.events || [];
            for (const ev of evs) {
                if (ev.id <= lastId) {
                    return fresh.reverse();
                }
                fresh.push(ev);
            }
            token = page.nextToken;
            if (!token) {
                return fresh.reverse();
            }
        }
    }

    /* the origin URL of a key of the output bucket, or an absolute URL */
    origin(key) {
        if (/^[a-z]+:\/\//.test(key) || key.startsWith('/')) {
            return key;
        }
        return this.config.origin.replace(/\/?$/, '/') + key;
    }
}

export async function loadConfig() {
    const r = await fetch('config.json', { cache: 'no-store' });
    if (!r.ok) {
        throw new Error('config.json: ' + r.status);
    }
    return r.json();
}
