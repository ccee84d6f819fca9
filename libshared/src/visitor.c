/* Visitor ids (oa/visitor.h). HMAC-SHA256 is computed by hand on EVP digests (RFC 2104:
 * H(K ^ opad || H(K ^ ipad || m))) so the two keyed states are prepared once per salt and
 * copied per hash, instead of re-keying an EVP_MAC for every event. Per hash, the EVP
 * calls cost more than the SHA-256 blocks themselves (SHA-NI), so each thread reuses one
 * digest context and the parts of a message go in with one update when they fit a small
 * buffer: the bytes hashed, and so the ids, are the same. */
#include "oa/visitor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define BLOCK 64        /* SHA-256 block size */
#define DIGEST 32

struct oa_visitor_key {
        EVP_MD_CTX *inner;      /* SHA-256 after K ^ ipad */
        EVP_MD_CTX *outer;      /* SHA-256 after K ^ opad */
};

static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Fetch the implementation once: EVP_sha256() would look it up again on every init. */
static void sha256_fetch(void) {
        sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md(void) {
        pthread_once(&sha256_once, sha256_fetch);
        return sha256;
}

static void to_hex(const unsigned char *d, char *ret) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < OA_VISITOR_ID_LEN / 2; i++) {
                ret[2 * i] = digits[d[i] >> 4];
                ret[2 * i + 1] = digits[d[i] & 15];
        }
        ret[OA_VISITOR_ID_LEN] = '\0';
}

oa_visitor_key *oa_visitor_key_free(oa_visitor_key *k) {
        if (!k)
                return NULL;
        EVP_MD_CTX_free(k->inner);
        EVP_MD_CTX_free(k->outer);
        free(k);
        return NULL;
}

int oa_visitor_key_new(const void *salt, size_t len, oa_visitor_key **ret_key) {
        unsigned char k0[BLOCK] = { 0 }, pad[BLOCK];
        oa_visitor_key *k = NULL;
        int r = -ENOMEM;

        if (!salt || len == 0)
                return -EINVAL;
        if (!md())
                return -ENOMEM;
        if (len > BLOCK) {
                unsigned int dl;

                if (!EVP_Digest(salt, len, k0, &dl, md(), NULL))
                        goto out;
        } else {
                memcpy(k0, salt, len);
        }
        k = calloc(1, sizeof(*k));
        if (!k)
                goto out;
        k->inner = EVP_MD_CTX_new();
        k->outer = EVP_MD_CTX_new();
        if (!k->inner || !k->outer)
                goto out;
        for (size_t i = 0; i < BLOCK; i++)
                pad[i] = k0[i] ^ 0x36;
        if (!EVP_DigestInit_ex(k->inner, md(), NULL) || !EVP_DigestUpdate(k->inner, pad, BLOCK))
                goto out;
        for (size_t i = 0; i < BLOCK; i++)
                pad[i] = k0[i] ^ 0x5c;
        if (!EVP_DigestInit_ex(k->outer, md(), NULL) || !EVP_DigestUpdate(k->outer, pad, BLOCK))
                goto out;
        *ret_key = k;
        k = NULL;
        r = 0;
out:
        OPENSSL_cleanse(k0, sizeof(k0));
        OPENSSL_cleanse(pad, sizeof(pad));
        oa_visitor_key_free(k);
        return r;
}

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_ok;

static void scratch_free(void *c) {
        EVP_MD_CTX_free(c);
}

static void scratch_init(void) {
        scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

/* This thread's digest context, made on first use and freed when the thread ends. */
static EVP_MD_CTX *scratch(void) {
        EVP_MD_CTX *c;

        pthread_once(&scratch_once, scratch_init);
        if (!scratch_ok)
                return NULL;
        c = pthread_getspecific(scratch_key);
        if (!c) {
                c = EVP_MD_CTX_new();
                if (c && pthread_setspecific(scratch_key, c) != 0) {
                        EVP_MD_CTX_free(c);
                        c = NULL;
                }
        }
        return c;
}

#define JOIN_MAX 512    /* a message up to this size is hashed with one update */

/* Feed the three parts of a message (NULL parts are empty) into c: in one update when
 * they fit JOIN_MAX bytes, else one by one. Returns EVP's 1 or 0. */
static int update3(EVP_MD_CTX *c, const void *a, size_t alen, const void *b, size_t blen,
                   const void *d, size_t dlen) {
        unsigned char buf[JOIN_MAX];

        if (alen + blen + dlen <= sizeof(buf)) {
                memcpy(buf, a, alen);
                memcpy(buf + alen, b, blen);
                if (dlen)
                        memcpy(buf + alen + blen, d, dlen);
                return EVP_DigestUpdate(c, buf, alen + blen + dlen);
        }
        return EVP_DigestUpdate(c, a, alen) && EVP_DigestUpdate(c, b, blen) &&
               (!dlen || EVP_DigestUpdate(c, d, dlen));
}

int oa_visitor_browser(const oa_visitor_key *key, const char *site_id, const char *ip,
                       const char *ua, size_t ua_len, char *ret) {
        unsigned char d[DIGEST];
        unsigned int dl;
        EVP_MD_CTX *c = scratch();

        if (!c)
                return -ENOMEM;
        if (!site_id)
                site_id = "";
        if (!ip)
                ip = "";
        if (!ua)
                ua_len = 0;
        /* site_id 0x00 ip 0x00 ua: each string with its own NUL */
        if (!EVP_MD_CTX_copy_ex(c, key->inner) ||
            !update3(c, site_id, strlen(site_id) + 1, ip, strlen(ip) + 1, ua, ua_len) ||
            !EVP_DigestFinal_ex(c, d, &dl) ||
            !EVP_MD_CTX_copy_ex(c, key->outer) || !EVP_DigestUpdate(c, d, DIGEST) ||
            !EVP_DigestFinal_ex(c, d, &dl))
                return -ENOMEM;
        to_hex(d, ret);
        return 0;
}

static int tagged(const char *tag, const char *a, const char *b, size_t blen, char *ret) {
        unsigned char d[DIGEST];
        unsigned int dl;
        EVP_MD_CTX *c = scratch();

        if (!c || !md())
                return -ENOMEM;
        if (!a)
                a = "";
        if (!b)
                blen = 0;
        /* tag 0x00 a 0x00 b */
        if (!EVP_DigestInit_ex(c, md(), NULL) ||
            !update3(c, tag, strlen(tag) + 1, a, strlen(a) + 1, b, blen) || !EVP_DigestFinal_ex(c, d, &dl))
                return -ENOMEM;
        to_hex(d, ret);
        return 0;
}

int oa_visitor_user(const char *project_id, const char *user_id, size_t user_id_len, char *ret) {
        return tagged("oa.user.v1", project_id, user_id, user_id_len, ret);
}

int oa_visitor_anonymous(const char *project_id, const char *event_id, char *ret) {
        return tagged("oa.anon.v1", project_id, event_id, event_id ? strlen(event_id) : 0, ret);
}
