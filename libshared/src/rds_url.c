/* Parsing of redis:// URLs (the form redis-cli and most clients accept):
 *   redis://[[user]:password@]host[:port][/db]
 * Strict on purpose: a URL comes from configuration, and a typo should stop the daemon
 * at start rather than connect somewhere unexpected. */
#include "oa/rds.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SCHEME "redis://"

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Percent-decode [p, end) into out (size outlen, NUL-terminated). A decoded NUL, a bad
 * escape or too long a result is an error. */
static int pct_decode(const char *p, const char *end, char *out, size_t outlen) {
        size_t o = 0;

        while (p < end) {
                int c = (unsigned char) *p++;

                if (c == '%') {
                        int hi = p < end ? hexval(p[0]) : -1;
                        int lo = p + 1 < end ? hexval(p[1]) : -1;

                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        c = hi * 16 + lo;
                        p += 2;
                        if (c == 0)
                                return -EINVAL;
                }
                if (o + 1 >= outlen)
                        return -EINVAL;
                out[o++] = (char) c;
        }
        out[o] = '\0';
        return 0;
}

/* A base-10 number of 1 to 5 digits, all of [p, end), within [min, max]. */
static int parse_num(const char *p, const char *end, int min, int max, int *ret) {
        long v = 0;

        if (p == end || end - p > 5)
                return -EINVAL;
        for (; p < end; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (*p - '0');
        }
        if (v < min || v > max)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static bool host_char(char c, bool v6) {
        if (v6)
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                       c == ':' || c == '.';
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '.' || c == '-' || c == '_';
}

int oa_rds_url_parse(const char *url, oa_rds_url *ret_url, char *errbuf, size_t errlen) {
        const char *p, *end, *auth_end, *at, *host, *host_end, *colon;
        oa_rds_url u = { .port = 6379 };
        const char *why;
        bool v6 = false;

        if (!url || strncasecmp(url, SCHEME, strlen(SCHEME)) != 0) {
                why = "must start with redis://";
                goto fail;
        }
        p = url + strlen(SCHEME);
        end = p + strlen(p);
        for (const char *q = url; q < end; q++)
                if ((unsigned char) *q <= 0x20 || *q == 0x7f) {
                        why = "contains a blank or control character";
                        goto fail;
                }
        if (strpbrk(p, "?#")) {
                why = "has a query or fragment (not supported)";
                goto fail;
        }
        auth_end = strchr(p, '/');
        if (!auth_end)
                auth_end = end;
        at = memchr(p, '@', (size_t) (auth_end - p));
        if (at) {
                const char *sep = memchr(p, ':', (size_t) (at - p));

                if (memchr(at + 1, '@', (size_t) (auth_end - at - 1))) {
                        why = "has more than one '@' (encode it as %40)";
                        goto fail;
                }
                if (pct_decode(p, sep ? sep : at, u.user, sizeof(u.user)) < 0 ||
                    (sep && pct_decode(sep + 1, at, u.password, sizeof(u.password)) < 0)) {
                        why = "has a bad user or password (bad %-escape or too long)";
                        goto fail;
                }
                p = at + 1;
        }
        host = p;
        if (*p == '[') {
                v6 = true;
                host = p + 1;
                host_end = memchr(host, ']', (size_t) (auth_end - host));
                if (!host_end) {
                        why = "has an IPv6 address without its ']'";
                        goto fail;
                }
                p = host_end + 1;
                if (p < auth_end && *p != ':') {
                        why = "has text after the IPv6 address";
                        goto fail;
                }
                colon = p < auth_end ? p : NULL;
        } else {
                colon = memchr(p, ':', (size_t) (auth_end - p));
                host_end = colon ? colon : auth_end;
        }
        if (host_end == host || (size_t) (host_end - host) >= sizeof(u.host)) {
                why = "has an empty or too long host";
                goto fail;
        }
        for (const char *q = host; q < host_end; q++)
                if (!host_char(*q, v6)) {
                        why = "has a character not allowed in a host";
                        goto fail;
                }
        memcpy(u.host, host, (size_t) (host_end - host));
        if (colon && parse_num(colon + 1, auth_end, 1, 65535, &u.port) < 0) {
                why = "has a port that is not a number from 1 to 65535";
                goto fail;
        }
        if (auth_end < end && auth_end + 1 < end &&
            parse_num(auth_end + 1, end, 0, 65535, &u.db) < 0) {
                why = "has a database that is not a number from 0 to 65535";
                goto fail;
        }
        *ret_url = u;
        explicit_bzero(&u, sizeof(u));
        return 0;
fail:
        explicit_bzero(&u, sizeof(u));
        snprintf(errbuf, errlen, "redis url %s", why);
        return -EINVAL;
}
