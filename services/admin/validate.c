/* What oa-admin's command line adds to the entity rules of oa/entity.h: lists given as
 * repeated and comma-separated flags, and quoting the user's text safely in a message, so
 * a name full of escape sequences cannot repaint the operator's terminal. */
#include "admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *oa_admin_printable(const char *s, char *buf, size_t len) {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0, i;

        if (len == 0)
                return buf;
        if (!s)
                s = "(null)";
        for (i = 0; s[i] && i < 64; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c >= 0x20 && c < 0x7f && c != '\\') {
                        if (o + 1 >= len)
                                break;
                        buf[o++] = (char) c;
                } else {
                        if (o + 4 >= len)
                                break;
                        buf[o++] = '\\';
                        buf[o++] = 'x';
                        buf[o++] = hex[c >> 4];
                        buf[o++] = hex[c & 15];
                }
        }
        if (s[i] && o + 3 < len) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = '\0';
        return buf;
}

char **oa_admin_strv_free(char **v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
        return NULL;
}

int oa_admin_list_split(const char *what, const char *const *vals, size_t n, size_t max, bool lower,
                        char ***ret_v, size_t *ret_n, char *errbuf, size_t errlen) {
        char **v = NULL, shown[300];
        size_t count = 0;
        int r;

        v = calloc(max + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *p = vals[i];

                for (;;) {
                        const char *end = strchr(p, ',');
                        size_t len = end ? (size_t) (end - p) : strlen(p);
                        const char *a = p, *b = p + len;
                        bool dup = false;

                        while (a < b && *a == ' ')
                                a++;
                        while (b > a && b[-1] == ' ')
                                b--;
                        if (a == b) {
                                snprintf(errbuf, errlen, "%s: empty item in '%s'", what,
                                         oa_admin_printable(vals[i], shown, sizeof(shown)));
                                r = -EINVAL;
                                goto out;
                        }
                        for (size_t j = 0; j < count && !dup; j++)
                                dup = strlen(v[j]) == (size_t) (b - a) &&
                                      (lower ? strncasecmp(v[j], a, (size_t) (b - a)) : strncmp(v[j], a, (size_t) (b - a))) == 0;
                        if (!dup) {
                                if (count == max) {
                                        snprintf(errbuf, errlen, "%s: more than %zu items", what, max);
                                        r = -EINVAL;
                                        goto out;
                                }
                                v[count] = strndup(a, (size_t) (b - a));
                                if (!v[count]) {
                                        r = -ENOMEM;
                                        goto out;
                                }
                                if (lower)
                                        for (char *c = v[count]; *c; c++)
                                                if (*c >= 'A' && *c <= 'Z')
                                                        *c = (char) (*c - 'A' + 'a');
                                count++;
                        }
                        if (!end)
                                break;
                        p = end + 1;
                }
        }
        *ret_v = v;
        *ret_n = count;
        v = NULL;
        r = 0;
out:
        oa_admin_strv_free(v, count);
        return r;
}
