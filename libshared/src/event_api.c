/* POST /v1/projects/{id}/events bodies (oa_event_parse_api in oa/event.h): one event
 * object, or {"events": [...]} (a bare array too). Each event is judged on its own: its
 * first problem rejects it with a "<field>: <reason>" message while the rest of it is
 * only scanned. What makes the whole request unusable (malformed JSON, a wrong shape,
 * no event, too many, too big) is one request-level error. Unknown members are ignored
 * and never reach the event; null counts as absent, and so does "" for optional
 * strings. The root object may be an event or the envelope: it is read as an event
 * until an "events" member shows it is the envelope, then what it held is dropped. */
#include "event_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "oa/uuid.h"

enum {
        F_EVENT_TYPE, F_EVENT_NAME, F_USER_ID, F_URL, F_PROPERTIES, F_REVENUE, F_CURRENCY,
        F_TIMESTAMP, F_EVENT_ID, F_IP, F_USER_AGENT, F_REFERRER, N_FIELDS,
};

static const oa_evp_name fields[N_FIELDS] = {
        [F_EVENT_TYPE] = OA_EVP_NAME("event_type"), [F_EVENT_NAME] = OA_EVP_NAME("event_name"),
        [F_USER_ID] = OA_EVP_NAME("user_id"), [F_URL] = OA_EVP_NAME("url"),
        [F_PROPERTIES] = OA_EVP_NAME("properties"), [F_REVENUE] = OA_EVP_NAME("revenue"),
        [F_CURRENCY] = OA_EVP_NAME("currency"), [F_TIMESTAMP] = OA_EVP_NAME("timestamp"),
        [F_EVENT_ID] = OA_EVP_NAME("event_id"), [F_IP] = OA_EVP_NAME("ip"),
        [F_USER_AGENT] = OA_EVP_NAME("user_agent"), [F_REFERRER] = OA_EVP_NAME("referrer"),
};

typedef struct api {
        oa_ej j;
        const oa_event_api_opts *o;
        oa_arena *a;
        oa_event_batch *b;
        char *errbuf;
        size_t errlen;
} api;

void oa_event_api_opts_default(oa_event_api_opts *o, int64_t now_ms) {
        o->now_ms = now_ms;
        o->past_ms = OA_EVENT_API_PAST_MS;
        o->future_ms = OA_EVENT_API_FUTURE_MS;
        o->max_body = OA_EVENT_API_MAX_BODY;
        o->max_events = OA_EVENT_API_MAX_EVENTS;
        o->max_event_bytes = OA_EVENT_API_MAX_EVENT_BYTES;
}

/* A request-level error: -EINVAL with the message in errbuf. */
__attribute__((format(printf, 2, 3)))
static int request_error(api *c, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->errbuf, c->errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static int malformed(api *c) {
        snprintf(c->errbuf, c->errlen, "body: malformed JSON at byte %zu: %s", c->j.err_off,
                 c->j.err ? c->j.err : "unexpected token");
        return -EINVAL;
}

/* "31 days", "1 hour", "10 minutes", "90 seconds" or "1500 ms" */
static void duration(int64_t ms, char *buf, size_t len) {
        static const struct { int64_t ms; const char *unit; } units[] = {
                { 86400000, "day" }, { 3600000, "hour" }, { 60000, "minute" }, { 1000, "second" },
        };

        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (ms != 0 && ms % units[i].ms == 0) {
                        long long v = (long long) (ms / units[i].ms);

                        snprintf(buf, len, "%lld %s%s", v, units[i].unit, v == 1 ? "" : "s");
                        return;
                }
        }
        snprintf(buf, len, "%lld ms", (long long) ms);
}

static bool timestamp(oa_evp *p, oa_ej_tok t, const oa_event_api_opts *o) {
        char d[32];
        int64_t ts;
        bool over;

        if (!oa_evp_integer(p->j, t, &ts, &over)) {
                oa_evp_fail(p, "timestamp", "must be an integer (Unix milliseconds)");
                oa_ej_skip(p->j, t);
                return false;
        }
        if (!over && ts >= 1000000000 && ts < 10000000000) {
                oa_evp_fail(p, "timestamp", "looks like Unix seconds; send Unix milliseconds");
                return false;
        }
        if (over || ts < o->now_ms - o->past_ms) {
                duration(o->past_ms, d, sizeof(d));
                oa_evp_fail(p, "timestamp", "must not be more than %s in the past", d);
                return false;
        }
        if (ts > o->now_ms + o->future_ms) {
                duration(o->future_ms, d, sizeof(d));
                oa_evp_fail(p, "timestamp", "must not be more than %s in the future", d);
                return false;
        }
        p->ev->timestamp_ms = ts;
        return true;
}

static bool event_type(oa_evp *p, oa_ej_tok t) {
        oa_ej *j = p->j;
        bool ok = t == OA_EJ_STR && j->slen >= 1 && j->slen <= OA_EVENT_MAX_TYPE;

        for (size_t i = 0; ok && i < j->slen; i++)
                ok = (j->str[i] >= 'a' && j->str[i] <= 'z') || j->str[i] == '_';
        if (!ok) {
                if (t != OA_EJ_STR)
                        return oa_evp_string(p, t, "event_type", 0, OA_EVP_IDENT);
                oa_evp_fail(p, "event_type", "must be pageview, event, conversion or a custom name "
                            "of 1 to 32 characters a-z and _");
                return false;
        }
        return oa_evp_string_dup(p, t, "event_type", OA_EVENT_MAX_TYPE, OA_EVP_IDENT, &p->ev->event_type);
}

/* Fields whose value is a string that "" leaves absent. */
static bool empty_string(const oa_ej *j, oa_ej_tok t, int f) {
        return t == OA_EJ_STR && j->slen == 0 && f != F_EVENT_TYPE && f != F_CURRENCY;
}

static bool field(api *c, oa_evp *p, int f, oa_ej_tok t, char **currency) {
        Oa__Event *ev = p->ev;
        oa_ej *j = p->j;
        char buf[OA_EVENT_IP_MAX > OA_UUID_LEN + 1 ? OA_EVENT_IP_MAX : OA_UUID_LEN + 1];

        switch (f) {
        case F_EVENT_TYPE:
                return event_type(p, t);
        case F_EVENT_NAME:
                return oa_evp_string_dup(p, t, "event_name", OA_EVENT_MAX_NAME, OA_EVP_IDENT, &ev->event_name);
        case F_USER_ID:
                return oa_evp_string_dup(p, t, "user_id", OA_EVENT_MAX_USER_ID, OA_EVP_IDENT, &ev->user_id);
        case F_URL:
                return oa_evp_url(p, t, "url", &ev->url);
        case F_PROPERTIES:
                return oa_evp_props(p, t, "properties", OA_EVENT_API_MAX_PROPS, OA_EVENT_API_MAX_PROP_VALUE, false);
        case F_REVENUE:
                ev->revenue = oa_arena_alloc(p->a, sizeof(*ev->revenue));
                if (!ev->revenue) {
                        p->nomem = true;
                        oa_ej_skip(j, t);
                        return false;
                }
                oa__revenue__init(ev->revenue);
                return oa_evp_number(p, t, "revenue", &ev->revenue->amount);
        case F_CURRENCY:
                return oa_evp_currency(p, t, "currency", currency);
        case F_TIMESTAMP:
                return timestamp(p, t, c->o);
        case F_EVENT_ID:
                if (!oa_evp_string(p, t, "event_id", OA_UUID_LEN, OA_EVP_IDENT))
                        return false;
                if (oa_uuid_normalize(j->str, j->slen, buf) < 0) {
                        oa_evp_fail(p, "event_id", "must be a UUID such as 0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7b "
                                    "(not the nil UUID)");
                        return false;
                }
                ev->event_id = oa_arena_strndup(p->a, buf, OA_UUID_LEN);
                break;
        case F_IP:
                if (!oa_evp_string(p, t, "ip", OA_EVENT_IP_MAX, OA_EVP_IDENT))
                        return false;
                if (oa_event_ip_normalize(j->str, j->slen, buf) < 0) {
                        oa_evp_fail(p, "ip", "must be an IPv4 or IPv6 address");
                        return false;
                }
                ev->ip = oa_arena_strndup(p->a, buf, strlen(buf));
                break;
        case F_USER_AGENT:
                return oa_evp_string_dup(p, t, "user_agent", OA_EVENT_MAX_USER_AGENT, OA_EVP_IDENT, &ev->user_agent);
        case F_REFERRER:
                return oa_evp_string_dup(p, t, "referrer", OA_EVENT_MAX_URL, OA_EVP_IDENT, &ev->referrer);
        default:
                return false;
        }
        if (!ev->event_id || !ev->ip)
                p->nomem = true;
        return !p->nomem;
}

/* The rules between fields, once all are read. */
static void finish(api *c, oa_evp *p, const char *currency, unsigned seen) {
        Oa__Event *ev = p->ev;

        if (p->err[0])
                return;
        if (!*ev->event_type) {
                oa_evp_fail(p, "event_type", "required");
                return;
        }
        if (!*ev->event_name && (strcmp(ev->event_type, "event") == 0 || strcmp(ev->event_type, "conversion") == 0)) {
                oa_evp_fail(p, "event_name", "required when event_type is %s", ev->event_type);
                return;
        }
        if (!*ev->url && strcmp(ev->event_type, "pageview") == 0) {
                oa_evp_fail(p, "url", "required when event_type is pageview");
                return;
        }
        if (ev->revenue && !currency) {
                oa_evp_fail(p, "currency", "required when revenue is given");
                return;
        }
        if (currency && !ev->revenue) {
                oa_evp_fail(p, "revenue", "required when currency is given");
                return;
        }
        if (ev->revenue)
                ev->revenue->currency = (char *) currency;
        if (!(seen & 1u << F_TIMESTAMP) || ev->timestamp_ms == 0)
                ev->timestamp_ms = c->o->now_ms;
}

static int parse_array(api *c);

/* Read the event object just opened into *item. At the root, an "events" member turns
 * the object into the envelope. Returns 0 or a request-level error. */
static int parse_event(api *c, oa_event_item *item, bool root) {
        oa_ej *j = &c->j;
        size_t start = j->tok_off;
        char *currency = NULL;
        unsigned seen = 0;
        oa_ej_tok t;
        oa_evp p;

        if (!oa_evp_begin(&p, j, c->a, OA__EVENT_SOURCE__EVENT_SOURCE_API))
                return -ENOMEM;
        while ((t = oa_ej_next(j)) == OA_EJ_KEY) {
                int f = (j->flags & OA_EJ_BAD_UTF8) ? -1 : oa_evp_field(fields, N_FIELDS, j->str, j->slen);
                bool envelope = root && j->slen == 6 && memcmp(j->str, "events", 6) == 0;

                t = oa_ej_next(j);
                if (envelope) {
                        int r;

                        if (c->b->is_batch)
                                return request_error(c, "events: duplicate field");
                        if (t != OA_EJ_ARR)
                                return t == OA_EJ_ERROR ? malformed(c)
                                       : request_error(c, "events: must be an array of event objects");
                        r = parse_array(c);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (f < 0 || p.err[0] || (root && c->b->is_batch)) {
                        if (oa_ej_skip(j, t) == OA_EJ_ERROR)
                                return malformed(c);
                        continue;
                }
                if (seen & 1u << f) {
                        oa_evp_fail(&p, fields[f].name, "duplicate field");
                        oa_ej_skip(j, t);
                        continue;
                }
                seen |= 1u << f;
                if (t == OA_EJ_NULL || empty_string(j, t, f))
                        continue;
                if (!field(c, &p, f, t, &currency) && p.nomem)
                        return -ENOMEM;
        }
        if (t != OA_EJ_OBJ_END)
                return malformed(c);
        if (root && c->b->is_batch)
                return 0;
        if (!p.err[0] && j->pos - start > c->o->max_event_bytes)
                oa_evp_fail(&p, "event", "larger than %zu bytes", c->o->max_event_bytes);
        finish(c, &p, currency, seen);
        if (p.err[0]) {
                item->ev = NULL;
                item->error = oa_arena_strndup(c->a, p.err, strlen(p.err));
                if (!item->error)
                        return -ENOMEM;
        } else {
                item->ev = p.ev;
                item->error = NULL;
                c->b->n_accepted++;
        }
        return 0;
}

/* Read the array of events just opened. */
static int parse_array(api *c) {
        oa_event_batch *b = c->b;
        oa_ej_tok t;

        b->is_batch = true;
        b->n = 0;
        b->n_accepted = 0;
        b->items = oa_arena_alloc(c->a, c->o->max_events * sizeof(*b->items));
        if (!b->items)
                return -ENOMEM;
        while ((t = oa_ej_next(&c->j)) != OA_EJ_ARR_END) {
                oa_event_item *item;
                int r;

                if (t == OA_EJ_ERROR)
                        return malformed(c);
                if (b->n == c->o->max_events)
                        return request_error(c, "events: at most %zu events per request", c->o->max_events);
                item = &b->items[b->n++];
                if (t == OA_EJ_OBJ) {
                        r = parse_event(c, item, false);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (oa_ej_skip(&c->j, t) == OA_EJ_ERROR)
                        return malformed(c);
                item->ev = NULL;
                item->error = "event: must be a JSON object";
        }
        if (b->n == 0)
                return request_error(c, "events: must hold at least one event");
        return 0;
}

int oa_event_parse_api(const void *body, size_t len, const oa_event_api_opts *o, oa_arena *a,
                       oa_event_batch *ret, char *errbuf, size_t errlen) {
        oa_event_batch b = { 0 };
        oa_event_item *one;
        oa_ej_tok t;
        api *c;
        int r;

        if (len > o->max_body) {
                snprintf(errbuf, errlen, "body: larger than %zu bytes", o->max_body);
                return -E2BIG;
        }
        /* the tokenizer's scratch makes this too big for a small stack */
        c = oa_arena_alloc(a, sizeof(*c));
        one = oa_arena_alloc(a, sizeof(*one));
        if (!c || !one)
                return -ENOMEM;
        oa_ej_init(&c->j, body, len);
        c->o = o;
        c->a = a;
        c->b = &b;
        c->errbuf = errbuf;
        c->errlen = errlen;
        t = oa_ej_next(&c->j);
        if (t == OA_EJ_OBJ) {
                r = parse_event(c, one, true);
                if (r == 0 && !b.is_batch) {
                        b.n = 1;
                        b.items = one;
                }
        } else if (t == OA_EJ_ARR) {
                r = parse_array(c);
        } else if (t == OA_EJ_ERROR) {
                r = malformed(c);
        } else {
                r = request_error(c, "body: must be an event object or {\"events\": [...]}");
        }
        if (r < 0)
                return r;
        t = oa_ej_next(&c->j);
        if (t != OA_EJ_END)
                return malformed(c);
        *ret = b;
        return 0;
}
