/* Realtime keys in Redis (oa/rt.h): names, expiry and the recent-events JSON. Pure
 * functions; the writer is oa-realtime, the readers oa-query. */
#include "oa/rt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[OA_RT_N_KINDS] = {
        [OA_RT_VISITORS] = "v",
        [OA_RT_COUNTS] = "n",
        [OA_RT_PAGES] = "pg",
        [OA_RT_REFERRERS] = "rf",
        [OA_RT_COUNTRIES] = "co",
};

/* Project ids come from the catalogue; still, a key is never shaped by odd bytes. */
static int project_ok(const char *p) {
        size_t n = p ? strlen(p) : 0;

        if (n == 0 || n > 64)
                return 0;
        for (size_t i = 0; i < n; i++) {
                char c = p[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-'))
                        return 0;
        }
        return 1;
}

int oa_rt_minute_key(char *buf, size_t len, const char *project, oa_rt_kind kind, int64_t minute) {
        int n;

        if (!project_ok(project) || (unsigned) kind >= OA_RT_N_KINDS || minute < 0)
                return -EINVAL;
        n = snprintf(buf, len, "oa:rt:{%s}:%s:%lld", project, kind_names[kind], (long long) minute);
        if (n < 0 || (size_t) n >= len)
                return -ENOSPC;
        return n;
}

int oa_rt_recent_key(char *buf, size_t len, const char *project) {
        int n;

        if (!project_ok(project))
                return -EINVAL;
        n = snprintf(buf, len, "oa:rt:{%s}:recent", project);
        if (n < 0 || (size_t) n >= len)
                return -ENOSPC;
        return n;
}

int64_t oa_rt_minute(int64_t ms) {
        return ms >= 0 ? ms / 60000 : -((-ms + 59999) / 60000);
}

int64_t oa_rt_minute_expire_at(int64_t minute) {
        return (minute + 1) * 60 + OA_RT_MINUTE_TTL_S;
}

int oa_rt_minute_live(int64_t minute, int64_t now_ms) {
        return oa_rt_minute_expire_at(minute) * 1000 > now_ms;
}

int oa_rt_iso_ms(oa_buf *b, int64_t ms) {
        time_t s = (time_t) (ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        int frac = (int) (ms - (int64_t) s * 1000);
        struct tm tm;
        char out[40];

        if (!gmtime_r(&s, &tm))
                return oa_buf_adds(b, "1970-01-01T00:00:00.000Z");
        strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%S", &tm);
        return oa_buf_addf(b, "%s.%03dZ", out, frac);
}

static int add_str(oa_buf *b, const char *name, const char *v, int first) {
        int r = oa_buf_addf(b, "%s\"%s\":\"", first ? "" : ",", name);

        if (r == 0)
                r = oa_buf_add_json_str(b, v ? v : "", v ? strlen(v) : 0);
        if (r == 0)
                r = oa_buf_addc(b, '"');
        return r;
}

int oa_rt_recent_json(oa_buf *b, const Oa__Event *ev) {
        const char *source = ev->source == OA__EVENT_SOURCE__EVENT_SOURCE_COLLECT ? "collect" :
                             ev->source == OA__EVENT_SOURCE__EVENT_SOURCE_API ? "api" : "unspecified";
        int r = oa_buf_addc(b, '{');

        if (r == 0)
                r = add_str(b, "event_id", ev->event_id, 1);
        if (r == 0)
                r = add_str(b, "event_type", ev->event_type, 0);
        if (r == 0)
                r = add_str(b, "event_name", ev->event_name, 0);
        if (r == 0)
                r = add_str(b, "source", source, 0);
        /* the pseudonymous visitor id, so a DSAR deletion finds the user's entries */
        if (r == 0)
                r = add_str(b, "visitor_id", ev->visitor_id, 0);
        if (r == 0)
                r = oa_buf_adds(b, ",\"received_at\":\"");
        if (r == 0)
                r = oa_rt_iso_ms(b, ev->received_ms);
        if (r == 0)
                r = oa_buf_adds(b, "\",\"timestamp\":\"");
        if (r == 0)
                r = oa_rt_iso_ms(b, ev->timestamp_ms);
        if (r == 0)
                r = oa_buf_addc(b, '"');
        if (r == 0)
                r = add_str(b, "url", ev->url, 0);
        if (r == 0)
                r = add_str(b, "path", ev->path, 0);
        if (r == 0)
                r = add_str(b, "title", ev->title, 0);
        if (r == 0)
                r = add_str(b, "referrer_host", ev->referrer_host, 0);
        if (r == 0)
                r = add_str(b, "country", ev->country, 0);
        if (r == 0)
                r = add_str(b, "browser", ev->browser, 0);
        if (r == 0)
                r = add_str(b, "os", ev->os, 0);
        if (r == 0)
                r = add_str(b, "device", ev->device, 0);
        if (r == 0)
                r = oa_buf_addc(b, '}');
        return r;
}
