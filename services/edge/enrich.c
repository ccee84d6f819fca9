/* From a parsed event to the bytes on oa.events.v1, and the per-site budget of /collect.
 *
 * Enrichment is oa_event_enrich (ids, times, visitor id, URL, UTM, referrer) plus the two
 * lookups that hold state: the User-Agent (uap-core's rules behind a cache; a /collect
 * request's was already parsed for the bot check) and the country of the IP (libloc).
 *
 * The per-site budget is a token bucket in Redis shared by every replica, but a Redis
 * round trip per event would cap the loop, so a replica leases a few tokens at once (a
 * twentieth of a second's worth) and spends them in process; unused tokens lapse after a
 * second, so a replica that stops seeing a site does not sit on its budget. */
#include "edge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_MS 1000
#define LEASES_MAX 100000

static char *dup_str(oa_arena *a, const char *s) {
        return oa_arena_strndup(a, s, strlen(s));
}

int oa_edge_enrich(oa_edge *e, Oa__Event *ev, const Oa__Project *p, const char *ip,
                   const char *user_agent, size_t ua_len, const oa_ua_result *ua,
                   int64_t now_ms, oa_arena *a) {
        oa_event_enrich_in in = {
                .project_id = p->id,
                .site_id = p->site_id,
                .now_ms = now_ms,
                .salt = e->salt.key,
                .ip = ip,
                .user_agent = user_agent,
                .user_agent_len = ua_len,
        };
        oa_ua_result parsed;
        char cc[3];
        int r;

        r = oa_event_enrich(ev, &in, a);
        if (r < 0)
                return r;
        if (!ev->site_id || !*ev->site_id) {
                /* server-side events name the project; carry its site too */
                ev->site_id = dup_str(a, p->site_id);
                if (!ev->site_id)
                        return -ENOMEM;
        }
        if (!ua && ev->user_agent && *ev->user_agent) {
                oa_ua_parse(e->ua, ev->user_agent, strlen(ev->user_agent), &parsed);
                ua = &parsed;
        }
        if (ua) {
                ev->browser = dup_str(a, ua->browser);
                ev->browser_version = dup_str(a, ua->version);
                ev->os = dup_str(a, ua->os);
                ev->os_version = dup_str(a, ua->os_version);
                ev->device = dup_str(a, ua->device);
                if (!ev->browser || !ev->browser_version || !ev->os || !ev->os_version || !ev->device)
                        return -ENOMEM;
        }
        if (ev->ip && *ev->ip && oa_geo_country(e->geo, ev->ip, cc) == 0) {
                ev->country = oa_arena_strndup(a, cc, strlen(cc));
                if (!ev->country)
                        return -ENOMEM;
        }
        return 0;
}

int oa_edge_encode(const Oa__Event *ev, oa_arena *a, uint8_t **ret_val, size_t *ret_vlen,
                   char **ret_key, size_t *ret_klen) {
        size_t cap = strlen(ev->project_id) + strlen(ev->visitor_id) + 2;
        char *key = oa_arena_alloc(a, cap);
        int n;

        if (!key)
                return -ENOMEM;
        n = oa_event_kafka_key(ev, key, cap);
        if (n < 0)
                return n;
        if (oa_event_pack(ev, a, ret_val, ret_vlen) < 0)
                return -ENOMEM;
        *ret_key = key;
        *ret_klen = (size_t) n;
        return 0;
}

/* ---- the per-site budget ---- */

void oa_edge_site_budget(const Oa__Account *a, long long scale, long long *ret_rate,
                         long long *ret_burst) {
        long long rate = oa_catalog_plan_limit(a) * (scale > 0 ? scale : 1);

        *ret_rate = rate > 0 ? rate : 1;
        *ret_burst = 2 * *ret_rate < 100 ? 100 : 2 * *ret_rate;
}

long long oa_edge_lease_size(long long rate) {
        long long n = rate / 20;

        return n < 1 ? 1 : n > 500 ? 500 : n;
}

static int free_lease(const void *k, size_t kl, void *v, void *ud) {
        free(v);
        return 0;
}

static oa_edge_lease *lease_of(oa_edge *e, const char *site) {
        size_t len = strlen(site);
        oa_edge_lease *l = oa_map_get(e->leases, site, len);

        if (l)
                return l;
        if (oa_map_size(e->leases) >= LEASES_MAX) {
                /* leases are only a cache of tokens: forgetting them costs their tokens */
                oa_map_foreach(e->leases, free_lease, NULL);
                oa_map_free(e->leases);
                e->leases = oa_map_new();
                if (!e->leases)
                        return NULL;
        }
        l = calloc(1, sizeof(*l));
        if (l && oa_map_put(e->leases, site, len, l, NULL) < 0) {
                free(l);
                l = NULL;
        }
        return l;
}

bool oa_edge_site_take(oa_edge *e, const Oa__Project *p, int64_t mono_ms) {
        const Oa__Account *acc = oa_catalog_account(oa_projects_catalog(e->projects), p->account_id);
        long long rate, burst, n;
        oa_edge_lease *l;
        oa_tb_result res;
        char id[96];

        l = e->leases ? lease_of(e, p->site_id) : NULL;
        if (l && l->tokens > 0 && mono_ms < l->until_ms) {
                l->tokens--;
                return true;
        }
        oa_edge_site_budget(acc, e->cfg->site_rate_scale, &rate, &burst);
        n = oa_edge_lease_size(rate);
        snprintf(id, sizeof(id), "site:%s", p->site_id);
        if (oa_tb_take(e->tb, id, rate, burst, n, &res) < 0)
                return true;    /* the limiter failed (memory): let the event through */
        /* Fewer than a lease left: take what is there. */
        if (!res.allowed && res.remaining > 0 && res.remaining < n) {
                n = res.remaining;
                if (oa_tb_take(e->tb, id, rate, burst, n, &res) < 0)
                        return true;
        }
        oa_edge_note_degraded(e);
        if (res.local)
                oa_metrics_counter_inc(e->m.site_local, 1);
        if (!res.allowed) {
                oa_metrics_counter_inc(e->m.site_limited, 1);
                return false;
        }
        if (l) {
                l->tokens = n - 1;
                l->until_ms = mono_ms + LEASE_MS;
        }
        return true;
}

void oa_edge_leases_free(oa_edge *e) {
        if (e->leases) {
                oa_map_foreach(e->leases, free_lease, NULL);
                oa_map_free(e->leases);
        }
        e->leases = NULL;
}
