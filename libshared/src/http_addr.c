/* Listen addresses and listening sockets for oa/http.h. Addresses are numeric on
 * purpose: a daemon's listen setting should not depend on a resolver at start-up, and
 * "localhost" resolving to ::1 on one host and 127.0.0.1 on the next has bitten everyone. */
#include "oa/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oa/cfg.h"

int oa_http_addr_parse(const char *s, struct sockaddr_storage *ret_ss, socklen_t *ret_len) {
        char host[OA_HTTP_ADDR_MAX + 1];
        struct sockaddr_storage ss;
        const char *port, *end;
        size_t len, hlen;
        long long p;
        bool v6;
        int r;

        if (!s)
                return -EINVAL;
        len = strnlen(s, OA_HTTP_ADDR_MAX + 1);
        if (len > OA_HTTP_ADDR_MAX)
                return -EINVAL;
        if (s[0] == '[') {
                end = memchr(s, ']', len);
                if (!end || end[1] != ':')
                        return -EINVAL;
                hlen = (size_t) (end - s - 1);
                memcpy(host, s + 1, hlen);
                port = end + 2;
                v6 = true;
                if (hlen == 0)
                        return -EINVAL;
        } else {
                end = strrchr(s, ':');
                if (!end)
                        return -EINVAL;
                hlen = (size_t) (end - s);
                memcpy(host, s, hlen);
                port = end + 1;
                v6 = false;
                /* An unbracketed IPv6 address: "::1:80" cannot say where the port starts. */
                if (memchr(host, ':', hlen))
                        return -EINVAL;
        }
        host[hlen] = '\0';
        /* Digits only: no sign, no blanks; oa_cfg_parse_ll checks the rest. */
        if (!*port || strspn(port, "0123456789") != strlen(port))
                return -EINVAL;
        r = oa_cfg_parse_ll(port, 0, 65535, &p);
        if (r < 0)
                return r;

        memset(&ss, 0, sizeof(ss));
        if (v6) {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons((uint16_t) p);
                if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
                        return -EINVAL;
                *ret_len = sizeof(*sin6);
        } else {
                struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

                sin->sin_family = AF_INET;
                sin->sin_port = htons((uint16_t) p);
                if (hlen == 0)
                        sin->sin_addr.s_addr = htonl(INADDR_ANY);
                else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
                        return -EINVAL;
                *ret_len = sizeof(*sin);
        }
        *ret_ss = ss;
        return 0;
}

int oa_http_addr_format(const struct sockaddr *sa, char *buf, size_t len) {
        char ip[INET6_ADDRSTRLEN];
        int n;

        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *) (const void *) sa;

                inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
                n = snprintf(buf, len, "%s:%u", ip, (unsigned) ntohs(sin->sin_port));
        } else if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) (const void *) sa;

                inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
                n = snprintf(buf, len, "[%s]:%u", ip, (unsigned) ntohs(sin6->sin6_port));
        } else
                return -EAFNOSUPPORT;
        if (n < 0 || (size_t) n >= len)
                return -ENOSPC;
        return 0;
}

/* "listen <addr>: <what>: <strerror>" into errbuf. */
static void listen_error(char *errbuf, size_t errlen, const char *addr, const char *what,
                         int err) {
        char msg[128];

        if (strerror_r(err, msg, sizeof(msg)) != 0)
                snprintf(msg, sizeof(msg), "error %d", err);
        snprintf(errbuf, errlen, "listen %s: %s%s%s", addr, what, *what ? ": " : "", msg);
}

int oa_http_listen(const char *addr, int backlog, bool reuseport, int *ret_fd,
                   char *errbuf, size_t errlen) {
        struct sockaddr_storage ss;
        socklen_t sslen;
        int fd = -1, one = 1, r;

        r = oa_http_addr_parse(addr, &ss, &sslen);
        if (r < 0) {
                snprintf(errbuf, errlen, "listen %s: not a numeric address with a port "
                         "(e.g. 127.0.0.1:8080, [::1]:8080, :8080)", addr ? addr : "(null)");
                return r;
        }
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                listen_error(errbuf, errlen, addr, "socket", errno);
                goto out;
        }
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)) {
                r = -errno;
                listen_error(errbuf, errlen, addr, "setsockopt", errno);
                goto out;
        }
        if (bind(fd, (struct sockaddr *) &ss, sslen) < 0) {
                r = -errno;
                listen_error(errbuf, errlen, addr,
                             errno == EADDRINUSE ? "port taken (is another instance running? "
                             "replicas sharing a port need reuseport on all of them)" : "bind",
                             errno);
                goto out;
        }
        if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
                r = -errno;
                listen_error(errbuf, errlen, addr, "listen", errno);
                goto out;
        }
        *ret_fd = fd;
        fd = -1;
        r = 0;
out:
        if (fd >= 0)
                close(fd);
        return r;
}
