/* Tests for oa_ua_ (include/oa/ua.h): real User-Agents, bots, hostile input, the cache. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oa/ua.h"

static oa_ua *new_ua(size_t cache) {
        oa_ua *u = NULL;
        char err[256] = "";
        int r = oa_ua_new(NULL, cache, &u, err, sizeof(err));

        cr_assert_eq(r, 0, "oa_ua_new: %d %s", r, err);
        return u;
}

/* Valid UTF-8 without control characters, NUL-terminated within size. */
static void assert_clean(const char *s, size_t size) {
        const unsigned char *p = (const unsigned char *)s;
        size_t len = strnlen(s, size);

        cr_assert_lt(len, size, "not terminated");
        for (size_t i = 0; i < len;) {
                size_t n = p[i] < 0x80 ? 1 : (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3
                         : (p[i] & 0xF8) == 0xF0 ? 4 : 0;

                cr_assert_neq(n, 0, "bad lead byte 0x%02x in '%s'", p[i], s);
                cr_assert(n > 1 || (p[i] >= 0x20 && p[i] != 0x7F), "control 0x%02x", p[i]);
                cr_assert_leq(i + n, len, "cut character in '%s'", s);
                for (size_t k = 1; k < n; k++)
                        cr_assert_eq(p[i + k] & 0xC0, 0x80, "bad continuation in '%s'", s);
                i += n;
        }
}

static void assert_result_clean(const oa_ua_result *r) {
        assert_clean(r->browser, sizeof(r->browser));
        assert_clean(r->version, sizeof(r->version));
        assert_clean(r->os, sizeof(r->os));
        assert_clean(r->os_version, sizeof(r->os_version));
        assert_clean(r->device, sizeof(r->device));
        cr_assert_eq(r->is_bot, strcmp(r->device, "bot") == 0);
}

struct ua_row {
        char ua[300];
        char browser[32];
        char version[16];
        char os[32];
        char os_version[16];
        char device[8];
};

ParameterizedTestParameters(oa_ua, parses_real_user_agents) {
        static struct ua_row rows[] = {
                /* desktop */
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                  "Chrome", "120.0.0", "Windows", "10", "desktop" },
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
                  "Firefox", "121.0", "Windows", "10", "desktop" },
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
                  "Edge", "120.0.2210", "Windows", "10", "desktop" },
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
                  "Opera", "106.0.0", "Windows", "10", "desktop" },
                { "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
                  "IE", "11.0", "Windows", "7", "desktop" },
                { "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0; SLCC2; Media Center PC 6.0; Tablet PC 2.0)",
                  "IE", "9.0", "Windows", "7", "desktop" },        /* "Tablet PC" is no tablet */
                { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
                  "Safari", "17.1", "Mac OS X", "10.15.7", "desktop" },
                { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
                  "Chrome", "119.0.0", "Mac OS X", "10.15.7", "desktop" },
                { "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0",
                  "Firefox", "120.0", "Mac OS X", "14.1", "desktop" },
                { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
                  "Edge", "120.0.2210", "Mac OS X", "10.15.7", "desktop" },
                { "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                  "Chrome", "120.0.0", "Linux", "", "desktop" },
                { "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
                  "Firefox", "121.0", "Ubuntu", "", "desktop" },
                { "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                  "Chrome", "120.0.0", "Chrome OS", "14541.0.0", "desktop" },
                /* phones */
                { "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
                  "Chrome Mobile", "120.0.0", "Android", "10", "mobile" },
                { "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36",
                  "Chrome Mobile", "120.0.6099", "Android", "13", "mobile" },
                { "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
                  "Samsung Internet", "23.0", "Android", "13", "mobile" },
                { "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
                  "Firefox Mobile", "121.0", "Android", "14", "mobile" },
                { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
                  "Mobile Safari", "17.1.2", "iOS", "17.1.2", "mobile" },
                { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.50 Mobile/15E148 Safari/604.1",
                  "Chrome Mobile iOS", "120.0.6099", "iOS", "17.1", "mobile" },
                { "Mozilla/5.0 (Linux; Android 10; SM-A505F) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/87.0.4280.141 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/442.0.0.30.110;]",
                  "Facebook", "442.0.0", "Android", "10", "mobile" },
                { "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54",
                  "Opera Mini", "9.80", "Symbian OS", "", "mobile" },
                /* tablets */
                { "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
                  "Mobile Safari", "16.6", "iOS", "16.6", "tablet" },
                { "Mozilla/5.0 (Linux; Android 12; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                  "Chrome", "120.0.0", "Android", "12", "tablet" },
                { "Mozilla/5.0 (Android 13; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0",
                  "Firefox Mobile", "121.0", "Android", "13", "tablet" },
                { "Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Safari/534.30",
                  "Android", "4.0.3", "Android", "4.0.3", "tablet" },
                { "Dalvik/2.1.0 (Linux; U; Android 11; SM-A125F Build/RP1A.200720.012)",
                  "Android", "11", "Android", "11", "mobile" },         /* an app, not a browser */
                /* televisions and consoles */
                { "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36",
                  "Chrome Mobile WebView", "120.0.6099", "Android", "9", "other" },   /* Fire TV */
                { "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
                  "Safari", "13.0", "Other", "", "other" },
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041",
                  "Edge", "18.19041", "Windows", "10", "other" },
                { "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
                  "Samsung Internet", "4.0", "Tizen", "6.0", "other" },
                /* bots */
                { "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                  "Googlebot", "2.1", "Other", "", "bot" },
                { "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                  "Googlebot", "2.1", "Android", "6.0.1", "bot" },
                { "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                  "bingbot", "2.0", "Other", "", "bot" },
                { "curl/8.4.0", "curl", "8.4.0", "Other", "", "bot" },
                { "python-requests/2.31.0", "Python Requests", "2.31", "Other", "", "bot" },
                { "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36",
                  "HeadlessChrome", "120.0.6099", "Linux", "", "bot" },
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 PTST/231207.151813",
                  "WebPageTest.org bot", "231207.151813", "Windows", "10", "bot" },
                /* nothing to know */
                { "", "Other", "", "Other", "", "bot" },
                { "   ", "Other", "", "Other", "", "bot" },
                { "garbage", "Other", "", "Other", "", "other" },
                { "Mozilla/5.0", "Other", "", "Other", "", "other" },
        };
        return cr_make_param_array(struct ua_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct ua_row *row, oa_ua, parses_real_user_agents) {
        oa_ua *u = new_ua(16);
        oa_ua_result r, again;

        cr_assert_eq(oa_ua_parse(u, row->ua, strlen(row->ua), &r), 0);
        cr_assert_str_eq(r.browser, row->browser, "%s", row->ua);
        cr_assert_str_eq(r.version, row->version, "%s", row->ua);
        cr_assert_str_eq(r.os, row->os, "%s", row->ua);
        cr_assert_str_eq(r.os_version, row->os_version, "%s", row->ua);
        cr_assert_str_eq(r.device, row->device, "%s", row->ua);
        assert_result_clean(&r);
        /* the second time it comes from the cache, identical */
        cr_assert_eq(oa_ua_parse(u, row->ua, strlen(row->ua), &again), 0);
        cr_assert_eq(memcmp(&r, &again, sizeof(r)), 0);
        oa_ua_free(u);
}

struct bot_row {
        char ua[200];
};

/* One User-Agent for every marker of ua_bots.c. */
ParameterizedTestParameters(oa_ua, detects_every_bot_marker) {
        static struct bot_row rows[] = {
                { "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36" },
                { "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1" },
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Puppeteer" },
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Playwright/1.40" },
                { "curl/8.4.0" },
                { "Wget/1.21.3" },
                { "python-requests/2.31.0" },
                { "Python-urllib/3.11" },
                { "python-httpx/0.25.2" },
                { "Python/3.11 aiohttp/3.9.1" },
                { "Go-http-client/2.0" },
                { "Java/17.0.9" },
                { "okhttp/4.12.0" },
                { "axios/1.6.2" },
                { "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)" },
                { "libwww-perl/6.72" },
                { "Apache-HttpClient/4.5.14 (Java/17.0.9)" },
                { "GuzzleHttp/7" },
                { "Scrapy/2.11.0 (+https://scrapy.org)" },
                { "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)" },
                { "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)" },
                { "Mozilla/5.0 (compatible; StatusCake)" },
                { "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 DatadogSynthetics" },
                { "NewRelicPinger/1.0 (12345)" },
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Site24x7" },
                { "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 GTmetrix" },
                { "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse" },
                { "Mozilla/5.0 (compatible; Google-PageSpeed)" },
                { "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Google Page Speed Insights" },
                { "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)" },
                { "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)" },
                { "Twitterbot/1.0" },
                { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 (compatible; Google-InspectionTool/1.0)" },
                { "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot" },
                { "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)" },
                { "WhatsApp/2.23.20.0 A" },
                { "TelegramBot (like TwitterBot)" },
                { "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)" },
                { "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)" },        /* uap's Spider */
                { "\t \t" },
        };
        return cr_make_param_array(struct bot_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bot_row *row, oa_ua, detects_every_bot_marker) {
        oa_ua *u = new_ua(0);
        oa_ua_result r;

        cr_assert_eq(oa_ua_parse(u, row->ua, strlen(row->ua), &r), 0);
        cr_assert(r.is_bot, "%s: %s/%s", row->ua, r.browser, r.device);
        cr_assert_str_eq(r.device, "bot");
        oa_ua_free(u);
}

Test(oa_ua, browsers_mentioning_tools_are_not_bots) {
        /* "Java" in a word, "curl" without its slash */
        const char *uas[] = {
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 JavaScriptEnabled",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15 Curling",
        };
        oa_ua *u = new_ua(0);

        for (size_t i = 0; i < sizeof(uas) / sizeof(uas[0]); i++) {
                oa_ua_result r;
                cr_assert_eq(oa_ua_parse(u, uas[i], strlen(uas[i]), &r), 0);
                cr_assert_not(r.is_bot, "%s", uas[i]);
                cr_assert_str_eq(r.device, "desktop");
        }
        oa_ua_free(u);
}

/* ---- hostile input --------------------------------------------------------------------- */

static const char chrome[] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                             "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

Test(oa_ua, long_user_agent_is_cut_at_max_input) {
        size_t len = 10 * 1024;
        char *big = malloc(len);
        oa_ua *u = new_ua(16);
        oa_ua_result a, b;

        memset(big, 'A', len);
        memcpy(big, chrome, strlen(chrome));
        cr_assert_eq(oa_ua_parse(u, big, len, &a), 0);
        cr_assert_eq(oa_ua_parse(u, big, OA_UA_MAX_INPUT, &b), 0);    /* same key: cached */
        cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
        cr_assert_str_eq(a.browser, "Chrome");
        /* a token beyond the first OA_UA_MAX_INPUT bytes is not seen */
        memset(big, ' ', len);
        memcpy(big + OA_UA_MAX_INPUT + 8, "curl/8.4.0", 10);
        cr_assert_eq(oa_ua_parse(u, big, len, &a), 0);
        cr_assert_str_eq(a.browser, "Other");
        cr_assert(a.is_bot);    /* blank, as far as we look */
        free(big);
        oa_ua_free(u);
}

Test(oa_ua, ten_megabytes_cost_no_more_than_max_input) {
        size_t len = 10u << 20;
        unsigned char *big = malloc(len);
        oa_ua *u = new_ua(16);
        oa_ua_result r;
        struct timespec t0, t1;

        srand(7);
        for (size_t i = 0; i < len; i++)
                big[i] = (unsigned char)rand();
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cr_assert_eq(oa_ua_parse(u, (const char *)big, len, &r), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_result_clean(&r);
        /* bounded by the first 512 bytes: far under a second even with sanitizers */
        cr_assert_lt(t1.tv_sec - t0.tv_sec, 2);
        free(big);
        oa_ua_free(u);
}

Test(oa_ua, nul_inside_does_not_end_the_user_agent) {
        const char ua[] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X)\0 curl/8.4.0";
        oa_ua *u = new_ua(16);
        oa_ua_result r, cut;

        cr_assert_eq(oa_ua_parse(u, ua, sizeof(ua) - 1, &r), 0);
        cr_assert(r.is_bot);            /* the marker after the NUL counts */
        assert_result_clean(&r);
        cr_assert_eq(oa_ua_parse(u, ua, strlen(ua), &cut), 0);  /* a different key */
        cr_assert_not(cut.is_bot);
        cr_assert_str_eq(cut.device, "mobile");
        oa_ua_free(u);
}

struct dirty_row {
        char ua[200];
        char browser[32];
};

/* uap-core's "^(.{0,200})/(\d+)... CFNetwork" copies the User-Agent's start into the family:
 * whatever bytes arrive, the result is clean UTF-8, cut on a character boundary. */
ParameterizedTestParameters(oa_ua, output_is_clean_utf8) {
        static struct dirty_row rows[] = {
                { "\xff\xfe" "App/1.0 CFNetwork/1.0 Darwin/20.0.0", "??App" },
                { "Foo\x01" "Bar/1.0 CFNetwork/1.0 Darwin/20.0.0", "Foo?Bar" },
                { "Caf\xc3\xa9/1.0 CFNetwork/1.0 Darwin/20.0.0", "Caf\xc3\xa9" },
                { "\xed\xa0\x80" "x/1.0 CFNetwork/1.0 Darwin/20.0.0", "???x" },          /* surrogate */
                { "\xc0\xaf" "x/1.0 CFNetwork/1.0 Darwin/20.0.0", "??x" },               /* overlong */
                { "\xc2\x85" "x/1.0 CFNetwork/1.0 Darwin/20.0.0", "??x" },               /* C1 control */
                /* 20 x "é" (40 bytes): 15 fit into 31 bytes */
                { "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                  "/1.0 CFNetwork/1.0 Darwin/20.0.0",
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" },
                /* a 4-byte character that would straddle the end is left out whole */
                { "abcdefghijklmnopqrstuvwxyz0\xf0\x9f\x98\x80/1.0 CFNetwork/1.0 Darwin/20.0.0",
                  "abcdefghijklmnopqrstuvwxyz0\xf0\x9f\x98\x80" },
                { "abcdefghijklmnopqrstuvwxyz01\xf0\x9f\x98\x80/1.0 CFNetwork/1.0 Darwin/20.0.0",
                  "abcdefghijklmnopqrstuvwxyz01" },
        };
        return cr_make_param_array(struct dirty_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct dirty_row *row, oa_ua, output_is_clean_utf8) {
        oa_ua *u = new_ua(0);
        oa_ua_result r;

        cr_assert_eq(oa_ua_parse(u, row->ua, strlen(row->ua), &r), 0);
        assert_result_clean(&r);
        cr_assert_str_eq(r.browser, row->browser);
        oa_ua_free(u);
}

Test(oa_ua, random_bytes_never_crash) {
        oa_ua *u = new_ua(64);
        char buf[700];

        srand(1);
        for (int i = 0; i < 2000; i++) {
                size_t len = (size_t)rand() % sizeof(buf);
                oa_ua_result r;

                for (size_t k = 0; k < len; k++)
                        buf[k] = (char)(i % 2 ? rand() : 32 + rand() % 95);
                cr_assert_eq(oa_ua_parse(u, buf, len, &r), 0);
                assert_result_clean(&r);
        }
        oa_ua_free(u);
}

/* uap-core's own ReDoS cases (tests/regexes.js), cut to what we look at. */
Test(oa_ua, redos_inputs_stay_bounded) {
        static const struct { const char *head, *rep, *tail; } cases[] = {
                { "a", "a", "a" },
                { "SmartWatch", " ", "z" },
                { ";A Build HuaweiA", "4", "z" },
                { "HbbTV/0.0.0 (;LGE;", " ", "z" },
                { "AppleWebKit/1.", "0", "!" },
                { "AppleWebKit/1.1", " Safari", "!" },
                { "Mozilla", "Mobile", "!" },
                { "Opera/", "Opera Mobi", "!" },
                { "Mozilla", "Android", "!" },
                { "Chrome/1.1.", "0", "!" },
                { "iPod;", "CPUOS 1_1", "!" },
                { "HbbTV/1.1.1 (", ";a;2011", "!" },
                { "; VS6", "0", "!" },
                { "Windows Phone ", " ; IEMobile/ ; ARM; Touch; ", "!" },
        };
        oa_ua *u = new_ua(0);
        char buf[OA_UA_MAX_INPUT];
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t n = 0, hl = strlen(cases[i].head), rl = strlen(cases[i].rep);
                oa_ua_result r;

                memcpy(buf, cases[i].head, hl);
                n = hl;
                while (n + rl + 1 < sizeof(buf)) {
                        memcpy(buf + n, cases[i].rep, rl);
                        n += rl;
                }
                buf[n++] = cases[i].tail[0];
                cr_assert_eq(oa_ua_parse(u, buf, n, &r), 0);
                assert_result_clean(&r);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        cr_assert_lt(t1.tv_sec - t0.tv_sec, 5);
        oa_ua_free(u);
}

/* ---- API, cache, errors ---------------------------------------------------------------- */

Test(oa_ua, invalid_arguments) {
        oa_ua *u = new_ua(4);
        oa_ua_result r;

        cr_assert_eq(oa_ua_parse(NULL, "x", 1, &r), -EINVAL);
        cr_assert_eq(oa_ua_parse(u, "x", 1, NULL), -EINVAL);
        cr_assert_eq(oa_ua_parse(u, NULL, 1, &r), -EINVAL);
        cr_assert_eq(oa_ua_parse(u, NULL, 0, &r), 0);   /* the empty User-Agent */
        cr_assert(r.is_bot);
        cr_assert_eq(oa_ua_new(NULL, 4, NULL, NULL, 0), -EINVAL);
        cr_assert_null(oa_ua_free(u));
        cr_assert_null(oa_ua_free(NULL));
}

Test(oa_ua, cache_counts_hits_misses_evictions) {
        oa_ua *u = new_ua(2);
        oa_ua_result r;
        oa_ua_stats st;

        oa_ua_parse(u, chrome, strlen(chrome), &r);
        oa_ua_parse(u, chrome, strlen(chrome), &r);
        oa_ua_parse(u, "curl/8.4.0", 10, &r);
        oa_ua_parse(u, "Wget/1.21", 9, &r);             /* evicts one */
        oa_ua_get_stats(u, &st);
        cr_assert_eq(st.hits, 1);
        cr_assert_eq(st.misses, 3);
        cr_assert_eq(st.evictions, 1);
        cr_assert_eq(st.entries, 2);
        cr_assert_eq(st.capacity, 2);
        cr_assert_gt(st.rules, 1000);
        cr_assert_eq(st.limit_errors, 0);
        oa_ua_free(u);
}

Test(oa_ua, no_cache_always_scans) {
        oa_ua *u = new_ua(0);
        oa_ua_result a, b;
        oa_ua_stats st;

        oa_ua_parse(u, chrome, strlen(chrome), &a);
        oa_ua_parse(u, chrome, strlen(chrome), &b);
        cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
        oa_ua_get_stats(u, &st);
        cr_assert_eq(st.hits, 0);
        cr_assert_eq(st.misses, 2);
        cr_assert_eq(st.entries, 0);
        cr_assert_eq(st.capacity, 0);
        oa_ua_free(u);
}

Test(oa_ua, cache_too_large_is_einval) {
        oa_ua *u = NULL;
        char err[128] = "";

        cr_assert_eq(oa_ua_new(NULL, (size_t)OA_UA_MAX_CACHE + 1, &u, err, sizeof(err)), -EINVAL);
        cr_assert_null(u);
}

Test(oa_ua, missing_regexes_file_is_enoent) {
        oa_ua *u = NULL;
        char err[256] = "";

        cr_assert_eq(oa_ua_new("/nonexistent/regexes.yaml", 10, &u, err, sizeof(err)), -ENOENT);
        cr_assert(strstr(err, "/nonexistent/regexes.yaml"), "%s", err);
        cr_assert_null(u);
}

static char *temp_file(const char *content) {
        static char path[64];
        int fd;

        snprintf(path, sizeof(path), "/tmp/oa-test-ua-XXXXXX");
        fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        close(fd);
        return path;
}

Test(oa_ua, regexes_file_with_a_missing_list_is_ebadmsg) {
        char *path = temp_file("user_agent_parsers:\n  - regex: '(Foo)'\n"
                               "os_parsers:\n  - regex: '(Bar)'\n");
        oa_ua *u = NULL;
        char err[256] = "";

        cr_assert_eq(oa_ua_new(path, 10, &u, err, sizeof(err)), -EBADMSG);
        cr_assert(strstr(err, "device_parsers"), "%s", err);
        unlink(path);
}

Test(oa_ua, regexes_file_with_a_bad_regex_names_the_line) {
        char *path = temp_file("user_agent_parsers:\n  - regex: '(Foo)'\n"
                               "os_parsers:\n  - regex: '(Bar'\n"
                               "device_parsers:\n  - regex: '(Baz)'\n");
        oa_ua *u = NULL;
        char err[256] = "";

        cr_assert_eq(oa_ua_new(path, 10, &u, err, sizeof(err)), -EBADMSG);
        cr_assert(strstr(err, "line 4: regex does not compile"), "%s", err);
        unlink(path);
}

Test(oa_ua, small_regexes_file_works) {
        char *path = temp_file("user_agent_parsers:\n  - regex: '(Foo)/(\\d+)'\n"
                               "os_parsers:\n  - regex: '(Bar) (\\d+)\\.(\\d+)'\n"
                               "device_parsers:\n  - regex: '(iPad)'\n");
        oa_ua *u = NULL;
        oa_ua_result r;
        char err[256] = "";

        cr_assert_eq(oa_ua_new(path, 10, &u, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_ua_parse(u, "Foo/3 (Bar 1.2; iPad)", 21, &r), 0);
        cr_assert_str_eq(r.browser, "Foo");
        cr_assert_str_eq(r.version, "3");
        cr_assert_str_eq(r.os, "Bar");
        cr_assert_str_eq(r.os_version, "1.2");
        cr_assert_str_eq(r.device, "tablet");
        oa_ua_free(u);
        unlink(path);
}

Test(oa_ua, version_is_cut_after_a_whole_component) {
        char *path = temp_file("user_agent_parsers:\n  - regex: '(Foo)/(\\d+)\\.(\\d+)\\.(\\d+)'\n"
                               "os_parsers:\n  - regex: '(Bar)'\n"
                               "device_parsers:\n  - regex: '(Baz)'\n");
        oa_ua *u = NULL;
        oa_ua_result r;

        cr_assert_eq(oa_ua_new(path, 10, &u, NULL, 0), 0);
        oa_ua_parse(u, "Foo/1234567.1234567.1", 21, &r);
        cr_assert_str_eq(r.version, "1234567.1234567");         /* ".1" would make 17 */
        oa_ua_parse(u, "Foo/12345678901234567890.1.2", 28, &r);
        cr_assert_str_eq(r.version, "123456789012345");          /* the major alone, cut */
        oa_ua_free(u);
        unlink(path);
}
