/*
 * Our bot markers: User-Agents that are not a person with a browser, on top of what
 * uap-core already calls a "Spider" (its device_parsers know Googlebot, bingbot and a long
 * list of crawlers). A marker is a case-insensitive substring of the User-Agent's first
 * OA_UA_MAX_INPUT bytes. Markers end in '/' where the tool always sends "name/version",
 * so that a word inside an ordinary browser's User-Agent does not count.
 *
 * Maintaining it: add a row with the marker in lower case and where it comes from; keep the
 * groups; tests/unit/libshared/test_ua.c has a row per marker. An empty or blank
 * User-Agent is a bot too (no browser sends none).
 */
#include <stddef.h>
#include <string.h>

#include "ua_internal.h"

typedef struct bot_marker {
        const char *marker;     /* lower case */
        const char *what;
} bot_marker;

static const bot_marker bot_markers[] = {
        /* headless and automated browsers */
        { "headlesschrome",     "Chrome/Chromium headless (Puppeteer, Playwright default)" },
        { "phantomjs",          "PhantomJS" },
        { "puppeteer",          "Puppeteer, when it says so" },
        { "playwright",         "Playwright, when it says so" },
        /* HTTP libraries and command-line clients */
        { "curl/",              "curl" },
        { "wget/",              "GNU Wget" },
        { "python-requests/",   "Python requests" },
        { "python-urllib/",     "Python urllib" },
        { "python-httpx/",      "Python httpx" },
        { "aiohttp/",           "Python aiohttp" },
        { "go-http-client/",    "Go net/http" },
        { "java/",              "Java HttpURLConnection / HttpClient" },
        { "okhttp/",            "OkHttp (JVM, Android)" },
        { "axios/",             "axios (Node.js)" },
        { "node-fetch",         "node-fetch (Node.js)" },
        { "libwww-perl/",       "Perl LWP" },
        { "apache-httpclient/", "Apache HttpClient (JVM)" },
        { "guzzlehttp/",        "Guzzle (PHP)" },
        { "scrapy/",            "Scrapy" },
        /* uptime and performance monitors */
        { "uptimerobot",        "UptimeRobot" },
        { "pingdom",            "Pingdom" },
        { "statuscake",         "StatusCake" },
        { "datadog",            "Datadog Synthetics" },
        { "newrelicpinger",     "New Relic synthetics" },
        { "site24x7",           "Site24x7" },
        { "gtmetrix",           "GTmetrix" },
        { "lighthouse",         "Lighthouse (Chrome-Lighthouse, PageSpeed Insights)" },
        { "google-pagespeed",   "Google PageSpeed" },
        { "google page speed",  "Google Page Speed Insights (older)" },
        /* crawlers and fetchers uap-core does not know */
        { "google-inspectiontool", "Google Search Console URL inspection" },
        { "chatgpt-user",       "ChatGPT fetching a page for a user" },
        /* link previews */
        { "slackbot",           "Slack (Slackbot-LinkExpanding)" },
        { "facebookexternalhit", "Facebook, Instagram, Messenger previews" },
        { "twitterbot",         "X / Twitter cards" },
        { "discordbot",         "Discord" },
        { "whatsapp",           "WhatsApp previews" },
        { "telegrambot",        "Telegram" },
        { "linkedinbot",        "LinkedIn" },
};

const char *ua_bot_marker(const ua_subject *s) {
        bool blank = true;

        for (size_t i = 0; i < s->len && blank; i++)
                blank = s->lower[i] == ' ' || s->lower[i] == '\t';
        if (blank)
                return "(empty)";
        for (size_t i = 0; i < sizeof(bot_markers) / sizeof(bot_markers[0]); i++) {
                const char *m = bot_markers[i].marker;
                if (ua_subject_has(s, m, strlen(m)))
                        return m;
        }
        return NULL;
}
