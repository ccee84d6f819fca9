/* Client addresses behind trusted proxies: the networks whose X-Forwarded-For is
 * believed (the gateway, an ingress), the client address found by walking that header
 * from the right, and the bucket an address is counted in by per-client limits. Pure:
 * no I/O. oa_http_client_ip (oa/http.h) applies it to a request. */
#ifndef OA_PROXY_H
#define OA_PROXY_H

#include <stdbool.h>
#include <stddef.h>

/* Most networks in one list. */
#define OA_PROXIES_MAX 32

typedef struct oa_proxy_net {
        int family;                     /* AF_INET or AF_INET6 */
        unsigned char addr[16];
        unsigned bits;                  /* prefix length */
} oa_proxy_net;

typedef struct oa_proxies {
        oa_proxy_net net[OA_PROXIES_MAX];
        size_t n;
} oa_proxies;

/* Parse "127.0.0.1,::1,10.0.0.0/8" (blanks around items allowed; empty or NULL: none)
 * into *ret. what names the setting in messages ("OA_EDGE_TRUSTED_PROXIES"). Returns 0
 * or -EINVAL naming the setting and the bad item in errbuf. */
int oa_proxies_parse(const char *csv, const char *what, oa_proxies *ret, char *errbuf,
                     size_t errlen);

/* True when ip (text; IPv4-mapped IPv6 counts as IPv4) is in one of the networks. */
bool oa_proxies_match(const oa_proxies *p, const char *ip);

/* The client address of a request: the peer, or, when the peer is a trusted proxy, the
 * last address of X-Forwarded-For (xff, xff_len bytes, not NUL-terminated, several
 * headers joined by ',') that is not a trusted proxy, walking from the right. Empty
 * items are skipped; an unparsable one ends the walk at the last trusted hop. Writes the
 * address as text into ret (IPv4-mapped IPv6 as IPv4; 46 bytes suffice). Returns 0,
 * -EINVAL when peer is not an address, or -ENOSPC. */
int oa_proxies_client_ip(const oa_proxies *p, const char *peer, const char *xff,
                         size_t xff_len, char *ret, size_t len);

/* An address (family AF_INET or AF_INET6, addr its 4 or 16 bytes) as text, as inet_ntop
 * writes it (IPv4 without stdio). Returns 0 or -ENOSPC. */
int oa_ip_format(int family, const void *addr, char *ret, size_t len);

/* The bucket per-client limits count an address in: the IPv4 address itself, or the /64
 * of an IPv6 address ("2001:db8:1:2::/64": one host holds a whole /64). 50 bytes
 * suffice. Returns 0, -EINVAL when ip is not an address, or -ENOSPC. */
int oa_proxies_client_bucket(const char *ip, char *ret, size_t len);

#endif
