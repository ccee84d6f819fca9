/* Tests for libshared/src/visitor.c: the keyed browser hash against OpenSSL's own HMAC
, the user and anonymous ids, and what changes an id. */
#include "oa/visitor.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

static void hexn(const unsigned char *d, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", d[i]);
}

/* The reference: OpenSSL's one-shot HMAC over site 0 ip 0 ua. */
static void reference(const void *salt, size_t slen, const char *site, const char *ip, const char *ua, char *out) {
        unsigned char msg[2048], md[32];
        unsigned int mdlen;
        size_t n = 0;

        memcpy(msg + n, site, strlen(site));
        n += strlen(site);
        msg[n++] = 0;
        memcpy(msg + n, ip, strlen(ip));
        n += strlen(ip);
        msg[n++] = 0;
        memcpy(msg + n, ua, strlen(ua));
        n += strlen(ua);
        cr_assert_not_null(HMAC(EVP_sha256(), salt, (int) slen, msg, n, md, &mdlen));
        hexn(md, 16, out);
}

Test(oa_visitor, browser_matches_openssl_hmac_for_short_and_long_salts) {
        static const char *salts[] = { "0123456789abcdef0123456789abcdef",
                "a salt longer than the 64-byte block of SHA-256, so it is hashed first......", "k" };

        for (size_t i = 0; i < 3; i++) {
                char got[OA_VISITOR_ID_LEN + 1], want[64];
                oa_visitor_key *k = NULL;
                const char *ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36";

                cr_assert_eq(oa_visitor_key_new(salts[i], strlen(salts[i]), &k), 0);
                cr_assert_eq(oa_visitor_browser(k, "site_0123456789abcdefABCD", "192.0.2.1", ua, strlen(ua), got), 0);
                reference(salts[i], strlen(salts[i]), "site_0123456789abcdefABCD", "192.0.2.1", ua, want);
                cr_assert_str_eq(got, want);
                cr_assert_eq(strlen(got), OA_VISITOR_ID_LEN);
                oa_visitor_key_free(k);
        }
}

Test(oa_visitor, null_inputs_hash_as_empty_strings) {
        /* site, ip and ua NULL: HMAC(key, "\0\0") */
        char got[OA_VISITOR_ID_LEN + 1], want[64];
        oa_visitor_key *k = NULL;

        cr_assert_eq(oa_visitor_key_new("Jefe", 4, &k), 0);
        cr_assert_eq(oa_visitor_browser(k, NULL, NULL, NULL, 0, got), 0);
        reference("Jefe", 4, "", "", "", want);
        cr_assert_str_eq(got, want);
        oa_visitor_key_free(k);
}

Test(oa_visitor, every_input_and_the_salt_change_the_id) {
        char a[OA_VISITOR_ID_LEN + 1], b[OA_VISITOR_ID_LEN + 1];
        oa_visitor_key *k1 = NULL, *k2 = NULL;

        cr_assert_eq(oa_visitor_key_new("salt-day-1-xxxxxxxx", 19, &k1), 0);
        cr_assert_eq(oa_visitor_key_new("salt-day-2-xxxxxxxx", 19, &k2), 0);
        cr_assert_eq(oa_visitor_browser(k1, "s", "1.2.3.4", "ua", 2, a), 0);
        cr_assert_eq(oa_visitor_browser(k1, "s", "1.2.3.4", "ua", 2, b), 0);
        cr_assert_str_eq(a, b);
        cr_assert_eq(oa_visitor_browser(k2, "s", "1.2.3.4", "ua", 2, b), 0);
        cr_assert_str_neq(a, b);
        cr_assert_eq(oa_visitor_browser(k1, "t", "1.2.3.4", "ua", 2, b), 0);
        cr_assert_str_neq(a, b);
        cr_assert_eq(oa_visitor_browser(k1, "s", "1.2.3.5", "ua", 2, b), 0);
        cr_assert_str_neq(a, b);
        cr_assert_eq(oa_visitor_browser(k1, "s", "1.2.3.4", "ub", 2, b), 0);
        cr_assert_str_neq(a, b);
        /* the separators keep "s1" + "2" apart from "s" + "12" */
        cr_assert_eq(oa_visitor_browser(k1, "s1", "2", "", 0, a), 0);
        cr_assert_eq(oa_visitor_browser(k1, "s", "12", "", 0, b), 0);
        cr_assert_str_neq(a, b);
        oa_visitor_key_free(k1);
        oa_visitor_key_free(k2);
}

Test(oa_visitor, user_id_is_sha256_of_tag_project_user_and_stable) {
        unsigned char md[32];
        char got[OA_VISITOR_ID_LEN + 1], want[65], other[OA_VISITOR_ID_LEN + 1];
        const char msg[] = "oa.user.v1\0prj_0123456789abcdef\0user-42";

        SHA256((const unsigned char *) msg, sizeof(msg) - 1, md);
        hexn(md, 16, want);
        cr_assert_eq(oa_visitor_user("prj_0123456789abcdef", "user-42", 7, got), 0);
        cr_assert_str_eq(got, want);
        cr_assert_eq(oa_visitor_user("prj_0123456789abcdeg", "user-42", 7, other), 0);
        cr_assert_str_neq(got, other);
        cr_assert_eq(oa_visitor_anonymous("prj_0123456789abcdef", "user-42", other), 0);
        cr_assert_str_neq(got, other);          /* the tag keeps them apart */
}

Test(oa_visitor, empty_salt_is_einval_and_free_null_is_fine) {
        oa_visitor_key *k = NULL;

        cr_assert_eq(oa_visitor_key_new("", 0, &k), -EINVAL);
        cr_assert_eq(oa_visitor_key_new(NULL, 4, &k), -EINVAL);
        cr_assert_null(k);
        cr_assert_null(oa_visitor_key_free(NULL));
}

/* Messages past the one-update buffer (512 bytes) are fed part by part: the same ids. */
Test(oa_visitor, long_user_agents_and_user_ids_hash_as_short_ones_do) {
        char ua[1500], uid[700], got[OA_VISITOR_ID_LEN + 1], want[65], msg[800];
        unsigned char md[32];
        oa_visitor_key *k = NULL;
        size_t lens[] = { 0, 1, 470, 471, 472, 480, 1024, sizeof(ua) - 1 };

        memset(ua, 'u', sizeof(ua));
        cr_assert_eq(oa_visitor_key_new("0123456789abcdef", 16, &k), 0);
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                ua[lens[i]] = '\0';
                cr_assert_eq(oa_visitor_browser(k, "site_0123456789abcdefABCD", "2001:db8::1", ua, lens[i], got), 0);
                reference("0123456789abcdef", 16, "site_0123456789abcdefABCD", "2001:db8::1", ua, want);
                cr_assert_str_eq(got, want, "user agent of %zu bytes", lens[i]);
                ua[lens[i]] = 'u';
        }
        memset(uid, 'x', sizeof(uid));
        for (size_t n = 470; n < sizeof(uid); n += 37) {
                memcpy(msg, "oa.user.v1\0prj_0123456789abcdef\0", 32);
                memcpy(msg + 32, uid, n);
                SHA256((const unsigned char *) msg, 32 + n, md);
                hexn(md, 16, want);
                cr_assert_eq(oa_visitor_user("prj_0123456789abcdef", uid, n, got), 0);
                cr_assert_str_eq(got, want, "user_id of %zu bytes", n);
        }
        oa_visitor_key_free(k);
}
