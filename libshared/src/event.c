/* The event beyond parsing (oa/event.h): a new message, enrichment, the Kafka key and
 * decoding protobuf bytes (event_pack.c writes them). Enrichment is pure but for the
 * random bits of a new UUIDv7. */
#include "oa/event.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "oa/url.h"
#include "oa/uuid.h"
#include "oa/utf8.h"

Oa__Event *oa_event_new(oa_arena *a) {
        Oa__Event *ev = oa_arena_alloc(a, sizeof(*ev));

        if (!ev)
                return NULL;
        oa__event__init(ev);
        ev->version = 1;
        return ev;
}

int oa_event_ip_normalize(const char *s, size_t n, char *ret) {
        char in[OA_EVENT_IP_MAX];
        unsigned char addr[16];
        static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        if (!s || n == 0 || n >= sizeof(in) || memchr(s, '\0', n))
                return -EINVAL;
        memcpy(in, s, n);
        in[n] = '\0';
        if (inet_pton(AF_INET, in, addr) == 1) {
                /* inet_pton takes only the dotted quad, so this is already canonical */
                memcpy(ret, in, n + 1);
                return 0;
        }
        if (inet_pton(AF_INET6, in, addr) != 1)
                return -EINVAL;
        if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0)
                return inet_ntop(AF_INET, addr + 12, ret, OA_EVENT_IP_MAX) ? 0 : -EINVAL;
        return inet_ntop(AF_INET6, addr, ret, OA_EVENT_IP_MAX) ? 0 : -EINVAL;
}

/* A header value as an event string: at most max bytes, whole UTF-8 sequences only,
 * each invalid byte or control character replaced by '?'. */
static char *sanitize(const char *s, size_t n, size_t max, oa_arena *a) {
        const unsigned char *u = (const unsigned char *) s;
        char *out = oa_arena_alloc(a, (n < max ? n : max) + 1);
        size_t o = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t len, run = i;
                unsigned long cp;

                /* the usual case: a run of printable ASCII */
                while (run < n && u[run] >= 0x20 && u[run] < 0x7f)
                        run++;
                if (run > i) {
                        size_t take = run - i < max - o ? run - i : max - o;

                        memcpy(out + o, s + i, take);
                        o += take;
                        i += take;
                        if (o == max || i == n)
                                break;
                }
                len = oa_utf8_seq(u + i, n - i);
                if (len)
                        cp = (unsigned long) oa_utf8_cp(u + i, len);
                else
                        len = 1, cp = 0xfffffffful;     /* a stray or broken byte */
                if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0xfffffffful) {
                        if (o + 1 > max)
                                break;
                        out[o++] = '?';
                } else {
                        if (o + len > max)
                                break;
                        memcpy(out + o, s + i, len);
                        o += len;
                }
                i += len;
        }
        out[o] = '\0';
        return out;
}

#define DUP(a, s) oa_arena_strndup((a), (s), strlen(s))

int oa_event_enrich(Oa__Event *ev, const oa_event_enrich_in *in, oa_arena *a) {
        char id[OA_UUID_LEN + 1], vid[OA_VISITOR_ID_LEN + 1], ip[OA_EVENT_IP_MAX];
        const char *site;
        oa_url_info info;
        oa_url ref;
        int r;

        if (!in->project_id || !*in->project_id)
                return -EINVAL;
        ev->version = 1;
        ev->project_id = DUP(a, in->project_id);
        if (!ev->project_id)
                return -ENOMEM;
        ev->received_ms = in->now_ms;
        if (ev->timestamp_ms == 0)
                ev->timestamp_ms = in->now_ms;
        if (!*ev->event_id) {
                r = oa_uuid_v7(in->now_ms, id);
                if (r < 0)
                        return r;
                ev->event_id = DUP(a, id);
                if (!ev->event_id)
                        return -ENOMEM;
        }
        if (ev->source == OA__EVENT_SOURCE__EVENT_SOURCE_COLLECT) {
                if (in->ip && oa_event_ip_normalize(in->ip, strlen(in->ip), ip) == 0) {
                        ev->ip = DUP(a, ip);
                        if (!ev->ip)
                                return -ENOMEM;
                }
                if (in->user_agent && in->user_agent_len) {
                        ev->user_agent = sanitize(in->user_agent, in->user_agent_len, OA_EVENT_MAX_USER_AGENT, a);
                        if (!ev->user_agent)
                                return -ENOMEM;
                }
        }
        r = oa_url_info_get(ev->url, strlen(ev->url), a, &info);
        if (r == -ENOMEM)
                return r;
        ev->hostname = info.hostname;
        ev->path = *ev->url ? info.path : (char *) "";
        ev->utm_source = info.utm_source;
        ev->utm_medium = info.utm_medium;
        ev->utm_campaign = info.utm_campaign;
        ev->utm_content = info.utm_content;
        ev->utm_term = info.utm_term;
        if (*ev->referrer && oa_url_split(ev->referrer, strlen(ev->referrer), &ref) == 0) {
                ev->referrer_host = oa_url_hostname(&ref, a);
                if (!ev->referrer_host)
                        return -ENOMEM;
        }
        ev->referrer_source = (char *) oa_referrer_source(ev->referrer_host, ev->hostname,
                                                          ev->utm_medium, info.paid_click);
        if (*ev->user_id) {
                r = oa_visitor_user(ev->project_id, ev->user_id, strlen(ev->user_id), vid);
        } else if (*ev->ip || *ev->user_agent) {
                if (!in->salt)
                        return -EINVAL;
                site = in->site_id ? in->site_id : ev->site_id;
                r = oa_visitor_browser(in->salt, site, ev->ip, ev->user_agent, strlen(ev->user_agent), vid);
        } else {
                r = oa_visitor_anonymous(ev->project_id, ev->event_id, vid);
        }
        if (r < 0)
                return r;
        ev->visitor_id = DUP(a, vid);
        return ev->visitor_id ? 0 : -ENOMEM;
}

int oa_event_kafka_key(const Oa__Event *ev, char *buf, size_t len) {
        size_t p = strlen(ev->project_id), v = strlen(ev->visitor_id);

        if (p + 1 + v + 1 > len)
                return -E2BIG;
        memcpy(buf, ev->project_id, p);
        buf[p] = '/';
        memcpy(buf + p + 1, ev->visitor_id, v);
        buf[p + 1 + v] = '\0';
        return (int) (p + 1 + v);
}

static void *arena_pb_alloc(void *data, size_t n) {
        return oa_arena_alloc(data, n);
}

static void arena_pb_free(void *data, void *p) {
        (void) data;
        (void) p;               /* freed with the arena */
}

Oa__Event *oa_event_unpack(const uint8_t *data, size_t len, oa_arena *a) {
        ProtobufCAllocator al = { .alloc = arena_pb_alloc, .free = arena_pb_free, .allocator_data = a };

        return oa__event__unpack(&al, len, data);
}
