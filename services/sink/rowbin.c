/* RowBinary, ClickHouse's plain binary row format: integers and floats little-endian,
 * DateTime as UInt32 seconds, Enum8 as its Int8 value, String as a LEB128 length and
 * the bytes, Array as a LEB128 count and the elements; a Nested column is its arrays,
 * one per sub-column. Rows are written in the column order of the INSERT's list
 * (OA_SINK_EVENT_COLUMNS, OA_SINK_SESSION_COLUMNS), so a column added to a table later
 * changes nothing here. Assumes a little-endian host (x86-64, arm64). */
#include "sink.h"

#include <stdio.h>
#include <string.h>

int oa_rb_u8(oa_buf *b, uint8_t v) {
        return oa_buf_add(b, &v, 1);
}

int oa_rb_u16(oa_buf *b, uint16_t v) {
        return oa_buf_add(b, &v, sizeof(v));
}

int oa_rb_u32(oa_buf *b, uint32_t v) {
        return oa_buf_add(b, &v, sizeof(v));
}

int oa_rb_u64(oa_buf *b, uint64_t v) {
        return oa_buf_add(b, &v, sizeof(v));
}

int oa_rb_f64(oa_buf *b, double v) {
        return oa_buf_add(b, &v, sizeof(v));
}

static int rb_varint(oa_buf *b, uint64_t v) {
        uint8_t out[OA_VARINT_MAX];

        return oa_buf_add(b, out, (size_t) (oa_varint_put(out, v) - out));
}

int oa_rb_str(oa_buf *b, const char *s, size_t n) {
        int r = rb_varint(b, n);

        return r == 0 && n ? oa_buf_add(b, s, n) : r;
}

int oa_rb_cstr(oa_buf *b, const char *s) {
        return oa_rb_str(b, s, s ? strlen(s) : 0);
}

/* A DateTime and its milliseconds from Unix ms (negative and too large were refused
 * before: oa_sink_dl_reason). */
static int rb_time(oa_buf *b, int64_t ms) {
        int r = oa_rb_u32(b, (uint32_t) (ms / 1000));

        return r ? r : oa_rb_u16(b, (uint16_t) (ms % 1000));
}

/* The properties as three arrays: key, value (numbers in shortest round-trip form,
 * booleans as true/false), type (Enum8 string 1, number 2, bool 3). */
static int rb_properties(oa_buf *b, const Oa__Event *ev) {
        size_t n = ev->n_properties;
        int r = rb_varint(b, n);

        for (size_t i = 0; r == 0 && i < n; i++)
                r = oa_rb_cstr(b, ev->properties[i]->key);
        if (r == 0)
                r = rb_varint(b, n);
        for (size_t i = 0; r == 0 && i < n; i++) {
                const Oa__Property *p = ev->properties[i];
                char num[40];

                switch (p->value_case) {
                case OA__PROPERTY__VALUE_NUMBER_VALUE:
                        snprintf(num, sizeof(num), "%.17g", p->number_value);
                        r = oa_rb_cstr(b, num);
                        break;
                case OA__PROPERTY__VALUE_BOOL_VALUE:
                        r = oa_rb_cstr(b, p->bool_value ? "true" : "false");
                        break;
                case OA__PROPERTY__VALUE_STRING_VALUE:
                        r = oa_rb_cstr(b, p->string_value);
                        break;
                default:
                        r = oa_rb_cstr(b, "");
                }
        }
        if (r == 0)
                r = rb_varint(b, n);
        for (size_t i = 0; r == 0 && i < n; i++) {
                int vc = ev->properties[i]->value_case;

                r = oa_rb_u8(b, vc == OA__PROPERTY__VALUE_NUMBER_VALUE ? 2
                                : vc == OA__PROPERTY__VALUE_BOOL_VALUE ? 3 : 1);
        }
        return r;
}

int oa_sink_rb_event(oa_buf *b, const Oa__Event *ev, uint64_t session_id, int32_t partition,
                     int64_t offset) {
        const char *head[] = { ev->project_id, ev->site_id, ev->event_id };
        const char *mid[] = { ev->url, ev->hostname, ev->path, ev->title, ev->referrer,
                              ev->referrer_host, ev->referrer_source, ev->utm_source,
                              ev->utm_medium, ev->utm_campaign, ev->utm_content, ev->utm_term,
                              ev->ip, ev->user_agent, ev->country, ev->browser,
                              ev->browser_version, ev->os, ev->os_version, ev->device };
        int source = ev->source >= 0 && ev->source <= 2 ? (int) ev->source : 0;
        int r = 0;

        for (size_t i = 0; r == 0 && i < sizeof(head) / sizeof(head[0]); i++)
                r = oa_rb_cstr(b, head[i]);
        if (r == 0)
                r = oa_rb_u8(b, (uint8_t) source);
        if (r == 0)
                r = oa_rb_cstr(b, ev->event_type);
        if (r == 0)
                r = oa_rb_cstr(b, ev->event_name);
        if (r == 0)
                r = rb_time(b, ev->timestamp_ms);
        if (r == 0)
                r = rb_time(b, ev->received_ms > 0 ? ev->received_ms : ev->timestamp_ms);
        if (r == 0)
                r = oa_rb_cstr(b, ev->visitor_id);
        if (r == 0)
                r = oa_rb_cstr(b, ev->user_id);
        if (r == 0)
                r = oa_rb_u64(b, session_id);
        for (size_t i = 0; r == 0 && i < sizeof(mid) / sizeof(mid[0]); i++)
                r = oa_rb_cstr(b, mid[i]);
        if (r == 0)
                r = oa_rb_u16(b, ev->screen_width > 65535 ? 65535 : (uint16_t) ev->screen_width);
        if (r == 0)
                r = rb_properties(b, ev);
        if (r == 0)
                r = oa_rb_f64(b, ev->revenue ? ev->revenue->amount : 0);
        if (r == 0)
                r = oa_rb_cstr(b, ev->revenue ? ev->revenue->currency : "");
        if (r == 0)
                r = oa_rb_u16(b, (uint16_t) partition);
        if (r == 0)
                r = oa_rb_u64(b, (uint64_t) offset);
        return r;
}

int oa_sink_rb_session(oa_buf *b, const char *project_id, const char *visitor_id,
                       const oa_sink_srow *s, int8_t sign, uint32_t version) {
        static const int tail[] = { OA_SS_ENTRY, OA_SS_EXIT, OA_SS_HOSTNAME, OA_SS_REFERRER,
                                    OA_SS_REFERRER_HOST, OA_SS_REFERRER_SOURCE, OA_SS_UTM_SOURCE,
                                    OA_SS_UTM_MEDIUM, OA_SS_UTM_CAMPAIGN, OA_SS_UTM_CONTENT,
                                    OA_SS_UTM_TERM, OA_SS_COUNTRY, OA_SS_DEVICE, OA_SS_BROWSER,
                                    OA_SS_OS };
        int r = oa_rb_cstr(b, project_id);

        if (r == 0)
                r = oa_rb_u64(b, s->session_id);
        if (r == 0)
                r = oa_rb_cstr(b, visitor_id);
        if (r == 0)
                r = oa_rb_cstr(b, s->s[OA_SS_USER_ID]);
        if (r == 0)
                r = rb_time(b, s->start_ms);
        if (r == 0)
                r = rb_time(b, s->end_ms);
        if (r == 0)
                r = oa_rb_u32(b, oa_sink_srow_duration(s));
        if (r == 0)
                r = oa_rb_u32(b, s->pageviews);
        if (r == 0)
                r = oa_rb_u32(b, s->events);
        if (r == 0)
                r = oa_rb_u8(b, oa_sink_srow_bounce(s));
        for (size_t i = 0; r == 0 && i < sizeof(tail) / sizeof(tail[0]); i++)
                r = oa_rb_cstr(b, s->s[tail[i]]);
        if (r == 0)
                r = oa_rb_u8(b, (uint8_t) sign);
        if (r == 0)
                r = oa_rb_u32(b, version);
        return r;
}
