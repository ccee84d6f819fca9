/* Tests for services/admin/validate.c: the lists of repeatable, comma-separated flags and
 * the escaping of the user's text in messages. (The entity rules themselves, names,
 * hostnames, timezones, ids, are libshared's oa/entity.h, tested in test_entity.c; the
 * hostile rows as typed on oa-admin's command line are in test_args.c.) */
#include "admin.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

Test(oa_admin_validate, list_split_trims_lowercases_and_dedups) {
        const char *vals[] = { "Shop.Example.com, www.example.com", "shop.example.com", " a ,b" };
        char **v = NULL, err[256];
        size_t n = 0;

        cr_assert_eq(oa_admin_list_split("--domain", vals, 3, 10, true, &v, &n, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(n, 4);
        cr_assert_str_eq(v[0], "shop.example.com");
        cr_assert_str_eq(v[1], "www.example.com");
        cr_assert_str_eq(v[2], "a");
        cr_assert_str_eq(v[3], "b");
        oa_admin_strv_free(v, n);

        /* case kept (and significant) for ids */
        vals[0] = "prj_A,prj_a,prj_A";
        cr_assert_eq(oa_admin_list_split("--projects", vals, 1, 10, false, &v, &n, err, sizeof(err)), 0);
        cr_assert_eq(n, 2);
        cr_assert_str_eq(v[0], "prj_A");
        cr_assert_str_eq(v[1], "prj_a");
        oa_admin_strv_free(v, n);
}

Test(oa_admin_validate, list_split_refuses_empty_items_and_too_many) {
        static const char *const bad[] = { "", "a,,b", "a,", ",a", " , ", "a, ,b" };
        char **v = (char **) 1, err[256];
        size_t n = 77;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cr_assert_eq(oa_admin_list_split("--domain", &bad[i], 1, 10, true, &v, &n, err, sizeof(err)),
                             -EINVAL, "'%s'", bad[i]);
                cr_assert_not_null(strstr(err, "--domain"));
        }
        cr_assert_eq(n, 77, "untouched on failure");
        const char *three[] = { "a,b,c" };
        cr_assert_eq(oa_admin_list_split("--projects", three, 1, 2, false, &v, &n, err, sizeof(err)), -EINVAL);
        cr_assert_not_null(strstr(err, "more than 2"));
        /* duplicates do not count against the maximum */
        const char *dups[] = { "a,a,a,b,b" };
        cr_assert_eq(oa_admin_list_split("--projects", dups, 1, 2, false, &v, &n, err, sizeof(err)), 0);
        cr_assert_eq(n, 2);
        oa_admin_strv_free(v, n);
}

Test(oa_admin_validate, printable_escapes_and_cuts) {
        char buf[300], big[200];

        cr_assert_str_eq(oa_admin_printable("plain id", buf, sizeof(buf)), "plain id");
        cr_assert_str_eq(oa_admin_printable("a\x1b[31m\n\\", buf, sizeof(buf)), "a\\x1b[31m\\x0a\\x5c");
        cr_assert_str_eq(oa_admin_printable("\xc3\xa9", buf, sizeof(buf)), "\\xc3\\xa9");
        cr_assert_str_eq(oa_admin_printable(NULL, buf, sizeof(buf)), "(null)");
        memset(big, 'x', sizeof(big) - 1), big[sizeof(big) - 1] = '\0';
        oa_admin_printable(big, buf, sizeof(buf));
        cr_assert_eq(strlen(buf), 64 + 3);
        cr_assert_str_eq(buf + 64, "...");
        /* a small buffer is never overrun */
        oa_admin_printable("\x01\x02\x03\x04", buf, 7);
        cr_assert_str_eq(buf, "\\x01");
}
