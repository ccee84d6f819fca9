#!/usr/bin/env node
// Issue 6: the OpenAPI document oa-query serves "imports cleanly into Postman, Insomnia and
// Bruno". This runs the converters those apps import OpenAPI with (package.json pins them;
// README.md says which app uses which) on the built document and checks, for each:
//   - the conversion succeeds and the converter prints nothing (Insomnia's importer only logs
//     a failed validation and goes on with an unresolved document; Bruno logs before throwing);
//   - every path + method of the document is one request of the result, and nothing else is;
//   - the Bearer scheme is carried over: the operations that need it send a Bearer token, and
//     the public ones (security [{}]) send none where the tool can say so (Postman, Insomnia;
//     Bruno's converter lets every request inherit the collection's auth);
//   - path parameters, the server URL and JSON request bodies survive (a body that is not
//     JSON, or is null, would be sent as is and answered 400).
// Usage: node test_import.js [openapi.json] (default: build/services/query/openapi.json).
// Needs tests/openapi_import/node_modules (compose/local/install.sh runs `npm ci` there).
'use strict';

const fs = require('fs');
const path = require('path');

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function loadConverters() {
        try {
                return {
                        postman: require('openapi-to-postmanv2'),
                        postmanSdk: require('postman-collection'),
                        insomnia: require('insomnia-importers'),
                        bruno: require('@usebruno/converters'),
                };
        } catch (e) {
                console.error(`not ok - the converters are not installed (${e.message.split('\n')[0]}):\n` +
                        `  run compose/local/install.sh (npm ci in ${__dirname})`);
                process.exit(1);
        }
}

// The operations of the document: "METHOD /path" -> { params, auth: 'bearer' | 'none' }.
function expectedOperations(doc) {
        const schemes = (doc.components && doc.components.securitySchemes) || {};
        const isBearer = name => schemes[name] && schemes[name].type === 'http' &&
                String(schemes[name].scheme).toLowerCase() === 'bearer';
        const ops = new Map();
        for (const [p, item] of Object.entries(doc.paths || {})) {
                for (const m of METHODS) {
                        const op = item[m];
                        if (!op)
                                continue;
                        const security = op.security || doc.security || [];
                        // anonymous when nothing is required or one alternative is empty
                        const anonymous = security.length === 0 || security.some(r => Object.keys(r).length === 0);
                        if (!anonymous && !security.every(r => Object.keys(r).some(isBearer)))
                                throw new Error(`${m.toUpperCase()} ${p}: a security scheme this test does not know`);
                        ops.set(`${m.toUpperCase()} ${p}`, {
                                params: [...p.matchAll(/{([^}]+)}/g)].map(x => x[1]),
                                auth: anonymous ? 'none' : 'bearer',
                        });
                }
        }
        return ops;
}

// Runs fn with console.* captured; returns [result, lines printed].
async function quietly(fn) {
        const saved = {}, lines = [];
        for (const k of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
                saved[k] = console[k];
                console[k] = (...args) => lines.push(args.map(a => a instanceof Error ? a.message :
                        typeof a === 'string' ? a : JSON.stringify(a)).join(' '));
        }
        try {
                return [await fn(), lines];
        } finally {
                Object.assign(console, saved);
        }
}

// One tool's findings: problems are collected, never thrown, so one run reports them all.
class Report {
        constructor(name) {
                this.name = name;
                this.problems = [];
                this.notes = [];
                this.bodies = 0;
        }
        check(cond, msg) {
                if (!cond)
                        this.problems.push(msg);
                return cond;
        }
        // requests: "METHOD /path" -> { auth: 'bearer' | 'none' | <other>, params: [...] }
        compare(expected, requests, authSupportsNone) {
                for (const key of expected.keys())
                        this.check(requests.has(key), `missing request ${key}`);
                for (const key of requests.keys())
                        this.check(expected.has(key), `request ${key} is not in the document`);
                let bearer = 0, none = 0;
                for (const [key, want] of expected) {
                        const got = requests.get(key);
                        if (!got)
                                continue;
                        for (const p of want.params)
                                this.check(got.params.includes(p), `${key}: path parameter ${p} lost`);
                        if (want.auth === 'bearer')
                                bearer += this.check(got.auth === 'bearer', `${key}: auth ${got.auth}, not Bearer`);
                        else if (authSupportsNone)
                                none += this.check(got.auth === 'none', `${key}: auth ${got.auth} on a public route`);
                }
                this.notes.push(`${requests.size} requests`, `Bearer on ${bearer}`);
                if (authSupportsNone)
                        this.notes.push(`no auth on ${none}`);
                this.notes.push(`${this.bodies} JSON bodies`);
        }
        jsonBody(key, text) {
                let v;
                this.bodies++;
                try {
                        v = JSON.parse(text);
                } catch (e) {
                        return this.check(false, `${key}: JSON body does not parse (${e.message})`);
                }
                return this.check(v !== null && typeof v === 'object', `${key}: JSON body is ${text}`);
        }
        print() {
                if (this.problems.length === 0) {
                        console.log(`ok - ${this.name}: ${this.notes.join(', ')}`);
                        return true;
                }
                console.log(`not ok - ${this.name}`);
                for (const p of this.problems)
                        console.log(`  ${p}`);
                return false;
        }
}

// Postman: openapi-to-postmanv2's v2 interface, once per folder strategy of its import dialog;
// the collection is then loaded with Postman's collection SDK as the app does.
async function checkPostman(conv, doc, ops, folderStrategy) {
        const r = new Report(`Postman (openapi-to-postmanv2, folders by ${folderStrategy})`);
        const [res, printed] = await quietly(() => new Promise((resolve, reject) =>
                conv.postman.convertV2({ type: 'json', data: structuredClone(doc) },
                        { folderStrategy }, (err, out) => err ? reject(err) : resolve(out))));
        r.check(printed.length === 0, `printed: ${printed.join(' | ')}`);
        if (!r.check(res.result, `conversion failed: ${res.reason}`))
                return r;
        const data = res.output[0].data;
        const coll = new conv.postmanSdk.Collection(data);
        const base = coll.variables.get('baseUrl');
        r.check(base === doc.servers[0].url, `baseUrl is ${base}, not ${doc.servers[0].url}`);
        const auth = coll.auth && coll.auth.parameters().get('token');
        r.check(coll.auth && coll.auth.type === 'bearer' && auth, 'the collection has no Bearer auth');
        const requests = new Map();
        coll.forEachItem(item => {
                const req = item.request;
                const p = req.url.getPath(true).replace(/\/:([^/]+)/g, '/{$1}');
                const key = `${req.method} ${p}`;
                r.check(!requests.has(key), `request ${key} twice`);
                const a = item.getAuth();
                requests.set(key, {
                        auth: !a || a.type === 'noauth' ? 'none' : a.type,
                        params: req.url.variables.map(v => v.key),
                });
                if (req.body && req.body.mode === 'raw' && req.headers.get('Content-Type') === 'application/json')
                        r.jsonBody(key, req.body.raw);
        });
        r.compare(ops, requests, true);
        return r;
}

// Insomnia: the OpenAPI 3 importer of insomnia-importers (the app's own copy of it runs the
// same code with @apidevtools/swagger-parser 10.1.1, pinned here by "overrides").
async function checkInsomnia(conv, raw, ops) {
        const r = new Report('Insomnia (insomnia-importers, openapi3)');
        const [res, printed] = await quietly(() => conv.insomnia.convert(raw));
        r.check(printed.length === 0, `printed: ${printed.join(' | ')}`);
        if (!r.check(res && res.type.id === 'openapi3', `imported as ${res && res.type.id}, not openapi3`))
                return r;
        const resources = res.data.resources;
        const host = new URL(JSON.parse(raw).servers[0].url).host;
        r.check(resources.some(x => x._type === 'environment' && x.data && x.data.host === host &&
                'bearerToken' in x.data), `no environment with host ${host} and a bearerToken`);
        const requests = new Map();
        for (const x of resources.filter(x => x._type === 'request')) {
                // the importer writes {{ _.name }}; convert() leaves {{ name }}
                const base = /^{{ (_\.)?base_url }}(?=\/)/;
                r.check(base.test(x.url), `${x.method} ${x.url}: not under base_url`);
                const p = x.url.replace(base, '').replace(/{{ (?:_\.)?([^ }]+) }}/g, '{$1}');
                const key = `${x.method} ${p}`;
                r.check(!requests.has(key), `request ${key} twice`);
                const a = x.authentication || {};
                requests.set(key, {
                        auth: !a.type ? 'none' : a.type === 'bearer' && /bearerToken/.test(a.token) ? 'bearer' : a.type,
                        params: [...p.matchAll(/{([^}]+)}/g)].map(m => m[1]),
                });
                if (x.body && x.body.mimeType === 'application/json')
                        r.jsonBody(key, x.body.text);
        }
        r.compare(ops, requests, true);
        return r;
}

// Bruno: openApiToBruno of @usebruno/converters, which also validates the collection against
// Bruno's schema (it throws when that fails).
async function checkBruno(conv, doc, ops) {
        const r = new Report('Bruno (@usebruno/converters, openApiToBruno)');
        let coll, printed;
        try {
                [coll, printed] = await quietly(() => conv.bruno.openApiToBruno(structuredClone(doc)));
        } catch (e) {
                r.check(false, `conversion failed: ${e.message}`);
                return r;
        }
        r.check(printed.length === 0, `printed: ${printed.join(' | ')}`);
        const envs = coll.environments || [];
        r.check(envs.some(e => e.variables.some(v => v.name === 'baseUrl' && v.value === doc.servers[0].url)),
                `no environment with baseUrl ${doc.servers[0].url}`);
        const rootAuth = coll.root && coll.root.request && coll.root.request.auth;
        r.check(rootAuth && rootAuth.mode === 'bearer' && rootAuth.bearer && rootAuth.bearer.token,
                'the collection has no Bearer auth');
        const requests = new Map();
        const walk = (items, inherited) => {
                for (const it of items) {
                        if (it.type === 'folder') {
                                const fa = it.root && it.root.request && it.root.request.auth;
                                walk(it.items || [], fa && fa.mode !== 'inherit' ? fa.mode : inherited);
                                continue;
                        }
                        const req = it.request;
                        r.check(req.url.startsWith('{{baseUrl}}/'), `${req.method} ${req.url}: not under baseUrl`);
                        const p = req.url.replace('{{baseUrl}}', '').replace(/\/:([^/]+)/g, '/{$1}');
                        const key = `${req.method} ${p}`;
                        r.check(!requests.has(key), `request ${key} twice`);
                        const mode = req.auth.mode === 'inherit' ? inherited : req.auth.mode;
                        requests.set(key, {
                                auth: mode === 'none' ? 'none' : mode,
                                params: req.params.filter(x => x.type === 'path').map(x => x.name),
                        });
                        if (req.body.mode === 'json')
                                r.jsonBody(key, req.body.json);
                }
        };
        walk(coll.items || [], rootAuth ? rootAuth.mode : 'none');
        r.compare(ops, requests, false);
        return r;
}

async function main() {
        const file = process.argv[2] ||
                path.join(__dirname, '..', '..', 'build', 'services', 'query', 'openapi.json');
        const raw = fs.readFileSync(file, 'utf8');
        const doc = JSON.parse(raw);
        const ops = expectedOperations(doc);
        if (ops.size === 0 || !doc.servers || !doc.servers[0]) {
                console.log(`not ok - ${file}: no operations or no server`);
                return 1;
        }
        console.log(`# ${file}: OpenAPI ${doc.openapi}, ${ops.size} operations`);
        const conv = loadConverters();
        const reports = [
                await checkPostman(conv, doc, ops, 'Paths'),
                await checkPostman(conv, doc, ops, 'Tags'),
                await checkInsomnia(conv, raw, ops),
                await checkBruno(conv, doc, ops),
        ];
        const ok = reports.map(r => r.print()).every(Boolean);
        return ok ? 0 : 1;
}

main().then(code => process.exit(code), e => {
        console.log(`not ok - ${e.stack || e}`);
        process.exit(1);
});
