/* Tests for libshared/src/url.c and referrer.c: splitting URLs, host names, paths, UTM
 * parameters, click ids and the traffic source table, with the hostile rows. */
#include "oa/url.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

struct split_row {
        char url[120];
        size_t len;             /* 0: strlen */
        bool ok, web;
        char host[40], path[40], query[40];     /* query "-": none */
};

ParameterizedTestParameters(oa_url, split_rows) {
        static struct split_row rows[] = {
                { "https://example.com", 0, true, true, "example.com", "", "-" },
                { "https://example.com/", 0, true, true, "example.com", "/", "-" },
                { "HTTP://Ex.COM:8080/a/b?x=1#frag", 0, true, true, "Ex.COM", "/a/b", "x=1" },
                { "https://user:pw@host.example/p", 0, true, true, "host.example", "/p", "-" },
                { "https://a@b@host.example/p", 0, true, true, "host.example", "/p", "-" },
                { "https://[2001:db8::1]:443/p?", 0, true, true, "[2001:db8::1]", "/p", "" },
                { "https://ex.com#a?b", 0, true, true, "ex.com", "", "-" },
                { "https://ex.com?q", 0, true, true, "ex.com", "", "q" },
                { "https://b\xc3\xbc""cher.example/", 0, true, true, "b\xc3\xbc""cher.example", "/", "-" },
                { "android-app://com.google.android.gm/", 0, true, false, "com.google.android.gm", "/", "-" },
                { "ftp://files.example/x", 0, true, false, "files.example", "/x", "-" },
                { "https://", 0, false, false, "", "", "" },
                { "https://:80/", 0, false, false, "", "", "" },
                { "https://user@/", 0, false, false, "", "", "" },
                { "https://ex.com:80a/", 0, false, false, "", "", "" },
                { "https://ex.com:123456/", 0, false, false, "", "", "" },
                { "https://[::1/", 0, false, false, "", "", "" },
                { "https://[]/", 0, false, false, "", "", "" },
                { "https://ex ample.com/", 0, false, false, "", "", "" },
                { "https://ex.com/a b", 0, false, false, "", "", "" },
                { "https://ex.com/\x7f", 0, false, false, "", "", "" },
                { "https://ex.com/\0x", 17, false, false, "", "", "" },
                { "https://ex<script>.com/", 0, false, false, "", "", "" },
                { "//ex.com/", 0, false, false, "", "", "" },
                { "/path", 0, false, false, "", "", "" },
                { "example.com", 0, false, false, "", "", "" },
                { "1http://ex.com", 0, false, false, "", "", "" },
                { "javascript:alert(1)", 0, false, false, "", "", "" },
                { "", 0, false, false, "", "", "" },
        };
        return cr_make_param_array(struct split_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct split_row *row, oa_url, split_rows) {
        oa_url u;
        int r = oa_url_split(row->url, row->len ? row->len : strlen(row->url), &u);

        cr_assert_eq(r == 0, row->ok, "%s", row->url);
        if (!row->ok) {
                cr_assert_eq(r, -EINVAL);
                return;
        }
        cr_assert_eq(oa_url_is_web(&u), row->web, "%s", row->url);
        cr_assert_eq(u.host_len, strlen(row->host), "%s", row->url);
        cr_assert_eq(memcmp(u.host, row->host, u.host_len), 0, "%s", row->url);
        cr_assert_eq(u.path_len, strlen(row->path), "%s", row->url);
        cr_assert_eq(memcmp(u.path, row->path, u.path_len), 0, "%s", row->url);
        if (strcmp(row->query, "-") == 0) {
                cr_assert_null(u.query, "%s", row->url);
        } else {
                cr_assert_not_null(u.query, "%s", row->url);
                cr_assert_eq(u.query_len, strlen(row->query));
                cr_assert_eq(memcmp(u.query, row->query, u.query_len), 0);
        }
}

struct info_row {
        char url[300];
        char host[40], path[40];
        char source[40], medium[40], campaign[40], content[40], term[40];
        char click[16];
        bool paid;
};

ParameterizedTestParameters(oa_url, info_rows) {
        static struct info_row rows[] = {
                { "https://WWW.Shop.Example.com.:8443", "www.shop.example.com", "/", "", "", "", "", "", "", false },
                { "https://shop.example/p/a%20b?x=1#f", "shop.example", "/p/a%20b", "", "", "", "", "", "", false },
                { "https://s.example/?utm_source=news+letter&utm_medium=email&utm_campaign=spring%20sale"
                  "&utm_content=%E2%82%AC&utm_term=a%2Bb", "s.example", "/",
                  "news letter", "email", "spring sale", "\xe2\x82\xac", "a+b", "", false },
                { "https://s.example/?utm_source=first&utm_source=second", "s.example", "/", "first", "", "", "", "", "", false },
                { "https://s.example/?utm_source=%ff&utm_source=ok", "s.example", "/", "ok", "", "", "", "", "", false },
                { "https://s.example/?utm_source=%00x", "s.example", "/", "", "", "", "", "", "", false },
                { "https://s.example/?utm_source=%0a", "s.example", "/", "", "", "", "", "", "", false },
                { "https://s.example/?utm_source=%2", "s.example", "/", "%2", "", "", "", "", "", false },
                { "https://s.example/?utm_source=%252F", "s.example", "/", "%2F", "", "", "", "", "", false },
                { "https://s.example/?utm_source", "s.example", "/", "", "", "", "", "", "", false },
                { "https://s.example/?&&utm_medium=cpc&", "s.example", "/", "", "cpc", "", "", "", "", false },
                { "https://s.example/?gclid=abc", "s.example", "/", "", "", "", "", "", "gclid", true },
                { "https://s.example/?gclid=", "s.example", "/", "", "", "", "", "", "", false },
                { "https://s.example/?fbclid=x", "s.example", "/", "", "", "", "", "", "fbclid", false },
                { "https://s.example/?fbclid=x&msclkid=y", "s.example", "/", "", "", "", "", "", "msclkid", true },
                { "https://s.example/?li_fat_id=1&ttclid=2", "s.example", "/", "", "", "", "", "", "li_fat_id", true },
                { "https://s.example/#?gclid=abc", "s.example", "/", "", "", "", "", "", "", false },
                { "https://s.example/?GCLID=abc", "s.example", "/", "", "", "", "", "", "", false },
        };
        return cr_make_param_array(struct info_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct info_row *row, oa_url, info_rows) {
        oa_url_info in;
        oa_arena a;

        oa_arena_init(&a, 0);
        cr_assert_eq(oa_url_info_get(row->url, strlen(row->url), &a, &in), 0, "%s", row->url);
        cr_assert_str_eq(in.hostname, row->host, "%s", row->url);
        cr_assert_str_eq(in.path, row->path, "%s", row->url);
        cr_assert_str_eq(in.utm_source, row->source, "%s", row->url);
        cr_assert_str_eq(in.utm_medium, row->medium, "%s", row->url);
        cr_assert_str_eq(in.utm_campaign, row->campaign, "%s", row->url);
        cr_assert_str_eq(in.utm_content, row->content, "%s", row->url);
        cr_assert_str_eq(in.utm_term, row->term, "%s", row->url);
        cr_assert_str_eq(in.click_id ? in.click_id : "", row->click, "%s", row->url);
        cr_assert_eq(in.paid_click, row->paid, "%s", row->url);
        oa_arena_done(&a);
}

Test(oa_url, long_path_and_utm_are_cut_at_utf8_boundaries) {
        char url[4096], want[1100];
        size_t len;
        oa_url_info in;
        oa_arena a;

        /* "https://e.x/" then 'é' (2 bytes) repeated: byte 1024 of the path falls inside one */
        len = (size_t) sprintf(url, "https://e.x/");
        for (int i = 0; i < 700; i++)
                len += (size_t) sprintf(url + len, "\xc3\xa9");
        len += (size_t) sprintf(url + len, "?utm_term=");
        for (int i = 0; i < 200; i++)
                len += (size_t) sprintf(url + len, "%%E2%%82%%AC");       /* € is 3 bytes */
        oa_arena_init(&a, 0);
        cr_assert_eq(oa_url_info_get(url, len, &a, &in), 0);
        cr_assert_eq(strlen(in.path), 1023);            /* "/" + 511 é */
        memcpy(want, url + 11, 1023);
        want[1023] = '\0';
        cr_assert_str_eq(in.path, want);
        cr_assert_eq(strlen(in.utm_term), 255);         /* 85 € */
        oa_arena_done(&a);
}

Test(oa_url, not_a_url_gives_empty_info_and_einval) {
        oa_url_info in;
        oa_arena a;

        oa_arena_init(&a, 0);
        cr_assert_eq(oa_url_info_get("not a url", 9, &a, &in), -EINVAL);
        cr_assert_str_eq(in.hostname, "");
        cr_assert_str_eq(in.path, "");
        cr_assert_str_eq(in.utm_source, "");
        cr_assert_null(in.click_id);
        oa_arena_done(&a);
}

struct source_row {
        char ref[48], page[32], medium[24];
        bool paid;
        char want[12];
};

ParameterizedTestParameters(oa_url, source_rows) {
        static struct source_row rows[] = {
                { "", "shop.example", "", false, "direct" },
                { "shop.example", "shop.example", "", false, "direct" },
                { "www.shop.example", "shop.example", "", false, "direct" },
                { "shop.example", "www.shop.example", "", false, "direct" },
                { "www.google.com", "shop.example", "", false, "search" },
                { "google.co.uk", "shop.example", "", false, "search" },
                { "news.google.de", "shop.example", "", false, "search" },
                { "www.bing.com", "shop.example", "", false, "search" },
                { "duckduckgo.com", "shop.example", "", false, "search" },
                { "search.yahoo.co.jp", "shop.example", "", false, "search" },
                { "yandex.ru", "shop.example", "", false, "search" },
                { "www.baidu.com", "shop.example", "", false, "search" },
                { "www.ecosia.org", "shop.example", "", false, "search" },
                { "search.brave.com", "shop.example", "", false, "search" },
                { "com.google.android.googlequicksearchbox", "shop.example", "", false, "search" },
                { "mail.google.com", "shop.example", "", false, "email" },
                { "outlook.live.com", "shop.example", "", false, "email" },
                { "mail.yahoo.com", "shop.example", "", false, "email" },
                { "com.google.android.gm", "shop.example", "", false, "email" },
                { "webmail.provider.example", "shop.example", "", false, "email" },
                { "l.facebook.com", "shop.example", "", false, "social" },
                { "m.facebook.com", "shop.example", "", false, "social" },
                { "t.co", "shop.example", "", false, "social" },
                { "twitter.com", "shop.example", "", false, "social" },
                { "x.com", "shop.example", "", false, "social" },
                { "www.linkedin.com", "shop.example", "", false, "social" },
                { "old.reddit.com", "shop.example", "", false, "social" },
                { "www.youtube.com", "shop.example", "", false, "social" },
                { "www.tiktok.com", "shop.example", "", false, "social" },
                { "pinterest.de", "shop.example", "", false, "social" },
                { "news.ycombinator.com", "shop.example", "", false, "social" },
                { "blog.example.org", "shop.example", "", false, "referral" },
                { "notgoogle.com", "shop.example", "", false, "referral" },
                { "box.com", "shop.example", "", false, "referral" },       /* not x.com */
                { "at.co", "shop.example", "", false, "referral" },         /* not t.co */
                { "google", "shop.example", "", false, "referral" },        /* a label needs more after it */
                { "www.google.com", "shop.example", "cpc", false, "paid" },
                { "", "shop.example", "CPC", false, "paid" },
                { "", "shop.example", "paid_social", false, "paid" },
                { "www.google.com", "shop.example", "", true, "paid" },
                { "", "shop.example", "email", false, "email" },
                { "", "shop.example", "Newsletter", false, "email" },
                { "blog.example.org", "shop.example", "social", false, "social" },
                { "blog.example.org", "shop.example", "organic", false, "referral" },
        };
        return cr_make_param_array(struct source_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct source_row *row, oa_url, source_rows) {
        cr_assert_str_eq(oa_referrer_source(row->ref, row->page, row->medium, row->paid), row->want,
                         "ref %s page %s medium %s", row->ref, row->page, row->medium);
}

Test(oa_url, source_handles_null_inputs) {
        cr_assert_str_eq(oa_referrer_source(NULL, NULL, NULL, false), "direct");
        cr_assert_str_eq(oa_referrer_source("bing.com", NULL, NULL, false), "search");
}

/* Path, query and fragment are scanned 8 bytes at a time: a space, control or DEL is
 * refused and '?' or '#' ends its part at every offset, in a block or in the tail. */
Test(oa_url, split_finds_each_byte_at_every_offset) {
        static const char base[] = "https://a.example/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";
        static const unsigned char bad[] = { 0x00, 0x01, 0x1f, ' ', 0x7f };
        const size_t path = 17, n = sizeof(base) - 1;
        char s[sizeof(base)];
        oa_url u;

        for (size_t p = path + 1; p < n; p++) {
                for (size_t b = 0; b < sizeof(bad); b++) {
                        memcpy(s, base, n);
                        s[p] = (char) bad[b];
                        cr_assert_eq(oa_url_split(s, n, &u), -EINVAL, "byte 0x%02x at %zu", bad[b], p);
                }
                memcpy(s, base, n);
                s[p] = '?';
                cr_assert_eq(oa_url_split(s, n, &u), 0);
                cr_assert_eq(u.path_len, p - path, "'?' at %zu", p);
                cr_assert_eq(u.query_len, n - p - 1);
                s[n - 1] = p < n - 1 ? ' ' : '?';       /* in the query now */
                cr_assert_eq(oa_url_split(s, n, &u), p < n - 1 ? -EINVAL : 0, "space after '?' at %zu", p);
                memcpy(s, base, n);
                s[p] = '#';
                cr_assert_eq(oa_url_split(s, n, &u), 0);
                cr_assert_eq(u.path_len, p - path, "'#' at %zu", p);
                cr_assert_null(u.query);
                s[n - 1] = p < n - 1 ? 0x7f : '#';      /* in the fragment now */
                cr_assert_eq(oa_url_split(s, n, &u), p < n - 1 ? -EINVAL : 0, "DEL after '#' at %zu", p);
                memcpy(s, base, n);
                s[p] = (char) 0xc3;     /* non-ASCII bytes are no control characters */
                cr_assert_eq(oa_url_split(s, n, &u), 0);
        }
}

/* The authority ends at the first '/', '?' or '#', holds no space, control or DEL, and
 * its host follows the last '@'. */
Test(oa_url, split_authority_bytes_at_every_offset) {
        static const char base[] = "https://user:pw@h1.example@host.example:8080/p";
        const size_t auth = 8, end = sizeof(base) - 3, n = sizeof(base) - 1;
        char s[sizeof(base)];
        oa_url u;

        cr_assert_eq(oa_url_split(base, n, &u), 0);
        cr_assert_eq(u.host_len, strlen("host.example"));
        cr_assert_eq(strncmp(u.host, "host.example", u.host_len), 0);
        for (size_t p = auth; p < end; p++) {
                memcpy(s, base, n);
                s[p] = ' ';
                cr_assert_eq(oa_url_split(s, n, &u), -EINVAL, "space at %zu", p);
                s[p] = 0x7f;
                cr_assert_eq(oa_url_split(s, n, &u), -EINVAL, "DEL at %zu", p);
                /* a '#' ends the authority, so a space after it is in the fragment: refused too */
                s[p] = '#';
                s[n - 1] = ' ';
                cr_assert_eq(oa_url_split(s, n, &u), -EINVAL, "'#' at %zu", p);
        }
        cr_assert_eq(oa_url_split("https://a@b#c d@e/", 18, &u), -EINVAL);
        cr_assert_eq(oa_url_split("https://a@b#cd@e/", 17, &u), 0);
        cr_assert_eq(u.host_len, 1);
        cr_assert_eq(u.host[0], 'b');
}
