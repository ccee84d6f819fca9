/* The traffic source of a visit (oa_referrer_source in oa/url.h). The rules, first match
 * wins:
 *   1. paid      the page URL has an ad click id, or utm_medium is a paid medium
 *                (cpc, ppc, paid, paidsearch, paid_search, paid-search, paidsocial,
 *                paid_social, paid-social, cpm, cpv, cpa, display, banner, retargeting)
 *   2. email     utm_medium is email, e-mail, e_mail or newsletter
 *   3. social    utm_medium is social, social-network, social_network, social-media,
 *                social_media or sm
 *   4. direct    no referrer, or the referrer is the page's own host (a leading "www."
 *                ignored on both sides)
 *   5. the referrer host in the table below: email, search or social
 *   6. referral  anything else
 * Host patterns: "name." matches a host with a label "name" followed by more labels
 * (google.com, www.google.co.uk, news.google.de); anything else matches the host itself
 * or a subdomain of it (t.co, m.facebook.com). Email entries come first so that
 * mail.google.com is email, not search; android-app:// referrers carry the package
 * name as host. */
#include "oa/url.h"

#include <string.h>

#define H(p, s) { p, sizeof(p) - 1, s }

static const struct {
        const char *pattern;
        size_t len;
        const char *source;
} hosts[] = {
        /* email: webmail front ends and mail apps */
        H("mail.google.com", "email"),
        H("inbox.google.com", "email"),
        H("com.google.android.gm", "email"),
        H("outlook.live.com", "email"),
        H("outlook.office.com", "email"),
        H("outlook.office365.com", "email"),
        H("mail.yahoo.com", "email"),
        H("mail.yahoo.co.jp", "email"),
        H("mail.aol.com", "email"),
        H("mail.proton.me", "email"),
        H("mail.protonmail.com", "email"),
        H("mail.zoho.com", "email"),
        H("app.fastmail.com", "email"),
        H("mail.yandex.ru", "email"),
        H("e.mail.ru", "email"),
        H("webmail.", "email"),
        /* search engines */
        H("google.", "search"),
        H("com.google.android.googlequicksearchbox", "search"),
        H("bing.", "search"),
        H("duckduckgo.", "search"),
        H("yahoo.", "search"),
        H("yandex.", "search"),
        H("ya.ru", "search"),
        H("baidu.", "search"),
        H("ecosia.", "search"),
        H("search.brave.com", "search"),
        H("startpage.", "search"),
        H("qwant.", "search"),
        H("naver.", "search"),
        H("seznam.", "search"),
        H("sogou.", "search"),
        H("so.com", "search"),
        H("ask.com", "search"),
        H("aol.", "search"),
        H("kagi.com", "search"),
        H("perplexity.ai", "search"),
        /* social networks */
        H("facebook.", "social"),
        H("fb.me", "social"),
        H("com.facebook.katana", "social"),
        H("instagram.", "social"),
        H("t.co", "social"),
        H("twitter.com", "social"),
        H("x.com", "social"),
        H("linkedin.", "social"),
        H("lnkd.in", "social"),
        H("com.linkedin.android", "social"),
        H("reddit.", "social"),
        H("youtube.", "social"),
        H("youtu.be", "social"),
        H("tiktok.", "social"),
        H("pinterest.", "social"),
        H("pin.it", "social"),
        H("snapchat.", "social"),
        H("threads.net", "social"),
        H("bsky.app", "social"),
        H("mastodon.social", "social"),
        H("news.ycombinator.com", "social"),
        H("vk.com", "social"),
        H("ok.ru", "social"),
        H("weibo.", "social"),
        H("quora.", "social"),
        H("tumblr.", "social"),
        H("discord.", "social"),
        H("t.me", "social"),
        H("telegram.", "social"),
        H("whatsapp.", "social"),
};

static bool word_in(const char *w, const char *const *list) {
        for (; *list; list++)
                if (strcmp(w, *list) == 0)
                        return true;
        return false;
}

static const char *const paid_media[] = {
        "cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "paidsocial",
        "paid_social", "paid-social", "cpm", "cpv", "cpa", "display", "banner",
        "retargeting", NULL,
};
static const char *const email_media[] = { "email", "e-mail", "e_mail", "newsletter", NULL };
static const char *const social_media[] = {
        "social", "social-network", "social_network", "social-media", "social_media", "sm", NULL,
};

/* host matches pattern (plen bytes) as described at the top. */
static bool host_match(const char *host, size_t hlen, const char *pattern, size_t plen) {
        if (pattern[plen - 1] == '.') {
                /* a label: at the start or after a dot, with more after it */
                for (size_t i = 0; i + plen < hlen; i++) {
                        if ((i == 0 || host[i - 1] == '.') && memcmp(host + i, pattern, plen) == 0)
                                return true;
                        while (i < hlen && host[i] != '.')
                                i++;
                }
                return false;
        }
        if (hlen == plen)
                return memcmp(host, pattern, plen) == 0;
        return hlen > plen && host[hlen - plen - 1] == '.' && memcmp(host + hlen - plen, pattern, plen) == 0;
}

static const char *strip_www(const char *h) {
        return strncmp(h, "www.", 4) == 0 ? h + 4 : h;
}

const char *oa_referrer_source(const char *ref_host, const char *page_host,
                               const char *utm_medium, bool paid_click) {
        char medium[32];
        size_t hlen;

        medium[0] = '\0';
        if (utm_medium && strlen(utm_medium) < sizeof(medium)) {
                size_t i = 0;

                for (; utm_medium[i]; i++) {
                        char c = utm_medium[i];

                        medium[i] = c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
                }
                medium[i] = '\0';
        }
        /* no list holds "", so an event without a medium skips them */
        if (paid_click || (medium[0] && word_in(medium, paid_media)))
                return "paid";
        if (medium[0] && word_in(medium, email_media))
                return "email";
        if (medium[0] && word_in(medium, social_media))
                return "social";
        if (!ref_host || !*ref_host)
                return "direct";
        if (page_host && *page_host && strcmp(strip_www(ref_host), strip_www(page_host)) == 0)
                return "direct";
        hlen = strlen(ref_host);
        for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
                if (host_match(ref_host, hlen, hosts[i].pattern, hosts[i].len))
                        return hosts[i].source;
        return "referral";
}
