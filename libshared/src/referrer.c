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
 * name as host.
 *
 * First match wins is the lowest table index among all patterns that match. The table is
 * indexed once (sorted by length and bytes): a host looks up each of its suffixes at a
 * label boundary and each run of whole labels followed by more, no longer than the
 * longest pattern, instead of trying all 66 patterns in turn. */
#include "oa/url.h"

#include <pthread.h>
#include <stdlib.h>
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

#define N_HOSTS (sizeof(hosts) / sizeof(hosts[0]))

/* The table sorted by (length, bytes): the suffix patterns in one index, the label
 * patterns (ending in '.') in the other. */
typedef struct entry {
        const char *name;
        size_t len;
        size_t idx;                     /* in hosts[] */
} entry;

static entry suffix_idx[N_HOSTS], label_idx[N_HOSTS];
static size_t n_suffix, n_label, max_suffix, max_label;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static int entry_cmp(const void *a, const void *b) {
        const entry *x = a, *y = b;

        if (x->len != y->len)
                return x->len < y->len ? -1 : 1;
        return memcmp(x->name, y->name, x->len);
}

static void idx_build(void) {
        for (size_t i = 0; i < N_HOSTS; i++) {
                entry e = { hosts[i].pattern, hosts[i].len, i };

                if (hosts[i].pattern[hosts[i].len - 1] == '.') {
                        label_idx[n_label++] = e;
                        if (e.len > max_label)
                                max_label = e.len;
                } else {
                        suffix_idx[n_suffix++] = e;
                        if (e.len > max_suffix)
                                max_suffix = e.len;
                }
        }
        qsort(suffix_idx, n_suffix, sizeof(entry), entry_cmp);
        qsort(label_idx, n_label, sizeof(entry), entry_cmp);
}

/* The table index of name (len bytes) in idx, or N_HOSTS. */
static size_t find(const entry *idx, size_t n, const char *name, size_t len) {
        entry key = { name, len, 0 };
        const entry *e = bsearch(&key, idx, n, sizeof(entry), entry_cmp);

        return e ? e->idx : N_HOSTS;
}

/* The lowest table index of a pattern host (hlen bytes) matches, as described at the
 * top, or N_HOSTS. */
static size_t host_lookup(const char *host, size_t hlen) {
        size_t best = N_HOSTS;

        pthread_once(&idx_once, idx_build);
        for (size_t i = 0; i < hlen; i++) {
                size_t k;

                if (i > 0 && host[i - 1] != '.')
                        continue;
                /* the host itself or a subdomain of a suffix pattern */
                if (hlen - i <= max_suffix && (k = find(suffix_idx, n_suffix, host + i, hlen - i)) < best)
                        best = k;
                /* whole labels from i, with their dot, followed by more */
                for (size_t d = i; d < hlen && d + 1 - i <= max_label; d++) {
                        if (host[d] != '.' || d + 1 >= hlen)
                                continue;
                        if ((k = find(label_idx, n_label, host + i, d + 1 - i)) < best)
                                best = k;
                }
        }
        return best;
}

static const char *strip_www(const char *h) {
        return strncmp(h, "www.", 4) == 0 ? h + 4 : h;
}

const char *oa_referrer_source(const char *ref_host, const char *page_host,
                               const char *utm_medium, bool paid_click) {
        char medium[32];
        size_t hlen, k;

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
        k = host_lookup(ref_host, hlen);
        return k < N_HOSTS ? hosts[k].source : "referral";
}
