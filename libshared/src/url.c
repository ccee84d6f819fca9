/* Splitting page and referrer URLs, and what enrichment takes from them (oa/url.h). One
 * pass over the text; nothing is copied but what is kept. */
#include "oa/url.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "bytescan.h"

/* Byte classes, one table look-up per byte. */
enum {
        C_BAD = 1,      /* control, space, DEL: never in a URL we take */
        C_SCHEME = 2,   /* letter, digit, '+', '-', '.' */
        C_HOST = 4,     /* a host name byte: unreserved, sub-delims, '%', non-ASCII */
        C_HEX6 = 8,     /* IPv6 literal: hex digit, ':', '.' */
};

static unsigned char cls[256];

/* Filled on first use; the same bytes every time, so a race between threads is harmless
 * but for the formal data race, which pthread_once avoids. */
static pthread_once_t cls_once = PTHREAD_ONCE_INIT;

static void cls_init(void) {
        for (int c = 0; c < 256; c++) {
                unsigned char k = 0;
                bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'), digit = c >= '0' && c <= '9';

                if (c <= 0x20 || c == 0x7f)
                        k |= C_BAD;
                if (alpha || digit || c == '+' || c == '-' || c == '.')
                        k |= C_SCHEME;
                if (alpha || digit || c >= 0x80 || (c && strchr("-._~%!$&'()*+,;=", c)))
                        k |= C_HOST;
                if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.')
                        k |= C_HEX6;
                cls[c] = k;
        }
}

/* Offset of the first byte at or after i that is C_BAD (control, space, DEL), x or y, or
 * n: the path and query are most of a page URL. */
static size_t scan_to(const unsigned char *u, size_t i, size_t n, unsigned char x, unsigned char y) {
        return oa_bytescan(u, i, n, 0x21, x, y, false);
}

int oa_url_split(const char *s, size_t n, oa_url *ret) {
        const unsigned char *u = (const unsigned char *) s;
        size_t i = 0, auth, auth_end, host, host_end;
        const unsigned char *hash, *at;
        oa_url out = { 0 };

        pthread_once(&cls_once, cls_init);
        if (!s || n == 0 || !((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z')))
                return -EINVAL;
        while (i < n && (cls[u[i]] & C_SCHEME))
                i++;
        if (n - i < 3 || memcmp(s + i, "://", 3) != 0)
                return -EINVAL;
        out.scheme = s;
        out.scheme_len = i;
        auth = host = i + 3;
        /* the authority ends at '/', '?' or '#' and holds no C_BAD byte */
        auth_end = scan_to(u, auth, n, '/', '?');
        hash = memchr(u + auth, '#', auth_end - auth);
        if (hash)
                auth_end = (size_t) (hash - u);
        else if (auth_end < n && (cls[u[auth_end]] & C_BAD))
                return -EINVAL;
        /* the host follows the last '@': userinfo is dropped */
        for (at = u + auth; (at = memchr(at, '@', (size_t) (u + auth_end - at))) != NULL; at++)
                host = (size_t) (at - u) + 1;
        if (host < auth_end && u[host] == '[') {
                host_end = host + 1;
                while (host_end < auth_end && (cls[u[host_end]] & C_HEX6))
                        host_end++;
                if (host_end >= auth_end || u[host_end] != ']' || host_end == host + 1)
                        return -EINVAL;
                host_end++;
        } else {
                for (host_end = host; host_end < auth_end && u[host_end] != ':'; host_end++)
                        if (!(cls[u[host_end]] & C_HOST))
                                return -EINVAL;
        }
        if (host_end == host)
                return -EINVAL;
        if (host_end < auth_end) {
                if (u[host_end] != ':' || auth_end - host_end - 1 > 5)
                        return -EINVAL;
                for (size_t k = host_end + 1; k < auth_end; k++)
                        if (u[k] < '0' || u[k] > '9')
                                return -EINVAL;
        }
        out.host = s + host;
        out.host_len = host_end - host;
        out.path = s + auth_end;
        i = scan_to(u, auth_end, n, '?', '#');
        if (i < n && (cls[u[i]] & C_BAD))
                return -EINVAL;
        out.path_len = i - auth_end;
        if (i < n && u[i] == '?') {
                out.query = s + i + 1;
                i = scan_to(u, i + 1, n, '#', '#');
                if (i < n && (cls[u[i]] & C_BAD))
                        return -EINVAL;
                out.query_len = (size_t) (s + i - out.query);
        }
        if (i < n && scan_to(u, i, n, 0, 0) < n)        /* the fragment */
                return -EINVAL;
        *ret = out;
        return 0;
}

static bool ieq(const char *a, size_t n, const char *lit) {
        if (strlen(lit) != n)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = a[i];

                if (c >= 'A' && c <= 'Z')
                        c = (char) (c - 'A' + 'a');
                if (c != lit[i])
                        return false;
        }
        return true;
}

bool oa_url_is_web(const oa_url *u) {
        return u->host_len > 0 && (ieq(u->scheme, u->scheme_len, "http") || ieq(u->scheme, u->scheme_len, "https"));
}

char *oa_url_hostname(const oa_url *u, oa_arena *a) {
        size_t n = u->host_len;
        char *h;

        if (n > 1 && u->host[n - 1] == '.')
                n--;
        if (n > OA_URL_MAX_HOST)
                n = OA_URL_MAX_HOST;
        h = oa_arena_strndup(a, u->host, n);
        if (!h)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (h[i] >= 'A' && h[i] <= 'Z')
                        h[i] = (char) (h[i] - 'A' + 'a');
        return h;
}

/* The longest prefix of s[0..n) of at most max bytes that does not end inside a UTF-8
 * sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max) {
        if (n <= max)
                return n;
        n = max;
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--;
        return n;
}

/* True when s[0..n) is valid UTF-8 without C0 controls or DEL. */
static bool clean_utf8(const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char c = s[i];
                size_t len;
                unsigned long cp, min;

                if (c < 0x80) {
                        if (c < 0x20 || c == 0x7f)
                                return false;
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        len = 2, cp = c & 0x1f, min = 0x80;
                else if (c >= 0xe0 && c <= 0xef)
                        len = 3, cp = c & 0x0f, min = 0x800;
                else if (c >= 0xf0 && c <= 0xf4)
                        len = 4, cp = c & 0x07, min = 0x10000;
                else
                        return false;
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decode a query value once ('+' is a space; a '%' not followed by two hex digits stays
 * as it is), keeping at most OA_URL_MAX_UTM bytes cut at a UTF-8 boundary. "" when the
 * result is not clean UTF-8. */
static char *utm_value(const char *v, size_t n, oa_arena *a) {
        unsigned char out[OA_URL_MAX_UTM + 4];
        size_t o = 0;

        for (size_t i = 0; i < n && o < sizeof(out); i++) {
                int hi, lo;

                if (v[i] == '+') {
                        out[o++] = ' ';
                } else if (v[i] == '%' && n - i >= 3 && (hi = hexval(v[i + 1])) >= 0 &&
                           (lo = hexval(v[i + 2])) >= 0) {
                        out[o++] = (unsigned char) (hi << 4 | lo);
                        i += 2;
                } else {
                        out[o++] = (unsigned char) v[i];
                }
        }
        o = utf8_cut((const char *) out, o, OA_URL_MAX_UTM);
        if (!clean_utf8(out, o))
                o = 0;
        return oa_arena_strndup(a, (const char *) out, o);
}

/* Query parameters that identify an ad click, and whether they mean a paid visit. */
#define ID(n, paid) { n, sizeof(n) - 1, paid }

static const struct {
        const char *name;
        size_t len;
        bool paid;
} click_ids[] = {
        ID("gclid", true),      /* Google Ads */
        ID("gbraid", true),     /* Google Ads (iOS, app to web) */
        ID("wbraid", true),     /* Google Ads (iOS, web to app) */
        ID("dclid", true),      /* Google Display & Video 360 */
        ID("msclkid", true),    /* Microsoft Advertising */
        ID("ttclid", true),     /* TikTok Ads */
        ID("twclid", true),     /* X (Twitter) Ads */
        ID("li_fat_id", true),  /* LinkedIn Ads */
        ID("yclid", true),      /* Yandex Direct */
        ID("rdt_cid", true),    /* Reddit Ads */
        ID("ScCid", true),      /* Snapchat Ads */
        ID("epik", true),       /* Pinterest Ads */
        ID("fbclid", false),    /* Facebook: on every outbound link, organic too */
};

#undef ID

/* Without their "utm_" */
static const struct {
        const char *name;
        size_t len;
} utm_names[] = {
        { "source", 6 }, { "medium", 6 }, { "campaign", 8 }, { "content", 7 }, { "term", 4 },
};

int oa_url_info_get(const char *s, size_t n, oa_arena *a, oa_url_info *ret) {
        char **utm[] = { &ret->utm_source, &ret->utm_medium, &ret->utm_campaign,
                         &ret->utm_content, &ret->utm_term };
        oa_url u;
        int r;

        ret->hostname = ret->path = (char *) "";
        for (size_t k = 0; k < 5; k++)
                *utm[k] = (char *) "";
        ret->click_id = NULL;
        ret->paid_click = false;
        r = oa_url_split(s, n, &u);
        if (r < 0)
                return r;
        ret->hostname = oa_url_hostname(&u, a);
        ret->path = u.path_len ? oa_arena_strndup(a, u.path, utf8_cut(u.path, u.path_len, OA_URL_MAX_PATH))
                               : oa_arena_strndup(a, "/", 1);
        if (!ret->hostname || !ret->path)
                return -ENOMEM;
        for (size_t i = 0; u.query && i <= u.query_len;) {
                const char *p = u.query + i, *eq;
                size_t len = 0, klen;

                while (i + len < u.query_len && p[len] != '&')
                        len++;
                i += len + 1;
                eq = memchr(p, '=', len);
                klen = eq ? (size_t) (eq - p) : len;
                if (klen > 4 && memcmp(p, "utm_", 4) == 0) {
                        for (size_t k = 0; k < 5; k++) {
                                if (utm_names[k].len != klen - 4 || memcmp(p + 4, utm_names[k].name, klen - 4) != 0 ||
                                    **utm[k] || !eq)
                                        continue;
                                *utm[k] = utm_value(eq + 1, len - klen - 1, a);
                                if (!*utm[k])
                                        return -ENOMEM;
                        }
                        continue;
                }
                if (ret->paid_click || !eq || len == klen + 1)
                        continue;               /* an empty click id is no click */
                for (size_t k = 0; k < sizeof(click_ids) / sizeof(click_ids[0]); k++) {
                        if (click_ids[k].len == klen && memcmp(p, click_ids[k].name, klen) == 0 &&
                            (!ret->click_id || click_ids[k].paid)) {
                                ret->click_id = click_ids[k].name;
                                ret->paid_click = click_ids[k].paid;
                                break;
                        }
                }
        }
        return 0;
}
