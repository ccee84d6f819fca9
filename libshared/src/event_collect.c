/* POST /collect bodies from the browser snippet (oa_event_parse_collect in oa/event.h).
 * The route is silent, so the first problem ends the parse: the event is dropped as
 * invalid and the message only feeds metrics and debugging. Unknown members are
 * ignored; null counts as absent for the optional ones. */
#include "event_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oa/entity.h"

enum {
        F_SITE_ID, F_TYPE, F_NAME, F_URL, F_REFERRER, F_TITLE, F_SCREEN_WIDTH, F_PROPS,
        F_REVENUE, N_FIELDS,
};

static const oa_evp_name fields[N_FIELDS] = {
        [F_SITE_ID] = OA_EVP_NAME("site_id"), [F_TYPE] = OA_EVP_NAME("type"),
        [F_NAME] = OA_EVP_NAME("name"), [F_URL] = OA_EVP_NAME("url"),
        [F_REFERRER] = OA_EVP_NAME("referrer"), [F_TITLE] = OA_EVP_NAME("title"),
        [F_SCREEN_WIDTH] = OA_EVP_NAME("screen_width"), [F_PROPS] = OA_EVP_NAME("props"),
        [F_REVENUE] = OA_EVP_NAME("revenue"),
};

/* revenue: {"amount": number, "currency": "EUR"}, both required. */
static bool revenue(oa_evp *p, oa_ej_tok t) {
        oa_ej *j = p->j;
        Oa__Revenue *rev;
        bool have_amount = false, have_currency = false;

        if (t != OA_EJ_OBJ) {
                oa_evp_fail(p, "revenue", "must be an object with amount and currency");
                oa_ej_skip(j, t);
                return false;
        }
        rev = oa_arena_alloc(p->a, sizeof(*rev));
        if (!rev) {
                p->nomem = true;
                oa_evp_skip_rest(j);
                return false;
        }
        oa__revenue__init(rev);
        while ((t = oa_ej_next(j)) == OA_EJ_KEY) {
                bool amount = j->slen == 6 && memcmp(j->str, "amount", 6) == 0;
                bool currency = j->slen == 8 && memcmp(j->str, "currency", 8) == 0;
                bool ok = true;

                if ((amount && have_amount) || (currency && have_currency)) {
                        oa_evp_fail(p, amount ? "revenue.amount" : "revenue.currency", "duplicate field");
                        ok = false;
                }
                t = oa_ej_next(j);
                if (!ok)
                        oa_ej_skip(j, t);
                else if (amount)
                        ok = have_amount = oa_evp_number(p, t, "revenue.amount", &rev->amount);
                else if (currency)
                        ok = have_currency = oa_evp_currency(p, t, "revenue.currency", &rev->currency);
                else
                        oa_ej_skip(j, t);
                if (!ok) {
                        oa_evp_skip_rest(j);
                        return false;
                }
        }
        if (t != OA_EJ_OBJ_END)
                return false;
        if (!have_amount || !have_currency) {
                oa_evp_fail(p, have_amount ? "revenue.currency" : "revenue.amount", "required");
                return false;
        }
        p->ev->revenue = rev;
        return true;
}

static bool field(oa_evp *p, int f, oa_ej_tok t) {
        Oa__Event *ev = p->ev;
        oa_ej *j = p->j;
        int64_t w;
        bool over;

        if (t == OA_EJ_NULL && f != F_SITE_ID && f != F_TYPE && f != F_URL)
                return true;
        switch (f) {
        case F_SITE_ID:
                if (t == OA_EJ_STR && !oa_entity_id_ok(OA_ENTITY_SITE, j->str, j->slen)) {
                        oa_evp_fail(p, "site_id", "must be a site id (site_ and 20 letters or digits)");
                        return false;
                }
                return oa_evp_string_dup(p, t, "site_id", OA_ENTITY_ID_MAX, OA_EVP_IDENT, &ev->site_id);
        case F_TYPE:
                if (t == OA_EJ_STR && !(j->slen == 8 && memcmp(j->str, "pageview", 8) == 0) &&
                    !(j->slen == 5 && memcmp(j->str, "event", 5) == 0)) {
                        oa_evp_fail(p, "type", "must be pageview or event");
                        return false;
                }
                return oa_evp_string_dup(p, t, "type", 8, OA_EVP_IDENT, &ev->event_type);
        case F_NAME:
                return oa_evp_string_dup(p, t, "name", OA_EVENT_MAX_NAME, OA_EVP_IDENT, &ev->event_name);
        case F_URL:
                return oa_evp_url(p, t, "url", &ev->url);
        case F_REFERRER:
                return oa_evp_string_dup(p, t, "referrer", OA_EVENT_MAX_URL, OA_EVP_IDENT, &ev->referrer);
        case F_TITLE:
                return oa_evp_string_dup(p, t, "title", OA_EVENT_MAX_TITLE, OA_EVP_FREE, &ev->title);
        case F_SCREEN_WIDTH:
                if (!oa_evp_integer(j, t, &w, &over) || over || w < 0 || w > OA_EVENT_MAX_SCREEN_WIDTH) {
                        oa_evp_fail(p, "screen_width", "must be an integer from 0 to %d", OA_EVENT_MAX_SCREEN_WIDTH);
                        oa_ej_skip(j, t);
                        return false;
                }
                ev->screen_width = (uint32_t) w;
                return true;
        case F_PROPS:
                return oa_evp_props(p, t, "props", OA_EVENT_COLLECT_MAX_PROPS, OA_EVENT_COLLECT_MAX_PROP_VALUE, true);
        case F_REVENUE:
                return revenue(p, t);
        default:
                return false;
        }
}

static int body_error(oa_ej *j, oa_ej_tok t, char *errbuf, size_t errlen) {
        if (t == OA_EJ_ERROR)
                snprintf(errbuf, errlen, "body: malformed JSON at byte %zu: %s", j->err_off, j->err);
        else
                snprintf(errbuf, errlen, "body: must be a JSON object");
        return -EINVAL;
}

/* Read the members of the object just opened; stop at the first problem. */
static int members(oa_evp *p) {
        oa_ej *j = p->j;
        unsigned seen = 0;
        oa_ej_tok t;

        while ((t = oa_ej_next(j)) == OA_EJ_KEY) {
                int f = (j->flags & OA_EJ_BAD_UTF8) ? -1 : oa_evp_field(fields, N_FIELDS, j->str, j->slen);

                t = oa_ej_next(j);
                if (f < 0) {
                        if (oa_ej_skip(j, t) == OA_EJ_ERROR)
                                return -EINVAL;
                        continue;
                }
                if (seen & 1u << f) {
                        oa_evp_fail(p, fields[f].name, "duplicate field");
                        return -EINVAL;
                }
                seen |= 1u << f;
                if (!field(p, f, t))
                        return p->nomem ? -ENOMEM : -EINVAL;
        }
        if (t != OA_EJ_OBJ_END)
                return -EINVAL;
        if (!(seen & 1u << F_SITE_ID) || !*p->ev->site_id)
                oa_evp_fail(p, "site_id", "required");
        else if (!(seen & 1u << F_TYPE) || !*p->ev->event_type)
                oa_evp_fail(p, "type", "required");
        else if (!*p->ev->url)
                oa_evp_fail(p, "url", "required");
        else if (strcmp(p->ev->event_type, "event") == 0 && !*p->ev->event_name)
                oa_evp_fail(p, "name", "required when type is event");
        return p->err[0] ? -EINVAL : 0;
}

int oa_event_parse_collect(const void *body, size_t len, oa_arena *a, Oa__Event **ret_ev,
                           char *errbuf, size_t errlen) {
        oa_ej j;
        oa_evp p;
        oa_ej_tok t;
        int r;

        if (len > OA_EVENT_COLLECT_MAX_BODY) {
                snprintf(errbuf, errlen, "body: larger than %d bytes", OA_EVENT_COLLECT_MAX_BODY);
                return -E2BIG;
        }
        oa_ej_init(&j, body, len);
        if (!oa_evp_begin(&p, &j, a, OA__EVENT_SOURCE__EVENT_SOURCE_COLLECT))
                return -ENOMEM;
        t = oa_ej_next(&j);
        if (t != OA_EJ_OBJ)
                return body_error(&j, t, errbuf, errlen);
        r = members(&p);
        if (r == -ENOMEM)
                return r;
        if (j.err)
                return body_error(&j, OA_EJ_ERROR, errbuf, errlen);
        if (r < 0) {
                snprintf(errbuf, errlen, "%s", p.err);
                return r;
        }
        t = oa_ej_next(&j);
        if (t != OA_EJ_END)
                return body_error(&j, t, errbuf, errlen);
        *ret_ev = p.ev;
        return 0;
}
