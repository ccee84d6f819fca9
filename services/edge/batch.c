/* The pure parts of POST /v1/projects/{id}/events (v1.c does the I/O): what becomes of
 * each event of a request (rejected, produced, duplicate, or pending: being written by
 * another request) given the idempotency store behind an interface, the 202 body, and
 * the 400 message when nothing is valid. Tested alone in tests/unit/services/edge/. */
#include "edge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int oa_edge_idem_apply(const oa_edge_idem_ops *ops, const oa_event_batch *b, const bool *has_id,
                       char *const *keys, oa_edge_item_state *ret_state, bool *ret_skipped) {
        const char **k = NULL;
        size_t *idx = NULL, n = 0;
        oa_edge_mark *marks = NULL;
        int r = 0;

        *ret_skipped = false;
        for (size_t i = 0; i < b->n; i++) {
                ret_state[i] = b->items[i].ev ? OA_EDGE_ITEM_PRODUCE : OA_EDGE_ITEM_REJECTED;
                if (!b->items[i].ev || !has_id[i])
                        continue;
                /* the same id earlier in this request: that one is written, this one not
                 * (500 ids at most: the quadratic walk is cheap) */
                for (size_t j = 0; j < i && ret_state[i] == OA_EDGE_ITEM_PRODUCE; j++)
                        if (b->items[j].ev && has_id[j] && strcmp(keys[j], keys[i]) == 0)
                                ret_state[i] = OA_EDGE_ITEM_DUPLICATE;
                n += ret_state[i] == OA_EDGE_ITEM_PRODUCE;
        }
        if (n == 0 || !ops || !ops->mark)
                return 0;
        k = malloc(n * sizeof(*k));
        idx = malloc(n * sizeof(*idx));
        marks = calloc(n, sizeof(*marks));
        if (!k || !idx || !marks) {
                r = -ENOMEM;
                goto out;
        }
        n = 0;
        for (size_t i = 0; i < b->n; i++)
                if (ret_state[i] == OA_EDGE_ITEM_PRODUCE && has_id[i]) {
                        k[n] = keys[i];
                        idx[n++] = i;
                }
        if (ops->mark(ops->ctx, k, n, marks) < 0) {
                *ret_skipped = true;    /* nothing known: produce them all */
                goto out;
        }
        for (size_t j = 0; j < n; j++)
                if (marks[j] == OA_EDGE_MARK_DONE)
                        ret_state[idx[j]] = OA_EDGE_ITEM_DUPLICATE;
                else if (marks[j] == OA_EDGE_MARK_PENDING)
                        ret_state[idx[j]] = OA_EDGE_ITEM_PENDING;
out:
        free(k);
        free(idx);
        free(marks);
        return r;
}

int oa_edge_v1_body(oa_buf *b, const oa_event_batch *batch, const oa_edge_item_state *state) {
        size_t accepted = 0, dups = 0;
        bool first;
        int r;

        if (!batch->is_batch) {
                const Oa__Event *ev = batch->items[0].ev;

                r = oa_buf_adds(b, "{\"status\":\"queued\",\"event_id\":\"");
                if (r == 0)
                        r = oa_buf_add_json_str(b, ev->event_id, strlen(ev->event_id));
                if (r == 0)
                        r = oa_buf_adds(b, state[0] == OA_EDGE_ITEM_DUPLICATE ? "\",\"duplicate\":true}" : "\"}");
                return r;
        }
        for (size_t i = 0; i < batch->n; i++) {
                accepted += state[i] == OA_EDGE_ITEM_PRODUCE;
                dups += state[i] == OA_EDGE_ITEM_DUPLICATE;
        }
        r = oa_buf_addf(b, "{\"status\":\"queued\",\"accepted\":%zu,\"duplicates\":%zu,\"rejected\":[",
                        accepted, dups);
        first = true;
        for (size_t i = 0; r == 0 && i < batch->n; i++) {
                const char *msg = batch->items[i].error ? batch->items[i].error : "invalid event";

                if (state[i] != OA_EDGE_ITEM_REJECTED)
                        continue;
                r = oa_buf_addf(b, "%s{\"index\":%zu,\"error\":\"validation_error\",\"message\":\"",
                                first ? "" : ",", i);
                if (r == 0)
                        r = oa_buf_add_json_str(b, msg, strlen(msg));
                if (r == 0)
                        r = oa_buf_adds(b, "\"}");
                first = false;
        }
        if (r == 0)
                r = oa_buf_adds(b, "],\"event_ids\":[");
        first = true;
        for (size_t i = 0; r == 0 && i < batch->n; i++) {
                const char *id;

                if (state[i] == OA_EDGE_ITEM_REJECTED)
                        continue;
                id = batch->items[i].ev->event_id;
                r = oa_buf_adds(b, first ? "\"" : ",\"");
                if (r == 0)
                        r = oa_buf_add_json_str(b, id, strlen(id));
                if (r == 0)
                        r = oa_buf_addc(b, '"');
                first = false;
        }
        if (r == 0)
                r = oa_buf_adds(b, "]}");
        return r;
}

void oa_edge_v1_invalid_message(const oa_event_batch *batch, char *buf, size_t len) {
        for (size_t i = 0; i < batch->n; i++) {
                const char *err = batch->items[i].error;

                if (batch->items[i].ev)
                        continue;
                if (batch->is_batch)
                        snprintf(buf, len, "events[%zu]: %s", i, err ? err : "invalid event");
                else
                        snprintf(buf, len, "%s", err ? err : "invalid event");
                return;
        }
        snprintf(buf, len, "body: no event");
}
