/* Trusted proxies and the client address behind them (oa/proxy.h). Addresses are
 * compared as 16 bytes and a family; IPv4-mapped IPv6 is turned into IPv4 first, so a
 * dual-stack socket's "::ffff:127.0.0.1" matches "127.0.0.1". */
#include "oa/proxy.h"

#include "oa/cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Parse an address as found in X-Forwarded-For (blanks around it; "[v6]:port" and
 * "v4:port" tolerated) into 16 bytes; IPv4-mapped IPv6 becomes IPv4. */
static int parse_ip(const char *s, size_t n, unsigned char *addr, int *family) {
        char buf[INET6_ADDRSTRLEN + 8];
        const char *end;

        while (n && (*s == ' ' || *s == '\t'))
                s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        if (n && s[0] == '[' && (end = memchr(s, ']', n))) {
                s++;
                n = (size_t) (end - s);
        }
        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        memset(addr, 0, 16);
        if (inet_pton(AF_INET, buf, addr) == 1) {
                *family = AF_INET;
                return 0;
        }
        if (inet_pton(AF_INET6, buf, addr) == 1) {
                static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

                if (memcmp(addr, mapped, 12) == 0) {
                        memmove(addr, addr + 12, 4);
                        memset(addr + 4, 0, 12);
                        *family = AF_INET;
                } else {
                        *family = AF_INET6;
                }
                return 0;
        }
        /* "1.2.3.4:80" */
        end = strchr(buf, ':');
        if (end && !strchr(end + 1, ':')) {
                buf[end - buf] = '\0';
                if (inet_pton(AF_INET, buf, addr) == 1) {
                        *family = AF_INET;
                        return 0;
                }
        }
        return -EINVAL;
}

static bool net_match(const oa_proxies *p, int family, const unsigned char *addr) {
        for (size_t i = 0; i < p->n; i++) {
                const oa_proxy_net *net = &p->net[i];
                unsigned full = net->bits / 8, rest = net->bits % 8;

                if (net->family != family || memcmp(net->addr, addr, full) != 0)
                        continue;
                if (rest && ((net->addr[full] ^ addr[full]) & (0xff << (8 - rest))))
                        continue;
                return true;
        }
        return false;
}

int oa_ip_format(int family, const void *addr, char *ret, size_t len) {
        const unsigned char *a = addr;
        char buf[INET_ADDRSTRLEN], *p = buf;

        if (family != AF_INET)
                return inet_ntop(family, addr, ret, (socklen_t) len) ? 0 : -ENOSPC;
        /* glibc's inet_ntop formats IPv4 through sprintf: on every request, that shows. */
        for (int i = 0; i < 4; i++) {
                unsigned v = a[i];

                if (i)
                        *p++ = '.';
                if (v >= 100)
                        *p++ = (char) ('0' + v / 100);
                if (v >= 10)
                        *p++ = (char) ('0' + v / 10 % 10);
                *p++ = (char) ('0' + v % 10);
        }
        *p = '\0';
        if ((size_t) (p - buf) + 1 > len)
                return -ENOSPC;
        memcpy(ret, buf, (size_t) (p - buf) + 1);
        return 0;
}

/* Parse one "addr" or "addr/bits" item of n bytes. */
static int parse_net(const char *s, size_t n, oa_proxy_net *ret) {
        char buf[INET6_ADDRSTRLEN + 8];
        const char *slash;
        long long bits;
        unsigned max;

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        slash = strchr(buf, '/');
        if (slash)
                buf[slash - buf] = '\0';
        memset(ret, 0, sizeof(*ret));
        if (inet_pton(AF_INET, buf, ret->addr) == 1) {
                ret->family = AF_INET;
                max = 32;
        } else if (inet_pton(AF_INET6, buf, ret->addr) == 1) {
                ret->family = AF_INET6;
                max = 128;
        } else {
                return -EINVAL;
        }
        ret->bits = max;
        if (slash) {
                if (oa_cfg_parse_ll(slash + 1, 0, max, &bits) < 0)
                        return -EINVAL;
                ret->bits = (unsigned) bits;
        }
        return 0;
}

int oa_proxies_parse(const char *csv, const char *what, oa_proxies *ret, char *errbuf,
                     size_t errlen) {
        const char *p = csv ? csv : "";

        memset(ret, 0, sizeof(*ret));
        while (*p) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                const char *a = p, *b = p + len;

                while (a < b && (*a == ' ' || *a == '\t'))
                        a++;
                while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                        b--;
                if (a < b) {
                        if (ret->n == OA_PROXIES_MAX) {
                                snprintf(errbuf, errlen, "%s: at most %d entries", what, OA_PROXIES_MAX);
                                return -EINVAL;
                        }
                        if (parse_net(a, (size_t) (b - a), &ret->net[ret->n]) < 0) {
                                snprintf(errbuf, errlen, "%s: '%.*s' is not an IP address or network "
                                         "(1.2.3.4, 10.0.0.0/8, ::1, fd00::/8)", what,
                                         (int) (b - a > 64 ? 64 : b - a), a);
                                return -EINVAL;
                        }
                        ret->n++;
                }
                if (!end)
                        break;
                p = end + 1;
        }
        return 0;
}

bool oa_proxies_match(const oa_proxies *p, const char *ip) {
        unsigned char addr[16];
        int family;

        return parse_ip(ip, strlen(ip), addr, &family) == 0 && net_match(p, family, addr);
}

int oa_proxies_client_ip(const oa_proxies *p, const char *peer, const char *xff,
                         size_t xff_len, char *ret, size_t len) {
        unsigned char cur[16], e[16];
        int cur_family, e_family;
        size_t end = xff ? xff_len : 0;

        if (parse_ip(peer, strlen(peer), cur, &cur_family) < 0)
                return -EINVAL;
        /* Walk from the right while the hop that told us is trusted. */
        while (net_match(p, cur_family, cur) && end > 0) {
                size_t start = end;

                while (start > 0 && xff[start - 1] != ',')
                        start--;
                if (parse_ip(xff + start, end - start, e, &e_family) < 0) {
                        /* An empty item (",,") is skipped; garbage ends the walk. */
                        bool blank = true;

                        for (size_t i = start; i < end && blank; i++)
                                blank = xff[i] == ' ' || xff[i] == '\t';
                        if (!blank)
                                break;
                } else {
                        memcpy(cur, e, 16);
                        cur_family = e_family;
                }
                end = start ? start - 1 : 0;
        }
        return oa_ip_format(cur_family, cur, ret, len);
}

/* The length of ip when it is an IPv4 address in the form inet_ntop writes (four
 * decimals of 0 to 255, no leading zeros, nothing around them), else 0. */
static size_t canonical_ipv4(const char *ip) {
        const char *p = ip;

        for (int part = 0; part < 4; part++) {
                unsigned v = 0, digits = 0;

                if (part && *p++ != '.')
                        return 0;
                while (*p >= '0' && *p <= '9' && digits < 4) {
                        v = v * 10 + (unsigned) (*p++ - '0');
                        digits++;
                }
                if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && p[-(int) digits] == '0'))
                        return 0;
        }
        return *p ? 0 : (size_t) (p - ip);
}

int oa_proxies_client_bucket(const char *ip, char *ret, size_t len) {
        unsigned char addr[16];
        int family, r;
        size_t v4 = canonical_ipv4(ip);

        /* The common case, and its own bucket: no parsing and formatting back. */
        if (v4) {
                if (v4 + 1 > len)
                        return -ENOSPC;
                memcpy(ret, ip, v4 + 1);
                return 0;
        }
        if (parse_ip(ip, strlen(ip), addr, &family) < 0)
                return -EINVAL;
        if (family == AF_INET6)
                memset(addr + 8, 0, 8);
        r = oa_ip_format(family, addr, ret, len);
        if (r == 0 && family == AF_INET6) {
                size_t n = strlen(ret);

                if (n + 4 > len)
                        return -ENOSPC;
                memcpy(ret + n, "/64", 4);
        }
        return r;
}
