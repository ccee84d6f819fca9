/*
 * oa_geo_ (include/oa/geo.h): IP → country with libloc.
 *
 * We parse the address ourselves (inet_pton: strict dotted quads, no "1.2.3", no octal),
 * refuse the special-purpose ranges (IANA's IPv4 and IPv6 special-purpose registries) with
 * -ENOENT, then ask libloc for the most specific network holding the address. libloc keeps
 * IPv4 as IPv4-mapped IPv6, so every lookup is on an in6_addr. libloc's own log lines are
 * dropped: libshared returns errors, it does not print them.
 *
 * A libloc lookup costs about 2 µs (a walk down a binary tree of up to 128 levels and an
 * allocated network object), while one visitor sends many events from one address: a
 * direct-mapped cache of GEO_CACHE_SLOTS answers (found or not) sits in front. Its index
 * hash is seeded at random; a collision only costs a lookup, so no input can do worse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libloc/libloc.h>
#include <libloc/database.h>
#include <libloc/network.h>

#include "oa/geo.h"

#define GEO_CACHE_SLOTS 4096    /* 80 KiB */

typedef struct geo_slot {
        unsigned char addr[16];
        char cc[2];
        uint8_t state;          /* 0: empty, 1: cc, 2: no country (-ENOENT) */
} geo_slot;

struct oa_geo {
        struct loc_ctx *ctx;
        struct loc_database *db;
        FILE *f;                /* kept open while db lives: older libloc reads through it */
        uint64_t seed;
        geo_slot cache[GEO_CACHE_SLOTS];
};

typedef struct special_range {
        unsigned char addr[16];
        unsigned prefix;
} special_range;

#define V4(a, b, c, d, p) { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d }, 96 + (p) }

/* IPv4 special-purpose ranges, as IPv4-mapped IPv6 */
static const special_range v4_special[] = {
        V4(0, 0, 0, 0, 8),              /* "this network" */
        V4(10, 0, 0, 0, 8),             /* private */
        V4(100, 64, 0, 0, 10),          /* shared address space (CGNAT) */
        V4(127, 0, 0, 0, 8),            /* loopback */
        V4(169, 254, 0, 0, 16),         /* link-local */
        V4(172, 16, 0, 0, 12),          /* private */
        V4(192, 0, 0, 0, 24),           /* IETF protocol assignments */
        V4(192, 0, 2, 0, 24),           /* documentation (TEST-NET-1) */
        V4(192, 88, 99, 0, 24),         /* 6to4 relay anycast (deprecated) */
        V4(192, 168, 0, 0, 16),         /* private */
        V4(198, 18, 0, 0, 15),          /* benchmarking */
        V4(198, 51, 100, 0, 24),        /* documentation (TEST-NET-2) */
        V4(203, 0, 113, 0, 24),         /* documentation (TEST-NET-3) */
        V4(224, 0, 0, 0, 4),            /* multicast */
        V4(240, 0, 0, 0, 4),            /* reserved, broadcast */
};

/* IPv6 special-purpose ranges inside 2000::/3 (everything outside it is refused anyway) */
static const special_range v6_special[] = {
        { { 0x20, 0x01, 0x00, 0x00 }, 23 },             /* IETF protocol assignments, Teredo */
        { { 0x20, 0x01, 0x0d, 0xb8 }, 32 },             /* documentation */
        { { 0x3f, 0xff }, 20 },                         /* documentation (RFC 9637) */
};

static bool in_range(const unsigned char *a, const special_range *r) {
        unsigned full = r->prefix / 8, rest = r->prefix % 8;

        if (memcmp(a, r->addr, full) != 0)
                return false;
        if (rest == 0)
                return true;
        return ((a[full] ^ r->addr[full]) & (0xFF00 >> rest)) == 0;
}

static void map_v4(unsigned char *a, const unsigned char *v4) {
        memset(a, 0, 10);
        a[10] = 0xff;
        a[11] = 0xff;
        memcpy(a + 12, v4, 4);
}

/* Parses text into an (IPv4-mapped for IPv4) address. -EINVAL when it is none. */
static int parse_ip(const char *ip, size_t len, struct in6_addr *ret) {
        char buf[INET6_ADDRSTRLEN + 1];
        unsigned char v4[4];
        char *zone;

        if (len == 0 || len >= sizeof(buf) + 64 || memchr(ip, '\0', len))
                return -EINVAL;
        if (len >= sizeof(buf)) {
                /* only a zone id can make a valid address this long: cut it */
                const char *pct = memchr(ip, '%', len);
                if (!pct || (size_t)(pct - ip) >= sizeof(buf))
                        return -EINVAL;
                len = (size_t)(pct - ip);
        }
        memcpy(buf, ip, len);
        buf[len] = '\0';
        if (inet_pton(AF_INET, buf, v4) == 1) {
                map_v4(ret->s6_addr, v4);
                return 0;
        }
        zone = strchr(buf, '%');
        if (zone) {
                if (zone[1] == '\0')
                        return -EINVAL;
                *zone = '\0';
        }
        if (inet_pton(AF_INET6, buf, ret) == 1)
                return 0;
        return -EINVAL;
}

/* Rewrites IPv6 forms that carry an IPv4 address; false when a is a special range. */
static bool routable(struct in6_addr *addr) {
        static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
        unsigned char *a = addr->s6_addr;

        if (memcmp(a, nat64, sizeof(nat64)) == 0) {
                unsigned char v4[4];
                memcpy(v4, a + 12, 4);
                map_v4(a, v4);
        } else if (a[0] == 0x20 && a[1] == 0x02) {      /* 6to4: 2002:AABB:CCDD::/48 */
                unsigned char v4[4];
                memcpy(v4, a + 2, 4);
                map_v4(a, v4);
        }
        if (IN6_IS_ADDR_V4MAPPED(addr)) {
                for (size_t i = 0; i < sizeof(v4_special) / sizeof(v4_special[0]); i++)
                        if (in_range(a, &v4_special[i]))
                                return false;
                return true;
        }
        if ((a[0] & 0xE0) != 0x20)              /* not global unicast 2000::/3 */
                return false;
        for (size_t i = 0; i < sizeof(v6_special) / sizeof(v6_special[0]); i++)
                if (in_range(a, &v6_special[i]))
                        return false;
        return true;
}

/* The database's answer for addr: 0 and cc, or -ENOENT. */
static int lookup(oa_geo *g, struct in6_addr *addr, char cc[2]) {
        struct loc_network *net = NULL;
        const char *code;
        int r;

        r = loc_database_lookup(g->db, addr, &net);
        if (r != 0 || !net) {
                r = -ENOENT;            /* not found (1), or a damaged tree: no country */
                goto out;
        }
        code = loc_network_get_country_code(net);
        if (!code || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' ||
            code[2] != '\0') {
                r = -ENOENT;            /* no code, or a non-country marker */
                goto out;
        }
        cc[0] = code[0];
        cc[1] = code[1];
        r = 0;
out:
        if (net)
                loc_network_unref(net);
        return r;
}

static size_t slot_of(const oa_geo *g, const unsigned char *a) {
        uint64_t lo, hi, h;

        memcpy(&lo, a, 8);
        memcpy(&hi, a + 8, 8);
        h = (lo ^ g->seed) * UINT64_C(0x9E3779B97F4A7C15);
        h = (h ^ hi ^ (h >> 29)) * UINT64_C(0xBF58476D1CE4E5B9);
        return (size_t)(h >> 32) & (GEO_CACHE_SLOTS - 1);
}

int oa_geo_country_n(oa_geo *g, const char *ip, size_t len, char ret_cc[3]) {
        struct in6_addr addr;
        geo_slot *slot;
        char cc[2] = { 0, 0 };
        int r;

        if (!g || !ip || !ret_cc)
                return -EINVAL;
        r = parse_ip(ip, len, &addr);
        if (r < 0)
                return r;
        if (!routable(&addr))
                return -ENOENT;
        slot = &g->cache[slot_of(g, addr.s6_addr)];
        if (slot->state != 0 && memcmp(slot->addr, addr.s6_addr, 16) == 0) {
                r = slot->state == 1 ? 0 : -ENOENT;
                memcpy(cc, slot->cc, 2);
        } else {
                r = lookup(g, &addr, cc);
                memcpy(slot->addr, addr.s6_addr, 16);
                memcpy(slot->cc, cc, 2);
                slot->state = r == 0 ? 1 : 2;
        }
        if (r < 0)
                return r;
        ret_cc[0] = cc[0];
        ret_cc[1] = cc[1];
        ret_cc[2] = '\0';
        return 0;
}

int oa_geo_country(oa_geo *g, const char *ip, char ret_cc[3]) {
        if (!ip)
                return -EINVAL;
        return oa_geo_country_n(g, ip, strlen(ip), ret_cc);
}

static void drop_log(struct loc_ctx *ctx, int priority, const char *file, int line,
                     const char *fn, const char *format, va_list args) {
}

oa_geo *oa_geo_free(oa_geo *g) {
        if (!g)
                return NULL;
        if (g->db)
                loc_database_unref(g->db);
        if (g->ctx)
                loc_unref(g->ctx);
        if (g->f)
                fclose(g->f);
        free(g);
        return NULL;
}

int oa_geo_new(const char *db_path, oa_geo **ret, char *errbuf, size_t errlen) {
        oa_geo *g = NULL;
        const char *path = db_path;
        int r;

        if (!ret) {
                r = -EINVAL;
                goto out;
        }
        g = calloc(1, sizeof(*g));
        if (!g) {
                r = -ENOMEM;
                goto out;
        }
        if (path) {
                g->f = fopen(path, "rbe");
        } else {
                path = OA_GEO_DEFAULT_DB;
                g->f = fopen(path, "rbe");
                if (!g->f && errno == ENOENT) {
                        path = OA_GEO_FALLBACK_DB;
                        g->f = fopen(path, "rbe");
                }
        }
        if (!g->f) {
                r = -errno;
                if (errbuf && errlen)
                        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
                goto out;
        }
        r = loc_new(&g->ctx);
        if (r < 0 || !g->ctx) {
                r = r < 0 ? r : -ENOMEM;
                goto out;
        }
        loc_set_log_fn(g->ctx, drop_log);
        if (getrandom(&g->seed, sizeof(g->seed), GRND_NONBLOCK) != (ssize_t)sizeof(g->seed))
                g->seed = (uint64_t)(uintptr_t)g;       /* only spreads slots; any value works */
        r = loc_database_new(g->ctx, &g->db, g->f);
        if (r != 0 || !g->db) {
                g->db = NULL;
                r = r == -ENOMEM ? -ENOMEM : -EBADMSG;
                if (errbuf && errlen)
                        snprintf(errbuf, errlen, "%s: not a readable libloc database", path);
                goto out;
        }
        *ret = g;
        g = NULL;
        r = 0;
out:
        oa_geo_free(g);
        return r;
}
