/* One batch of events as one Lua script call (EVALSHA): the writes of every event, then
 * each touched key's expiry once, all behind a check of the offsets Redis already applied,
 * so a batch applies exactly once even when it is sent again after a timeout.
 *
 * The script's ARGV: n, then per partition (partition, the offset Redis must hold as the
 * last applied one or "-1" for none, the batch's last offset), then the commands as
 * (argc, arguments...). It answers an empty array when it wrote, else pairs (partition,
 * offset Redis holds or "-1") of every partition that did not match, having written
 * nothing. */
#include "realtime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OA_RT_NUM_MAX 24                /* a number of the script's head, and its NUL */
#define OA_RT_TTL_TEXT "7200"           /* OA_RT_RECENT_TTL_S */

const char oa_rt_script[] =
        "local n = tonumber(ARGV[1])\n"
        "local bad = {}\n"
        "for i = 0, n - 1 do\n"
        "  local p, want = ARGV[2 + 3 * i], ARGV[3 + 3 * i]\n"
        "  local have = redis.call('HGET', KEYS[1], p)\n"
        "  if (want == '-1' and have) or (want ~= '-1' and have ~= want) then\n"
        "    bad[#bad + 1] = p\n"
        "    bad[#bad + 1] = have or '-1'\n"
        "  end\n"
        "end\n"
        "if #bad > 0 then return bad end\n"
        "local i = 2 + 3 * n\n"
        "while i <= #ARGV do\n"
        "  local argc = tonumber(ARGV[i])\n"
        "  redis.call(unpack(ARGV, i + 1, i + argc))\n"
        "  i = i + argc + 1\n"
        "end\n"
        "for j = 0, n - 1 do redis.call('HSET', KEYS[1], ARGV[2 + 3 * j], ARGV[4 + 3 * j]) end\n"
        "redis.call('EXPIRE', KEYS[1], " OA_RT_TTL_TEXT ")\n"
        "return bad\n";

/* What a touched key needs at the end of the batch. */
typedef struct touch {
        int64_t expire_at;              /* EXPIREAT; 0: EXPIRE OA_RT_RECENT_TTL_S */
        bool trim_zset;                 /* ZREMRANGEBYRANK 0 -(top_max + 1) */
        bool trim_list;                 /* LTRIM 0 OA_RT_RECENT_MAX - 1 */
} touch;

int oa_rt_batch_init(oa_rt_batch *b, long long top_max) {
        memset(b, 0, sizeof(*b));
        b->top_max = top_max;
        b->touched = oa_map_new();
        return b->touched ? 0 : -ENOMEM;
}

static int free_touch(const void *k, size_t kl, void *v, void *ud) {
        (void) k;
        (void) kl;
        (void) ud;
        free(v);
        return 0;
}

void oa_rt_batch_reset(oa_rt_batch *b) {
        for (size_t i = 0; i < b->n_args; i++)
                free(b->args[i]);
        b->n_args = 0;
        b->n_parts = 0;
        b->n_msgs = 0;
        b->n_events = 0;
        b->started_ms = 0;
        b->sealed = false;
        free(b->head);
        b->head = NULL;
        if (b->touched) {
                oa_map_foreach(b->touched, free_touch, NULL);
                oa_map_free(b->touched);
                b->touched = oa_map_new();
        }
}

void oa_rt_batch_done(oa_rt_batch *b) {
        oa_rt_batch_reset(b);
        free(b->args);
        free(b->parts);
        b->touched = oa_map_free(b->touched);
        memset(b, 0, sizeof(*b));
}

static int push(oa_rt_batch *b, const char *s) {
        char *copy;

        if (b->n_args == b->cap_args) {
                size_t cap = b->cap_args ? b->cap_args * 2 : 256;
                char **a = realloc(b->args, cap * sizeof(*a));

                if (!a)
                        return -ENOMEM;
                b->args = a;
                b->cap_args = cap;
        }
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        b->args[b->n_args++] = copy;
        return 0;
}

/* One command of argc arguments. */
static int cmd(oa_rt_batch *b, int argc, ...) {
        char n[12];
        va_list ap;
        int r;

        snprintf(n, sizeof(n), "%d", argc);
        r = push(b, n);
        va_start(ap, argc);
        for (int i = 0; i < argc && r == 0; i++)
                r = push(b, va_arg(ap, const char *));
        va_end(ap);
        return r;
}

static int touch_key(oa_rt_batch *b, const char *key, int64_t expire_at, bool zset, bool list) {
        touch *t = oa_map_get(b->touched, key, strlen(key));

        if (t)
                return 0;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->expire_at = expire_at;
        t->trim_zset = zset;
        t->trim_list = list;
        if (oa_map_put(b->touched, key, strlen(key), t, NULL) < 0) {
                free(t);
                return -ENOMEM;
        }
        return 0;
}

static int note_offset(oa_rt_batch *b, int32_t partition, int64_t offset, int64_t rewound) {
        for (size_t i = 0; i < b->n_parts; i++)
                if (b->parts[i].partition == partition) {
                        b->parts[i].last = offset;
                        return 0;
                }
        if (b->n_parts == b->cap_parts) {
                size_t cap = b->cap_parts ? b->cap_parts * 2 : 16;
                oa_rt_part *p = realloc(b->parts, cap * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                b->parts = p;
                b->cap_parts = cap;
        }
        b->parts[b->n_parts++] = (oa_rt_part) { partition, offset, offset, offset == rewound };
        return 0;
}

const oa_rt_part *oa_rt_batch_part(const oa_rt_batch *b, int32_t partition) {
        for (size_t i = 0; i < b->n_parts; i++)
                if (b->parts[i].partition == partition)
                        return &b->parts[i];
        return NULL;
}

/* ZINCRBY key 1 member, for a member that is not empty. */
static int zincr(oa_rt_batch *b, const char *project, oa_rt_kind kind, int64_t minute,
                 int64_t expire_at, const char *member) {
        char key[OA_RT_KEY_MAX];
        int r;

        if (!member || !member[0])
                return 0;
        r = oa_rt_minute_key(key, sizeof(key), project, kind, minute);
        if (r < 0)
                return r;
        r = cmd(b, 4, "ZINCRBY", key, "1", member);
        return r < 0 ? r : touch_key(b, key, expire_at, true, false);
}

static int add_event(oa_rt_batch *b, const Oa__Event *ev, int64_t now_ms) {
        const char *p = ev->project_id;
        int64_t minute = oa_rt_minute(ev->received_ms), at = oa_rt_minute_expire_at(minute);
        bool pageview = strcmp(ev->event_type, "pageview") == 0;
        const char *source = ev->source == OA__EVENT_SOURCE__EVENT_SOURCE_API ? "api" : "collect";
        char key[OA_RT_KEY_MAX];
        oa_buf json;
        int r;

        if (oa_rt_minute_live(minute, now_ms) && minute >= 0) {
                r = oa_rt_minute_key(key, sizeof(key), p, OA_RT_VISITORS, minute);
                if (r < 0)
                        return r;
                if (ev->visitor_id[0]) {
                        r = cmd(b, 3, "PFADD", key, ev->visitor_id);
                        if (r == 0)
                                r = touch_key(b, key, at, false, false);
                        if (r < 0)
                                return r;
                }
                r = oa_rt_minute_key(key, sizeof(key), p, OA_RT_COUNTS, minute);
                if (r == 0 || r > 0)
                        r = cmd(b, 4, "HINCRBY", key, pageview ? "pv" : "ev", "1");
                if (r == 0)
                        r = cmd(b, 4, "HINCRBY", key, source, "1");
                if (r == 0)
                        r = touch_key(b, key, at, false, false);
                if (r == 0 && pageview)
                        r = zincr(b, p, OA_RT_PAGES, minute, at, ev->path);
                if (r == 0)
                        r = zincr(b, p, OA_RT_REFERRERS, minute, at, ev->referrer_host);
                if (r == 0)
                        r = zincr(b, p, OA_RT_COUNTRIES, minute, at, ev->country);
                if (r < 0)
                        return r;
        }
        r = oa_rt_recent_key(key, sizeof(key), p);
        if (r < 0)
                return r;
        oa_buf_init(&json, 16 * 1024);
        r = oa_rt_recent_json(&json, ev);
        if (r == 0)
                r = cmd(b, 3, "LPUSH", key, json.data);
        oa_buf_done(&json);
        if (r == 0)
                r = touch_key(b, key, 0, false, true);
        return r < 0 ? (r == -E2BIG ? -EINVAL : r) : 0;
}

int oa_rt_batch_add(oa_rt_batch *b, const Oa__Event *ev, int32_t partition, int64_t offset,
                    int64_t rewound, int64_t now_ms, int64_t mono_ms) {
        size_t mark = b->n_args;
        int r = note_offset(b, partition, offset, rewound);

        if (r < 0)
                return r;
        if (b->n_msgs++ == 0)
                b->started_ms = mono_ms;
        if (!ev)
                return 0;
        r = add_event(b, ev, now_ms);
        if (r < 0) {
                /* half an event is no event: take back its commands (its touched keys
                 * only get an expiry, which is harmless) */
                while (b->n_args > mark)
                        free(b->args[--b->n_args]);
                return r;
        }
        b->n_events++;
        return 0;
}

typedef struct tail_ctx {
        oa_rt_batch *b;
        int err;
} tail_ctx;

static int add_tail(const void *k, size_t kl, void *v, void *ud) {
        tail_ctx *c = ud;
        const touch *t = v;
        char key[OA_RT_KEY_MAX], num[32], stop[32];

        snprintf(key, sizeof(key), "%.*s", (int) kl, (const char *) k);
        if (t->trim_zset) {
                snprintf(stop, sizeof(stop), "%lld", -(c->b->top_max + 1));
                c->err = cmd(c->b, 4, "ZREMRANGEBYRANK", key, "0", stop);
        }
        if (c->err == 0 && t->trim_list) {
                snprintf(stop, sizeof(stop), "%d", OA_RT_RECENT_MAX - 1);
                c->err = cmd(c->b, 4, "LTRIM", key, "0", stop);
        }
        if (c->err == 0 && t->expire_at) {
                snprintf(num, sizeof(num), "%" PRId64, t->expire_at);
                c->err = cmd(c->b, 3, "EXPIREAT", key, num);
        } else if (c->err == 0) {
                snprintf(num, sizeof(num), "%d", OA_RT_RECENT_TTL_S);
                c->err = cmd(c->b, 3, "EXPIRE", key, num);
        }
        return c->err != 0;
}

int oa_rt_batch_args(oa_rt_batch *b, const char ***ret_args, size_t *ret_n) {
        size_t head = 1 + 3 * b->n_parts, n;
        const char **args;

        /* Once per batch (a retry sends the same arguments): the expiry commands join the
         * batch's own, and the head's numbers are written. */
        if (!b->sealed) {
                tail_ctx c = { b, 0 };

                oa_map_foreach(b->touched, add_tail, &c);
                if (c.err < 0)
                        return c.err;
                free(b->head);
                b->head = calloc(head, OA_RT_NUM_MAX);
                if (!b->head)
                        return -ENOMEM;
                snprintf(b->head, OA_RT_NUM_MAX, "%zu", b->n_parts);
                for (size_t i = 0; i < b->n_parts; i++) {
                        const oa_rt_part *p = &b->parts[i];
                        char *h = b->head + (1 + 3 * i) * OA_RT_NUM_MAX;

                        snprintf(h, OA_RT_NUM_MAX, "%" PRId32, p->partition);
                        snprintf(h + OA_RT_NUM_MAX, OA_RT_NUM_MAX, "%" PRId64,
                                 p->fresh ? (int64_t) -1 : p->first - 1);
                        snprintf(h + 2 * OA_RT_NUM_MAX, OA_RT_NUM_MAX, "%" PRId64, p->last);
                }
                b->sealed = true;
        }
        n = head + b->n_args;
        args = calloc(n, sizeof(*args));
        if (!args)
                return -ENOMEM;
        for (size_t i = 0; i < head; i++)
                args[i] = b->head + i * OA_RT_NUM_MAX;
        for (size_t i = 0; i < b->n_args; i++)
                args[head + i] = b->args[i];
        *ret_args = args;
        *ret_n = n;
        return 0;
}
