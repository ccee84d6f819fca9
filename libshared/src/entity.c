/* Ids, field rules and JSON of accounts, projects and keys, shared by the two writers of
 * oa.projects.v1 (oa-admin, oa-query) and by anything that shows these entities. The
 * checks are strict on purpose: what passes here is stored in Kafka for good and shown
 * in consoles, logs and ClickHouse queries. */
#include "oa/entity.h"
#include "oa/utf8.h"

#include "oa/catalog.h"
#include "oa/key.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
        const char *prefix;
        size_t plen, nrand;
} kinds[] = {
        [OA_ENTITY_ACCOUNT] = { "acc_", 4, 16 },
        [OA_ENTITY_PROJECT] = { "prj_", 4, 16 },
        [OA_ENTITY_KEY] = { "key_", 4, 16 },
        [OA_ENTITY_SITE] = { "site_", 5, 20 },
};

#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

int oa_entity_id_new(oa_entity_kind kind, char *ret_id) {
        char id[OA_ENTITY_ID_MAX];
        int r;

        if ((size_t) kind >= N_KINDS)
                return -EINVAL;
        memcpy(id, kinds[kind].prefix, kinds[kind].plen);
        r = oa_key_random_base62(id + kinds[kind].plen, kinds[kind].nrand);
        if (r < 0)
                return r;
        memcpy(ret_id, id, kinds[kind].plen + kinds[kind].nrand + 1);
        return 0;
}

static bool is_base62(char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool oa_entity_id_ok(oa_entity_kind kind, const char *s, size_t n) {
        if ((size_t) kind >= N_KINDS || !s || n != kinds[kind].plen + kinds[kind].nrand ||
            memcmp(s, kinds[kind].prefix, kinds[kind].plen) != 0)
                return false;
        for (size_t i = kinds[kind].plen; i < n; i++)
                if (!is_base62(s[i]))
                        return false;
        return true;
}

/* Characters a name may not hold: controls, separators that break lines, and the
 * bidirectional controls that make a name display as something else. */
static bool forbidden_in_name(long cp) {
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
               (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

int oa_entity_name_check(const char *s, size_t n, char *errbuf, size_t errlen) {
        const unsigned char *u = (const unsigned char *) s;
        size_t i = 0, chars = 0;
        bool blank = true;

        if (!s || n == 0) {
                snprintf(errbuf, errlen, "must not be empty");
                return -EINVAL;
        }
        if (n > OA_ENTITY_NAME_MAX_BYTES) {
                snprintf(errbuf, errlen, "must be 1 to %d characters", OA_ENTITY_NAME_MAX_CHARS);
                return -EINVAL;
        }
        while (i < n) {
                long cp = oa_utf8_next(u, n, &i);

                if (cp < 0) {
                        snprintf(errbuf, errlen, "must be valid UTF-8");
                        return -EINVAL;
                }
                if (forbidden_in_name(cp)) {
                        snprintf(errbuf, errlen, "must not contain control characters (U+%04lX)", cp);
                        return -EINVAL;
                }
                if (cp != ' ' && cp != 0xa0 && cp != 0x3000)
                        blank = false;
                chars++;
        }
        if (chars > OA_ENTITY_NAME_MAX_CHARS) {
                snprintf(errbuf, errlen, "must be 1 to %d characters", OA_ENTITY_NAME_MAX_CHARS);
                return -EINVAL;
        }
        if (blank) {
                snprintf(errbuf, errlen, "must not be blank");
                return -EINVAL;
        }
        if (s[0] == ' ' || s[n - 1] == ' ') {
                snprintf(errbuf, errlen, "must not start or end with a space");
                return -EINVAL;
        }
        return 0;
}

int oa_entity_domain_normalize(const char *s, size_t n, char *ret, char *errbuf, size_t errlen) {
        char out[OA_ENTITY_DOMAIN_MAX + 1];
        size_t label = 0;

        if (!s || n == 0 || n > OA_ENTITY_DOMAIN_MAX) {
                snprintf(errbuf, errlen, "must be a host name of 1 to %d characters", OA_ENTITY_DOMAIN_MAX);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c >= 'A' && c <= 'Z')
                        c = (char) (c - 'A' + 'a');
                if (c == '.') {
                        if (label == 0 || out[i - 1] == '-') {
                                snprintf(errbuf, errlen, i == n - 1 ? "must not end with a dot"
                                         : "must be a host name such as shop.example.com (empty label or '-' at its end)");
                                return -EINVAL;
                        }
                        label = 0;
                } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
                        if (c == '-' && label == 0) {
                                snprintf(errbuf, errlen, "must be a host name such as shop.example.com (a label starts with '-')");
                                return -EINVAL;
                        }
                        if (++label > 63) {
                                snprintf(errbuf, errlen, "must be a host name such as shop.example.com (a label is longer than 63)");
                                return -EINVAL;
                        }
                } else {
                        snprintf(errbuf, errlen, "must be a host name such as shop.example.com, without "
                                 "scheme, port, path or wildcard");
                        return -EINVAL;
                }
                out[i] = c;
        }
        if (label == 0 || out[n - 1] == '-') {
                snprintf(errbuf, errlen, s[n - 1] == '.' ? "must not end with a dot"
                         : "must be a host name such as shop.example.com ('-' at the end)");
                return -EINVAL;
        }
        out[n] = '\0';
        memcpy(ret, out, n + 1);
        return 0;
}

static bool tz_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '+' || c == '-';
}

/* The file is a TZif zone and its real path lies under dir's real path. */
static bool tz_file_ok(const char *dir, const char *path) {
        char rdir[PATH_MAX], rpath[PATH_MAX], magic[4];
        struct stat st;
        size_t dl;
        bool ok;
        int fd;

        if (!realpath(dir, rdir) || !realpath(path, rpath))
                return false;
        dl = strlen(rdir);
        if (strncmp(rpath, rdir, dl) != 0 || rpath[dl] != '/')
                return false;
        fd = open(rpath, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return false;
        ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, 4) == 4 &&
             memcmp(magic, "TZif", 4) == 0;
        close(fd);
        return ok;
}

int oa_entity_timezone_check(const char *zoneinfo_dir, const char *s, size_t n, char *errbuf,
                             size_t errlen) {
        static const char *const refused[] = { "localtime", "posixrules", "Factory" };
        char path[PATH_MAX];
        const char *dir = zoneinfo_dir;

        if (!s || n == 0 || n > OA_ENTITY_TIMEZONE_MAX) {
                snprintf(errbuf, errlen, "must be an IANA time zone such as Europe/Berlin");
                return -EINVAL;
        }
        if (n == 3 && memcmp(s, "UTC", 3) == 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                bool part_start = i == 0 || s[i - 1] == '/';

                if (s[i] == '/' ? part_start || i == n - 1 : !tz_char(s[i])) {
                        snprintf(errbuf, errlen, "must be an IANA time zone such as Europe/Berlin");
                        return -EINVAL;
                }
        }
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
                if (strlen(refused[i]) == n && memcmp(refused[i], s, n) == 0)
                        goto unknown;
        if ((n > 6 && memcmp(s, "posix/", 6) == 0) || (n > 6 && memcmp(s, "right/", 6) == 0))
                goto unknown;
        if (!dir)
                dir = getenv("TZDIR");
        if (!dir || !*dir)
                dir = OA_ENTITY_ZONEINFO_DIR;
        if (snprintf(path, sizeof(path), "%s/%.*s", dir, (int) n, s) >= (int) sizeof(path))
                goto unknown;
        if (tz_file_ok(dir, path))
                return 0;
unknown:
        snprintf(errbuf, errlen, "unknown time zone '%.*s' (expected an IANA name such as Europe/Berlin)",
                 (int) n, s);
        return -EINVAL;
}

static const char *const plan_names[] = {
        [OA__PLAN__PLAN_FREE] = "free",
        [OA__PLAN__PLAN_PRO] = "pro",
        [OA__PLAN__PLAN_BUSINESS] = "business",
        [OA__PLAN__PLAN_ENTERPRISE] = "enterprise",
};

#define N_PLANS (sizeof(plan_names) / sizeof(plan_names[0]))

int oa_entity_plan_parse(const char *s, Oa__Plan *ret_plan) {
        for (size_t i = 0; s && i < N_PLANS; i++)
                if (plan_names[i] && strcmp(plan_names[i], s) == 0) {
                        *ret_plan = (Oa__Plan) i;
                        return 0;
                }
        return -EINVAL;
}

const char *oa_entity_plan_name(Oa__Plan plan) {
        return (size_t) plan < N_PLANS ? plan_names[plan] : NULL;
}

/* n decimal digits of v, zero-padded. */
static void put_digits(char *out, unsigned v, int n) {
        for (int i = n - 1; i >= 0; i--, v /= 10)
                out[i] = (char) ('0' + v % 10);
}

int oa_entity_time_format(int64_t ms, char *buf) {
        time_t t;
        struct tm tm;

        /* Years 0001 to 9999 keep the text at 20 characters. */
        if (ms < -62135596800000LL || ms > 253402300799999LL) {
                snprintf(buf, OA_ENTITY_TIME_MAX, "1970-01-01T00:00:00Z");
                return -EINVAL;
        }
        t = (time_t) (ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        /* "YYYY-MM-DDTHH:MM:SSZ" by hand: this runs for every entity of every answer. */
        put_digits(buf, (unsigned) (tm.tm_year + 1900), 4);
        buf[4] = '-';
        put_digits(buf + 5, (unsigned) (tm.tm_mon + 1), 2);
        buf[7] = '-';
        put_digits(buf + 8, (unsigned) tm.tm_mday, 2);
        buf[10] = 'T';
        put_digits(buf + 11, (unsigned) tm.tm_hour, 2);
        buf[13] = ':';
        put_digits(buf + 14, (unsigned) tm.tm_min, 2);
        buf[16] = ':';
        put_digits(buf + 17, (unsigned) tm.tm_sec, 2);
        memcpy(buf + 19, "Z", 2);
        return 0;
}

int64_t oa_entity_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- JSON ---- */

static int add_str(oa_buf *b, const char *s) {
        return oa_buf_add_json_quoted(b, s);
}

/* ,"name": (first: without the comma); names are literals of ours, nothing to escape.
 * No printf: these run for every entity of every answer. */
static int add_name(oa_buf *b, bool first, const char *name) {
        int r = first ? 0 : oa_buf_addc(b, ',');

        if (r == 0)
                r = oa_buf_addc(b, '"');
        if (r == 0)
                r = oa_buf_adds(b, name);
        return r ? r : oa_buf_add(b, "\":", 2);
}

/* ,"name":"value" */
static int add_field(oa_buf *b, bool first, const char *name, const char *value) {
        int r = add_name(b, first, name);

        return r ? r : add_str(b, value);
}

static int add_time(oa_buf *b, const char *name, int64_t ms) {
        char t[OA_ENTITY_TIME_MAX];

        oa_entity_time_format(ms, t);
        return add_field(b, false, name, t);
}

static int add_list(oa_buf *b, const char *name, char *const *v, size_t n) {
        int r = add_name(b, false, name);

        if (r == 0)
                r = oa_buf_addc(b, '[');

        for (size_t i = 0; r == 0 && i < n; i++) {
                if (i)
                        r = oa_buf_addc(b, ',');
                if (r == 0)
                        r = add_str(b, v[i]);
        }
        return r ? r : oa_buf_addc(b, ']');
}

int oa_entity_account_json(oa_buf *b, const Oa__Account *a) {
        const char *plan = oa_entity_plan_name(a->plan);
        int r;

        r = oa_buf_addc(b, '{');
        if (r == 0)
                r = add_field(b, true, "id", a->id);
        if (r == 0)
                r = add_field(b, false, "name", a->name);
        if (r == 0)
                r = add_field(b, false, "plan", plan ? plan : "free");
        if (r == 0)
                r = oa_buf_addf(b, ",\"limit\":%lld", oa_catalog_plan_limit(a));
        if (r == 0)
                r = add_time(b, "created_at", a->created_ms);
        return r ? r : oa_buf_addc(b, '}');
}

int oa_entity_project_json(oa_buf *b, const Oa__Project *p) {
        int r;

        r = oa_buf_addc(b, '{');
        if (r == 0)
                r = add_field(b, true, "id", p->id);
        if (r == 0)
                r = add_field(b, false, "account_id", p->account_id);
        if (r == 0)
                r = add_field(b, false, "site_id", p->site_id);
        if (r == 0)
                r = add_field(b, false, "name", p->name);
        if (r == 0)
                r = add_list(b, "domains", p->domains, p->n_domains);
        if (r == 0)
                r = add_field(b, false, "timezone", p->timezone && *p->timezone ? p->timezone : "UTC");
        if (r == 0)
                r = add_time(b, "created_at", p->created_ms);
        return r ? r : oa_buf_addc(b, '}');
}

int oa_entity_key_json(oa_buf *b, const Oa__ApiKey *k) {
        int r;

        r = oa_buf_addc(b, '{');
        if (r == 0)
                r = add_field(b, true, "id", k->id);
        if (r == 0)
                r = add_field(b, false, "account_id", k->account_id);
        if (r == 0)
                r = add_field(b, false, "name", k->name);
        if (r == 0)
                r = add_list(b, "scopes", k->scopes, k->n_scopes);
        if (r == 0)
                r = add_list(b, "project_ids", k->project_ids, k->n_project_ids);
        if (r == 0)
                r = add_field(b, false, "hint", k->hint);
        if (r == 0)
                r = add_time(b, "created_at", k->created_ms);
        if (r == 0)
                r = oa_buf_adds(b, k->revoked ? ",\"revoked\":true" : ",\"revoked\":false");
        if (r == 0)
                r = k->revoked ? add_time(b, "revoked_at", k->revoked_ms)
                               : oa_buf_adds(b, ",\"revoked_at\":null");
        return r ? r : oa_buf_addc(b, '}');
}
