/* Tests for libshared/src/ch.c against a fake HTTP server in a thread: what a request
 * carries (URL settings, auth, body), and how each kind of answer becomes an error. The
 * canned answers are the ones clickhouse-server 18.16 gives (see test_ch_error.c); the
 * real server is exercised in tests/integration/test_clickhouse.c. */
#define _GNU_SOURCE             /* memmem */
#include "oa/ch.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One request/answer exchange per connection ("Connection: close"). */
typedef struct fake_http {
        int lfd;
        int port;
        const char *answer;     /* full HTTP response; NULL: read the request, never answer */
        size_t answer_len;
        char request[65536];    /* what the client sent: head and body */
        size_t request_len;
        pthread_t thread;
} fake_http;

static fake_http fake;

/* The length of the request in buf once head and body are complete, else 0. */
static size_t request_complete(const char *buf, size_t n) {
        const char *head_end = memmem(buf, n, "\r\n\r\n", 4), *cl;
        size_t head, body = 0;

        if (!head_end)
                return 0;
        head = (size_t) (head_end - buf) + 4;
        cl = memmem(buf, head, "Content-Length: ", 16);
        if (cl)
                body = strtoul(cl + 16, NULL, 10);
        return n >= head + body ? head + body : 0;
}

static void *fake_run(void *arg) {
        int fd = accept(fake.lfd, NULL, NULL);
        ssize_t k;

        (void) arg;
        if (fd < 0)
                return NULL;
        while (!request_complete(fake.request, fake.request_len) &&
               fake.request_len < sizeof(fake.request) - 1) {
                k = read(fd, fake.request + fake.request_len, sizeof(fake.request) - 1 - fake.request_len);
                if (k <= 0)
                        break;
                fake.request_len += (size_t) k;
        }
        if (fake.answer) {
                for (size_t off = 0; off < fake.answer_len; off += (size_t) k) {
                        k = write(fd, fake.answer + off, fake.answer_len - off);
                        if (k <= 0)
                                break;
                }
        } else {
                char sink[256];

                while (read(fd, sink, sizeof(sink)) > 0)        /* until the client gives up */
                        ;
        }
        close(fd);
        return NULL;
}

/* Listen on a free port of 127.0.0.1 and serve one exchange with answer. */
static void fake_start(const char *answer, size_t len) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t sl = sizeof(sa);

        memset(&fake, 0, sizeof(fake));
        fake.answer = answer;
        fake.answer_len = len;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fake.lfd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_geq(fake.lfd, 0);
        cr_assert_eq(bind(fake.lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        cr_assert_eq(listen(fake.lfd, 4), 0);
        cr_assert_eq(getsockname(fake.lfd, (struct sockaddr *) &sa, &sl), 0);
        fake.port = ntohs(sa.sin_port);
        cr_assert_eq(pthread_create(&fake.thread, NULL, fake_run, NULL), 0);
}

static void fake_stop(void) {
        pthread_join(fake.thread, NULL);
        close(fake.lfd);
        fake.request[fake.request_len] = '\0';
}

/* Serve one answer: status line text, extra header lines (each ending in \r\n), body. */
static void serve(const char *status, const char *headers, const char *body) {
        static char answer[4096];
        int n = snprintf(answer, sizeof(answer), "HTTP/1.1 %s\r\nConnection: close\r\n"
                         "Content-Type: text/plain; charset=UTF-8\r\n%sContent-Length: %zu\r\n\r\n%s",
                         status, headers, strlen(body), body);

        cr_assert(n > 0 && (size_t) n < sizeof(answer));
        fake_start(answer, (size_t) n);
}

/* A port of 127.0.0.1 where nothing listens. */
static int free_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t sl = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

/* A client for the fake server, with a short query timeout. */
static oa_ch *client(long query_timeout_ms) {
        char url[64], err[256];
        oa_ch_cfg c = { .url = url, .user = "oa", .password = "s3cret", .database = "oa",
                        .connect_timeout_ms = 1000, .query_timeout_ms = query_timeout_ms };
        oa_ch *ch = NULL;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d", fake.port);
        cr_assert_eq(oa_ch_new(&c, &ch, err, sizeof(err)), 0, "%s", err);
        return ch;
}

static const char ok_body[] = "{\"data\":[{\"n\":1}],\"rows\":1}";

Test(oa_ch, query_sends_settings_auth_and_sql) {
        char err[256];
        oa_buf out;
        oa_ch *ch;

        serve("200 OK", "", ok_body);
        ch = client(30000);
        oa_buf_init(&out, 1 << 20);
        cr_assert_eq(oa_ch_query(ch, "SELECT 1 AS n", &out, err, sizeof(err)), 0, "%s", err);
        fake_stop();
        cr_assert_str_eq(out.data, ok_body);
        cr_assert(strstr(fake.request, "POST /?wait_end_of_query=1&output_format_json_quote_64bit_integers=0"
                         "&max_execution_time=30&database=oa&default_format=JSON HTTP/1.1\r\n"), "%s", fake.request);
        /* base64("oa:s3cret") */
        cr_assert(strstr(fake.request, "\r\nAuthorization: Basic b2E6czNjcmV0\r\n"), "%s", fake.request);
        cr_assert_null(strstr(fake.request, "s3cret"), "the password never travels in clear");
        cr_assert_null(strstr(fake.request, "Expect:"), "no 100-continue round trip");
        cr_assert(strstr(fake.request, "\r\n\r\nSELECT 1 AS n"), "the statement is the body");
        cr_assert_eq(oa_ch_last_code(ch), 0);
        oa_buf_done(&out);
        oa_ch_free(ch);
}

Test(oa_ch, insert_sends_statement_in_url_and_data_as_is) {
        static const char data[] = { 1, 0, 0, 0, 3, 'a', '\0', '\xff' };
        char err[256];
        oa_ch *ch;
        char *body;

        serve("200 OK", "", "");
        ch = client(30000);
        cr_assert_eq(oa_ch_insert(ch, "oa.events", "RowBinary", data, sizeof(data), err, sizeof(err)), 0, "%s", err);
        fake_stop();
        cr_assert(strstr(fake.request, "&query=INSERT%20INTO%20oa.events%20FORMAT%20RowBinary HTTP/1.1\r\n"),
                  "%s", fake.request);
        body = strstr(fake.request, "\r\n\r\n") + 4;
        cr_assert_eq(fake.request_len - (size_t) (body - fake.request), sizeof(data));
        cr_assert_eq(memcmp(body, data, sizeof(data)), 0);
        oa_ch_free(ch);
}

Test(oa_ch, insert_rejects_bad_names_without_a_request) {
        char err[256], url[] = "http://127.0.0.1:1";
        oa_ch_cfg c = { .url = url };
        oa_ch *ch;

        cr_assert_eq(oa_ch_new(&c, &ch, err, sizeof(err)), 0);
        cr_assert_eq(oa_ch_insert(ch, "events; DROP TABLE x", "RowBinary", "", 0, err, sizeof(err)), -EINVAL);
        cr_assert_eq(oa_ch_insert(ch, "a.b.c", "RowBinary", "", 0, err, sizeof(err)), -EINVAL);
        cr_assert_eq(oa_ch_insert(ch, "events", "RowBinary SETTINGS x=1", "", 0, err, sizeof(err)), -EINVAL);
        oa_ch_free(ch);
}

Test(oa_ch, server_error_is_eproto_with_code_and_message) {
        char err[256];
        oa_buf out;
        oa_ch *ch;

        serve("404 Not Found", "",
              "Code: 60, e.displayText() = DB::Exception: Table oa.nope doesn't exist., e.what() = DB::Exception\n");
        ch = client(30000);
        oa_buf_init(&out, 16);  /* an error body does not count against the result cap */
        cr_assert_eq(oa_ch_query(ch, "SELECT * FROM nope", &out, err, sizeof(err)), -EPROTO);
        fake_stop();
        cr_assert_eq(oa_ch_last_code(ch), 60);
        cr_assert_str_eq(err, "Table oa.nope doesn't exist.");
        cr_assert_eq(out.len, 0);
        oa_buf_done(&out);
        oa_ch_free(ch);
}

Test(oa_ch, error_in_200_answer_is_eproto) {
        char err[256];
        oa_buf out;
        oa_ch *ch;

        serve("200 OK", "", "{\n\t\"data\":\n\t[\n\t\t{\n\t\t\t\"n\": 1\n\t\t}"
              "Code: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero, "
              "e.what() = DB::Exception\n");
        ch = client(30000);
        oa_buf_init(&out, 1 << 20);
        cr_assert_eq(oa_ch_query(ch, "SELECT throwIf(n = 2)", &out, err, sizeof(err)), -EPROTO);
        fake_stop();
        cr_assert_eq(oa_ch_last_code(ch), 395);
        cr_assert_str_eq(err, "Value passed to 'throwIf' function is non zero");
        oa_buf_done(&out);
        oa_ch_free(ch);
}

Test(oa_ch, exception_code_header_on_200_is_eproto) {
        char err[256];
        oa_ch *ch;

        serve("200 OK", "X-ClickHouse-Exception-Code: 241\r\n", "");
        ch = client(30000);
        cr_assert_eq(oa_ch_exec(ch, "INSERT INTO t VALUES (1)", err, sizeof(err)), -EPROTO);
        fake_stop();
        cr_assert_eq(oa_ch_last_code(ch), 241);
        cr_assert(oa_ch_code_transient(oa_ch_last_code(ch)));
        oa_ch_free(ch);
}

Test(oa_ch, proxy_502_is_transport_error) {
        char err[256];
        oa_ch *ch;

        serve("502 Bad Gateway", "", "<html><head><title>502 Bad Gateway</title></head>\n");
        ch = client(30000);
        cr_assert_eq(oa_ch_exec(ch, "SELECT 1", err, sizeof(err)), -EIO);
        fake_stop();
        cr_assert_eq(oa_ch_last_code(ch), 0);
        cr_assert(strstr(err, "HTTP 502"), "%s", err);
        oa_ch_free(ch);
}

Test(oa_ch, result_past_cap_is_e2big) {
        char err[256];
        oa_buf out;
        oa_ch *ch;

        serve("200 OK", "", ok_body);
        ch = client(30000);
        oa_buf_init(&out, 10);
        cr_assert_eq(oa_ch_query(ch, "SELECT 1", &out, err, sizeof(err)), -E2BIG);
        fake_stop();
        oa_buf_done(&out);
        oa_ch_free(ch);
}

Test(oa_ch, refused_connection_is_econnrefused) {
        char err[256];
        oa_ch *ch;

        fake.port = free_port();
        ch = client(30000);
        cr_assert_eq(oa_ch_exec(ch, "SELECT 1", err, sizeof(err)), -ECONNREFUSED, "%s", err);
        cr_assert_eq(oa_ch_ping(ch, err, sizeof(err)), -ECONNREFUSED);
        oa_ch_free(ch);
}

Test(oa_ch, silent_server_is_etimedout_soon_after_query_timeout) {
        struct timespec t0, t1;
        char err[256];
        oa_ch *ch;
        long ms;

        fake_start(NULL, 0);
        ch = client(300);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cr_assert_eq(oa_ch_exec(ch, "SELECT sleep(3)", err, sizeof(err)), -ETIMEDOUT, "%s", err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        oa_ch_free(ch);         /* closes the socket: the fake server's read ends */
        fake_stop();
        ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        cr_assert(ms >= 700 && ms < 3000, "gave up after %ld ms", ms);
        cr_assert(strstr(fake.request, "max_execution_time=1&"), "at least one second: %s", fake.request);
}

Test(oa_ch, ping_accepts_ok_only) {
        char err[256];
        oa_ch *ch;

        serve("200 OK", "", "Ok.\n");
        ch = client(30000);
        cr_assert_eq(oa_ch_ping(ch, err, sizeof(err)), 0, "%s", err);
        fake_stop();
        cr_assert(strstr(fake.request, "GET /ping HTTP/1.1\r\n"), "%s", fake.request);
        oa_ch_free(ch);

        serve("200 OK", "", "hello\n");
        ch = client(30000);
        cr_assert_eq(oa_ch_ping(ch, err, sizeof(err)), -EPROTO);
        fake_stop();
        oa_ch_free(ch);
}

Test(oa_ch, new_rejects_bad_config) {
        oa_ch_cfg c = { .url = "ftp://h" };
        char err[256];
        oa_ch *ch = NULL;

        cr_assert_eq(oa_ch_new(&c, &ch, err, sizeof(err)), -EINVAL);
        c.url = "http://h:8123/?user=admin";
        cr_assert_eq(oa_ch_new(&c, &ch, err, sizeof(err)), -EINVAL);
        c.url = "http://";
        cr_assert_eq(oa_ch_new(&c, &ch, err, sizeof(err)), -EINVAL);
        c.url = "http://h:8123";
        c.database = "oa; DROP DATABASE oa";
        cr_assert_eq(oa_ch_new(&c, &ch, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "database"), "%s", err);
        cr_assert_null(ch);
}

Test(oa_ch, free_null_returns_null) {
        cr_assert_null(oa_ch_free(NULL));
}

Test(oa_ch, code_transient_only_for_passing_conditions) {
        cr_assert(oa_ch_code_transient(159));   /* TIMEOUT_EXCEEDED */
        cr_assert(oa_ch_code_transient(252));   /* TOO_MANY_PARTS */
        cr_assert_not(oa_ch_code_transient(62));        /* SYNTAX_ERROR */
        cr_assert_not(oa_ch_code_transient(60));        /* UNKNOWN_TABLE */
        cr_assert_not(oa_ch_code_transient(0));
}
