/*
 * bench-ua: what enrichment costs oa-edge per event, in ns per call (bench/ua/run.sh).
 *
 *   oa_ua_parse   cache hits (a warm cache and the User-Agents of a realistic mix) and
 *                 misses (the same mix with version numbers drawn at random, so every
 *                 User-Agent is new, as with a cache of its own size but unseen agents),
 *                 the ratio of the two; and, for scale, the bare rule scan of a miss
 *                 with and without the literal prefilter (ua_internal.h).
 *   oa_geo        lookups of random public IPv4 addresses (nearly all go to libloc) and
 *                 lookups answered by its cache.
 *
 * Times are CPU time of the thread (CLOCK_THREAD_CPUTIME_ID), so other programs on a busy
 * machine do not count; caches and the memory bus are still shared.
 *
 * The mix: desktop and mobile Chrome, Safari, Edge, Firefox, Samsung Internet, Opera,
 * in-app browsers and a share of crawlers and HTTP libraries, weighted roughly like web
 * traffic. Options: -n MISSES (default 20000), -h HITS (default 2000000),
 * -r REGEXES, -d LOCATION_DB.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oa/geo.h"
#include "oa/ua.h"
#include "ua_internal.h"

/* Templates: each %d is replaced by a number in the given range. weight: copies in the mix. */
typedef struct tmpl {
        int weight;
        const char *fmt;
        int lo[4], hi[4];
} tmpl;

static const tmpl mix[] = {
        { 24, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/%d.0.%d.%d Safari/537.36", { 109, 5000, 0 }, { 121, 6200, 200 } },
        { 6, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
             "Gecko) Chrome/%d.0.%d.%d Safari/537.36", { 109, 5000, 0 }, { 121, 6200, 200 } },
        { 6, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/%d.0.0.0 Safari/537.36 Edg/%d.0.%d.%d", { 110, 110, 1000, 0 }, { 121, 121, 2300, 99 } },
        { 6, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
             "Gecko) Version/%d.%d Safari/605.1.15", { 15, 0 }, { 17, 6 } },
        { 4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:%d.0) Gecko/20100101 Firefox/%d.0",
          { 100, 100 }, { 121, 121 } },
        { 2, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/%d.0.0.0 Safari/537.36", { 100 }, { 121 } },
        { 20, "Mozilla/5.0 (iPhone; CPU iPhone OS %d_%d like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/%d.%d Mobile/15E148 Safari/604.1", { 15, 0, 15, 0 }, { 17, 6, 17, 6 } },
        { 4, "Mozilla/5.0 (iPhone; CPU iPhone OS %d_%d like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) CriOS/%d.0.%d.50 Mobile/15E148 Safari/604.1", { 15, 0, 110, 5000 }, { 17, 6, 121, 6200 } },
        { 3, "Mozilla/5.0 (iPad; CPU OS %d_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
             "Gecko) Version/%d.%d Mobile/15E148 Safari/604.1", { 15, 0, 15, 0 }, { 17, 6, 17, 6 } },
        { 16, "Mozilla/5.0 (Linux; Android %d; K) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/%d.0.0.0 Mobile Safari/537.36", { 10, 110 }, { 14, 121 } },
        { 4, "Mozilla/5.0 (Linux; Android %d; SM-S%d1B) AppleWebKit/537.36 (KHTML, like Gecko) "
             "SamsungBrowser/%d.0 Chrome/115.0.0.0 Mobile Safari/537.36", { 11, 90, 20 }, { 14, 92, 23 } },
        { 2, "Mozilla/5.0 (Linux; Android %d; SM-G%dF Build/PPR1.180610.011) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Chrome/%d.0.3729.157 Mobile Safari/537.36", { 8, 950, 70 }, { 10, 975, 90 } },
        { 1, "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
             "like Gecko) Mobile/15E148 Instagram %d.0.0.13.76 (iPhone14,5; iOS 16_5; en_US; en; "
             "scale=3.00; 1170x2532; %d)", { 250, 400000000 }, { 300, 500000000 } },
        { 1, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/120.0.0.0 Safari/537.36 OPR/%d.0.%d.0", { 100, 4000 }, { 106, 5000 } },
        { 2, "Mozilla/5.0 (compatible; Googlebot/2.%d; +http://www.google.com/bot.html)", { 0 }, { 9 } },
        { 1, "Mozilla/5.0 (compatible; bingbot/2.%d; +http://www.bing.com/bingbot.htm)", { 0 }, { 9 } },
        { 1, "curl/8.%d.%d", { 0, 0 }, { 6, 9 } },
        { 1, "python-requests/2.%d.%d", { 20, 0 }, { 31, 9 } },
};

/* CPU time of this thread: on a busy machine, wall time would count other programs. */
static double now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int rnd(int lo, int hi) {
        return lo + (hi > lo ? rand() % (hi - lo + 1) : 0);
}

/* n User-Agents of the mix; distinct (random versions) unless fixed. */
static char **make_mix(size_t n, bool fixed) {
        char **v = calloc(n, sizeof(*v));
        int total = 0;

        for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++)
                total += mix[i].weight;
        for (size_t i = 0; i < n; i++) {
                int pick = rand() % total, k = 0, a[4];
                char buf[600];

                while (pick >= mix[k].weight)
                        pick -= mix[k++].weight;
                for (int j = 0; j < 4; j++)
                        a[j] = fixed ? mix[k].hi[j] : rnd(mix[k].lo[j], mix[k].hi[j]);
                snprintf(buf, sizeof(buf), mix[k].fmt, a[0], a[1], a[2], a[3]);
                v[i] = strdup(buf);
        }
        return v;
}

static void free_mix(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static void bench_ua(const char *regexes, size_t misses, size_t hits) {
        char err[256] = "";
        oa_ua *u = NULL, *nocache = NULL;
        char **uniq = make_mix(misses, false), **common;
        size_t ncommon = 0, bots = 0;
        oa_ua_result r;
        oa_ua_stats st, warm;
        double t0, t_load, t_miss, t_hit, t_scan, t_naive;
        ua_rules *rules = NULL;
        static ua_subject subj;

        t0 = now_ns();
        if (oa_ua_new(regexes, 0, &nocache, err, sizeof(err)) < 0) {
                fprintf(stderr, "bench-ua: %s\n", err);
                exit(1);
        }
        t_load = now_ns() - t0;
        if (oa_ua_new(regexes, OA_UA_DEFAULT_CACHE, &u, err, sizeof(err)) < 0) {
                fprintf(stderr, "bench-ua: %s\n", err);
                exit(1);
        }

        /* misses: every User-Agent new */
        t0 = now_ns();
        for (size_t i = 0; i < misses; i++) {
                oa_ua_parse(nocache, uniq[i], strlen(uniq[i]), &r);
                bots += r.is_bot;
        }
        t_miss = (now_ns() - t0) / (double)misses;

        /* hits: a warm cache and the common User-Agents of the mix */
        common = make_mix(200, false);
        for (size_t i = 0; i < 200; i++)
                oa_ua_parse(u, common[i], strlen(common[i]), &r);
        oa_ua_get_stats(u, &warm);
        t0 = now_ns();
        for (size_t i = 0; i < hits; i++) {
                const char *s = common[i % 200];
                oa_ua_parse(u, s, strlen(s), &r);
                ncommon += r.is_bot;    /* keeps the loop from being optimised away */
        }
        t_hit = (now_ns() - t0) / (double)hits;
        oa_ua_get_stats(u, &st);

        /* the bare scan of a miss (three rule lists), with and without the prefilter */
        if (ua_rules_load_file(regexes ? regexes : OA_UA_DEFAULT_REGEXES, &rules, err, sizeof(err)) < 0) {
                fprintf(stderr, "bench-ua: %s\n", err);
                exit(1);
        }
        for (int pass = 0; pass < 2; pass++) {
                size_t n = pass == 0 ? misses : misses / 10;
                ua_fields f;

                ua_rules_set_prefilter(rules, pass == 0);
                t0 = now_ns();
                for (size_t i = 0; i < n; i++) {
                        ua_subject_set(&subj, uniq[i], strlen(uniq[i]));
                        for (int sec = 0; sec < UA_SEC_COUNT; sec++)
                                ua_rules_match(rules, sec, &subj, &f);
                        ua_subject_clear(&subj);
                }
                if (pass == 0)
                        t_scan = (now_ns() - t0) / (double)n;
                else
                        t_naive = (now_ns() - t0) / (double)n;
        }

        printf("oa_ua: %zu rules, load and compile %.1f ms\n", st.rules, t_load / 1e6);
        printf("  miss, realistic mix (%zu UAs, %4.1f%% bots)        %9.0f ns/parse\n", misses,
               100.0 * (double)bots / (double)misses, t_miss);
        printf("  hit, warm cache of %zu (%zu parses)              %9.1f ns/parse\n",
               (size_t)OA_UA_DEFAULT_CACHE, hits, t_hit);
        printf("  miss / hit                                        %9.0f x\n", t_miss / t_hit);
        printf("  rule scan of a miss, prefilter on                 %9.0f ns\n", t_scan);
        printf("  rule scan of a miss, prefilter off (naive)        %9.0f ns  (%.1f x slower)\n",
               t_naive, t_naive / t_scan);
        if (st.hits - warm.hits != hits || st.limit_errors != 0)
                printf("  warning: %llu hits of %zu, %llu limit errors\n",
                       (unsigned long long)(st.hits - warm.hits), hits,
                       (unsigned long long)st.limit_errors);
        ua_rules_free(rules);
        free_mix(uniq, misses);
        free_mix(common, 200);
        oa_ua_free(u);
        oa_ua_free(nocache);
        (void)ncommon;
}

static void bench_geo(const char *db, size_t n) {
        static const char *const known[] = {
                "8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "81.2.69.142", "193.0.6.139",
                "9.9.9.9", "2a00:1450:4001:80b::200e", "41.0.0.1",
        };
        char err[256] = "", cc[3], (*ips)[48];
        oa_geo *g = NULL;
        double t0, t_open, t_hit, t_miss;
        size_t found = 0;

        t0 = now_ns();
        if (oa_geo_new(db, &g, err, sizeof(err)) < 0) {
                fprintf(stderr, "bench-ua: %s\n", err);
                exit(1);
        }
        t_open = now_ns() - t0;
        ips = calloc(n, sizeof(*ips));
        for (size_t i = 0; i < n; i++)      /* public-looking: first octet 1..223, not 10/127 */
                snprintf(ips[i], sizeof(ips[i]), "%d.%d.%d.%d", rnd(11, 223), rnd(0, 255),
                         rnd(0, 255), rnd(1, 254));
        /* n >> cache slots: nearly every lookup goes to libloc */
        t0 = now_ns();
        for (size_t i = 0; i < n; i++)
                found += oa_geo_country(g, ips[i], cc) == 0;
        t_miss = (now_ns() - t0) / (double)n;
        t0 = now_ns();
        for (size_t i = 0; i < 20 * n; i++)
                oa_geo_country(g, known[i % 8], cc);
        t_hit = (now_ns() - t0) / (double)(20 * n);
        printf("oa_geo: open %.1f ms\n", t_open / 1e6);
        printf("  lookup, random public IPv4 (%zu, %.0f%% with a country) %6.0f ns\n", n,
               100.0 * (double)found / (double)n, t_miss);
        printf("  lookup, answered by its cache                        %6.0f ns\n", t_hit);
        free(ips);
        oa_geo_free(g);
}

int main(int argc, char **argv) {
        size_t misses = 20000, hits = 2000000;
        const char *regexes = NULL, *db = NULL;
        int c;

        while ((c = getopt(argc, argv, "n:h:r:d:")) != -1) {
                switch (c) {
                case 'n': misses = strtoul(optarg, NULL, 10); break;
                case 'h': hits = strtoul(optarg, NULL, 10); break;
                case 'r': regexes = optarg; break;
                case 'd': db = optarg; break;
                default:
                        fprintf(stderr, "usage: bench-ua [-n misses] [-h hits] [-r regexes.yaml] "
                                "[-d location.db]\n");
                        return 2;
                }
        }
        if (misses < 10 || hits < 200)
                return 2;
        srand(12345);
        bench_ua(regexes, misses, hits);
        bench_geo(db, 100000);
        return 0;
}
