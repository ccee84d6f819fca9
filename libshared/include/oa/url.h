/* URLs of pages and referrers, for enrichment: split an absolute URL, the lower-cased
 * host name, the path, the UTM parameters and the ad platforms' click ids. Pure; the
 * spans of oa_url point into the caller's text. */
#ifndef OA_URL_H
#define OA_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "oa/arena.h"

#define OA_URL_MAX_PATH 1024    /* bytes of path kept */
#define OA_URL_MAX_UTM 256      /* bytes of a decoded UTM value kept */
#define OA_URL_MAX_HOST 255

/* An absolute URL "scheme://[userinfo@]host[:port][/path][?query][#fragment]", split. */
typedef struct oa_url {
        const char *scheme;     /* without ':' */
        size_t scheme_len;
        const char *host;       /* without userinfo and port; "[...]" for IPv6 */
        size_t host_len;
        const char *path;       /* from the first '/' to '?' or '#'; empty when none */
        size_t path_len;
        const char *query;      /* without '?' up to '#'; NULL when there is no '?' */
        size_t query_len;
} oa_url;

/* Split s (n bytes, need not be NUL-terminated) into *ret. Accepts a scheme of a letter
 * then letters, digits, '+', '-', '.'; then "//" and a host that is not empty, of
 * letters, digits, "-._~%!$&'()*+,;=" or non-ASCII bytes (IDN as sent), or an IPv6
 * literal in brackets; then an optional port of up to 5 digits. No byte of s may be a
 * control character, a space or DEL. Returns 0 or -EINVAL. */
int oa_url_split(const char *s, size_t n, oa_url *ret);

/* True when u's scheme is http or https (any case). */
bool oa_url_is_web(const oa_url *u);

/* What enrichment takes from a URL. Strings are in the arena and never NULL ("" when
 * absent). */
typedef struct oa_url_info {
        char *hostname;         /* lower-cased ASCII, no port, no trailing dot */
        char *path;             /* as sent (still percent-encoded), "/" when empty, cut
                                 * to OA_URL_MAX_PATH bytes at a UTF-8 boundary */
        char *utm_source, *utm_medium, *utm_campaign, *utm_content, *utm_term;
        const char *click_id;   /* the click-id parameter ("gclid"): the first that marks
                                 * an ad click, else the first at all; NULL: none */
        bool paid_click;        /* click_id marks an ad click (fbclid does not: Facebook
                                 * adds it to every outbound link) */
} oa_url_info;

/* Fill *ret from the URL s (n bytes). UTM values (utm_source, utm_medium, utm_campaign,
 * utm_content, utm_term; the first of each wins) are percent-decoded once with '+' as a
 * space and cut to OA_URL_MAX_UTM bytes at a UTF-8 boundary; one that decodes to invalid
 * UTF-8 or a control character is left empty. Returns 0; -EINVAL when s is not a URL
 * (oa_url_split), *ret is then all empty; -ENOMEM. */
int oa_url_info_get(const char *s, size_t n, oa_arena *a, oa_url_info *ret);

/* u's host lower-cased, without a trailing dot, in a ("" for none). NULL: no memory. */
char *oa_url_hostname(const oa_url *u, oa_arena *a);

/* The traffic source of a visit, one of "direct", "search", "social", "email", "paid",
 * "referral" (a static string), from the referrer's host name (NULL or "": none), the
 * page's host name, the page's utm_medium and whether the page URL had an ad click id.
 * The table and the order of the rules are in referrer.c and docs/events.md. */
const char *oa_referrer_source(const char *ref_host, const char *page_host,
                               const char *utm_medium, bool paid_click);

#endif
