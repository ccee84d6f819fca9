/* Visitor ids (oa/visitor.h). HMAC-SHA256 is computed by hand on EVP digests (RFC 2104:
 * H(K ^ opad || H(K ^ ipad || m))) so the two keyed states are prepared once per salt and
 * copied per hash, instead of re-keying an EVP_MAC for every event. */
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

static const unsigned char zero;

int oa_visitor_browser(const oa_visitor_key *key, const char *site_id, const char *ip,
                       const char *ua, size_t ua_len, char *ret) {
        unsigned char d[DIGEST];
        unsigned int dl;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        int r = -ENOMEM;

        if (!c)
                return -ENOMEM;
        if (!site_id)
                site_id = "";
        if (!ip)
                ip = "";
        if (!ua)
                ua_len = 0;
        if (!EVP_MD_CTX_copy_ex(c, key->inner) ||
            !EVP_DigestUpdate(c, site_id, strlen(site_id)) || !EVP_DigestUpdate(c, &zero, 1) ||
            !EVP_DigestUpdate(c, ip, strlen(ip)) || !EVP_DigestUpdate(c, &zero, 1) ||
            (ua_len && !EVP_DigestUpdate(c, ua, ua_len)) || !EVP_DigestFinal_ex(c, d, &dl) ||
            !EVP_MD_CTX_copy_ex(c, key->outer) || !EVP_DigestUpdate(c, d, DIGEST) ||
            !EVP_DigestFinal_ex(c, d, &dl))
                goto out;
        to_hex(d, ret);
        r = 0;
out:
        EVP_MD_CTX_free(c);
        return r;
}

static int tagged(const char *tag, const char *a, const char *b, size_t blen, char *ret) {
        unsigned char d[DIGEST];
        unsigned int dl;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        int r = -ENOMEM;

        if (!c || !md())
                goto out;
        if (!a)
                a = "";
        if (!b)
                blen = 0;
        if (!EVP_DigestInit_ex(c, md(), NULL) ||
            !EVP_DigestUpdate(c, tag, strlen(tag) + 1) ||       /* with its NUL */
            !EVP_DigestUpdate(c, a, strlen(a)) || !EVP_DigestUpdate(c, &zero, 1) ||
            (blen && !EVP_DigestUpdate(c, b, blen)) || !EVP_DigestFinal_ex(c, d, &dl))
                goto out;
        to_hex(d, ret);
        r = 0;
out:
        EVP_MD_CTX_free(c);
        return r;
}

int oa_visitor_user(const char *project_id, const char *user_id, size_t user_id_len, char *ret) {
        return tagged("oa.user.v1", project_id, user_id, user_id_len, ret);
}

int oa_visitor_anonymous(const char *project_id, const char *event_id, char *ret) {
        return tagged("oa.anon.v1", project_id, event_id, event_id ? strlen(event_id) : 0, ret);
}
