/*
 * IP address → country (oa_geo_), with libloc and the IPFire location database
 * (Debian: libloc-database). Answers ISO 3166-1 alpha-2 codes as the database has them.
 *
 * Addresses that name no place are refused before the database is asked: private,
 * loopback, link-local, shared (CGNAT), documentation, benchmarking, multicast, reserved
 * and unspecified ranges of IPv4 and IPv6, and IPv6 outside 2000::/3. IPv4-mapped IPv6
 * (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::) addresses are
 * looked up as the IPv4 address they carry.
 *
 * An oa_geo keeps the last answers in a small cache (4,096 addresses, 80 KiB), so it is not
 * thread-safe: one per thread (the daemons are single-threaded).
 */
#ifndef OA_GEO_H
#define OA_GEO_H

#include <stddef.h>

/* Where oa_geo_new(NULL, ...) looks, in this order. */
#define OA_GEO_DEFAULT_DB "/var/lib/location/database.db"
#define OA_GEO_FALLBACK_DB "/usr/share/libloc-location/location.db"

typedef struct oa_geo oa_geo;

/*
 * Opens the database at db_path, or with NULL the first of OA_GEO_DEFAULT_DB and
 * OA_GEO_FALLBACK_DB that exists. Returns 0 and *ret (freed with oa_geo_free()), or
 * -ENOENT/-EACCES (no file), -EBADMSG (not a libloc database), -ENOMEM, -EINVAL (ret
 * NULL); the reason in errbuf, which may be NULL.
 */
int oa_geo_new(const char *db_path, oa_geo **ret, char *errbuf, size_t errlen);

/*
 * Looks up the IPv4 or IPv6 address in text form (a zone "%eth0" is allowed and ignored)
 * and writes its country code and a NUL into ret_cc. Returns 0, -ENOENT (a range that names
 * no place, or not in the database), -EINVAL (g or ip NULL, or not an IP address).
 * ret_cc is written only on success.
 */
int oa_geo_country(oa_geo *g, const char *ip, char ret_cc[3]);

/* The same for len bytes at ip, not necessarily NUL-terminated (a header value). */
int oa_geo_country_n(oa_geo *g, const char *ip, size_t len, char ret_cc[3]);

/* Closes the database; NULL does nothing. Returns NULL. */
oa_geo *oa_geo_free(oa_geo *g);

#endif
