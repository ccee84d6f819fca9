/* Tests for services/edge/batch.c, the pure parts of POST /v1/projects/{id}/events:
 * which events of a request are produced, duplicates or pending (idempotency through a
 * fake store: no Redis), the 202 body and the 400 message. Batches come from libshared's
 * real parser. */
#include "edge.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NOW 1795837461000LL

static oa_arena arena;

static void setup(void) {
        oa_arena_init(&arena, 0);
}

static void teardown(void) {
        oa_arena_done(&arena);
}

TestSuite(edge_batch, .init = setup, .fini = teardown);

static oa_event_batch parse(const char *body) {
        oa_event_api_opts o;
        oa_event_batch b;
        char err[OA_EVENT_ERR_MAX];

        oa_event_api_opts_default(&o, NOW);
        cr_assert_eq(oa_event_parse_api(body, strlen(body), &o, &arena, &b, err, sizeof(err)), 0, "%s", err);
        return b;
}

/* A fake store: a list of keys with their state. */
#define FAKE_MAX 32

typedef struct fake {
        char keys[FAKE_MAX][128];
        char val[FAKE_MAX];             /* 'p' pending, '1' final, 0 free */
        int down;                       /* every call fails */
        int marks, confirms, unmarks;
} fake;

static int find(fake *f, const char *k) {
        for (int i = 0; i < FAKE_MAX; i++)
                if (f->val[i] && strcmp(f->keys[i], k) == 0)
                        return i;
        return -1;
}

static int fake_mark(void *ctx, const char *const *keys, size_t n, oa_edge_mark *ret) {
        fake *f = ctx;

        f->marks++;
        if (f->down)
                return -ECONNREFUSED;
        for (size_t i = 0; i < n; i++) {
                int at = find(f, keys[i]);

                if (at >= 0) {
                        ret[i] = f->val[at] == '1' ? OA_EDGE_MARK_DONE : OA_EDGE_MARK_PENDING;
                        continue;
                }
                for (at = 0; f->val[at]; at++)
                        ;
                snprintf(f->keys[at], sizeof(f->keys[at]), "%s", keys[i]);
                f->val[at] = 'p';
                ret[i] = OA_EDGE_MARK_NEW;
        }
        return 0;
}

static int fake_confirm(void *ctx, const char *const *keys, size_t n) {
        fake *f = ctx;

        f->confirms++;
        for (size_t i = 0; i < n; i++)
                f->val[find(f, keys[i])] = '1';
        return 0;
}

static int fake_unmark(void *ctx, const char *const *keys, size_t n) {
        fake *f = ctx;

        f->unmarks++;
        for (size_t i = 0; i < n; i++) {
                int at = find(f, keys[i]);

                if (at >= 0)
                        f->val[at] = 0;
        }
        return 0;
}

static oa_edge_idem_ops ops_of(fake *f) {
        return (oa_edge_idem_ops) { .mark = fake_mark, .confirm = fake_confirm, .unmark = fake_unmark, .ctx = f };
}

#define ID1 "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a71"
#define ID2 "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a72"

/* States of the events of body against f; keys as oa-edge makes them. */
static void apply(fake *f, const char *body, oa_event_batch *b, oa_edge_item_state *state, bool *skipped) {
        bool has_id[16] = { 0 };
        char *keys[16] = { 0 };
        oa_edge_idem_ops ops = ops_of(f);

        *b = parse(body);
        cr_assert_leq(b->n, 16);
        for (size_t i = 0; i < b->n; i++) {
                Oa__Event *ev = b->items[i].ev;

                has_id[i] = ev && ev->event_id && *ev->event_id;
                if (has_id[i])
                        keys[i] = oa_edge_idem_key(&arena, "prj_p", ev->event_id);
        }
        cr_assert_eq(oa_edge_idem_apply(&ops, b, has_id, keys, state, skipped), 0);
}

Test(edge_batch, idem_key_names_project_and_event) {
        cr_assert_str_eq(oa_edge_idem_key(&arena, "prj_p", ID1), "oa:idem:prj_p:" ID1);
}

Test(edge_batch, first_time_produced_then_pending_then_duplicate) {
        fake f = { 0 };
        oa_edge_item_state st[16];
        oa_event_batch b;
        bool skipped;
        const char *k = "oa:idem:prj_p:" ID1;

        apply(&f, "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID1 "\"}", &b, st, &skipped);
        cr_assert_eq(st[0], OA_EDGE_ITEM_PRODUCE);
        cr_assert_not(skipped);
        /* while the first write waits for Kafka, a retry is pending: 503, not duplicate */
        apply(&f, "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID1 "\"}", &b, st, &skipped);
        cr_assert_eq(st[0], OA_EDGE_ITEM_PENDING);
        /* acknowledged: the mark is final, a retry is a duplicate */
        fake_confirm(&f, &k, 1);
        apply(&f, "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID1 "\"}", &b, st, &skipped);
        cr_assert_eq(st[0], OA_EDGE_ITEM_DUPLICATE);
}

Test(edge_batch, a_failed_write_is_unmarked_so_the_retry_is_produced) {
        fake f = { 0 };
        oa_edge_item_state st[16];
        oa_event_batch b;
        bool skipped;
        const char *k = "oa:idem:prj_p:" ID1;

        apply(&f, "{\"event_type\":\"event\",\"event_name\":\"x\",\"event_id\":\"" ID1 "\"}", &b, st, &skipped);
        cr_assert_eq(st[0], OA_EDGE_ITEM_PRODUCE);
        fake_unmark(&f, &k, 1);         /* what a failed delivery report does */
        apply(&f, "{\"event_type\":\"event\",\"event_name\":\"x\",\"event_id\":\"" ID1 "\"}", &b, st, &skipped);
        cr_assert_eq(st[0], OA_EDGE_ITEM_PRODUCE);
}

Test(edge_batch, batch_states_and_an_id_twice_in_one_request) {
        fake f = { 0 };
        oa_edge_item_state st[16];
        oa_event_batch b;
        bool skipped;
        const char *k = "oa:idem:prj_p:" ID2;

        f.val[0] = '1';
        snprintf(f.keys[0], sizeof(f.keys[0]), "%s", k);
        apply(&f, "{\"events\":["
                  "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID1 "\"},"
                  "{\"event_type\":\"NOPE\"},"
                  "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID1 "\"},"
                  "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID2 "\"},"
                  "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\"}]}", &b, st, &skipped);
        cr_assert_eq(b.n, 5);
        cr_assert_eq(st[0], OA_EDGE_ITEM_PRODUCE);
        cr_assert_eq(st[1], OA_EDGE_ITEM_REJECTED);
        cr_assert_eq(st[2], OA_EDGE_ITEM_DUPLICATE, "the same id earlier in the request");
        cr_assert_eq(st[3], OA_EDGE_ITEM_DUPLICATE, "acknowledged before");
        cr_assert_eq(st[4], OA_EDGE_ITEM_PRODUCE, "no event_id: no mark");
        cr_assert_eq(f.marks, 1, "one pipeline per request");
}

Test(edge_batch, store_down_skips_the_check_and_produces_everything) {
        fake f = { .down = 1 };
        oa_edge_item_state st[16];
        oa_event_batch b;
        bool skipped;

        apply(&f, "{\"events\":[{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID1 "\"},"
                  "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID2 "\"}]}", &b, st, &skipped);
        cr_assert(skipped);
        cr_assert_eq(st[0], OA_EDGE_ITEM_PRODUCE);
        cr_assert_eq(st[1], OA_EDGE_ITEM_PRODUCE);
}

Test(edge_batch, events_without_ids_never_ask_the_store) {
        fake f = { .down = 1 };
        oa_edge_item_state st[16];
        oa_event_batch b;
        bool skipped;

        apply(&f, "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\"}", &b, st, &skipped);
        cr_assert_eq(f.marks, 0);
        cr_assert_not(skipped);
        cr_assert_eq(st[0], OA_EDGE_ITEM_PRODUCE);
}

Test(edge_batch, body_of_one_event) {
        oa_event_batch b = parse("{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID1 "\"}");
        oa_edge_item_state st[1] = { OA_EDGE_ITEM_PRODUCE };
        oa_buf out;

        oa_buf_init(&out, 4096);
        cr_assert_eq(oa_edge_v1_body(&out, &b, st), 0);
        cr_assert_str_eq(out.data, "{\"status\":\"queued\",\"event_id\":\"" ID1 "\"}");
        oa_buf_reset(&out);
        st[0] = OA_EDGE_ITEM_DUPLICATE;
        cr_assert_eq(oa_edge_v1_body(&out, &b, st), 0);
        cr_assert_str_eq(out.data, "{\"status\":\"queued\",\"event_id\":\"" ID1 "\",\"duplicate\":true}");
        oa_buf_done(&out);
}

Test(edge_batch, body_of_a_batch) {
        oa_event_batch b = parse("{\"events\":["
                                 "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID1 "\"},"
                                 "{\"event_type\":\"pageview\",\"currency\":\"usd\"},"
                                 "{\"event_type\":\"pageview\",\"url\":\"https://e.com/\",\"event_id\":\"" ID2 "\"}]}");
        oa_edge_item_state st[3] = { OA_EDGE_ITEM_PRODUCE, OA_EDGE_ITEM_REJECTED, OA_EDGE_ITEM_DUPLICATE };
        char expect[1024];
        oa_buf out;

        oa_buf_init(&out, 4096);
        cr_assert_eq(oa_edge_v1_body(&out, &b, st), 0);
        snprintf(expect, sizeof(expect), "{\"status\":\"queued\",\"accepted\":1,\"duplicates\":1,\"rejected\":"
                 "[{\"index\":1,\"error\":\"validation_error\",\"message\":\"%s\"}],\"event_ids\":[\"" ID1 "\",\"" ID2 "\"]}",
                 b.items[1].error);
        cr_assert_str_eq(out.data, expect);
        cr_assert(strstr(b.items[1].error, "currency"), "%s", b.items[1].error);
        oa_buf_done(&out);
}

Test(edge_batch, body_escapes_messages) {
        oa_event_batch b = parse("{\"events\":[{\"event_type\":\"pageview\",\"url\":\"https://e.com/\"},"
                                 "{\"event_type\":\"pageview\",\"properties\":{\"a\":{\"nested\":1}}}]}");
        oa_edge_item_state st[2] = { OA_EDGE_ITEM_PRODUCE, OA_EDGE_ITEM_REJECTED };
        oa_buf out;

        oa_buf_init(&out, 4096);
        cr_assert_eq(oa_edge_v1_body(&out, &b, st), 0);
        cr_assert(strstr(out.data, "\"rejected\":[{\"index\":1,"), "%s", out.data);
        cr_assert(strstr(out.data, "\"event_ids\":[\""), "the server's UUIDv7 is listed: %s", out.data);
        oa_buf_done(&out);
}

Test(edge_batch, invalid_message_names_the_field) {
        oa_event_batch one = parse("{\"event_type\":\"Bad Type\"}");
        oa_event_batch many = parse("{\"events\":[{\"event_type\":\"pageview\",\"timestamp\":\"yesterday\"},"
                                    "{\"event_type\":\"x y\"}]}");
        char msg[300];

        cr_assert_eq(one.n_accepted, 0);
        oa_edge_v1_invalid_message(&one, msg, sizeof(msg));
        cr_assert(strncmp(msg, "event_type: ", 12) == 0, "%s", msg);
        cr_assert_eq(many.n_accepted, 0);
        oa_edge_v1_invalid_message(&many, msg, sizeof(msg));
        cr_assert(strncmp(msg, "events[0]: timestamp: ", 22) == 0, "%s", msg);
}
